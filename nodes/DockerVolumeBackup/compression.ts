/** Compression layer: zstd where `node:zlib` has it (Node >= 22.15 / 23.8), else gzip; or none. No n8n import. */
import * as zlib from 'node:zlib';
import { PassThrough, Transform, type TransformCallback } from 'node:stream';

import { InfraOpsError } from '../shared/errors';

export type Compression = 'zstd' | 'gzip' | 'none';
export type CompressionChoice = Compression | 'auto';

type ZstdZlib = typeof zlib & {
	createZstdCompress?: (options?: { params?: Record<number, number> }) => Transform;
	createZstdDecompress?: (options?: { chunkSize?: number }) => Transform;
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
/** zstd's per-write cost dominates at socket-sized writes: 1 GiB in 64 KiB writes costs ~3x the CPU of
 * 512 KiB writes (measured on Node 24: 3.4 vs 1.2 CPU-s; 1 MiB gains little more and holds more memory),
 * so the compressor is fed half MiBs. Its output chunk size hardly matters for compression. */
export const COMPRESSOR_INPUT_BYTES = 512 * 1024;
const COMPRESSOR_OUTPUT_BYTES = 256 * 1024;
/** Decompression is the other way round: the default 16 KiB output chunk costs ~5x the CPU of 1 MiB. */
const DECOMPRESSOR_OUTPUT_BYTES = 1024 * 1024;

/**
 * Gathers small writes into `size`-byte chunks (the last one shorter). One buffer of `size` is
 * allocated per chunk, so memory stays bounded at about two chunks.
 */
export class Coalesce extends Transform {
	private pending: Buffer;
	private filled = 0;

	constructor(private readonly size: number) {
		super({ highWaterMark: size });
		this.pending = Buffer.allocUnsafe(size);
	}

	override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
		let offset = 0;
		if (this.filled === 0 && chunk.length >= this.size) {
			// already big: pass whole chunks on without copying
			const whole = chunk.length - (chunk.length % this.size);
			this.push(chunk.subarray(0, whole));
			offset = whole;
		}
		while (offset < chunk.length) {
			const n = Math.min(this.size - this.filled, chunk.length - offset);
			chunk.copy(this.pending, this.filled, offset, offset + n);
			this.filled += n;
			offset += n;
			if (this.filled === this.size) {
				this.push(this.pending);
				this.pending = Buffer.allocUnsafe(this.size);
				this.filled = 0;
			}
		}
		callback();
	}

	override _flush(callback: TransformCallback): void {
		if (this.filled > 0) this.push(this.pending.subarray(0, this.filled));
		callback();
	}
}

export function createCompressor(compression: Compression, level?: number): Transform {
	if (compression === 'zstd') {
		const params: Record<number, number> = { [zlib.constants.ZSTD_c_compressionLevel]: level ?? 3 };
		return z.createZstdCompress!({ params, chunkSize: COMPRESSOR_OUTPUT_BYTES } as never);
	}
	if (compression === 'gzip') return zlib.createGzip({ level: level ?? 6, chunkSize: 256 * 1024 });
	return new PassThrough({ highWaterMark: HIGH_WATER });
}

export function createDecompressor(compression: Compression): Transform {
	if (compression === 'zstd') {
		if (!zstdAvailable()) {
			throw new InfraOpsError(`This backup is zstd-compressed and this Node.js (${process.version}) cannot decompress zstd`, 'Restore on Node.js 22.15+ / 24, or with `age -d | zstd -d | tar -x` by hand');
		}
		// 7.5 vs 1.5 CPU-s per GiB (Node 24) for 16 KiB vs 1 MiB output chunks
		return z.createZstdDecompress!({ chunkSize: DECOMPRESSOR_OUTPUT_BYTES } as never);
	}
	if (compression === 'gzip') return zlib.createGunzip({ chunkSize: 256 * 1024 });
	return new PassThrough({ highWaterMark: HIGH_WATER });
}
