/** The harness preflight (test/harness/preflight.ts) on a made-up machine: a PATH folder holding
 * executables of the right names, a postgresql folder, and a chosen uid. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { preflightProblem } from '../harness/preflight';

const ALL = [
	'dockerd',
	'docker',
	'containerd',
	'runc',
	'busybox',
	'sshd',
	'ssh-keygen',
	'age',
	'age-keygen',
	'zstd',
	'openssl',
];

let root: string;
beforeEach(() => {
	root = fs.mkdtempSync(path.join(os.tmpdir(), 'preflight-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** A machine with these binaries on PATH (and PostgreSQL 15 unless told otherwise). */
function machine(bins: string[], { postgres = true } = {}) {
	const bin = path.join(root, 'bin');
	fs.mkdirSync(bin, { recursive: true });
	for (const b of bins) fs.writeFileSync(path.join(bin, b), '#!/bin/sh\n', { mode: 0o755 });
	const postgresBase = path.join(root, 'postgresql');
	if (postgres) {
		fs.mkdirSync(path.join(postgresBase, '15', 'bin'), { recursive: true });
		for (const b of ['initdb', 'pg_ctl'])
			fs.writeFileSync(path.join(postgresBase, '15', 'bin', b), '#!/bin/sh\n', { mode: 0o755 });
	}
	return { pathEnv: bin, systemDirs: [], postgresBase };
}

describe('test harness preflight', () => {
	it('passes as root with every binary there', () => {
		expect(preflightProblem({ uid: 0, ...machine(ALL) })).toBeUndefined();
	});

	it('names a missing binary and the exact apt-get line, in one line', () => {
		const problem = preflightProblem({
			uid: 0,
			...machine(ALL.filter((b) => b !== 'dockerd' && b !== 'zstd')),
		});
		expect(problem).toBe(
			'test harness: missing dockerd, zstd: sudo apt-get install -y --no-install-recommends docker.io zstd (or run scripts/test, which installs them)',
		);
		expect(problem).not.toContain('\n');
	});

	it('finds sshd in an sbin folder that is not on PATH', () => {
		const m = machine(ALL.filter((b) => b !== 'sshd'));
		const sbin = path.join(root, 'sbin');
		fs.mkdirSync(sbin);
		fs.writeFileSync(path.join(sbin, 'sshd'), '#!/bin/sh\n', { mode: 0o755 });
		expect(preflightProblem({ uid: 0, ...m })).toMatch(/missing sshd: .* openssh-server/);
		expect(preflightProblem({ uid: 0, ...m, systemDirs: [sbin] })).toBeUndefined();
	});

	it('does not count a file that is not executable', () => {
		const m = machine(ALL);
		fs.chmodSync(path.join(m.pathEnv, 'age'), 0o644);
		expect(preflightProblem({ uid: 0, ...m })).toMatch(
			/missing age: .* install -y --no-install-recommends age /,
		);
	});

	it('names PostgreSQL when initdb and pg_ctl are not under <base>/*/bin', () => {
		const m = machine(ALL, { postgres: false });
		expect(preflightProblem({ uid: 0, ...m })).toBe(
			`test harness: missing initdb/pg_ctl (${m.postgresBase}/*/bin): sudo apt-get install -y --no-install-recommends postgresql (or run scripts/test, which installs them)`,
		);
	});

	it('refuses a user other than root, with the missing packages on the same line', () => {
		const problem = preflightProblem({ uid: 1000, ...machine(ALL.filter((b) => b !== 'busybox')) });
		expect(problem).toMatch(
			/^test harness: needs root .*uid is 1000.*; missing busybox: .* busybox-static /,
		);
		expect(problem).not.toContain('\n');
	});

	it('asks for Chromium only when the e2e suite runs', () => {
		const m = machine(ALL);
		const chromium = path.join(root, 'chromium');
		expect(preflightProblem({ uid: 0, ...m })).toBeUndefined();
		expect(preflightProblem({ uid: 0, ...m, chromium })).toMatch(
			/missing chromium \(.*\): .* install -y --no-install-recommends chromium /,
		);
	});
});
