/**
 * Overlapping runs (issue 14, items 6 and 7) against real services: the lock container on the
 * harness's dockerd, lock folders on its sshd, advisory locks on its PostgreSQL, backups on s3rver.
 * The other run is played by the test holding the lock itself, so every overlap happens at a fixed
 * point (no timing race); rollback threats use a step target that changes the target between this
 * run's steps, the deterministic stand-in for another run writing at that moment.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { INodeExecutionData } from 'n8n-workflow';

import { DockerVolumeBackup } from '../../nodes/DockerVolumeBackup/DockerVolumeBackup.node';
import { SecretRotate } from '../../nodes/SecretRotate/SecretRotate.node';
import { readEnvValue } from '../../nodes/SecretRotate/envFile';
import { generateSecret, type GeneratedSecret } from '../../nodes/SecretRotate/generate';
import { rotate, type RotationTarget } from '../../nodes/SecretRotate/rotation';
import { verifierMatches } from '../../nodes/SecretRotate/scram';
import { EnvFileTarget } from '../../nodes/SecretRotate/targets/envFile';
import { PostgresRoleTarget } from '../../nodes/SecretRotate/targets/postgresRole';
import { SshAuthorizedKeyTarget } from '../../nodes/SecretRotate/targets/sshAuthorizedKey';
import { createDockerClient, type DockerClient } from '../../nodes/shared/docker';
import {
	acquireLocks,
	DockerLock,
	dockerLockName,
	PostgresRoleLock,
	SshDirLock,
	type LockHolder,
} from '../../nodes/shared/locks';
import { connectPostgres, type PostgresConnection } from '../../nodes/shared/postgres';
import { createS3Client } from '../../nodes/shared/s3';
import { openSsh, type SshConnection } from '../../nodes/shared/ssh';
import { services } from '../harness/services';
import { canLogin } from '../support/pgLogin';
import { runWorkflow, type WorkflowJson, startThen } from '../support/workflowRunner';

jest.setTimeout(180_000);

const run = randomBytes(3).toString('hex');
const DVB = 'n8n-nodes-infra-ops.dockerVolumeBackup';
const ROTATE = 'n8n-nodes-infra-ops.secretRotate';
const nodeTypes = { [DVB]: new DockerVolumeBackup(), [ROTATE]: new SecretRotate() };
const log = { info: () => undefined, warn: () => undefined };
const json = (items: INodeExecutionData[]) => items.map((i) => i.json as Record<string, unknown>);

let docker: DockerClient;
let s3: S3Client;

function credentials() {
	const { s3: s, ssh, docker: d } = services();
	return {
		infraOpsS3Api: {
			provider: 'other',
			endpoint: s.endpoint,
			region: s.region,
			bucket: s.bucket,
			accessKeyId: s.accessKeyId,
			secretAccessKey: s.secretAccessKey,
			forcePathStyle: true,
		},
		infraOpsDockerApi: { connection: 'socket', socketPath: d.socketPath },
		infraOpsBackupEncryption: { recipients: '', secretKey: '', passphrase: `pass-${run}` },
		infraOpsSshApi: {
			host: ssh.host,
			port: ssh.port,
			username: ssh.username,
			authentication: 'privateKey',
			privateKey: ssh.privateKey,
			hostKeyFingerprint: ssh.hostKeyFingerprint,
		},
		infraOpsPostgresApi: {
			host: services().postgres.host,
			port: services().postgres.port,
			database: 'postgres',
			user: services().postgres.user,
			password: services().postgres.password,
			ssl: 'require',
		},
	};
}

function workflow(type: string, name: string, parameters: Record<string, unknown>): WorkflowJson {
	return startThen({
		name,
		type,
		parameters,
		credentials: {
			infraOpsS3Api: { id: '1', name: 's3' },
			infraOpsDockerApi: { id: '2', name: 'docker' },
			infraOpsBackupEncryption: { id: '3', name: 'age' },
			infraOpsSshApi: { id: '4', name: 'ssh' },
			infraOpsPostgresApi: { id: '5', name: 'pg' },
		},
	});
}

const sshConn = (): SshConnection => {
	const { ssh } = services();
	return {
		host: ssh.host,
		port: ssh.port,
		username: ssh.username,
		privateKey: ssh.privateKey,
		hostKeyFingerprints: [ssh.hostKeyFingerprint],
	};
};
const pgAdmin = (): PostgresConnection => {
	const pg = services().postgres;
	return {
		host: pg.host,
		port: pg.port,
		database: 'postgres',
		user: pg.user,
		password: pg.password,
		ssl: 'require',
	};
};

async function sql(text: string, params: unknown[] = []) {
	const client = await connectPostgres(pgAdmin());
	try {
		return (await client.query(text, params)).rows;
	} finally {
		await client.end();
	}
}

/** Writes a file into a volume with a short-lived container. */
async function writeVolume(volume: string, script: string): Promise<void> {
	const c = await docker.docker.createContainer({
		Image: services().docker.image,
		Cmd: ['sh', '-c', script],
		HostConfig: { Binds: [`${volume}:/v`], NetworkMode: 'none' },
	});
	await c.start();
	await c.wait();
	await c.remove();
}

