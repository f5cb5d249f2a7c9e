/**
 * Docker Volume Backup's Restic Repository engine with real restic (Debian's 0.14.0, in the harness's
 * `infra-ops-test/restic:0.14.0` image) on a real dockerd, and the harness's s3rver behind an HTTPS
 * front (test/harness/s3TlsFront.ts says why: minio-go's chunked signing over plain HTTP is not decoded
 * by s3rver or fauxqs; fauxqs also refuses bodies the size of restic's pack files). The node runs
 * through n8n's WorkflowExecute.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import type { INodeExecutionData } from 'n8n-workflow';

import { DockerVolumeBackup } from '../../nodes/DockerVolumeBackup/DockerVolumeBackup.node';
import { HELPER_LABEL } from '../../nodes/DockerVolumeBackup/dockerVolumes';
import {
	resticRepository,
	runRestic,
	type ResticSetup,
} from '../../nodes/DockerVolumeBackup/restic';
import { resticBackupHostPaths } from '../../nodes/DockerVolumeBackup/resticHost';
import { resticBackupVolume } from '../../nodes/DockerVolumeBackup/resticOps';
import { resticRestoreVolume, resticSnapshots } from '../../nodes/DockerVolumeBackup/resticRestore';
import { createDockerClient, type DockerClient } from '../../nodes/shared/docker';
import { createS3Client } from '../../nodes/shared/s3';
import { openSsh } from '../../nodes/shared/ssh';
import { startS3rver, type S3rverHandle } from '../harness/s3';
import { startS3TlsFront, type S3TlsFront } from '../harness/s3TlsFront';
import { services } from '../harness/services';
import { describeTar, volumeTar } from '../support/volumeTree';
import { runWorkflow, type WorkflowJson, startThen } from '../support/workflowRunner';

jest.setTimeout(240_000);

const execFileAsync = promisify(execFile);

const NODE_TYPE = 'n8n-nodes-infra-ops.dockerVolumeBackup';
const nodeTypes = { [NODE_TYPE]: new DockerVolumeBackup() };
const run = randomBytes(3).toString('hex');
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
/** s3rver accepts only this key pair */
const SECRET_KEY = 'S3RVER';

let docker: DockerClient;
let front: S3TlsFront;
let dir: string;

const json = (items: INodeExecutionData[]) => items.map((i) => i.json as Record<string, unknown>);

function s3Credential(via = front) {
	return {
		provider: 'other',
		endpoint: via.endpoint,
		region: 'us-east-1',
		bucket: services().s3.bucket,
		accessKeyId: 'S3RVER',
		secretAccessKey: SECRET_KEY,
		forcePathStyle: true,
	};
}

function credentials(repoPath: string, password = PASSWORD) {
	return {
		infraOpsS3Api: s3Credential(),
		infraOpsDockerApi: { connection: 'socket', socketPath: services().docker.socketPath },
		infraOpsResticRepositoryApi: {
			repositoryType: 's3',
			path: repoPath,
			password,
			caPem: front.caPem,
		},
	};
}

function workflow(parameters: Record<string, unknown>): WorkflowJson {
	return startThen({
		name: 'Restic',
		type: NODE_TYPE,
		parameters: {
			engine: 'restic',
			resticImage: services().docker.resticImage,
			readerImage: services().docker.image,
			resticNetwork: 'host',
			...parameters,
		},
		credentials: {
			infraOpsS3Api: { id: '1', name: 's3' },
			infraOpsDockerApi: { id: '2', name: 'docker' },
			infraOpsResticRepositoryApi: { id: '3', name: 'restic' },
			infraOpsSshApi: { id: '4', name: 'ssh' },
		},
	});
}

function sshCredential() {
	const { ssh } = services();
	return {
		host: ssh.host,
		port: ssh.port,
		username: ssh.username,
		authentication: 'privateKey',
		privateKey: ssh.privateKey,
		hostKeyFingerprint: ssh.hostKeyFingerprint,
	};
}

