/** Compression layer: zstd where `node:zlib` has it (Node >= 22.15 / 23.8), else gzip; or none. No n8n import. */
import * as zlib from 'node:zlib';
import { PassThrough, type Transform } from 'node:stream';

import { InfraOpsError } from '../shared/errors';

export type Compression = 'zstd' | 'gzip' | 'none';
export type CompressionChoice = Compression | 'auto';

type ZstdZlib = typeof zlib & {
	createZstdCompress?: (options?: { params?: Record<number, number> }) => Transform;
	createZstdDecompress?: () => Transform;
};
const z = zlib as ZstdZlib;

export function zstdAvailable(): boolean {
	return typeof z.createZstdCompress === 'function' && typeof z.createZstdDecompress === 'function';
}

export function resolveCompression(choice: CompressionChoice): Compression {
	if (choice === 'auto') return zstdAvailable() ? 'zstd' : 'gzip';
	if (choice === 'zstd' && !zstdAvailable()) {
		throw new InfraOpsError(
			`This Node.js (${process.version}) has no zstd in node:zlib`,
			'Choose gzip (or Auto), or run n8n on Node.js 22.15+ / 24',
		);
	}
	return choice;
}

export function extensionFor(compression: Compression): string {
	return compression === 'zstd' ? '.zst' : compression === 'gzip' ? '.gz' : '';
}

const HIGH_WATER = 1024 * 1024;

export function createCompressor(compression: Compression, level?: number): Transform {
	if (compression === 'zstd') {
		const params: Record<number, number> = { [zlib.constants.ZSTD_c_compressionLevel]: level ?? 3 };
		return z.createZstdCompress!({ params, chunkSize: 256 * 1024 } as never);
	}
	if (compression === 'gzip') return zlib.createGzip({ level: level ?? 6, chunkSize: 256 * 1024 });
	return new PassThrough({ highWaterMark: HIGH_WATER });
}

export function createDecompressor(compression: Compression): Transform {
	if (compression === 'zstd') {
		if (!zstdAvailable()) {
			throw new InfraOpsError(`This backup is zstd-compressed and this Node.js (${process.version}) cannot decompress zstd`, 'Restore on Node.js 22.15+ / 24, or with `age -d | zstd -d | tar -x` by hand');
		}
		return z.createZstdDecompress!();
	}
	if (compression === 'gzip') return zlib.createGunzip();
	return new PassThrough({ highWaterMark: HIGH_WATER });
}
