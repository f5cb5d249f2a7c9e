/** Process plumbing shared by the harness: locating binaries, running commands, supervising daemons. */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** Absolute path of `bin`, or an error naming the Debian package that provides it. */
export function requireBinary(
	bin: string,
	debianPackage: string,
	extraDirs: string[] = [],
): string {
	const dirs = [...extraDirs, ...(process.env.PATH ?? '').split(':').filter(Boolean), ...SBIN_DIRS];
	for (const dir of dirs) {
		const candidate = path.join(dir, bin);
		try {
			fs.accessSync(candidate, fs.constants.X_OK);
			return candidate;
		} catch {
			// keep looking
		}
	}
	throw new Error(`${bin} not found: apt-get install ${debianPackage}`);
}

export interface RunOptions {
	env?: NodeJS.ProcessEnv;
	cwd?: string;
	input?: string;
	uid?: number;
	gid?: number;
	timeoutMs?: number;
}

/** Runs a command to completion and returns its stdout; the error carries the command line and stderr. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
	return new Promise((resolve, reject) => {
		const child = execFile(
			cmd,
			args,
			{
				env: opts.env ?? process.env,
				cwd: opts.cwd,
				uid: opts.uid,
				gid: opts.gid,
				timeout: opts.timeoutMs ?? 60_000,
				maxBuffer: 64 * 1024 * 1024,
			},
			(error, stdout, stderr) => {
				if (error) {
					const detail = `${stderr}`.trim() || `${stdout}`.trim() || error.message;
					reject(new Error(`${[cmd, ...args].join(' ')} failed: ${detail}`));
				} else {
					resolve(`${stdout}`);
				}
			},
		);
		if (opts.input !== undefined) child.stdin?.end(opts.input);
	});
}

/** A port the OS reported free on 127.0.0.1 a moment ago (the daemon that gets it binds it right after). */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.unref();
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const { port } = server.address() as net.AddressInfo;
			server.close(() => resolve(port));
		});
	});
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Like Promise.all, but waits for every promise to settle before rethrowing the first failure, so nothing still runs after it. */
export async function settleAll<T extends readonly unknown[]>(promises: {
	[K in keyof T]: Promise<T[K]>;
}): Promise<T> {
	const results = await Promise.allSettled(promises);
	const failed = results.find(
		(result): result is PromiseRejectedResult => result.status === 'rejected',
	);
	if (failed) throw failed.reason;
	return results.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** Waits for `promise` at most `ms`, without leaving a timer behind that would hold the process open. */
async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
	let timer: NodeJS.Timeout | undefined;
	try {
		await Promise.race([
			promise,
			new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
		]);
	} finally {
		clearTimeout(timer);
	}
}

export function tail(file: string, lines = 30): string {
	try {
		return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
	} catch {
		return '(no log)';
	}
}

export interface DaemonOptions {
	logFile: string;
	env?: NodeJS.ProcessEnv;
	cwd?: string;
	uid?: number;
	gid?: number;
}

/** A long-running child in its own process group, its output appended to a log file. */
export class Daemon {
	readonly child: ChildProcess;
	readonly pid: number;
	exitCode: number | null = null;
	exitSignal: NodeJS.Signals | null = null;
	private readonly exited: Promise<void>;

	constructor(
		readonly name: string,
		cmd: string,
		args: string[],
		readonly opts: DaemonOptions,
	) {
		const log = fs.openSync(opts.logFile, 'a');
		try {
			this.child = spawn(cmd, args, {
				detached: true,
				stdio: ['ignore', log, log],
				env: opts.env ?? process.env,
				cwd: opts.cwd,
				uid: opts.uid,
				gid: opts.gid,
			});
		} finally {
			fs.closeSync(log);
		}
		this.exited = new Promise((resolve) => {
			this.child.once('exit', (code, signal) => {
				this.exitCode = code ?? -1;
				this.exitSignal = signal;
				resolve();
			});
			this.child.once('error', (err) => {
				fs.appendFileSync(opts.logFile, `spawn error: ${err.message}\n`);
				this.exitCode = -1;
				resolve();
			});
		});
		if (this.child.pid === undefined) throw new Error(`${name}: could not spawn ${cmd}`);
		this.pid = this.child.pid;
		// the harness process must not wait on its daemons; teardown and the exit hook stop them
		this.child.unref();
	}

