import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { Coalesce, COMPRESSOR_INPUT_BYTES, createCompressor, createDecompressor } from '../../nodes/DockerVolumeBackup/compression';

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

describe('Coalesce (feeds the compressor whole MiBs)', () => {
	it('regroups small writes into full chunks, keeps every byte in order, and flushes the tail', async () => {
		const data = randomBytes(3 * 1000 + 17);
		const pieces: Buffer[] = [];
		for (let o = 0; o < data.length; o += 7) pieces.push(data.subarray(o, o + 7));
		const out = await collect(pieces, new Coalesce(1000));
		expect(out.map((b) => b.length)).toEqual([1000, 1000, 1000, 17]);
		expect(Buffer.concat(out).equals(data)).toBe(true);
	});

	it('passes chunks already larger than the size through in whole multiples', async () => {
		const data = randomBytes(2500);
		const out = await collect([data.subarray(0, 10), data.subarray(10)], new Coalesce(1000));
		expect(out.map((b) => b.length)).toEqual([1000, 1000, 500]);
		expect(Buffer.concat(out).equals(data)).toBe(true);
	});

	it('round-trips through zstd and gzip with socket-sized input', async () => {
		const data = Buffer.concat([randomBytes(300_000), Buffer.alloc(2 * COMPRESSOR_INPUT_BYTES, 'log line 42\n')]);
		const pieces: Buffer[] = [];
		for (let o = 0; o < data.length; o += 65_536) pieces.push(data.subarray(o, o + 65_536));
		for (const kind of ['zstd', 'gzip'] as const) {
			const packed = Buffer.concat(await collect(pieces, new Coalesce(COMPRESSOR_INPUT_BYTES), createCompressor(kind)));
			expect(packed.length).toBeLessThan(data.length / 2);
			const back = Buffer.concat(await collect([packed], new Coalesce(COMPRESSOR_INPUT_BYTES), createDecompressor(kind)));
			expect(back.equals(data)).toBe(true);
		}
	});
});
