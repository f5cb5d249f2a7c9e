/** Stack Deploy against the harness's real sshd and real git on loopback: a bare "origin", the host's
 * working clone (the deploy folder) and a developer clone that pushes commits; the node itself through
 * n8n-core's WorkflowExecute (per-item commits from expressions, continueOnFail, pairedItem). */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import * as path from 'node:path';

import { openSsh, type SshConnection, type SshSession } from '../../nodes/shared/ssh';
import { StackDeploy } from '../../nodes/StackDeploy/StackDeploy.node';
import {
	deployCommit,
	LOG_FILE,
	rollBack,
	STATE_FILE,
	type DeployRequest,
} from '../../nodes/StackDeploy/stackDeploy';
import { services } from '../harness/services';
import { runWorkflow, startThen } from '../support/workflowRunner';

jest.setTimeout(120_000);

function conn(): SshConnection {
	const { ssh } = services();
	return {
		host: ssh.host,
		port: ssh.port,
		username: ssh.username,
		privateKey: ssh.privateKey,
		hostKeyFingerprints: [ssh.hostKeyFingerprint],
	};
}

const git = (cwd: string, ...args: string[]) =>
	execFileSync('git', ['-c', 'user.email=dev@example.com', '-c', 'user.name=dev', ...args], {
		cwd,
		encoding: 'utf8',
	}).trim();

interface Stack {
	root: string;
	origin: string;
	dev: string;
	deployDir: string;
	push(file: string, text: string, branch?: string): string;
}

let counter = 0;
function stack(): Stack {
	const root = path.join(services().ssh.dataDir, `stack-deploy-${process.pid}-${++counter}`);
	const origin = path.join(root, 'origin.git');
	const dev = path.join(root, 'dev');
	const deployDir = path.join(root, 'stack');
	fs.mkdirSync(dev, { recursive: true });
	execFileSync('git', ['init', '-q', '--bare', '-b', 'main', origin]);
	git(dev, 'init', '-q', '-b', 'main');
	git(dev, 'remote', 'add', 'origin', origin);
	const push = (file: string, text: string, branch = 'main') => {
		fs.writeFileSync(path.join(dev, file), text);
		git(dev, 'add', '.');
		git(dev, 'commit', '-q', '-m', `${file}: ${text.slice(0, 20)}`);
		git(dev, 'push', '-q', 'origin', `HEAD:refs/heads/${branch}`);
		return git(dev, 'rev-parse', 'HEAD');
	};
	push('VERSION', 'v1\n');
	execFileSync('git', ['clone', '-q', '-b', 'main', origin, deployDir]);
	return { root, origin, dev, deployDir, push };
}

const head = (dir: string) => git(dir, 'rev-parse', 'HEAD');
const readState = (dir: string) =>
	JSON.parse(fs.readFileSync(path.join(dir, '.git', STATE_FILE), 'utf8')) as Record<
		string,
		unknown
	>;

function request(s: Stack, over: Partial<DeployRequest> = {}): DeployRequest {
	return {
		repoDir: s.deployDir,
		branch: 'main',
		command: 'echo "started $(cat VERSION)" >> ../started.log; cat VERSION',
		timeoutS: 60,
		lockWaitS: 0,
		holder: `jest ${process.pid}`,
		...over,
	};
}