	get running(): boolean {
		return this.exitCode === null;
	}

	logTail(lines = 30): string {
		return tail(this.opts.logFile, lines);
	}

	/** Throws with the log tail if the daemon has died. */
	assertRunning(): void {
		if (!this.running) {
			throw new Error(
				`${this.name} exited (code ${this.exitCode}, signal ${this.exitSignal}) before it was ready; log ${this.opts.logFile}:\n${this.logTail()}`,
			);
		}
	}

	/** Sends `signal` to the main process, waits up to `timeoutMs`, then SIGKILLs what is left of its group. */
	async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<void> {
		if (this.running) {
			signalPid(this.pid, signal);
			await settleWithin(this.exited, timeoutMs);
		}
		signalPid(-this.pid, 'SIGKILL');
		if (this.running) await settleWithin(this.exited, 5_000);
	}
}

export function signalPid(pid: number, signal: NodeJS.Signals): void {
	try {
		process.kill(pid, signal);
	} catch {
		// already gone
	}
}

/** Polls `check` until it returns true; fails early if `daemon` dies, and on timeout with its log tail. */
export async function waitUntil(
	what: string,
	check: () => Promise<boolean>,
	opts: { timeoutMs: number; daemon?: Daemon; intervalMs?: number },
): Promise<void> {
	const deadline = Date.now() + opts.timeoutMs;
	let lastError = '';
	for (;;) {
		opts.daemon?.assertRunning();
		try {
			if (await check()) return;
		} catch (err) {
			lastError = err instanceof Error ? err.message : String(err);
		}
		if (Date.now() > deadline) {
			const log = opts.daemon ? `; log ${opts.daemon.opts.logFile}:\n${opts.daemon.logTail()}` : '';
			throw new Error(
				`timed out after ${opts.timeoutMs} ms waiting for ${what}${lastError ? ` (${lastError})` : ''}${log}`,
			);
		}
		await sleep(opts.intervalMs ?? 100);
	}
}

function readProc(pid: string, file: string): string | undefined {
	try {
		return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
	} catch {
		return undefined;
	}
}

function listPids(): string[] {
	return fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
}

/** All live descendants of `pid` (Linux /proc), children before grandchildren. */
export function descendants(pid: number): number[] {
	const children = new Map<number, number[]>();
	for (const entry of listPids()) {
		const stat = readProc(entry, 'stat');
		if (!stat) continue;
		// the command name in parentheses may contain spaces, so parse after its closing parenthesis
		const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
		const list = children.get(ppid) ?? [];
		list.push(Number(entry));
		children.set(ppid, list);
	}
	const result: number[] = [];
	const queue = [pid];
	while (queue.length > 0) {
		for (const child of children.get(queue.shift()!) ?? []) {
			result.push(child);
			queue.push(child);
		}
	}
	return result;
}

/** Pids (other than this process) whose command line contains `text`. */
export function processesMentioning(text: string): number[] {
	return listPids()
		.filter((entry) => Number(entry) !== process.pid)
		.filter((entry) => readProc(entry, 'cmdline')?.replace(/\0/g, ' ').includes(text))
		.map(Number);
}

/** Lazily detaches every mount at or below `dir` (dockerd leaves shm mounts behind when killed). */
export function unmountUnder(dir: string): void {
	let mountinfo = '';
	try {
		mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8');
	} catch {
		return;
	}
	const points = mountinfo
		.split('\n')
		.map((line) => line.split(' ')[4])
		.filter(
			(point): point is string =>
				point !== undefined && (point === dir || point.startsWith(`${dir}/`)),
		)
		.sort((a, b) => b.length - a.length);
	for (const point of points) {
		try {
			execFileSync('umount', ['-l', point], { stdio: 'ignore' });
		} catch {
			// nothing more to do; the removal that follows reports what stays busy
		}
	}
}
