/** scripts/release-integrity.js: the SHA-512 integrity it prints (and writes into the release
 * notes' N8N_COMMUNITY_PACKAGES pin) is the tarball's, as `openssl dgst -sha512 -binary | base64`
 * computes it independently. Also scripts/fetch-reference.sh's checksum guard. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

import { itWithReference, REFERENCE_DIR } from '../support/reference';

const root = resolve(__dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
	name: string;
	version: string;
};

// npm pack and the scripts run as child processes: generous on a loaded 2-core machine
jest.setTimeout(180_000);

let dir: string;
beforeAll(() => {
	dir = mkdtempSync(join(tmpdir(), 'release-integrity-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('scripts/release-integrity.js', () => {
	it("prints name@version and the packed tarball's sha512 integrity, equal to openssl's digest", () => {
		const notes = join(dir, 'notes.md');
		const out = execFileSync(
			process.execPath,
			[
				join(root, 'scripts/release-integrity.js'),
				'--pack-destination',
				join(dir, 'pack'),
				'--notes',
				notes,
			],
			{ cwd: root, encoding: 'utf8' },
		);
		const [spec, integrity, tarball] = out.trim().split('\n');
		expect(spec).toBe(`${pkg.name}@${pkg.version}`);
		expect(tarball).toBe(join(dir, 'pack', `${pkg.name}-${pkg.version}.tgz`));
		const openssl = execFileSync(
			'sh',
			['-c', 'openssl dgst -sha512 -binary "$1" | base64 -w0', 'sh', tarball],
			{ encoding: 'utf8' },
		);
		expect(integrity).toBe(`sha512-${openssl}`);
		expect(integrity).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);

		// the notes pin exactly that, in the shape n8n 2.41's N8N_COMMUNITY_PACKAGES accepts
		const text = readFileSync(notes, 'utf8');
		const pin = /N8N_COMMUNITY_PACKAGES='(.*)'/.exec(text)?.[1];
		expect(JSON.parse(pin!)).toEqual([
			{ name: pkg.name, version: pkg.version, checksum: integrity },
		]);
		expect(text).toContain('N8N_COMMUNITY_PACKAGES_MANAGED_BY_ENV=true');
	});

	it('prints the same as JSON, and packing twice gives the same integrity', () => {
		const run = () =>
			JSON.parse(
				execFileSync(
					process.execPath,
					[
						join(root, 'scripts/release-integrity.js'),
						'--json',
						'--pack-destination',
						join(dir, 'j'),
					],
					{ cwd: root, encoding: 'utf8' },
				),
			) as { name: string; version: string; integrity: string; tarball: string };
		const first = run();
		expect(first).toEqual({
			name: pkg.name,
			version: pkg.version,
			integrity: expect.stringMatching(/^sha512-/),
			tarball: expect.stringMatching(/\.tgz$/),
		});
		expect(run().integrity).toBe(first.integrity);
	});

	it('refuses an unknown argument with a message naming the ones it takes', () => {
		const r = spawnSync(process.execPath, [join(root, 'scripts/release-integrity.js'), '--nope'], {
			cwd: root,
			encoding: 'utf8',
		});
		expect(r.status).toBe(1);
		expect(r.stderr).toContain('unknown argument --nope (use --pack-destination DIR');
	});
});

describe('scripts/fetch-reference.sh', () => {
	it('refuses a file whose SHA-256 is not the pinned one, and leaves no partial file', () => {
		const source = join(dir, 'planted');
		const first = 'traefik/traefik-v3-file-provider.json';
		mkdirSync(dirname(join(source, first)), { recursive: true });
		writeFileSync(join(source, first), '{"planted": true}\n');
		const dest = join(dir, 'dest-planted');
		const r = spawnSync(join(root, 'scripts/fetch-reference.sh'), [dest], {
			encoding: 'utf8',
			env: { ...process.env, INFRA_OPS_REFERENCE_FROM: source },
		});
		expect(r.status).toBe(1);
		expect(r.stderr).toMatch(
			/traefik\/traefik-v3-file-provider\.json from SchemaStore\/schemastore@3b6446a\w+ has SHA-256 \w{64}, expected 8734891c/,
		);
		expect(existsSync(join(dest, first))).toBe(false);
		expect(existsSync(join(dest, `${first}.part`))).toBe(false);
	});

	// reference-data test: skips by name without ../shared/reference, fails with CI set
	const reference = REFERENCE_DIR;
	itWithReference()('accepts the recorded reference data as pinned (all 13 files)', () => {
		const dest = join(dir, 'dest-ok');
		const out = execFileSync(join(root, 'scripts/fetch-reference.sh'), [dest], {
			encoding: 'utf8',
			env: { ...process.env, INFRA_OPS_REFERENCE_FROM: reference },
		});
		expect(out.trim()).toBe(`fetch-reference: 13 files in ${dest}`);
		// Buffer.equals: jest's toEqual walks a 3 MB buffer byte by byte
		expect(
			readFileSync(join(dest, 'proxmox/apidata.js')).equals(
				readFileSync(join(reference, 'proxmox/apidata.js')),
			),
		).toBe(true);
	});
});