async function runNode(
	repoPath: string,
	parameters: Record<string, unknown>,
	password?: string,
	repositoryType = 's3',
): Promise<Record<string, unknown>[]> {
	const creds = credentials(repoPath, password);
	creds.infraOpsResticRepositoryApi.repositoryType = repositoryType;
	const { outputs, error } = await runWorkflow({
		workflow: workflow(parameters),
		nodeTypes,
		credentials: { ...creds, infraOpsSshApi: sshCredential() },
	});
	expect(error).toBeUndefined();
	const text = JSON.stringify(outputs);
	expect(text).not.toContain(PASSWORD);
	expect(text).not.toContain(SECRET_KEY);
	return json(outputs.Restic[0]);
}

async function inContainer(volume: string, script: string): Promise<void> {
	const c = await docker.docker.createContainer({
		Image: services().docker.image,
		Cmd: ['sh', '-c', script],
		HostConfig: { Binds: [`${volume}:/v`], NetworkMode: 'none' },
	});
	await c.start();
	const { StatusCode } = (await c.wait()) as { StatusCode: number };
	await c.remove();
	if (StatusCode !== 0) throw new Error(`script in ${volume} exited ${StatusCode}`);
}

/** restic on this host, on the same repository (for what the node does not do: hold a lock, check --no-lock). */
function hostRestic(repoPath: string, via = front): { args: string[]; env: NodeJS.ProcessEnv } {
	writeFileSync(join(dir, 'pw'), PASSWORD);
	writeFileSync(
		join(dir, 'aws'),
		`[default]\naws_access_key_id = S3RVER\naws_secret_access_key = ${SECRET_KEY}\n`,
	);
	writeFileSync(join(dir, 'ca.pem'), via.caPem);
	return {
		args: [
			'-r',
			`s3:${via.endpoint}/${services().s3.bucket}/${repoPath}`,
			'-o',
			's3.bucket-lookup=path',
			'-o',
			's3.region=us-east-1',
			'--cacert',
			join(dir, 'ca.pem'),
			'--no-cache',
		],
		env: {
			...process.env,
			RESTIC_PASSWORD_FILE: join(dir, 'pw'),
			AWS_SHARED_CREDENTIALS_FILE: join(dir, 'aws'),
		},
	};
}

beforeAll(async () => {
	dir = mkdtempSync(join(tmpdir(), 'restic-'));
	docker = await createDockerClient({ kind: 'socket', socketPath: services().docker.socketPath });
	front = await startS3TlsFront(services().s3.endpoint);
});

afterAll(async () => {
	await front?.close();
	docker?.close();
});

const FILES = 40;
/** 40 files (5 % = 2: 37 random, a.txt, a hard link, a sparse file), a symlink, a hard link, a sparse file, odd owners and modes. */
const TREE = [
	'set -e',
	'mkdir -p /v/sub/empty /v/private',
	`i=0; while [ $i -lt ${FILES - 3} ]; do head -c $((20000 + i * 997)) /dev/urandom > /v/sub/f$i.bin; i=$((i+1)); done`,
	'printf hello > /v/a.txt',
	'ln -s a.txt /v/link',
	'ln /v/sub/f1.bin /v/hard',
	'truncate -s 8M /v/sparse.img && printf tail >> /v/sparse.img',
	'chown 1234:5678 /v/a.txt',
	'chmod 0750 /v/private && chown 33:33 /v/private',
	'chmod 0604 /v/sub/f0.bin',
].join(' && ');

