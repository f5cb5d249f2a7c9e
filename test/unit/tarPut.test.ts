/** The out-of-volume link filter against archives GNU tar writes (gnu and pax long names). */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { OutsideLinkFilter } from '../../nodes/DockerVolumeBackup/tarPut';
import { linkLeavesRoot } from '../../nodes/DockerVolumeBackup/tarScan';

const list = (tar: Buffer) =>
	execFileSync('tar', ['-tvf', '-', '--numeric-owner', '--full-time'], { input: tar })
		.toString()
		.trim()
		.split('\n')
		.map((l) => l.replace(/\s+/g, ' '));

describe("linkLeavesRoot follows Docker's rule (target joined to the link's folder)", () => {
	it.each([
		['a', '/etc/shadow', false],
		['a', '../x', true],
		['d/a', '../x', false],
		['d/a', '../../x', true],
		['d/a', 'x/../../../y', true],
		['d/e/a', './../../x', false],
	])('%s -> %s leaves: %s', (path, target, leaves) =>
		expect(linkLeavesRoot(path, target)).toBe(leaves),
	);
});

describe('OutsideLinkFilter', () => {
	let dir: string;
	beforeAll(() => {
		dir = mkdtempSync(join(tmpdir(), 'tarput-'));
		const long = 'd'.repeat(120);
		execFileSync('sh', [
			'-c',
			`set -e; cd '${dir}'; mkdir -p src/${long}/inner; head -c 5000 /dev/urandom > src/${long}/inner/file; ln -s ../../../../etc/shadow src/${long}/inner/escape_link; ln -s /etc/passwd src/abs_link; ln -s file src/${long}/inner/ok_link; touch -d '2020-01-02 03:04:05' src/${long}/inner src/${long}`,
		]);
	});
	afterAll(() => rmSync(dir, { recursive: true, force: true }));

	it.each(['gnu', 'pax'])(
		'holds back only the escaping link of a %s archive, and writes it (with its folders) under the base',
		async (format) => {
			const input = execFileSync('tar', [
				`--format=${format}`,
				'--numeric-owner',
				'-C',
				join(dir, 'src'),
				'-cf',
				'-',
				'.',
			]);
			const filter = new OutsideLinkFilter();
			const chunks: Buffer[] = [];
			// odd chunk sizes: headers and pax records split across chunks
			const pieces = [];
			for (let i = 0; i < input.length; i += 333) pieces.push(input.subarray(i, i + 333));
			for await (const c of Readable.from(pieces).pipe(filter)) chunks.push(c as Buffer);
			const passed = list(Buffer.concat(chunks));
			const original = list(input);
			expect(passed).toEqual(original.filter((l) => !l.includes('escape_link')));
			expect(filter.held.map((e) => e.name)).toEqual([`${'d'.repeat(120)}/inner/escape_link`]);
			const links = list(filter.linkTar('dst/.incoming'));
			const orig = (name: string) =>
				original
					.find((l) => l.endsWith(name))!
					.split(' ')
					.slice(0, 5)
					.join(' ');
			expect(links).toEqual([
				expect.stringMatching(
					new RegExp(
						`^lrwxrwxrwx 0/0 0 .* dst/\\.incoming/d{120}/inner/escape_link -> \\.\\./\\.\\./\\.\\./\\.\\./etc/shadow$`,
					),
				),
				expect.stringContaining(`dst/.incoming/${'d'.repeat(120)}/`),
				expect.stringContaining(`dst/.incoming/${'d'.repeat(120)}/inner/`),
			]);
			// owners, modes and times carried over
			expect(links[1].split(' ').slice(0, 5).join(' ')).toBe(orig(`${'d'.repeat(120)}/`));
			expect(links[2].split(' ').slice(0, 5).join(' ')).toBe(orig('inner/'));
		},
	);
});