async function readVolume(volume: string): Promise<string> {
	const c = await docker.docker.createContainer({
		Image: services().docker.image,
		Cmd: ['sh', '-c', 'cd /v && for f in $(ls -A | sort); do echo "$f=$(cat $f)"; done'],
		HostConfig: { Binds: [`${volume}:/v:ro`], NetworkMode: 'none' },
	});
	await c.start();
	await c.wait();
	const logs = (await c.logs({ stdout: true })) as unknown as Buffer;
	await c.remove();
	// docker's multiplexed log frames: 8-byte headers before each chunk
	let out = '';
	for (let i = 0; i + 8 <= logs.length; ) {
		const size = logs.readUInt32BE(i + 4);
		out += logs.subarray(i + 8, i + 8 + size).toString('utf8');
		i += 8 + size;
	}
	return out;
}

async function objectsUnder(prefix: string): Promise<string[]> {
	const out = await s3.send(
		new ListObjectsV2Command({ Bucket: services().s3.bucket, Prefix: `${prefix}/` }),
	);
	return (out.Contents ?? []).map((o) => o.Key!);
}

async function lockLabels(volume: string): Promise<Record<string, string> | undefined> {
	try {
		return (
			(await docker.docker.getContainer(dockerLockName(volume)).inspect()) as {
				Config: { Labels: Record<string, string> };
			}
		).Config.Labels;
	} catch {
		return undefined;
	}
}

const otherRun = { executionId: `other-${run}`, workflowId: 'wf-other', node: 'Backup Volumes' };

beforeAll(async () => {
	docker = await createDockerClient({ kind: 'socket', socketPath: services().docker.socketPath });
	s3 = createS3Client(credentials().infraOpsS3Api as never);
});

afterAll(() => {
	s3?.destroy();
	docker?.close();
});