describe('restic engine: backups, restores, prune', () => {
	const repo = `repo-${run}`;
	const vol = `r${run}_data`;
	const states: { snapshotId: string; tree: ReturnType<typeof describeTar> }[] = [];

	it('first backup creates the repository; no secret in docker inspect of the helper while restic runs', async () => {
		await docker.docker.createVolume({ Name: vol });
		await inContainer(vol, TREE);
		const inspected: string[] = [];
		front.onRequest = async () => {
			if (inspected.length) return;
			const helpers = await docker.docker.listContainers({
				filters: { label: [`${HELPER_LABEL}=true`] },
			});
			for (const h of helpers)
				inspected.push(JSON.stringify(await docker.docker.getContainer(h.Id).inspect()));
		};
		const [f] = await runNode(repo, {
			operation: 'backup',
			selectBy: 'names',
			volumeNames: vol,
			stopContainers: 'never',
		});
		front.onRequest = undefined;
		expect(f).toMatchObject({
			check: 'volume-backup',
			target: vol,
			status: 'ok',
			engine: 'restic',
			repositoryCreated: true,
			filesNew: FILES,
			filesChanged: 0,
			filesUnmodified: 0,
		});
		expect(f.dataAdded).toBeGreaterThan(0);
		expect(inspected.length).toBeGreaterThan(0);
		for (const text of inspected) {
			expect(text).toContain('RESTIC_PASSWORD_FILE');
			expect(text).not.toContain(PASSWORD);
			expect(text).not.toContain(SECRET_KEY);
		}
		states.push({
			snapshotId: f.snapshotId as string,
			tree: describeTar(await volumeTar(docker.docker, vol)),
		});
	});

	it('second backup of the unchanged volume: restic reports every file unmodified and adds almost nothing', async () => {
		const [f] = await runNode(repo, {
			operation: 'backup',
			selectBy: 'names',
			volumeNames: vol,
			stopContainers: 'never',
		});
		expect(f).toMatchObject({
			status: 'ok',
			repositoryCreated: false,
			filesNew: 0,
			filesChanged: 0,
			filesUnmodified: FILES,
		});
		// the new snapshot's own tree blob and nothing else
		expect(f.dataAdded).toBeLessThan(4096);
		states.push({
			snapshotId: f.snapshotId as string,
			tree: describeTar(await volumeTar(docker.docker, vol)),
		});
	});

	it('third backup after changing 5 % of the files: 2 changed, the rest unmodified', async () => {
		await inContainer(
			vol,
			'head -c 30000 /dev/urandom > /v/sub/f5.bin && head -c 30000 /dev/urandom > /v/sub/f6.bin',
		);
		const [f] = await runNode(repo, {
			operation: 'backup',
			selectBy: 'names',
			volumeNames: vol,
			stopContainers: 'never',
		});
		expect(f).toMatchObject({
			status: 'ok',
			filesNew: 0,
			filesChanged: 2,
			filesUnmodified: FILES - 2,
		});
		expect(f.dataAdded).toBeGreaterThan(60000);
		expect(f.dataAdded).toBeLessThan(200000);
		states.push({
			snapshotId: f.snapshotId as string,
			tree: describeTar(await volumeTar(docker.docker, vol)),
		});
	});

	it('lists the three snapshots of the volume, newest first', async () => {
		const out = await runNode(repo, { operation: 'list', volumes: vol, limit: 10 });
		expect(out.map((s) => s.snapshotId)).toEqual(
			states.map((s) => expect.stringMatching(new RegExp(`^${s.snapshotId}`))).reverse(),
		);
	});

	it('restores each snapshot into a new volume byte-identical (content, modes, owners, links, sparse file)', async () => {
		expect(states).toHaveLength(3);
		for (const [i, state] of states.entries()) {
			const target = `r${run}_restored${i}`;
			const [f] = await runNode(repo, {
				operation: 'restore',
				volume: vol,
				snapshotId: state.snapshotId,
				targetVolume: target,
			});
			expect(f).toMatchObject({ check: 'volume-restore', status: 'ok', created: true });
			expect(describeTar(await volumeTar(docker.docker, target))).toEqual(state.tree);
		}
	});

	it('refuses to restore over a volume with content, and leaves it as it was', async () => {
		const before = describeTar(await volumeTar(docker.docker, vol));
		const { outputs, error } = await runWorkflow({
			workflow: workflow({ operation: 'restore', volume: vol }),
			nodeTypes,
			credentials: credentials(repo),
		});
		expect(outputs.Restic).toBeUndefined();
		expect(error?.message).toMatch(/is not empty/);
		expect(describeTar(await volumeTar(docker.docker, vol))).toEqual(before);
	});

	it('replaces a volume with content through a staging volume, its users stopped only for the swap', async () => {
		const target = `r${run}_replace`;
		await docker.docker.createVolume({ Name: target });
		await inContainer(target, 'mkdir /v/old && printf old > /v/old/file && chmod 0700 /v');
		const user = await docker.docker.createContainer({
			Image: services().docker.image,
			Cmd: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'],
			HostConfig: { Binds: [`${target}:/v`], NetworkMode: 'none' },
		});
		await user.start();
		try {
			const [f] = await runNode(repo, {
				operation: 'restore',
				volume: vol,
				snapshotId: states[0].snapshotId,
				targetVolume: target,
				replace: true,
			});
			expect(f).toMatchObject({ status: 'ok', replaced: true });
			expect(f.containersStopped).toHaveLength(1);
			expect((await user.inspect()).State.Running).toBe(true);
			expect(describeTar(await volumeTar(docker.docker, target))).toEqual(states[0].tree);
			const left = await docker.docker.listVolumes();
			expect((left.Volumes ?? []).filter((v) => v.Name.startsWith('infra-ops-staging-'))).toEqual(
				[],
			);
		} finally {
			await user.remove({ force: true });
		}
	});

	it('verifies: restic check reads a data subset, a scratch restore matches the listing', async () => {
		const [f] = await runNode(repo, {
			operation: 'verify',
			volumes: vol,
			readDataPercent: 50,
			scratchRestore: true,
		});
		expect(f).toMatchObject({ check: 'volume-verify', status: 'ok', checked: true });
		expect(f.scratch).toMatchObject({ files: FILES });
		const left = await docker.docker.listVolumes();
		expect((left.Volumes ?? []).filter((v) => v.Name.startsWith('infra-ops-scratch-'))).toEqual([]);
	});

	it('forgets and prunes by policy on a synthetic clock (backup --time)', async () => {
		const pol = `r${run}_policy`;
		await docker.docker.createVolume({ Name: pol });
		await inContainer(pol, 'printf one > /v/x');
		const setup: ResticSetup = {
			docker: docker.docker,
			repo: resticRepository(s3Credential() as never, {
				path: repo,
				password: PASSWORD,
				caPem: front.caPem,
			}),
			image: services().docker.resticImage,
			networkMode: 'host',
		};
		// two a day for 6 days: keep-last 2 + keep-daily 3 keeps the newest of the last 3 days (one
		// of which is also among the last 2), and the second newest
		const start = Date.UTC(2026, 0, 1, 6);
		for (let day = 0; day < 6; day++) {
			for (const hour of [0, 6]) {
				await resticBackupVolume(
					setup,
					{ name: pol, driver: 'local', labels: {} },
					{
						stopMode: 'never',
						hooksBefore: [],
						hooksAfter: [],
						time: new Date(start + day * 86_400_000 + hour * 3_600_000),
					},
				);
			}
		}
		const [f] = await runNode(repo, {
			operation: 'prune',
			volumes: pol,
			keepLast: 2,
			keepDaily: 3,
			keepWeekly: 0,
			keepMonthly: 0,
		});
		expect(f).toMatchObject({ check: 'volume-prune', status: 'ok', pruned: true });
		expect((f.kept as string[]).length).toBe(4);
		expect((f.removed as string[]).length).toBe(8);
		const listed = await runNode(repo, { operation: 'list', volumes: pol, limit: 50 });
		expect(listed.map((s) => (s.createdAt as string).slice(0, 13))).toEqual([
			'2026-01-06T12',
			'2026-01-06T06',
			'2026-01-05T12',
			'2026-01-04T12',
		]);
		// the other volume's snapshots are another group: untouched
		expect(await runNode(repo, { operation: 'list', volumes: vol })).toHaveLength(3);
	});

	it('a wrong password is a clear error before any user of the volume is stopped', async () => {
		const user = await docker.docker.createContainer({
			Image: services().docker.image,
			Cmd: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'],
			Labels: { 'infra-ops.backup.stop': 'true' },
			HostConfig: { Binds: [`${vol}:/v`], NetworkMode: 'none' },
		});
		await user.start();
		try {
			const startedAt = (await user.inspect()).State.StartedAt;
			const [f] = await runNode(
				repo,
				{ operation: 'backup', selectBy: 'names', volumeNames: vol, stopContainers: 'label' },
				'not-the-password',
			);
			expect(f).toMatchObject({ status: 'error', failedStep: 'open repository' });
			expect(f.summary).toMatch(/does not open with this password/);
			const state = (await user.inspect()).State;
			expect(state.Running).toBe(true);
			expect(state.StartedAt).toBe(startedAt);
		} finally {
			await user.remove({ force: true });
		}
	});

	it('waits while another run holds an exclusive lock, then reports a warning and writes nothing', async () => {
		const host = hostRestic(repo);
		let release: () => void = () => undefined;
		const released = new Promise<void>((r) => (release = r));
		let held!: () => void;
		const holding = new Promise<void>((r) => (held = r));
		let armed = true;
		// restic check takes its exclusive lock, then lists the index: that listing is held back
		front.onRequest = async (req) => {
			if (armed && req.method === 'GET' && req.url.includes(`prefix=${repo}%2Findex`)) {
				armed = false;
				held();
				await released;
			}
		};
		const check = spawn('restic', [...host.args, 'check'], { env: host.env, stdio: 'ignore' });
		const checkExit = new Promise<number | null>((r) => check.on('exit', r));
		try {
			await holding;
			const before = await runNode(repo, { operation: 'list', volumes: vol });
			const [f] = await runNode(repo, {
				operation: 'backup',
				selectBy: 'names',
				volumeNames: vol,
				stopContainers: 'never',
				lockWaitS: 3,
			});
			expect({ status: f.status, summary: f.summary }).toEqual({
				status: 'warning',
				summary: expect.stringMatching(/locked by another run/),
			});
			release();
			expect(await checkExit).toBe(0);
			expect(await runNode(repo, { operation: 'list', volumes: vol })).toEqual(before);
		} finally {
			release();
			front.onRequest = undefined;
			check.kill();
		}
	});
});

