/**
 * Before the harness starts anything: is this machine able to run it? The integration and e2e projects
 * start dockerd, sshd and PostgreSQL as root in a private temp root; without root or one of the binaries
 * the run would fail minutes later with a harness stack trace. This says so in one line, at once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

interface Need {
	bin: string;
	debianPackage: string;
}

const NEEDS: Need[] = [
	{ bin: 'dockerd', debianPackage: 'docker.io' },
	{ bin: 'docker', debianPackage: 'docker.io' },
	{ bin: 'containerd', debianPackage: 'containerd' },
	{ bin: 'runc', debianPackage: 'runc' },
	{ bin: 'busybox', debianPackage: 'busybox-static' },
	{ bin: 'sshd', debianPackage: 'openssh-server' },
	{ bin: 'ssh-keygen', debianPackage: 'openssh-client' },
	{ bin: 'age', debianPackage: 'age' },
	{ bin: 'age-keygen', debianPackage: 'age' },
	{ bin: 'zstd', debianPackage: 'zstd' },
	{ bin: 'openssl', debianPackage: 'openssl' },
];

export interface PreflightOptions {
	/** Default: process.getuid(). */
	uid?: number;
	/** Default: process.env.PATH. */
	pathEnv?: string;
	/** Searched after PATH: sshd lives in /usr/sbin (not on a user's PATH), busybox-static in /bin. */
	systemDirs?: string[];
	/** Where Debian's postgresql puts initdb and pg_ctl: <base>/<major>/bin. */
	postgresBase?: string;
	/** The e2e project also needs Chromium, at this path. */
	chromium?: string;
}

function executable(file: string): boolean {
	try {
		fs.accessSync(file, fs.constants.X_OK);
		return fs.statSync(file).isFile();
	} catch {
		return false;
	}
}

function postgresFound(base: string): boolean {
	if (!fs.existsSync(base)) return false;
	return fs
		.readdirSync(base)
		.some((v) => ['initdb', 'pg_ctl'].every((b) => executable(path.join(base, v, 'bin', b))));
}

/** Undefined when the machine can run the harness, else one line naming what is missing and how to get it. */
export function preflightProblem(options: PreflightOptions = {}): string | undefined {
	const uid = options.uid ?? process.getuid?.() ?? 0;
	const pathDirs = (options.pathEnv ?? process.env.PATH ?? '').split(':').filter(Boolean);
	const systemDirs = options.systemDirs ?? ['/usr/local/sbin', '/usr/sbin', '/sbin', '/bin'];
	const missing: { what: string; debianPackage: string }[] = [];
	for (const need of NEEDS) {
		const dirs = [...pathDirs, ...systemDirs];
		if (!dirs.some((dir) => executable(path.join(dir, need.bin))))
			missing.push({ what: need.bin, debianPackage: need.debianPackage });
	}
	const postgresBase = options.postgresBase ?? '/usr/lib/postgresql';
	if (!postgresFound(postgresBase))
		missing.push({
			what: `initdb/pg_ctl (${postgresBase}/*/bin)`,
			debianPackage: 'postgresql',
		});
	if (options.chromium && !executable(options.chromium))
		missing.push({ what: `chromium (${options.chromium})`, debianPackage: 'chromium' });

	const problems: string[] = [];
	if (uid !== 0)
		problems.push(
			`needs root (it starts dockerd, sshd and PostgreSQL in a private temp root; uid is ${uid}): run it as root, e.g. sudo -E npm test`,
		);
	if (missing.length > 0) {
		const packages = [...new Set(missing.map((m) => m.debianPackage))];
		problems.push(
			`missing ${missing.map((m) => m.what).join(', ')}: sudo apt-get install -y --no-install-recommends ${packages.join(' ')} (or run scripts/test, which installs them)`,
		);
	}
	return problems.length ? `test harness: ${problems.join('; ')}` : undefined;
}