describe('Docker Volume Backup: one run per volume (lock container on the real dockerd)', () => {
	const vol = `lk${run}_db`;
	const prefix = `locks-${run}`;
	const backup = () =>
		runWorkflow({
			workflow: workflow(DVB, 'Backup', {
				operation: 'backup',
				prefix,
				selectBy: 'names',
				volumeNames: vol,
				encryption: 'passphrase',
				compression: 'gzip',
				stopContainers: 'never',
				lockWaitS: 1,
			}),
			nodeTypes,
			credentials: credentials(),
		});

	beforeAll(async () => {
		await docker.docker.createVolume({ Name: vol });
		await writeVolume(vol, 'echo v1 > /v/data.txt');
	});

	it('threat: a second backup while another run holds the volume waits, reports "locked by <execution>", writes nothing, and never removes the other run\'s lock; a crashed holder\'s expired lease is taken over', async () => {
		const held = await acquireLocks([new DockerLock(docker.docker, vol)], otherRun, { waitMs: 0 });
		try {
			const { outputs, error } = await backup();
			expect(error).toBeUndefined();
			const [finding] = json(outputs.Backup[0]);
			expect(finding).toMatchObject({
				check: 'volume-backup',
				target: vol,
				status: 'warning',
				lockedBy: {
					executionId: otherRun.executionId,
					workflowId: 'wf-other',
					node: 'Backup Volumes',
				},
			});
			expect(finding.summary).toMatch(
				new RegExp(
					`^locked by execution ${otherRun.executionId} \\(workflow wf-other, node "Backup Volumes", since .*, lease until .*\\): ${vol} not backed up; nothing was changed$`,
				),
			);
			expect(JSON.stringify(finding)).not.toContain(held.holder.token);
			expect(await objectsUnder(prefix)).toEqual([]);
			// in the backup workflow Prune follows Backup: it leaves the volume to the run holding it
			const base = workflow(DVB, 'Backup', {
				operation: 'backup',
				prefix,
				selectBy: 'names',
				volumeNames: vol,
				encryption: 'passphrase',
				compression: 'gzip',
				stopContainers: 'never',
				lockWaitS: 0,
			});
			const prune = {
				id: 'p',
				name: 'Prune',
				type: DVB,
				typeVersion: 1,
				position: [440, 0],
				parameters: { operation: 'prune', prefix, volumes: '={{ $json.volume }}', keepLast: 1 },
				credentials: { infraOpsS3Api: { id: '1', name: 's3' } },
			};
			const chained = await runWorkflow({
				workflow: {
					...base,
					nodes: [...base.nodes, prune] as never,
					connections: {
						...base.connections,
						Backup: { main: [[{ node: 'Prune', type: 'main' as never, index: 0 }]] },
					},
				},
				nodeTypes,
				credentials: credentials(),
			});
			expect(json(chained.outputs.Prune[0])).toEqual([
				expect.objectContaining({
					check: 'volume-prune',
					status: 'warning',
					skipped: true,
					summary: expect.stringMatching(/^Not pruning .*: locked by execution /),
				}),
			]);
			// the refused run left the other run's lock in place, and a release with another token is refused
			expect((await lockLabels(vol))?.['org.infra-ops.lock.token']).toBe(held.holder.token);
			expect(
				await new DockerLock(docker.docker, vol).release({ ...held.holder, token: 'not-mine' }),
			).toBe(false);
			expect((await lockLabels(vol))?.['org.infra-ops.lock.token']).toBe(held.holder.token);
			// a long run renews its lease (labels are fixed, so it goes into a file in the container)
			const lock = new DockerLock(docker.docker, vol);
			const later = new Date(Date.now() + 3_600_000).toISOString();
			expect(await lock.renew({ ...held.holder, expires: later })).toBe(true);
			expect((await lock.current())?.holder?.expires).toBe(later);
			expect(await lock.renew({ ...held.holder, token: 'not-mine', expires: later })).toBe(false);
		} finally {
			expect(await held.release()).toEqual([]);
		}
		expect(await lockLabels(vol)).toBeUndefined();

		// a holder that crashed: its lock container stays, with a lease that ran out a minute ago
		const crashed: LockHolder = {
			token: `crashed-${run}`,
			executionId: `crashed-${run}`,
			since: new Date(Date.now() - 20 * 60_000).toISOString(),
			expires: new Date(Date.now() - 60_000).toISOString(),
		};
		expect(
			await new DockerLock(docker.docker, vol).tryAcquire(
				crashed,
				new Date(Date.now() - 30 * 60_000),
			),
		).toEqual({ acquired: true });
		const after = await backup();
		expect(json(after.outputs.Backup[0])[0]).toMatchObject({ target: vol, status: 'ok' });
		expect((await objectsUnder(prefix)).length).toBe(2);
		// the run removed its own lock when done, and the crashed one's is gone with the takeover
		expect(await lockLabels(vol)).toBeUndefined();
	});

	it("threat: an n8n worker whose clock runs 11 minutes ahead takes over a lock whose lease is still running (leases are judged in the Docker daemon's time)", async () => {
		const held = await acquireLocks([new DockerLock(docker.docker, vol)], otherRun, { waitMs: 0 });
		const realNow = Date.now.bind(Date);
		const ahead = 11 * 60_000;
		const skewed = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + ahead);
		try {
			// the worker ahead sees the 10-minute lease as ended a minute ago
			const since = new Date(Date.now()).toISOString();
			const waiter: LockHolder = {
				token: `ahead-${run}`,
				executionId: `ahead-${run}`,
				since,
				expires: new Date(Date.now() + 10 * 60_000).toISOString(),
			};
			const result = await new DockerLock(docker.docker, vol).tryAcquire(
				waiter,
				new Date(Date.now()),
			);
			expect(result).toMatchObject({
				acquired: false,
				holder: { executionId: otherRun.executionId },
			});
			expect((await lockLabels(vol))?.['org.infra-ops.lock.token']).toBe(held.holder.token);
		} finally {
			skewed.mockRestore();
			expect(await held.release()).toEqual([]);
		}
		expect(await lockLabels(vol)).toBeUndefined();
	});

	it('threat: a restore with Replace during a backup would empty the volume the backup reads: refused while the backup holds the lock, the volume and its running user untouched', async () => {
		expect((await objectsUnder(prefix)).length).toBeGreaterThan(0);
		await writeVolume(vol, 'echo v2-after-backup > /v/data.txt && echo new > /v/extra.txt');
		const before = await readVolume(vol);
		const user = await docker.docker.createContainer({
			name: `lk${run}_user`,
			Image: services().docker.image,
			Cmd: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'],
			Labels: { 'infra-ops.backup.stop': 'true' },
			HostConfig: { Binds: [`${vol}:/data`], NetworkMode: 'none' },
		});
		await user.start();
		const held = await acquireLocks([new DockerLock(docker.docker, vol)], otherRun, { waitMs: 0 });
		try {
			const { outputs, error } = await runWorkflow({
				workflow: workflow(DVB, 'Restore', {
					operation: 'restore',
					prefix,
					volume: vol,
					targetVolume: '',
					replace: true,
					lockWaitS: 1,
					stopTimeoutS: 5,
				}),
				nodeTypes,
				credentials: credentials(),
			});
			expect(error).toBeUndefined();
			const [finding] = json(outputs.Restore[0]);
			expect(finding).toMatchObject({ check: 'volume-restore', target: vol, status: 'warning' });
			expect(finding.summary).toMatch(
				new RegExp(
					`^locked by execution ${otherRun.executionId} .*: ${vol} not restored; nothing was changed$`,
				),
			);
			expect(((await user.inspect()) as { State: { Running: boolean } }).State.Running).toBe(true);
			expect(await readVolume(vol)).toBe(before);
			expect((await lockLabels(vol))?.['org.infra-ops.lock.token']).toBe(held.holder.token);
		} finally {
			await held.release();
			await user.remove({ force: true });
		}
	});
});