describe('restic engine: sftp repository on the SSH host', () => {
	it('backs up over sftp with the SSH credential (host key checked, key only as a file) and restores byte-identical', async () => {
		const repoPath = `${services().ssh.dataDir}/restic-sftp-${run}`;
		const vol = `r${run}_sftp`;
		await docker.docker.createVolume({ Name: vol });
		await inContainer(vol, TREE);
		const key = services().ssh.privateKey.split('\n')[1];
		// every helper as Docker reports its creation (restic runs for a second or more after that)
		const inspected: Promise<string>[] = [];
		const events = (await docker.docker.getEvents({
			filters: { type: ['container'], event: ['create'], label: [`${HELPER_LABEL}=true`] },
		})) as unknown as Readable;
		events.on('data', (chunk: Buffer) => {
			for (const line of chunk.toString().split('\n').filter(Boolean)) {
				const id = (JSON.parse(line) as { id: string }).id;
				inspected.push(
					docker.docker
						.getContainer(id)
						.inspect()
						.then((i) => JSON.stringify(i)),
				);
			}
		});
		let f: Record<string, unknown>;
		try {
			[f] = await runNode(
				repoPath,
				{ operation: 'backup', selectBy: 'names', volumeNames: vol, stopContainers: 'never' },
				undefined,
				'sftp',
			);
		} finally {
			events.destroy();
		}
		const texts = await Promise.all(inspected);
		expect(texts.filter((t) => t.includes('sftp.command=ssh')).length).toBeGreaterThan(0);
		for (const text of texts) {
			expect(text).not.toContain(key);
			expect(text).not.toContain(PASSWORD);
		}
		expect(f).toMatchObject({ status: 'ok', repositoryCreated: true, filesNew: FILES });
		expect(existsSync(join(repoPath, 'config'))).toBe(true);
		const target = `r${run}_sftp_restored`;
		const [r] = await runNode(
			repoPath,
			{ operation: 'restore', volume: vol, targetVolume: target },
			undefined,
			'sftp',
		);
		expect(r).toMatchObject({ status: 'ok', created: true });
		expect(describeTar(await volumeTar(docker.docker, target))).toEqual(
			describeTar(await volumeTar(docker.docker, vol)),
		);
	});
});

