/** Starts every service once per jest run in one temp root, and takes it all down again, also after a crash. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { startDocker } from './docker';
import { startPostgres } from './postgres';
import { descendants, processesMentioning, signalPid, unmountUnder } from './proc';
import { S3_ACCESS_KEY_ID, S3_REGION, S3_SECRET_ACCESS_KEY, startS3rver } from './s3';
import type { Services } from './services';
import { startSshd } from './sshd';

const ROOT_PREFIX = 'iops-';
const STATE_FILE = 'harness-state.json';

export interface Harness {
	root: string;
	servicesFile: string;
	services: Services;
	stop(): Promise<void>;
}

/** Unix socket paths (docker.sock, containerd's socket under the exec root) must stay under ~100 bytes. */
function tempParent(): string {
	const tmp = os.tmpdir();
	return tmp.length <= 40 ? tmp : '/tmp';
}

/** SIGKILLs every process whose command line names `root`, and their descendants (postgres backends, sshd sessions, container processes). */
export function killEverythingUnder(root: string): void {
	const named = processesMentioning(`${root}/`);
	const all = new Set([...named, ...named.flatMap((pid) => descendants(pid))]);
	for (const pid of all) signalPid(pid, 'SIGKILL');
}

function removeRoot(root: string): void {
	killEverythingUnder(root);
	unmountUnder(root);
	fs.rmSync(root, { recursive: true, force: true, maxRetries: 3, retryDelay: 200 });
}

function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (err) {
		return (err as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/** Cleans up after runs whose jest process died without its teardown (SIGKILL, OOM). Live runs are left alone. */
function reapStaleRoots(parent: string): void {
	for (const entry of fs.readdirSync(parent)) {
		if (!entry.startsWith(ROOT_PREFIX)) continue;
		const root = path.join(parent, entry);
		let owner: number;
		try {
			owner = (
				JSON.parse(fs.readFileSync(path.join(root, STATE_FILE), 'utf8')) as { ownerPid: number }
			).ownerPid;
		} catch {
			continue;
		}
		if (!isAlive(owner)) {
			try {
				removeRoot(root);
			} catch {
				// another run may be reaping the same root
			}
		}
	}
}

export async function startHarness(): Promise<Harness> {
	const started = Date.now();
	if (process.getuid?.() !== 0) {
		throw new Error(
			'the integration test harness must run as root: it starts dockerd and sshd, adds a test user, and runs postgres as the postgres user',
		);
	}
	const parent = tempParent();
	reapStaleRoots(parent);
	const root = fs.mkdtempSync(path.join(parent, ROOT_PREFIX));
	fs.writeFileSync(path.join(root, STATE_FILE), JSON.stringify({ ownerPid: process.pid }));
	// postgres and the password ssh user must traverse the root; what is secret inside is mode 0600
	fs.chmodSync(root, 0o711);

	const timings: Record<string, number> = {};
	const timed = async <T>(name: string, start: () => Promise<T>): Promise<T> => {
		const t0 = Date.now();
		const result = await start();
		timings[name] = Date.now() - t0;
		return result;
	};

	const socketPath = path.join(root, 'docker.sock');
	const results = await Promise.allSettled([
		timed('docker', () => startDocker(root)),
		timed('sshd', () => startSshd(root, socketPath)),
		timed('s3rver', () => startS3rver({ dir: path.join(root, 's3') })),
		timed('postgres', () => startPostgres(root)),
	]);
	const [docker, ssh, s3, postgres] = results;
	const running = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
	const stop = async () => {
		const t0 = Date.now();
		await Promise.allSettled(running.map((service) => service.stop()));
		removeRoot(root);
		process.stderr.write(
			`[infra-ops harness] stopped in ${((Date.now() - t0) / 1000).toFixed(2)}s\n`,
		);
	};

	if (
		docker.status === 'rejected' ||
		ssh.status === 'rejected' ||
		s3.status === 'rejected' ||
		postgres.status === 'rejected'
	) {
		await stop();
		const reasons = results.flatMap((r) =>
			r.status === 'rejected'
				? [r.reason instanceof Error ? r.reason.message : String(r.reason)]
				: [],
		);
		throw new Error(`infra-ops test harness failed to start:\n- ${reasons.join('\n- ')}`);
	}

	const services: Services = {
		root,
		docker: docker.value.info,
		ssh: ssh.value.info,
		s3: {
			endpoint: s3.value.endpoint,
			region: S3_REGION,
			accessKeyId: S3_ACCESS_KEY_ID,
			secretAccessKey: S3_SECRET_ACCESS_KEY,
			bucket: s3.value.bucket,
		},
		postgres: postgres.value.info,
	};
	const servicesFile = path.join(root, 'services.json');
	fs.writeFileSync(servicesFile, `${JSON.stringify(services, null, 2)}\n`, { mode: 0o600 });

	const parts = Object.entries(timings)
		.map(([name, ms]) => `${name} ${(ms / 1000).toFixed(2)}s`)
		.join(', ');
	process.stderr.write(
		`\n[infra-ops harness] services up in ${((Date.now() - started) / 1000).toFixed(2)}s (${parts}) in ${root}\n`,
	);

	return { root, servicesFile, services, stop };
}

/** Synchronous last resort for an exit without teardown: no graceful shutdowns, just no leftovers. */
export function emergencyStop(root: string): void {
	try {
		removeRoot(root);
	} catch {
		// exiting anyway
	}
}

/** Where globalSetup leaves the running harness for globalTeardown (both run in jest's main process). */
export const HARNESS_HANDLE = Symbol.for('infra-ops.harness');
export type HarnessGlobal = typeof globalThis & {
	[HARNESS_HANDLE]?: { harness: Harness; removeHooks(): void };
};
