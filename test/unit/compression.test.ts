import { randomBytes } from 'node:crypto';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import {
	BatchedInput,
	COMPRESSOR_INPUT_BYTES,
	createCompressor,
	createDecompressor,
} from '../../nodes/DockerVolumeBackup/compression';

async function collect(chunks: Buffer[], ...stages: NodeJS.ReadWriteStream[]): Promise<Buffer[]> {
	const out: Buffer[] = [];
	await (pipeline as unknown as (...a: unknown[]) => Promise<void>)(
		Readable.from(chunks),
		...stages,
		new Writable({
			write(chunk: Buffer, _e, cb) {
				out.push(Buffer.from(chunk));
				cb();
			},
		}),
	);
	return out;
}

/** An inner stage that records the writes it gets. Like zlib with a 512 KiB batch (over its 64 KiB high-water
 * mark, processed off the main thread), each batch fills its write buffer and completes later. */
function recordingInner(seen: Buffer[]): Transform {
	return new Transform({
		writableHighWaterMark: 1,
		transform(chunk: Buffer, _e, cb) {
			seen.push(chunk);
			const copy = Buffer.from(chunk);
			setImmediate(() => cb(null, copy));
		},
	});
}

describe('BatchedInput (feeds the compressor half MiBs from reused buffers)', () => {
	it('regroups small writes into full batches, keeps every byte in order, and flushes the tail', async () => {
		const data = randomBytes(3 * 1000 + 17);
		const pieces: Buffer[] = [];
		for (let o = 0; o < data.length; o += 7) pieces.push(data.subarray(o, o + 7));
		const seen: Buffer[] = [];
		const out = await collect(pieces, new BatchedInput(recordingInner(seen), 1000));
		expect(seen.map((b) => b.length)).toEqual([1000, 1000, 1000, 17]);
		expect(Buffer.concat(out).equals(data)).toBe(true);
	});

	it('reuses a few batch buffers for a long stream instead of allocating one per batch', async () => {
		const data = randomBytes(200 * 1000);
		const pieces: Buffer[] = [];
		for (let o = 0; o < data.length; o += 4096) pieces.push(data.subarray(o, o + 4096));
		const seen: Buffer[] = [];
		const out = await collect(pieces, new BatchedInput(recordingInner(seen), 1000));
		expect(seen).toHaveLength(200);
		expect(new Set(seen.map((b) => b.buffer)).size).toBeLessThanOrEqual(3);
		expect(Buffer.concat(out).equals(data)).toBe(true);
	});

	it('passes an error of the inner stage on and stops', async () => {
		const failing = new Transform({
			transform(_c, _e, cb) {
				cb(new Error('inner broke'));
			},
		});
		await expect(collect([randomBytes(5000)], new BatchedInput(failing, 1000))).rejects.toThrow(
			'inner broke',
		);
	});

	it('round-trips through zstd and gzip with socket-sized input', async () => {
		const data = Buffer.concat([
			randomBytes(300_000),
			Buffer.alloc(2 * COMPRESSOR_INPUT_BYTES, 'log line 42\n'),
		]);
		const pieces: Buffer[] = [];
		for (let o = 0; o < data.length; o += 65_536) pieces.push(data.subarray(o, o + 65_536));
		for (const kind of ['zstd', 'gzip'] as const) {
			const packed = Buffer.concat(await collect(pieces, createCompressor(kind)));
			expect(packed.length).toBeLessThan(data.length / 2);
			const back = Buffer.concat(await collect([packed], createDecompressor(kind)));
			expect(back.equals(data)).toBe(true);
		}
	});
});