describe('restic engine: host folders with restic on the SSH host', () => {
	it("backs up the folders with the host's restic into the same repository, its secret files removed after", async () => {
		const repo = `host-${run}`;
		const stack = mkdtempSync(join(services().ssh.dataDir, 'stack-'));
		mkdirSync(join(stack, 'dynamic'));
		writeFileSync(join(stack, 'dynamic', 'middlewares.yml'), 'http:\n  middlewares: {}\n');
		writeFileSync(join(stack, '.env'), 'POSTGRES_PASSWORD=e2e\n');
		const privateDirs = () =>
			readdirSync(tmpdir()).filter(
				(d) => d.startsWith('tmp.') && existsSync(join(tmpdir(), d, 'password')),
			);
		const before = privateDirs();
		const vol = `r${run}_beside`;
		await docker.docker.createVolume({ Name: vol });
		await inContainer(vol, 'printf x > /v/x');
		const out = await runNode(repo, {
			operation: 'backup',
			selectBy: 'names',
			volumeNames: vol,
			stopContainers: 'never',
			hostPathsEnabled: true,
			hostPathsName: 'traefik-stack',
			hostPaths: stack,
		});
		expect(out).toEqual([
			expect.objectContaining({ target: vol, status: 'ok' }),
			expect.objectContaining({
				target: 'traefik-stack',
				status: 'ok',
				sourceKind: 'host-path',
				filesNew: 2,
				paths: [stack],
			}),
		]);
		expect(privateDirs()).toEqual(before);
		const host = hostRestic(repo);
		const listed = await execFileAsync(
			'restic',
			[...host.args, 'snapshots', '--json', '--no-lock', '--tag', 'host-paths=traefik-stack'],
			{ env: host.env },
		);
		expect(
			(JSON.parse(listed.stdout) as { paths: string[]; hostname: string }[]).map((x) => [
				x.hostname,
				x.paths,
			]),
		).toEqual([['infra-ops', [stack]]]);
	});
});

