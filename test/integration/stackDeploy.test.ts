/** Stack Deploy against the harness's real sshd and real git on loopback: a bare "origin", the host's
 * working clone (the deploy folder) and a developer clone that pushes commits; the node itself through
 * n8n-core's WorkflowExecute (per-item commits from expressions, continueOnFail, pairedItem). */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { openSsh, type SshConnection, type SshSession } from '../../nodes/shared/ssh';
import { StackDeploy } from '../../nodes/StackDeploy/StackDeploy.node';
import {
	deployCommit,
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