describe('Secret Rotate: one run per target (lock folder on the real sshd, advisory lock on PostgreSQL)', () => {
	const role = `lk_${run}`;
	const oldPassword = `old-${run}-pw`;
	let envPath: string;

	beforeAll(async () => {
		await sql(`create role ${role} login password '${oldPassword}'`);
		envPath = join(services().ssh.dataDir, `locks-${run}.env`);
	});

	beforeEach(async () => {
		writeFileSync(envPath, `POSTGRES_PASSWORD=${oldPassword}\nOTHER=1\n`, { mode: 0o600 });
		await sql(`alter role ${role} password '${oldPassword}'`);
	});

	afterEach(() => {
		for (const f of readdirSync(services().ssh.dataDir).filter((x) =>
			x.startsWith(`locks-${run}.env.`),
		))
			rmSync(join(services().ssh.dataDir, f), { recursive: true, force: true });
	});

	const rotateRun = (targetKinds: string[]) =>
		runWorkflow({
			workflow: workflow(ROTATE, 'Rotate', {
				operation: 'rotate',
				targetKinds,
				pgRoles: role,
				envPaths: envPath,
				envKeys: 'POSTGRES_PASSWORD',
				secretType: 'password',
				passwordLength: 32,
				lockWaitS: 1,
			}),
			nodeTypes,
			credentials: credentials(),
		});

	it('threat: two overlapping rotations of one .env file: the second waits, reports "locked by <execution>" and writes nothing; a lock whose holder crashed is taken over', async () => {
		const session = await openSsh(sshConn());
		const held = await acquireLocks(
			[new SshDirLock(session, `${envPath}.infra-ops-lock`)],
			{ ...otherRun, node: 'Rotate' },
			{ waitMs: 0 },
		);
		try {
			const { outputs, error } = await rotateRun(['envFile']);
			expect(error).toBeUndefined();
			const findings = json(outputs.Rotate[0]);
			expect(findings).toHaveLength(1);
			expect(findings[0]).toMatchObject({
				step: 'summary',
				status: 'warning',
				rotated: false,
				rolledBack: false,
				lockedBy: { executionId: otherRun.executionId },
			});
			expect(findings[0].summary).toMatch(
				new RegExp(
					`^locked by execution ${otherRun.executionId} \\(workflow wf-other, node "Rotate", .*\\): rotation not started .*; nothing was changed$`,
				),
			);
			expect(readFileSync(envPath, 'utf8')).toBe(`POSTGRES_PASSWORD=${oldPassword}\nOTHER=1\n`);
			expect(
				readdirSync(services().ssh.dataDir).filter((x) =>
					x.startsWith(`locks-${run}.env.infra-ops-bak`),
				),
			).toEqual([]);
			// still the other run's lock
			expect(JSON.parse(readFileSync(`${envPath}.infra-ops-lock/holder`, 'utf8')).token).toBe(
				held.holder.token,
			);
			const later = new Date(Date.now() + 3_600_000).toISOString();
			expect(
				await new SshDirLock(session, `${envPath}.infra-ops-lock`).renew({
					...held.holder,
					expires: later,
				}),
			).toBe(true);
			expect(JSON.parse(readFileSync(`${envPath}.infra-ops-lock/holder`, 'utf8')).expires).toBe(
				later,
			);
			expect(
				await new SshDirLock(session, `${envPath}.infra-ops-lock`).release({
					...held.holder,
					token: 'not-mine',
				}),
			).toBe(false);
		} finally {
			expect(await held.release()).toEqual([]);
			session.close();
		}
		expect(existsSync(`${envPath}.infra-ops-lock`)).toBe(false);

		// a holder that died mid-run: its folder stays, with a lease that ran out
		mkdirSync(`${envPath}.infra-ops-lock`);
		writeFileSync(
			`${envPath}.infra-ops-lock/holder`,
			JSON.stringify({
				token: 'dead',
				executionId: 'dead',
				since: '2026-01-01T00:00:00Z',
				expires: new Date(Date.now() - 1000).toISOString(),
			}),
		);
		const after = await rotateRun(['envFile']);
		const summary = json(after.outputs.Rotate[0]).at(-1)!;
		expect(summary).toMatchObject({ step: 'summary', status: 'ok', rotated: true });
		expect(readEnvValue(readFileSync(envPath, 'utf8'), 'POSTGRES_PASSWORD')).not.toBe(oldPassword);
		expect(existsSync(`${envPath}.infra-ops-lock`)).toBe(false);
	});

	it('threat: a rotation of a PostgreSQL role another run is rotating waits, reports the holder from its advisory lock, and leaves the password alone', async () => {
		const lockClient = await connectPostgres(pgAdmin());
		const held = await acquireLocks(
			[new PostgresRoleLock(lockClient, 'test', role)],
			{ ...otherRun, node: 'Rotate' },
			{ waitMs: 0 },
		);
		try {
			const { outputs } = await rotateRun(['postgresRole']);
			const findings = json(outputs.Rotate[0]);
			expect(findings).toHaveLength(1);
			expect(findings[0]).toMatchObject({
				status: 'warning',
				rotated: false,
				lockedBy: { executionId: otherRun.executionId, workflowId: 'wf-other' },
			});
			expect(findings[0].summary).toMatch(
				new RegExp(
					`^locked by execution ${otherRun.executionId} .*rotation not started .*role ${role}.*nothing was changed$`,
				),
			);
			expect(await canLogin(services().postgres, role, oldPassword)).toBe(true);
		} finally {
			await held.release();
			await lockClient.end();
		}
		const after = await rotateRun(['postgresRole']);
		expect(json(after.outputs.Rotate[0]).at(-1)).toMatchObject({ status: 'ok', rotated: true });
		expect(await canLogin(services().postgres, role, oldPassword)).toBe(false);
	});
});