describe('restic engine: S3 gone mid-backup', () => {
	let s3: S3rverHandle;
	let cutFront: S3TlsFront;
	beforeAll(async () => {
		s3 = await startS3rver({ bucket: services().s3.bucket, dir: mkdtempSync(join(dir, 's3-')) });
		cutFront = await startS3TlsFront(s3.endpoint);
	});
	afterAll(async () => {
		await cutFront?.close();
		await s3?.stop();
	});

	it('fails with an error, and restic check --read-data passes on the repository afterwards', async () => {
		const repo = `cut-${run}`;
		const vol = `r${run}_cut`;
		await docker.docker.createVolume({ Name: vol });
		await inContainer(
			vol,
			'i=0; while [ $i -lt 6 ]; do head -c 3000000 /dev/urandom > /v/f$i; i=$((i+1)); done',
		);
		const setup: ResticSetup = {
			docker: docker.docker,
			repo: resticRepository(s3Credential(cutFront) as never, {
				path: repo,
				password: PASSWORD,
				caPem: cutFront.caPem,
			}),
			image: services().docker.resticImage,
			networkMode: 'host',
			timeoutMs: 30_000,
		};
		await runRestic(setup, ['init']);
		let killed = false;
		// the first pack file upload: the repository has its config and keys, no data yet
		cutFront.onRequest = async (req) => {
			if (!killed && req.method === 'PUT' && req.url.includes(`/${repo}/data/`)) {
				killed = true;
				await s3.stop();
			}
		};
		try {
			await expect(
				resticBackupVolume(
					setup,
					{ name: vol, driver: 'local', labels: {} },
					{ stopMode: 'never', hooksBefore: [], hooksAfter: [] },
				),
			).rejects.toThrow(/restic backup failed/);
		} finally {
			cutFront.onRequest = undefined;
		}
		expect(killed).toBe(true);
		// the same folder and port: the server comes back with what it had stored
		s3 = await startS3rver({ bucket: services().s3.bucket, dir: s3.dir, port: s3.port });
		const host = hostRestic(repo, cutFront);
		// the killed run's lock stays (restic calls a lock stale after 30 min): check without locking
		// (async: the HTTPS front runs in this process)
		const out = await execFileAsync('restic', [...host.args, 'check', '--no-lock', '--read-data'], {
			env: host.env,
		});
		expect(out.stdout).toContain('no errors were found');
		const snapshots = await execFileAsync(
			'restic',
			[...host.args, 'snapshots', '--json', '--no-lock'],
			{ env: host.env },
		);
		expect(JSON.parse(snapshots.stdout)).toEqual([]);
	});
});

