/** What the tar scan can tell about sparse files, on archives GNU tar writes from a real sparse file. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { TarScanner } from '../../nodes/DockerVolumeBackup/tarScan';

let dir: string;

beforeAll(() => {
	dir = mkdtempSync(join(tmpdir(), 'tar-sparse-'));
	// a database-style preallocated file: 200 MiB apparent, 64 KiB of data at its start and its end, holes between
	execFileSync('truncate', ['-s', '200M', join(dir, 'disk.img')]);
	execFileSync('sh', [
		'-c',
		`head -c 65536 /dev/urandom | dd of=${join(dir, 'disk.img')} conv=notrunc status=none && head -c 65536 /dev/urandom | dd of=${join(dir, 'disk.img')} bs=65536 seek=3199 conv=notrunc status=none`,
	]);
	writeFileSync(join(dir, 'plain.txt'), 'x'.repeat(5000));
	execFileSync('sh', ['-c', `head -c 3000000 /dev/urandom > ${join(dir, 'random.bin')}`]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function scan(tarArgs: string[]): Promise<TarScanner> {
	const tar = execFileSync(
		'tar',
		[...tarArgs, '-C', dir, '-cf', '-', 'disk.img', 'plain.txt', 'random.bin'],
		{ maxBuffer: 1 << 29 },
	);
	const scanner = new TarScanner();
	const pieces: Buffer[] = [];
	// 64 KiB pieces, as a socket delivers them
	for (let i = 0; i < tar.length; i += 65536) pieces.push(tar.subarray(i, i + 65536));
	await pipeline(Readable.from(pieces), scanner, async function* (source) {
		for await (const _ of source) void _;
	});
	return scanner;
}

describe('tar scan: sparse files', () => {
	it('the file really is sparse on this filesystem (else the test proves nothing)', () => {
		const st = statSync(join(dir, 'disk.img'));
		expect(st.size).toBe(200 * 1024 * 1024);
		expect(st.blocks * 512).toBeLessThan(10 * 1024 * 1024);
	});

	it("a 200 MiB sparse file in a tar without sparse headers (as Docker's archive stream and plain `tar -c` write it) is counted as zero-filled, with its apparent size and its zero blocks", async () => {
		const scanner = await scan(['--format=posix']);
		expect(scanner.sparse).toEqual({
			sparseEntries: 0,
			sparseApparentBytes: 0,
			sparseStoredBytes: 0,
			zeroFilledFiles: 1,
			zeroFilledApparentBytes: 200 * 1024 * 1024,
			// every block but the two 64 KiB data regions, blocks split across the 64 KiB pieces included
			zeroFilledZeroBytes: 200 * 1024 * 1024 - 2 * 65536,
		});
		expect(scanner.stats?.files).toBe(3);
	});

	it.each([
		['GNU (type S headers)', ['--format=gnu', '--sparse']],
		['PAX (GNU.sparse.* records)', ['--format=posix', '--sparse']],
	])(
		'a sparse file archived with %s is counted with its apparent and stored size',
		async (_label, args) => {
			const scanner = await scan(args);
			expect(scanner.sparse.sparseEntries).toBe(1);
			expect(scanner.sparse.sparseApparentBytes).toBe(200 * 1024 * 1024);
			// the two data regions (and the sparse map), not 200 MiB
			expect(scanner.sparse.sparseStoredBytes).toBeGreaterThanOrEqual(2 * 65536);
			expect(scanner.sparse.sparseStoredBytes).toBeLessThan(1024 * 1024);
			expect(scanner.sparse.zeroFilledFiles).toBe(0);
		},
	);
});