/** A step placed between this run's own steps, where another run writes to the same target. */
function anotherWriter(
	name: string,
	when: { set: () => Promise<void>; fail?: boolean },
): RotationTarget {
	return {
		kind: 'another-writer',
		target: name,
		phase: 'restorable',
		create: async () => 'ready',
		set: async () => {
			await when.set();
			if (when.fail)
				throw new Error('this step fails after the other writer wrote, so this run rolls back');
			return 'the other run wrote';
		},
		test: async () => 'ok',
		finish: async () => 'ok',
		rollback: async () => 'nothing of this step to undo',
		close: async () => undefined,
	};
}

describe('Secret Rotate rollback: only what this run wrote, only while it is still its own (real sshd, PostgreSQL)', () => {
	const role = `rb_${run}`;
	const oldPassword = `old-${run}-rb`;
	let envPath: string;
	const secret = (): GeneratedSecret =>
		generateSecret({
			kind: 'password',
			length: 32,
			classes: ['lower', 'upper', 'digits'],
			symbols: '',
			excludeAmbiguous: true,
		});

	beforeAll(async () => {
		await sql(`create role ${role} login password '${oldPassword}'`);
		envPath = join(services().ssh.dataDir, `rollback-${run}.env`);
	});

	beforeEach(async () => {
		writeFileSync(envPath, `POSTGRES_PASSWORD=${oldPassword}\nOTHER=1\n`, { mode: 0o600 });
		await sql(`alter role ${role} password '${oldPassword}'`);
	});

	afterEach(() => {
		for (const f of readdirSync(services().ssh.dataDir).filter((x) =>
			x.startsWith(`rollback-${run}.env.`),
		))
			rmSync(join(services().ssh.dataDir, f), { recursive: true, force: true });
	});

	it("threat: run B whose set is refused (run A rotated the .env between B's create and set) must not undo A's rotation", async () => {
		const envB = new EnvFileTarget({
			ssh: sshConn(),
			path: envPath,
			keys: ['POSTGRES_PASSWORD'],
			addIfMissing: false,
			backup: true,
		});
		const runA = anotherWriter('run A', {
			set: async () => writeFileSync(envPath, `POSTGRES_PASSWORD=a-rotated-${run}\nOTHER=1\n`),
		});
		const outcome = await rotate([runA, envB], secret(), log);
		expect(outcome).toMatchObject({ status: 'critical', rotated: false, rolledBack: true });
		expect(
			outcome.findings.find((f) => f.targetKind === 'env-file' && f.step === 'set'),
		).toMatchObject({
			status: 'critical',
			summary: expect.stringMatching(/changed since the rotation started/),
		});
		expect(
			outcome.findings.find((f) => f.targetKind === 'env-file' && f.step === 'rollback'),
		).toMatchObject({
			status: 'ok',
			summary: expect.stringMatching(/not written by this run: nothing to restore/),
		});
		expect(readFileSync(envPath, 'utf8')).toBe(`POSTGRES_PASSWORD=a-rotated-${run}\nOTHER=1\n`);
	});

	it('threat: a rollback after another writer changed the .env value leaves that value alone, and says so', async () => {
		const envB = new EnvFileTarget({
			ssh: sshConn(),
			path: envPath,
			keys: ['POSTGRES_PASSWORD'],
			addIfMissing: false,
			backup: true,
		});
		const other = anotherWriter('another writer', {
			set: async () => writeFileSync(envPath, `POSTGRES_PASSWORD=someone-else-${run}\nOTHER=1\n`),
			fail: true,
		});
		const outcome = await rotate([envB, other], secret(), log);
		expect(outcome.status).toBe('critical');
		const rollback = outcome.findings.find(
			(f) => f.targetKind === 'env-file' && f.step === 'rollback',
		);
		expect(rollback).toMatchObject({
			status: 'warning',
			summary: expect.stringMatching(
				/changed by someone else after this run wrote it .*left alone/,
			),
		});
		expect(outcome.findings.at(-1)).toMatchObject({
			leftAlone: [envB.target],
			summary: expect.stringMatching(/left alone/),
		});
		expect(readFileSync(envPath, 'utf8')).toBe(`POSTGRES_PASSWORD=someone-else-${run}\nOTHER=1\n`);
		// the pre-run copy is kept for the operator rather than deleted by a rollback that did not happen
		expect(
			readdirSync(services().ssh.dataDir).filter((x) =>
				x.startsWith(`rollback-${run}.env.infra-ops-bak`),
			),
		).toHaveLength(1);

		// and where only other lines changed after this run wrote, the old value comes back and those lines stay
		writeFileSync(envPath, `POSTGRES_PASSWORD=${oldPassword}\nOTHER=1\n`);
		const envC = new EnvFileTarget({
			ssh: sshConn(),
			path: envPath,
			keys: ['POSTGRES_PASSWORD'],
			addIfMissing: false,
			backup: false,
		});
		const edit = anotherWriter('another edit', {
			set: async () =>
				writeFileSync(envPath, readFileSync(envPath, 'utf8').replace('OTHER=1', 'OTHER=2')),
			fail: true,
		});
		const second = await rotate([envC, edit], secret(), log);
		expect(
			second.findings.find((f) => f.targetKind === 'env-file' && f.step === 'rollback'),
		).toMatchObject({ status: 'ok' });
		expect(readFileSync(envPath, 'utf8')).toBe(`POSTGRES_PASSWORD=${oldPassword}\nOTHER=2\n`);
	});

	it("threat: a PostgreSQL rollback never resets a password another run set, before or after this run's set", async () => {
		const pg = () => new PostgresRoleTarget({ admin: pgAdmin(), roles: [role] });
		// A rotates between B's create and set: B's set refuses, its rollback leaves A's password
		const before = anotherWriter('run A', {
			set: async () => void (await sql(`alter role ${role} password 'a-${run}'`)),
		});
		const refused = await rotate([before, pg()], secret(), log);
		expect(
			refused.findings.find((f) => f.targetKind === 'postgres-role' && f.step === 'set'),
		).toMatchObject({
			status: 'critical',
			summary: expect.stringMatching(/changed since the rotation started/),
		});
		expect(await canLogin(services().postgres, role, `a-${run}`)).toBe(true);

		// another writer after B's set: B's rollback leaves that password too
		await sql(`alter role ${role} password '${oldPassword}'`);
		const after = anotherWriter('another writer', {
			set: async () => void (await sql(`alter role ${role} password 'c-${run}'`)),
			fail: true,
		});
		const outcome = await rotate([pg(), after], secret(), log);
		expect(
			outcome.findings.find((f) => f.targetKind === 'postgres-role' && f.step === 'rollback'),
		).toMatchObject({
			status: 'warning',
			summary: expect.stringMatching(
				new RegExp(`${role} changed by someone else after this run set it: left alone`),
			),
		});
		expect(await canLogin(services().postgres, role, `c-${run}`)).toBe(true);
		const [{ rolpassword }] = await sql('select rolpassword from pg_authid where rolname = $1', [
			role,
		]);
		expect(verifierMatches(rolpassword as string, `c-${run}`)).toBe(true);
	});

	it('threat: an authorized_keys rollback after a refused set keeps the key another run added', async () => {
		const file = join(services().root, 'ssh', 'authorized_keys', services().ssh.username);
		const original = readFileSync(file, 'utf8');
		const oldKey = generateSecret({
			kind: 'sshKey',
			algorithm: 'ed25519',
			comment: `rb-old-${run}`,
		});
		const aKey = generateSecret({ kind: 'sshKey', algorithm: 'ed25519', comment: `rb-a-${run}` });
		writeFileSync(file, `${original}${oldKey.publicKey}\n`);
		try {
			const target = new SshAuthorizedKeyTarget({
				ssh: { ...sshConn(), privateKey: oldKey.value },
				authorizedKeysPath: file,
			});
			const runA = anotherWriter('run A', {
				set: async () => writeFileSync(file, `${readFileSync(file, 'utf8')}${aKey.publicKey}\n`),
			});
			const outcome = await rotate(
				[runA, target],
				generateSecret({ kind: 'sshKey', algorithm: 'ed25519', comment: `rb-b-${run}` }),
				log,
			);
			expect(
				outcome.findings.find((f) => f.targetKind === 'ssh-authorized-key' && f.step === 'set'),
			).toMatchObject({ status: 'critical' });
			expect(readFileSync(file, 'utf8')).toBe(
				`${original}${oldKey.publicKey}\n${aKey.publicKey}\n`,
			);
		} finally {
			writeFileSync(file, original);
		}
	});
});