async function waitFor(file: string, ms = 30_000): Promise<void> {
	const until = Date.now() + ms;
	while (!fs.existsSync(file)) {
		if (Date.now() > until) throw new Error(`${file} did not appear within ${ms} ms`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

/** Whether a process still runs (a zombie waiting to be reaped counts as gone). */
function alive(pid: number): boolean {
	try {
		return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
	} catch {
		return false;
	}
}

let session: SshSession;
beforeAll(async () => {
	session = await openSsh(conn());
});
afterAll(() => session?.close());

describe('Stack Deploy (real sshd, real git on loopback)', () => {
	it('deploys exactly the pushed commit and runs the start command: ok, from → to, secrets masked', async () => {
		const s = stack();
		const v1 = head(s.deployDir);
		const v2 = s.push('VERSION', 'v2\n');
		s.push('VERSION', 'v3\n'); // the branch moved on: the pushed commit, not the head, is deployed
		const finding = await deployCommit(
			session,
			request(s, {
				commit: v2,
				deliveryId: 'd-1',
				command: 'cat VERSION; echo "DB_PASSWORD=hunter2hunter2"; echo done >&2',
			}),
		);
		expect(finding).toMatchObject({
			check: 'stack-deploy',
			status: 'ok',
			action: 'deployed',
			fromCommit: v1,
			toCommit: v2,
			exitStatus: 0,
			timedOut: false,
			branch: 'main',
		});
		expect(finding.summary).toContain(`${v1.slice(0, 12)} → ${v2.slice(0, 12)}`);
		expect(finding.outputTail).toContain('v2');
		expect(finding.outputTail).toContain('done');
		expect(finding.outputTail).toContain('DB_PASSWORD=(redacted)');
		expect(JSON.stringify(finding)).not.toContain('hunter2hunter2');
		expect(head(s.deployDir)).toBe(v2);
		expect(readState(s.deployDir)).toMatchObject({
			deployedCommit: v2,
			previousCommit: v1,
			deliveries: [expect.objectContaining({ id: 'd-1' })],
		});
	});

	it('a failing start command is critical with its exit status and the tail of its output', async () => {
		const s = stack();
		const v2 = s.push('VERSION', 'v2\n');
		const finding = await deployCommit(
			session,
			request(s, {
				commit: v2,
				command:
					'for i in $(seq 1 100); do echo "line $i"; done; echo "compose: api_key=abc123secret failed" >&2; exit 3',
			}),
		);
		expect(finding).toMatchObject({
			status: 'critical',
			action: 'failed',
			exitStatus: 3,
			timedOut: false,
			toCommit: v2,
		});
		expect(finding.summary).toContain('exit status 3');
		const tail = String(finding.outputTail);
		expect(tail.split('\n')).toHaveLength(30);
		expect(tail).toContain('line 100');
		expect(tail).not.toContain('line 50\n');
		expect(tail).toContain('api_key=(redacted)');
		expect(tail).not.toContain('abc123secret');
		// the checkout stays (Roll Back is a separate, explicit step)
		expect(head(s.deployDir)).toBe(v2);
	});

	it('a start command that hangs is killed, with what it started, at the timeout: critical, timed out', async () => {
		const s = stack();
		const v2 = s.push('VERSION', 'v2\n');
		const pids = path.join(s.root, 'pids');
		const finding = await deployCommit(
			session,
			request(s, {
				commit: v2,
				timeoutS: 2,
				command: `echo $$ > ${pids}; sleep 300 & echo $! >> ${pids}; echo waiting; wait`,
			}),
		);
		expect(finding).toMatchObject({ status: 'critical', action: 'failed', timedOut: true });
		expect(finding.summary).toContain('did not finish within 2 s and was killed');
		expect(finding.outputTail).toContain('waiting');
		const started = fs.readFileSync(pids, 'utf8').trim().split('\n').map(Number);
		expect(started).toHaveLength(2);
		// TERM reaches the whole process group at once; give the kernel a moment to reap
		const until = Date.now() + 15_000;
		while (started.some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
		expect(started.filter(alive)).toEqual([]);
	});

	it('refuses a commit that is not on the branch, and a malformed one, with nothing changed', async () => {
		const s = stack();
		const v1 = head(s.deployDir);
		const elsewhere = s.push('VERSION', 'evil\n', 'feature');
		git(s.dev, 'reset', '-q', '--hard', v1);
		await expect(deployCommit(session, request(s, { commit: elsewhere }))).rejects.toThrow(
			/is not on branch main of origin: refusing to deploy it \(nothing changed\)/,
		);
		await expect(
			deployCommit(session, request(s, { commit: `${v1.slice(0, 39)}'; touch pwned #` })),
		).rejects.toThrow(/is not a full commit id/);
		await expect(
			deployCommit(session, request(s, { commit: v1, branch: 'main; touch pwned' })),
		).rejects.toThrow(/is not a branch name/);
		await expect(deployCommit(session, request(s, { branch: '--upload-pack=x' }))).rejects.toThrow(
			/is not a branch name/,
		);
		expect(head(s.deployDir)).toBe(v1);
		expect(fs.existsSync(path.join(s.deployDir, '.git', STATE_FILE))).toBe(false);
		expect(fs.existsSync(path.join(s.root, 'started.log'))).toBe(false);
		expect(fs.existsSync(path.join(s.deployDir, 'pwned'))).toBe(false);
	});

	it('refuses a replayed delivery and an older commit (warning), and deploys the head when no commit is given', async () => {
		const s = stack();
		const v1 = head(s.deployDir);
		const v2 = s.push('VERSION', 'v2\n');
		expect(
			await deployCommit(session, request(s, { commit: v2, deliveryId: 'gh-1' })),
		).toMatchObject({ status: 'ok' });
		const replay = await deployCommit(session, request(s, { commit: v2, deliveryId: 'gh-1' }));
		expect(replay).toMatchObject({ status: 'warning', action: 'refused' });
		expect(replay.summary).toMatch(/delivery gh-1 was received before/);
		const older = await deployCommit(session, request(s, { commit: v1, deliveryId: 'gh-2' }));
		expect(older).toMatchObject({ status: 'warning', action: 'refused' });
		expect(older.summary).toMatch(/is older than the checked-out/);
		expect(head(s.deployDir)).toBe(v2);
		expect(fs.readFileSync(path.join(s.root, 'started.log'), 'utf8')).toBe('started v2\n');
		const v3 = s.push('VERSION', 'v3\n');
		expect(await deployCommit(session, request(s))).toMatchObject({
			status: 'ok',
			toCommit: v3,
			fromCommit: v2,
		});
	});

	it('Roll Back returns to the commit the last deploy replaced and runs the start command again', async () => {
		const s = stack();
		const v1 = head(s.deployDir);
		const v2 = s.push('VERSION', 'v2\n');
		const failed = await deployCommit(
			session,
			request(s, {
				commit: v2,
				command: 'grep -q v1 VERSION || exit 3; echo "started v1" >> ../started.log',
			}),
		);
		expect(failed).toMatchObject({ status: 'critical', exitStatus: 3 });
		const back = await rollBack(
			session,
			request(s, {
				command: 'grep -q v1 VERSION || exit 3; echo "started v1" >> ../started.log',
			}),
		);
		expect(back).toMatchObject({
			status: 'ok',
			action: 'rolled-back',
			fromCommit: v2,
			toCommit: v1,
			exitStatus: 0,
		});
		expect(head(s.deployDir)).toBe(v1);
		expect(fs.readFileSync(path.join(s.root, 'started.log'), 'utf8')).toBe('started v1\n');
		expect(readState(s.deployDir)).toMatchObject({ deployedCommit: v1, previousCommit: v1 });
	});

	it('Roll Back without a recorded previous commit refuses and changes nothing', async () => {
		const s = stack();
		const v1 = head(s.deployDir);
		await expect(rollBack(session, request(s))).rejects.toThrow(/No previous commit is recorded/);
		expect(head(s.deployDir)).toBe(v1);
	});

	it('two deploys of one folder never run at once: the second is refused (Lock Wait 0) or waits for the lock', async () => {
		const s = stack();
		const v2 = s.push('VERSION', 'v2\n');
		const running = path.join(s.root, 'running');
		const go = path.join(s.root, 'go');
		const done = path.join(s.root, 'first-done');
		const first = deployCommit(
			session,
			request(s, {
				commit: v2,
				command: `touch ${running}; while [ ! -e ${go} ]; do sleep 0.1; done; touch ${done}; echo first`,
			}),
		);
		await waitFor(running);
		const other = await openSsh(conn()); // another worker: its own connection
		try {
			await expect(deployCommit(other, request(s, { commit: v2 }))).rejects.toThrow(
				/infra-ops-deploy\.lock is locked by jest .*: another deploy of this folder is running/,
			);
			const waiting = deployCommit(
				other,
				// it can only see first-done if it started after the first deploy ended
				request(s, { commit: v2, lockWaitS: 60, command: `test -e ${done} && echo second` }),
			);
			fs.writeFileSync(go, '');
			const [a, b] = await Promise.all([first, waiting]);
			expect(a).toMatchObject({ status: 'ok', outputTail: 'first' });
			expect(b).toMatchObject({ status: 'ok', outputTail: 'second' });
		} finally {
			other.close();
		}
	});
});

/** A TCP hop to the harness's sshd whose connections the test drops at a point it chooses (a network cut). */
async function cuttableHop(): Promise<{
	port: number;
	cut: () => void;
	close: () => Promise<void>;
}> {
	const { ssh } = services();
	const sockets = new Set<Socket>();
	const server = createServer((client) => {
		const upstream = connect(ssh.port, ssh.host);
		for (const socket of [client, upstream]) {
			sockets.add(socket);
			socket.on('error', () => undefined);
			socket.on('close', () => sockets.delete(socket));
		}
		client.pipe(upstream);
		upstream.pipe(client);
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return {
		port: (server.address() as AddressInfo).port,
		cut: () => {
			for (const socket of sockets) socket.destroy();
		},
		close: async () => {
			for (const socket of sockets) socket.destroy();
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
}

describe('Stack Deploy against hostile input and failures (review)', () => {
	it('threat: a start command that leaves a daemon holding its output is judged when the command ends, not at the timeout', async () => {
		const s = stack();
		const v2 = s.push('VERSION', 'v2\n');
		const pid = path.join(s.root, 'daemon.pid');
		try {
			const finding = await deployCommit(
				session,
				request(s, {
					commit: v2,
					timeoutS: 20,
					// `cmd &` keeps the command's stdout and stderr: a server started without a log file
					command: `sleep 600 & echo $! > ${pid}; echo "stack started"`,
				}),
			);
			expect(finding).toMatchObject({ status: 'ok', exitStatus: 0, timedOut: false });
			expect(finding.outputTail).toBe('stack started');
			expect(Number(finding.durationS)).toBeLessThan(15);
		} finally {
			if (fs.existsSync(pid)) {
				const daemon = Number(fs.readFileSync(pid, 'utf8'));
				if (alive(daemon)) process.kill(daemon);
			}
		}
	});

	it('threat: megabytes of output: the tail is the real end of the output (the error), secrets still masked', async () => {
		const s = stack();
		const v2 = s.push('VERSION', 'v2\n');
		const finding = await deployCommit(
			session,
			request(s, {
				commit: v2,
				// 24 MB of progress lines, then the error and a secret, as a pull of big images prints
				command:
					"head -c 24000000 /dev/zero | tr '\\0' x | fold -w 99; echo 'token=s3cr3tvalue99'; echo 'compose: the real error' >&2; exit 4",
			}),
		);
		expect(finding).toMatchObject({ status: 'critical', exitStatus: 4, timedOut: false });
		expect(finding.outputTail).toMatch(/compose: the real error$/);
		expect(finding.outputTail).toContain('token=(redacted)');
		expect(JSON.stringify(finding)).not.toContain('s3cr3tvalue99');
		// the whole output stays on the host, for its owner only
		expect(fs.statSync(path.join(s.deployDir, '.git', LOG_FILE)).mode & 0o777).toBe(0o600);
	});

	it('threat: SSH cut while the start command runs: the next deploy does not check out under the command still running on the host', async () => {
		const s = stack();
		const v2 = s.push('VERSION', 'v2\n');
		const running = path.join(s.root, 'running');
		const go = path.join(s.root, 'go');
		const seen = path.join(s.root, 'seen-by-first');
		const hop = await cuttableHop();
		const cutSession = await openSsh({ ...conn(), host: '127.0.0.1', port: hop.port });
		try {
			const first = deployCommit(
				cutSession,
				request(s, {
					commit: v2,
					command: `touch ${running}; while [ ! -e ${go} ]; do sleep 0.1; done; cat VERSION > ${seen}`,
				}),
			).catch((error: unknown) => error);
			await waitFor(running);
			hop.cut();
			// n8n lost the host: critical, saying so (not "exit status null"), and where the output goes
			const lost = (await first) as { status?: string; summary?: string };
			expect(lost).toMatchObject({ status: 'critical', exitStatus: null, timedOut: false });
			expect(lost.summary).toMatch(
				/the SSH connection was lost while the start command ran: it goes on on the host \(output in .*infra-ops-deploy\.log\)/,
			);
			const v3 = s.push('VERSION', 'v3\n');
			// the first start command still runs on the host (it waits for "go"): the second deploy must wait
			// for it and give up after its Lock Wait, instead of checking out v3 under it
			await expect(deployCommit(session, request(s, { commit: v3, lockWaitS: 2 }))).rejects.toThrow(
				/start command of an earlier deploy still runs/,
			);
			expect(head(s.deployDir)).toBe(v2);
			fs.writeFileSync(go, '');
			await waitFor(seen);
			expect(fs.readFileSync(seen, 'utf8')).toBe('v2\n');
			expect(await deployCommit(session, request(s, { commit: v3, lockWaitS: 60 }))).toMatchObject({
				status: 'ok',
				toCommit: v3,
				fromCommit: v2,
			});
		} finally {
			fs.writeFileSync(go, '');
			cutSession.close();
			await hop.close();
		}
	});

	it('threat: SSH cut during the checkout (before the state is written): the redelivered push still rolls back to the commit deployed before', async () => {
		const s = stack();
		const v1 = head(s.deployDir);
		const v2 = s.push('VERSION', 'v2\n');
		expect(await deployCommit(session, request(s, { commit: v2 }))).toMatchObject({
			status: 'ok',
		});
		const v3 = s.push('VERSION', 'v3\n');
		// a post-checkout hook holds the checkout (HEAD already moved) until the test has cut the connection
		const hook = path.join(s.deployDir, '.git', 'hooks', 'post-checkout');
		const inHook = path.join(s.root, 'in-hook');
		const cutDone = path.join(s.root, 'cut-done');
		fs.writeFileSync(
			hook,
			`#!/bin/sh\ntouch ${inHook}\nwhile [ ! -e ${cutDone} ]; do sleep 0.1; done\n`,
			{ mode: 0o755 },
		);
		const hop = await cuttableHop();
		const cutSession = await openSsh({ ...conn(), host: '127.0.0.1', port: hop.port });
		try {
			const cutOff = deployCommit(
				cutSession,
				request(s, { commit: v3, deliveryId: 'gh-cut' }),
			).catch((error: unknown) => error);
			await waitFor(inHook);
			hop.cut();
			fs.writeFileSync(cutDone, '');
			expect(await cutOff).toBeInstanceOf(Error);
		} finally {
			fs.writeFileSync(cutDone, '');
			cutSession.close();
			await hop.close();
		}
		fs.rmSync(hook);
		expect(head(s.deployDir)).toBe(v3);
		// the Git host redelivers (same delivery id): the deploy finishes, and what it replaced is v2
		const again = await deployCommit(
			session,
			request(s, { commit: v3, deliveryId: 'gh-cut', command: 'exit 5' }),
		);
		expect(again).toMatchObject({ status: 'critical', fromCommit: v2, toCommit: v3 });
		expect(readState(s.deployDir)).toMatchObject({ deployedCommit: v3, previousCommit: v2 });
		expect(await rollBack(session, request(s))).toMatchObject({ status: 'ok', toCommit: v2 });
		expect(head(s.deployDir)).toBe(v2);
		expect(v1).not.toBe(v2);
	});

	it('threat: a branch deletion push (after = 40 zeros) is refused as a warning, nothing changed', async () => {
		const s = stack();
		const v1 = head(s.deployDir);
		s.push('VERSION', 'v2\n', 'release');
		git(s.dev, 'push', '-q', 'origin', '--delete', 'release');
		const finding = await deployCommit(
			session,
			request(s, { branch: 'release', commit: '0'.repeat(40), deliveryId: 'gh-delete' }),
		);
		expect(finding).toMatchObject({ status: 'warning', action: 'refused' });
		expect(finding.summary).toMatch(/deleted branch release/);
		expect(head(s.deployDir)).toBe(v1);
		expect(fs.existsSync(path.join(s.root, 'started.log'))).toBe(false);
	});

	it('threat: a captured signed push re-sent under a new delivery id does not run the start command again', async () => {
		const s = stack();
		const v2 = s.push('VERSION', 'v2\n');
		expect(
			await deployCommit(session, request(s, { commit: v2, deliveryId: 'gh-a' })),
		).toMatchObject({ status: 'ok' });
		const replay = await deployCommit(session, request(s, { commit: v2, deliveryId: 'gh-b' }));
		expect(replay).toMatchObject({ status: 'warning', action: 'refused' });
		expect(replay.summary).toMatch(/already deployed/);
		expect(fs.readFileSync(path.join(s.root, 'started.log'), 'utf8')).toBe('started v2\n');
		// Run Now (no delivery id) still redeploys the same commit on purpose
		expect(await deployCommit(session, request(s, { commit: v2 }))).toMatchObject({
			status: 'ok',
		});
	});

	it('threat: the push of a commit that was rolled back, re-sent under a new delivery id, does not deploy it again', async () => {
		const s = stack();
		const v1 = head(s.deployDir);
		const v2 = s.push('VERSION', 'v2\n');
		const command = 'echo "started $(cat VERSION)" >> ../started.log; grep -q v1 VERSION';
		expect(
			await deployCommit(session, request(s, { commit: v2, deliveryId: 'gh-1', command })),
		).toMatchObject({ status: 'critical' });
		expect(
			await rollBack(session, { ...request(s, { command }), commit: v1, onlyIfAt: v2 }),
		).toMatchObject({ status: 'ok', toCommit: v1 });
		// a captured copy of v2's signed push under a new id would start the broken commit again
		const replay = await deployCommit(
			session,
			request(s, { commit: v2, deliveryId: 'gh-2', command }),
		);
		expect(replay).toMatchObject({ status: 'warning', action: 'refused' });
		expect(replay.summary).toMatch(/was rolled back/);
		expect(head(s.deployDir)).toBe(v1);
		expect(fs.readFileSync(path.join(s.root, 'started.log'), 'utf8')).toBe(
			'started v2\nstarted v1\n',
		);
		// a new push deploys and the rolled-back commit stays remembered; Run Now (no delivery id) may
		// still choose it
		const v3 = s.push('VERSION', 'v1 again\n');
		expect(
			await deployCommit(session, request(s, { commit: v3, deliveryId: 'gh-3', command })),
		).toMatchObject({ status: 'ok' });
		expect(readState(s.deployDir)).toMatchObject({ rolledBack: [v2] });
		expect(
			await deployCommit(session, request(s, { commit: v2, allowOlderCommit: true, command })),
		).toMatchObject({ action: 'failed' });
	});

	it('threat: a roll back that comes after a newer push was deployed leaves the newer deploy alone', async () => {
		const s = stack();
		const v1 = head(s.deployDir);
		const v2 = s.push('VERSION', 'v2\n');
		// push v2 deploys; its checks fail while push v3 is deployed in the meantime (the lock is free
		// during the workflow's wait and checks); then v2's run rolls back what it replaced
		expect(await deployCommit(session, request(s, { commit: v2 }))).toMatchObject({ status: 'ok' });
		const v3 = s.push('VERSION', 'v3\n');
		expect(await deployCommit(session, request(s, { commit: v3 }))).toMatchObject({ status: 'ok' });
		const back = await rollBack(session, { ...request(s), commit: v1, onlyIfAt: v2 });
		expect(back).toMatchObject({ status: 'warning', action: 'refused', toCommit: v1 });
		expect(back.summary).toMatch(/moved on to .* since: not rolled back/);
		expect(head(s.deployDir)).toBe(v3);
		expect(fs.readFileSync(path.join(s.root, 'started.log'), 'utf8')).toBe(
			'started v2\nstarted v3\n',
		);
		await expect(
			rollBack(session, { ...request(s), commit: v1, onlyIfAt: 'not-a-commit' }),
		).rejects.toThrow(/is not a full commit id/);
	});

	it("threat: a start command that prints the stack's .env (local-ai-packaged's secret names) leaks none of its values", async () => {
		const s = stack();
		const v2 = s.push('VERSION', 'v2\n');
		// the secret names of coleam00/local-ai-packaged's .env.example, each with a distinct value
		const names = [
			'N8N_ENCRYPTION_KEY',
			'N8N_USER_MANAGEMENT_JWT_SECRET',
			'POSTGRES_PASSWORD',
			'JWT_SECRET',
			'DASHBOARD_PASSWORD',
			'S3_PROTOCOL_ACCESS_KEY_SECRET',
			'NEO4J_AUTH',
			'CLICKHOUSE_PASSWORD',
			'MINIO_ROOT_PASSWORD',
			'LANGFUSE_SALT',
			'NEXTAUTH_SECRET',
			'ENCRYPTION_KEY',
			'SECRET_KEY_BASE',
			'VAULT_ENC_KEY',
			'JWT_AUTH_TOKEN_SECRET',
			'SMTP_PASS',
			'LOGFLARE_PRIVATE_ACCESS_TOKEN',
		];
		const env = names
			.map((n, i) => `${n}=${n === 'NEO4J_AUTH' ? 'neo4j/' : ''}v4lue${i}x9q`)
			.join('\n');
		fs.writeFileSync(path.join(s.root, 'dot-env'), `${env}\n`);
		// e.g. a start script run with `set -x`, or one that dumps its environment when compose fails
		const finding = await deployCommit(
			session,
			request(s, { commit: v2, command: `cat ${path.join(s.root, 'dot-env')}; exit 1` }),
		);
		expect(finding).toMatchObject({ status: 'critical', exitStatus: 1 });
		for (const n of names) expect(finding.outputTail).toContain(`${n}=`);
		expect(JSON.stringify(finding)).not.toMatch(/v4lue\d+x9q/);
	});

	it('threat: a force push that rewinds the branch deploys the commit it rewound to; that push replayed later does not', async () => {
		const s = stack();
		const v1 = head(s.deployDir);
		const v2 = s.push('VERSION', 'v2\n');
		expect(
			await deployCommit(session, request(s, { commit: v2, deliveryId: 'gh-1' })),
		).toMatchObject({
			status: 'ok',
		});
		// v2 is broken: the developer resets main to v1 and force-pushes (GitHub: "forced": true, "after": v1)
		git(s.dev, 'reset', '-q', '--hard', v1);
		git(s.dev, 'push', '-q', '--force', 'origin', 'HEAD:refs/heads/main');
		const rewound = await deployCommit(session, request(s, { commit: v1, deliveryId: 'gh-2' }));
		expect(rewound).toMatchObject({
			status: 'ok',
			action: 'deployed',
			fromCommit: v2,
			toCommit: v1,
		});
		expect(head(s.deployDir)).toBe(v1);
		const v3 = s.push('VERSION', 'v3\n');
		expect(
			await deployCommit(session, request(s, { commit: v3, deliveryId: 'gh-3' })),
		).toMatchObject({
			status: 'ok',
		});
		// the force push's payload re-sent under a new delivery id: v1 is no longer the branch's head
		const replay = await deployCommit(session, request(s, { commit: v1, deliveryId: 'gh-4' }));
		expect(replay).toMatchObject({ status: 'warning', action: 'refused' });
		expect(head(s.deployDir)).toBe(v3);
	});

	it('threat: the same delivery twice at the same moment (two workers) deploys once', async () => {
		const s = stack();
		const v2 = s.push('VERSION', 'v2\n');
		const other = await openSsh(conn());
		try {
			const both = await Promise.all([
				deployCommit(session, request(s, { commit: v2, deliveryId: 'gh-twice', lockWaitS: 60 })),
				deployCommit(other, request(s, { commit: v2, deliveryId: 'gh-twice', lockWaitS: 60 })),
			]);
			expect(both.map((f) => f.action).sort()).toEqual(['deployed', 'refused']);
			expect(fs.readFileSync(path.join(s.root, 'started.log'), 'utf8')).toBe('started v2\n');
		} finally {
			other.close();
		}
	});

	it('threat: a repository folder with spaces and quotes, a detached HEAD and untracked files deploys', async () => {
		const s = stack();
		const odd = path.join(s.root, "my stack's $(touch pwned) dir");
		fs.renameSync(s.deployDir, odd);
		const v1 = head(odd);
		git(odd, 'checkout', '-q', '--detach', v1);
		fs.writeFileSync(path.join(odd, '.env'), 'SECRET=kept\n');
		const v2 = s.push('VERSION', 'v2\n');
		const finding = await deployCommit(
			session,
			request(s, { repoDir: odd, commit: v2, command: 'cat VERSION .env' }),
		);
		expect(finding).toMatchObject({ status: 'ok', fromCommit: v1, toCommit: v2 });
		expect(finding.outputTail).toContain('v2');
		expect(fs.readFileSync(path.join(odd, '.env'), 'utf8')).toBe('SECRET=kept\n');
		expect(fs.existsSync(path.join(s.root, 'pwned'))).toBe(false);
		expect(fs.existsSync(path.join(odd, 'pwned'))).toBe(false);
	});

	it('threat: local changes to a file the pushed commit changes stop the deploy with the hint, nothing changed or recorded', async () => {
		const s = stack();
		const v1 = head(s.deployDir);
		const v2 = s.push('VERSION', 'v2\n');
		fs.writeFileSync(path.join(s.deployDir, 'VERSION'), 'edited on the host\n');
		await expect(
			deployCommit(session, request(s, { commit: v2, deliveryId: 'gh-local' })),
		).rejects.toMatchObject({
			message: expect.stringMatching(
				/checking out .* failed .*VERSION.*commit your changes or stash them/,
			),
			hint: expect.stringMatching(/Local changes to tracked files block the checkout/),
		});
		expect(head(s.deployDir)).toBe(v1);
		expect(fs.readFileSync(path.join(s.deployDir, 'VERSION'), 'utf8')).toBe('edited on the host\n');
		expect(fs.existsSync(path.join(s.deployDir, '.git', STATE_FILE))).toBe(false);
		expect(fs.existsSync(path.join(s.root, 'started.log'))).toBe(false);
	});

	it('threat: a lock file planted as a folder stops the deploy with a clear error, nothing changed', async () => {
		const s = stack();
		const v1 = head(s.deployDir);
		const v2 = s.push('VERSION', 'v2\n');
		fs.mkdirSync(path.join(s.deployDir, '.git', 'infra-ops-deploy.lock'));
		await expect(deployCommit(session, request(s, { commit: v2 }))).rejects.toMatchObject({
			message: expect.stringMatching(/cannot lock .*infra-ops-deploy\.lock: .*Is a directory/),
			hint: expect.stringMatching(/write access to the repository's \.git folder/),
		});
		expect(head(s.deployDir)).toBe(v1);
	});

	it('newcomer: a SHA-256 repository (Gitea/Forgejo "after" of 64 hex) deploys its pushed commit', async () => {
		const root = path.join(services().ssh.dataDir, `stack-deploy-sha256-${process.pid}`);
		const origin = path.join(root, 'origin.git');
		const dev = path.join(root, 'dev');
		const deployDir = path.join(root, 'stack');
		fs.mkdirSync(dev, { recursive: true });
		execFileSync('git', ['init', '-q', '--bare', '--object-format=sha256', '-b', 'main', origin]);
		execFileSync('git', ['init', '-q', '--object-format=sha256', '-b', 'main', dev]);
		const commit = (text: string) => {
			fs.writeFileSync(path.join(dev, 'VERSION'), text);
			git(dev, 'add', '.');
			git(dev, 'commit', '-q', '-m', text);
			git(dev, 'push', '-q', origin, 'HEAD:refs/heads/main');
			return git(dev, 'rev-parse', 'HEAD');
		};
		const v1 = commit('v1\n');
		execFileSync('git', ['clone', '-q', '-b', 'main', origin, deployDir]);
		const v2 = commit('v2\n');
		expect(v2).toMatch(/^[0-9a-f]{64}$/);
		const finding = await deployCommit(session, {
			repoDir: deployDir,
			branch: 'main',
			commit: v2,
			command: 'cat VERSION',
			timeoutS: 60,
			lockWaitS: 0,
			holder: 'jest',
		});
		expect(finding).toMatchObject({ status: 'ok', fromCommit: v1, toCommit: v2, outputTail: 'v2' });
		expect(
			await rollBack(session, {
				repoDir: deployDir,
				command: 'cat VERSION',
				timeoutS: 60,
				lockWaitS: 0,
				holder: 'jest',
			}),
		).toMatchObject({ status: 'ok', toCommit: v1 });
	});

	it('threat: a planted state file (wrong commit shape, not JSON) stops the deploy with a clear error, nothing changed', async () => {
		const s = stack();
		const v1 = head(s.deployDir);
		const v2 = s.push('VERSION', 'v2\n');
		const state = path.join(s.deployDir, '.git', STATE_FILE);
		fs.writeFileSync(state, JSON.stringify({ previousCommit: '$(touch pwned)', deliveries: [] }));
		await expect(deployCommit(session, request(s, { commit: v2 }))).rejects.toThrow(
			/deploy state .* is damaged \(a commit is not a commit id\)/,
		);
		fs.writeFileSync(state, '{"deliveries": [');
		await expect(rollBack(session, request(s))).rejects.toThrow(/is damaged/);
		expect(head(s.deployDir)).toBe(v1);
	});
});

describe('Stack Deploy node (n8n-core WorkflowExecute)', () => {
	const TYPE = 'n8n-nodes-infra-ops.stackDeploy';
	const SSH = { infraOpsSshApi: { id: '1', name: 'Stack host' } };
	const credentials = () => {
		const { ssh } = services();
		return {
			infraOpsSshApi: {
				host: ssh.host,
				port: ssh.port,
				username: ssh.username,
				authentication: 'privateKey',
				privateKey: ssh.privateKey,
				hostKeyFingerprint: ssh.hostKeyFingerprint,
			},
		};
	};

	it('deploys per item, turns a hostile commit into an error item (continueOnFail), then rolls back', async () => {
		const s = stack();
		const v1 = head(s.deployDir);
		const v2 = s.push('VERSION', 'v2\n');
		const deploy = (commit: string) =>
			runWorkflow({
				workflow: startThen(
					{
						name: 'Deploy Stack',
						type: TYPE,
						credentials: SSH,
						parameters: {
							operation: 'deploy',
							repoDir: s.deployDir,
							command: 'cat VERSION',
							timeoutMinutes: 1,
							lockWaitS: 30,
							branch: 'main',
							commit: '={{ $json.commit }}',
						},
					},
					true,
				),
				nodeTypes: { [TYPE]: new StackDeploy() },
				credentials: credentials(),
				input: [{ commit }],
			});
		const bad = await deploy(`$(touch ${s.root}/pwned)`);
		const [badItem] = bad.outputs['Deploy Stack'][0];
		expect(badItem.json).toMatchObject({ error: expect.stringMatching(/is not a full commit id/) });
		expect(badItem.json.hint).toMatch(/40 hexadecimal characters/);
		expect(badItem.pairedItem).toEqual({ item: 0 });
		expect(fs.existsSync(path.join(s.root, 'pwned'))).toBe(false);

		const good = await deploy(v2);
		const [item] = good.outputs['Deploy Stack'][0];
		expect(item.json).toMatchObject({
			check: 'stack-deploy',
			status: 'ok',
			changed: false,
			fromCommit: v1,
			toCommit: v2,
			outputTail: 'v2',
		});
		expect(JSON.stringify(good.outputs)).not.toContain('PRIVATE KEY');

		const back = await runWorkflow({
			workflow: startThen({
				name: 'Roll Back',
				type: TYPE,
				credentials: SSH,
				parameters: {
					operation: 'rollBack',
					repoDir: s.deployDir,
					command: 'cat VERSION',
					timeoutMinutes: 1,
				},
			}),
			nodeTypes: { [TYPE]: new StackDeploy() },
			credentials: credentials(),
		});
		expect(back.error).toBeUndefined();
		expect(back.outputs['Roll Back'][0][0].json).toMatchObject({
			status: 'ok',
			action: 'rolled-back',
			toCommit: v1,
			outputTail: 'v1',
		});
		expect(head(s.deployDir)).toBe(v1);
	});
});
