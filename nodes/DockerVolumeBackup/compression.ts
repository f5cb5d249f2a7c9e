/** Compression layer: zstd where `node:zlib` has it (Node >= 22.15 / 23.8), else gzip; or none. No n8n import. */
import * as zlib from 'node:zlib';
import { Duplex, PassThrough, type Transform } from 'node:stream';

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
 * Feeds `inner` (a zlib stream) with writes gathered into `batchBytes` buffers, and reads out what
 * `inner` produces. A batch buffer goes back to a pool once `inner` has consumed it (its write
 * callback), so a 1 GiB stream reuses two or three buffers instead of allocating 2048 new ones: those
 * allocations were most of the garbage the backup made, and each external-memory-driven full GC walks
 * the whole heap of a loaded n8n.
 */
export class BatchedInput extends Duplex {
	private readonly free: Buffer[] = [];
	private current?: Buffer;
	private filled = 0;

	constructor(
		private readonly inner: Transform,
		private readonly batchBytes: number,
	) {
		super({ writableHighWaterMark: batchBytes, readableHighWaterMark: HIGH_WATER });
		inner.on('data', (chunk: Buffer) => {
			if (!this.push(chunk)) inner.pause();
		});
		inner.once('end', () => this.push(null));
		inner.on('error', (error) => this.destroy(error));
	}

	override _read(): void {
		this.inner.resume();
	}

	override _write(
		chunk: Buffer,
		_encoding: BufferEncoding,
		callback: (error?: Error | null) => void,
	): void {
		let offset = 0;
		const fill = () => {
			while (offset < chunk.length) {
				this.current ??= this.free.pop() ?? Buffer.allocUnsafeSlow(this.batchBytes);
				const n = chunk.copy(
					this.current,
					this.filled,
					offset,
					Math.min(chunk.length, offset + this.batchBytes - this.filled),
				);
				offset += n;
				this.filled += n;
				if (this.filled === this.batchBytes && !this.sendCurrent()) {
					this.inner.once('drain', fill);
					return;
				}
			}
			callback();
		};
		fill();
	}

	/** Writes the current batch to `inner`; false when `inner` wants a drain first. */
	private sendCurrent(): boolean {
		const batch = this.current!;
		const length = this.filled;
		this.current = undefined;
		this.filled = 0;
		return this.inner.write(length === batch.length ? batch : batch.subarray(0, length), () =>
			this.free.push(batch),
		);
	}

	override _final(callback: (error?: Error | null) => void): void {
		if (this.filled > 0) this.sendCurrent();
		this.inner.end();
		callback();
	}

	override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
		this.inner.destroy();
		callback(error);
	}
}

/** A compressor that batches its input (see BatchedInput). */
export function createCompressor(compression: Compression, level?: number): Duplex {
	if (compression === 'zstd') {
		const params: Record<number, number> = { [zlib.constants.ZSTD_c_compressionLevel]: level ?? 3 };
		return new BatchedInput(
			z.createZstdCompress!({ params, chunkSize: COMPRESSOR_OUTPUT_BYTES } as never),
			COMPRESSOR_INPUT_BYTES,
		);
	}
	if (compression === 'gzip')
		return new BatchedInput(
			zlib.createGzip({ level: level ?? 6, chunkSize: 256 * 1024 }),
			COMPRESSOR_INPUT_BYTES,
		);
	return new PassThrough({ highWaterMark: HIGH_WATER });
}

export function createDecompressor(compression: Compression): Duplex {
	if (compression === 'zstd') {
		if (!zstdAvailable()) {
			throw new InfraOpsError(
				`This backup is zstd-compressed and this Node.js (${process.version}) cannot decompress zstd`,
				'Restore on Node.js 22.15+ / 24, or with `age -d | zstd -d | tar -x` by hand',
			);
		}
		// 7.5 vs 1.5 CPU-s per GiB (Node 24) for 16 KiB vs 1 MiB output chunks
		return new BatchedInput(
			z.createZstdDecompress!({ chunkSize: DECOMPRESSOR_OUTPUT_BYTES } as never),
			COMPRESSOR_INPUT_BYTES,
		);
	}
	if (compression === 'gzip')
		return new BatchedInput(zlib.createGunzip({ chunkSize: 256 * 1024 }), COMPRESSOR_INPUT_BYTES);
	return new PassThrough({ highWaterMark: HIGH_WATER });
}