describe('restic engine: review threats', () => {
	const setupFor = (repoPath: string, via = front): ResticSetup => ({
		docker: docker.docker,
		repo: resticRepository(s3Credential(via) as never, {
			path: repoPath,
			password: PASSWORD,
			caPem: via.caPem,
		}),
		image: services().docker.resticImage,
		networkMode: 'host',
		timeoutMs: 60_000,
	});

	it('newcomer: a snapshot id prefix that matches several snapshots is refused, not the oldest restored', async () => {
		const repo = `prefix-${run}`;
		const vol = `r${run}_prefix`;
		await docker.docker.createVolume({ Name: vol });
		await inContainer(vol, 'printf x > /v/x');
		const setup = setupFor(repo);
		const ids: string[] = [];
		// 17 snapshots: two of them share their first hex digit (pigeonhole)
		for (let i = 0; i < 17; i++) {
			const r = await resticBackupVolume(
				setup,
				{ name: vol, driver: 'local', labels: {} },
				{ stopMode: 'never', hooksBefore: [], hooksAfter: [] },
			);
			ids.push(r.snapshotId);
		}
		const prefix = '0123456789abcdef'
			.split('')
			.find((c) => ids.filter((id) => id.startsWith(c)).length > 1) as string;
		await expect(
			resticRestoreVolume(setup, {
				volume: vol,
				snapshotId: prefix,
				targetVolume: `${vol}_into`,
				helperImage: services().docker.image,
			}),
		).rejects.toThrow(/matches \d+ snapshots/);
		expect(
			await docker.docker
				.getVolume(`${vol}_into`)
				.inspect()
				.catch(() => 'absent'),
		).toBe('absent');
	});

	it('damaged repository: with a tree pack deleted from the bucket, Verify ends critical at its drill time limit and leaves no helper container', async () => {
		const repo = `damaged-${run}`;
		const vol = `r${run}_damaged`;
		await docker.docker.createVolume({ Name: vol });
		await inContainer(
			vol,
			'mkdir -p /v/d && head -c 30000 /dev/urandom > /v/d/x && printf y > /v/y',
		);
		await resticBackupVolume(
			setupFor(repo),
			{ name: vol, driver: 'local', labels: {} },
			{ stopMode: 'never', hooksBefore: [], hooksAfter: [] },
		);
		// the pack holding the snapshot's trees, from restic's own index
		const host = hostRestic(repo);
		const listed = await execFileAsync('restic', [...host.args, 'list', 'index'], {
			env: host.env,
		});
		const treePacks = new Set<string>();
		for (const id of listed.stdout.split('\n').filter(Boolean)) {
			const index = await execFileAsync('restic', [...host.args, 'cat', 'index', id], {
				env: host.env,
			});
			const parsed = JSON.parse(index.stdout) as {
				packs: { id: string; blobs: { type: string }[] }[];
			};
			for (const pack of parsed.packs)
				if (pack.blobs.some((b) => b.type === 'tree')) treePacks.add(pack.id);
		}
		expect(treePacks.size).toBeGreaterThan(0);
		const s3 = createS3Client({ provider: 'minio', ...services().s3 });
		try {
			for (const id of treePacks)
				await s3.send(
					new DeleteObjectCommand({
						Bucket: services().s3.bucket,
						Key: `${repo}/data/${id.slice(0, 2)}/${id}`,
					}),
				);
		} finally {
			s3.destroy();
		}
		// restic 0.14 retries each tree Load 10 times with exponential backoff from 0.5 s (at least
		// 18.7 s even with the shortest random intervals), so a 10 s limit, not restic, ends the run
		const started = Date.now();
		const [f] = await runNode(repo, {
			operation: 'verify',
			volumes: vol,
			readDataPercent: 5,
			scratchRestore: true,
			verifyTimeLimitMin: 10 / 60,
		});
		const elapsed = Date.now() - started;
		expect(f).toMatchObject({
			check: 'volume-verify',
			target: vol,
			status: 'critical',
			checked: false,
		});
		expect(f.summary).toContain(
			'the repository did not answer within 10 s (restic kept retrying: a pack may be missing from the bucket)',
		);
		expect(f.scratch).toBeUndefined();
		expect(elapsed).toBeGreaterThanOrEqual(10_000);
		expect(elapsed).toBeLessThan(90_000);
		const helpers = await docker.docker.listContainers({
			all: true,
			filters: { label: [`${HELPER_LABEL}=true`] },
		});
		expect(helpers).toEqual([]);
		// stopped with SIGINT first, restic removed its lock: the next backup need not wait 30 min
		const locks = await execFileAsync('restic', [...host.args, 'list', 'locks', '--no-lock'], {
			env: host.env,
		});
		expect(locks.stdout.trim()).toBe('');
		const volumes = await docker.docker.listVolumes();
		expect((volumes.Volumes ?? []).filter((v) => v.Name.startsWith('infra-ops-scratch-'))).toEqual(
			[],
		);
	});

	it("threat: a snapshot of another volume that also carries this volume's tag is neither listed nor restored for it", async () => {
		const repo = `tags-${run}`;
		const vol = `r${run}_tagged`;
		const other = `r${run}_victim`;
		await docker.docker.createVolume({ Name: vol });
		await inContainer(vol, 'printf foreign > /v/x');
		const setup = setupFor(repo);
		const made = await resticBackupVolume(
			setup,
			{ name: vol, driver: 'local', labels: {} },
			{ stopMode: 'never', hooksBefore: [], hooksAfter: [] },
		);
		const host = hostRestic(repo);
		await execFileAsync(
			'restic',
			[...host.args, 'tag', '--add', `volume=${other}`, made.snapshotId],
			{ env: host.env },
		);
		expect(await resticSnapshots(setup, other)).toEqual([]);
		await expect(
			resticRestoreVolume(setup, { volume: other, helperImage: services().docker.image }),
		).rejects.toThrow(/has no snapshot of volume/);
		expect(
			await docker.docker
				.getVolume(other)
				.inspect()
				.catch(() => 'absent'),
		).toBe('absent');
	});

	it('threat: an SSH cut while the host restic runs leaves no secret folder on the host', async () => {
		const repo = `hostcut-${run}`;
		const stack = mkdtempSync(join(services().ssh.dataDir, 'cut-'));
		writeFileSync(join(stack, 'big'), randomBytes(3_000_000));
		const privateDirs = () =>
			readdirSync(tmpdir()).filter(
				(d) => d.startsWith('tmp.') && existsSync(join(tmpdir(), d, 'password')),
			);
		const before = privateDirs();
		const setup = setupFor(repo);
		await runRestic(setup, ['init']);
		const { ssh: sshd } = services();
		const ssh = await openSsh({
			host: sshd.host,
			port: sshd.port,
			username: sshd.username,
			privateKey: sshd.privateKey,
			hostKeyFingerprints: [sshd.hostKeyFingerprint],
		});
		let cut = false;
		// the first pack upload of the host's restic: its secret files are in place, restic runs
		front.onRequest = async (req) => {
			if (!cut && req.method === 'PUT' && req.url.includes(`/${repo}/data/`)) {
				cut = true;
				ssh.client.end();
			}
		};
		try {
			await expect(
				resticBackupHostPaths(ssh, setup.repo, { name: 'cut', paths: [stack] }),
			).rejects.toThrow();
		} finally {
			front.onRequest = undefined;
			ssh.close();
		}
		expect(cut).toBe(true);
		// the host removes them itself once the connection is gone (polled: the host's own clock)
		const deadline = Date.now() + 30_000;
		while (privateDirs().length > before.length && Date.now() < deadline)
			await new Promise((r) => setTimeout(r, 250));
		expect(privateDirs()).toEqual(before);
	});
});
