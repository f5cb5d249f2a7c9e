/**
 * Docker Volume Backup against a real dockerd, s3rver (and fauxqs where an S3 server must abort
 * multipart uploads), and Debian's `age`, `zstd`, `gzip` and `tar`. Node-level tests run the node
 * through n8n's WorkflowExecute (test/support/workflowRunner.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ICredentialTestFunctions, INodeExecutionData } from 'n8n-workflow';

import { DockerVolumeBackup } from '../../nodes/DockerVolumeBackup/DockerVolumeBackup.node';
import { backupVolume, type BackupOptions } from '../../nodes/DockerVolumeBackup/backup';
import { pruneVolume } from '../../nodes/DockerVolumeBackup/prune';
import { verifyBackup } from '../../nodes/DockerVolumeBackup/verify';
import {
	archiveKey,
	manifestKey,
	uniqueSuffix,
	type BackupManifest,
} from '../../nodes/DockerVolumeBackup/manifest';
import {
	listAll,
	listBackups,
	putJson,
	type StorageTarget,
} from '../../nodes/DockerVolumeBackup/store';
import { uploadStream, DEFAULT_UPLOAD } from '../../nodes/DockerVolumeBackup/upload';
import { createDockerClient, type DockerClient } from '../../nodes/shared/docker';
import { identityToRecipient } from '../../nodes/shared/ageKeys';
import { credentialTests } from '../../nodes/shared/credentialTests';
import { createS3Client } from '../../nodes/shared/s3';
import { services } from '../harness/services';
import { describeTar, volumeTar } from '../support/volumeTree';
import { runWorkflow, type WorkflowJson } from '../support/workflowRunner';
import { startFauxqs, type FauxqsHandle } from '../harness/fauxqs';
import { containsKeyFragment, firstKeyFragment, typoInIdentity } from '../support/keyFragments';
import {
	checkSignature,
	signingKeyFrom,
	type SigningKey,
} from '../../nodes/DockerVolumeBackup/signing';

jest.setTimeout(180_000);

const NODE_TYPE = 'n8n-nodes-infra-ops.dockerVolumeBackup';
const nodeTypes = { [NODE_TYPE]: new DockerVolumeBackup() };

let dir: string;
let identity: string;
let recipient: string;
let docker: DockerClient;
let s3: S3Client;
const run = randomBytes(3).toString('hex');

function s3Credential(endpoint = services().s3.endpoint, bucket = services().s3.bucket) {
	const { s3: info } = services();
	return {
		provider: 'other',
		endpoint,
		region: info.region,
		bucket,
		accessKeyId: info.accessKeyId,
		secretAccessKey: info.secretAccessKey,
		forcePathStyle: true,
	};
}

function credentials(extra: Record<string, Record<string, unknown>> = {}) {
	return {
		infraOpsS3Api: s3Credential(),
		infraOpsDockerApi: { connection: 'socket', socketPath: services().docker.socketPath },
		infraOpsBackupEncryption: { recipients: recipient, secretKey: identity, passphrase: '' },
		...extra,
	};
}

function workflow(
	nodes: { name: string; parameters: Record<string, unknown>; continueOnFail?: boolean }[],
): WorkflowJson {
	const all = [
		{
			id: 's',
			name: 'Start',
			type: 'test.start',
			typeVersion: 1,
			position: [0, 0] as [number, number],
			parameters: {},
		},
		...nodes.map((n, i) => ({
			id: `n${i}`,
			name: n.name,
			type: NODE_TYPE,
			typeVersion: 1,
			position: [220 * (i + 1), 0] as [number, number],
			parameters: n.parameters,
			continueOnFail: n.continueOnFail,
			credentials: {
				infraOpsS3Api: { id: '1', name: 's3' },
				infraOpsDockerApi: { id: '2', name: 'docker' },
				infraOpsBackupEncryption: { id: '3', name: 'age' },
				infraOpsSshApi: { id: '4', name: 'ssh' },
			},
		})),
	];
	const connections: WorkflowJson['connections'] = {};
	for (let i = 0; i < all.length - 1; i++)
		connections[all[i].name] = {
			main: [[{ node: all[i + 1].name, type: 'main' as never, index: 0 }]],
		};
	return { nodes: all as never, connections, settings: { executionOrder: 'v1' } };
}

/** A container that exits at once on SIGTERM (a bare `sleep` as PID 1 ignores it and docker waits the full stop timeout). */
const SLEEPER = ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'];

const json = (items: INodeExecutionData[]) => items.map((i) => i.json as Record<string, unknown>);

/** Writes a tree with every awkward case into a volume, using a short-lived busybox container. */
async function makeVolume(
	name: string,
	script: string,
	labels: Record<string, string> = {},
): Promise<void> {
	await docker.docker.createVolume({ Name: name, Labels: labels });
	const writer = await docker.docker.createContainer({
		Image: services().docker.image,
		Cmd: ['sh', '-c', script],
		HostConfig: { Binds: [`${name}:/v`], NetworkMode: 'none' },
	});
	await writer.start();
	const { StatusCode } = (await writer.wait()) as { StatusCode: number };
	await writer.remove();
	if (StatusCode !== 0) throw new Error(`writing ${name} exited ${StatusCode}`);
}

const TREE = [
	'set -e',
	'mkdir -p /v/sub/empty "/v/dir with space" /v/private',
	'printf hello > /v/sub/a.txt',
	': > /v/zero.bin',
	'printf "données" > "/v/dir with space/fïchier ünï.txt"',
	'head -c 300000 /dev/urandom > /v/random.bin',
	'ln -s sub/a.txt /v/link',
	'chown 1234:5678 /v/sub/a.txt',
	'chmod 0750 /v/private && chown 33:33 /v/private',
	'chmod 0604 /v/zero.bin',
].join(' && ');

async function getObject(key: string, client = s3, bucket = services().s3.bucket): Promise<Buffer> {
	const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
	return Buffer.from(await out.Body!.transformToByteArray());
}

beforeAll(async () => {
	dir = mkdtempSync(join(tmpdir(), 'dvb-'));
	execFileSync('age-keygen', ['-o', join(dir, 'key.txt')], { stdio: 'ignore' });
	identity = readFileSync(join(dir, 'key.txt'), 'utf8');
	recipient = identityToRecipient(identity).recipient;
	docker = await createDockerClient({ kind: 'socket', socketPath: services().docker.socketPath });
	s3 = createS3Client(s3Credential() as never);
});

afterAll(() => {
	s3?.destroy();
	docker?.close();
	rmSync(dir, { recursive: true, force: true });
});

describe('Docker Volume Backup node (real dockerd, s3rver, age, zstd, tar)', () => {
	const vol = `t${run}_data`;

	it('backs up by prefix to an age + zstd object that `age -d | zstd -d | tar -t` lists exactly, with a manifest', async () => {
		await makeVolume(vol, TREE, { 'com.example.role': 'db' });
		const prefix = `p-${run}`;
		const { outputs, error } = await runWorkflow({
			workflow: workflow([
				{
					name: 'Backup',
					parameters: {
						operation: 'backup',
						prefix,
						selectBy: 'prefix',
						volumePrefix: `t${run}_`,
						encryption: 'recipients',
						compression: 'zstd',
						stopContainers: 'label',
					},
				},
			]),
			nodeTypes,
			credentials: credentials(),
		});
		expect(error).toBeUndefined();
		const [finding] = json(outputs.Backup[0]);
		expect(finding).toMatchObject({
			check: 'volume-backup',
			target: vol,
			status: 'ok',
			compression: 'zstd',
			encryption: 'age-x25519',
			files: 4,
		});
		expect(outputs.Backup[0][0].pairedItem).toEqual({ item: 0 });
		expect(finding.key).toMatch(
			new RegExp(`^${prefix}/${vol}/${vol}-\\d{8}T\\d{6}\\.\\d{3}Z-[0-9a-f]{8}\\.tar\\.zst\\.age$`),
		);
		expect(JSON.stringify(outputs)).not.toContain('AGE-SECRET-KEY');

		const sealed = await getObject(finding.key as string);
		writeFileSync(join(dir, 'b.age'), sealed);
		const tar = execFileSync('sh', ['-c', `age -d -i ${dir}/key.txt ${dir}/b.age | zstd -d`], {
			maxBuffer: 1 << 26,
		});
		expect(describeTar(tar)).toEqual(describeTar(await volumeTar(docker.docker, vol)));
		const listing = describeTar(tar).listing.join('\n');
		expect(listing).toMatch(/1234\/5678 .* \.\/sub\/a\.txt/);
		expect(listing).toMatch(/\.\/link -> sub\/a\.txt/);
		expect(listing).toMatch(/\.\/sub\/empty\//);
		expect(listing).toMatch(/fïchier ünï\.txt/);

		const manifest = JSON.parse((await getObject(manifestKey(finding.key as string))).toString());
		expect(manifest).toMatchObject({
			volume: vol,
			labels: { 'com.example.role': 'db' },
			driver: 'local',
			compression: 'zstd',
			encryption: { kind: 'age-x25519', recipients: [identityToRecipient(identity).fingerprint] },
			tar: { sha256: createHash('sha256').update(tar).digest('hex'), files: 4 },
			stored: { sha256: createHash('sha256').update(sealed).digest('hex'), bytes: sealed.length },
		});
	});

	it('gzip without encryption, and passphrase encryption, unpack with the Debian tools', async () => {
		const prefix = `g-${run}`;
		const { outputs } = await runWorkflow({
			workflow: workflow([
				{
					name: 'Plain',
					parameters: {
						operation: 'backup',
						prefix,
						selectBy: 'names',
						volumeNames: vol,
						encryption: 'none',
						compression: 'gzip',
					},
				},
			]),
			nodeTypes,
			credentials: credentials(),
		});
		const [plain] = json(outputs.Plain[0]);
		expect(plain.key).toMatch(/\.tar\.gz$/);
		const tar = execFileSync('gzip', ['-d'], {
			input: await getObject(plain.key as string),
			maxBuffer: 1 << 26,
		});
		expect(describeTar(tar)).toEqual(describeTar(await volumeTar(docker.docker, vol)));

		const pass = await runWorkflow({
			workflow: workflow([
				{
					name: 'Pass',
					parameters: {
						operation: 'backup',
						prefix: `pp-${run}`,
						selectBy: 'names',
						volumeNames: vol,
						encryption: 'passphrase',
						compression: 'zstd',
					},
				},
			]),
			nodeTypes,
			credentials: credentials({
				infraOpsBackupEncryption: { recipients: '', secretKey: '', passphrase: 'tr0ub4dor & 3' },
			}),
		});
		const [p] = json(pass.outputs.Pass[0]);
		expect(p).toMatchObject({ status: 'ok', encryption: 'age-scrypt' });
		expect(JSON.stringify(pass.outputs)).not.toContain('tr0ub4dor');
		writeFileSync(join(dir, 'p.age'), await getObject(p.key as string));
		// age reads a passphrase only from a terminal: util-linux `script` gives it one fed from stdin
		const r = spawnSync(
			'script',
			['-q', '-e', '-c', `age -d -o ${dir}/p.tar.zst ${dir}/p.age`, '/dev/null'],
			{ input: 'tr0ub4dor & 3\n', timeout: 60_000 },
		);
		expect(r.status).toBe(0);
		const tar2 = execFileSync('zstd', ['-d', '-c', join(dir, 'p.tar.zst')], { maxBuffer: 1 << 26 });
		expect(describeTar(tar2)).toEqual(describeTar(await volumeTar(docker.docker, vol)));
	});

	it('restores into a new volume identically; refuses a non-empty one unless Replace; lists and verifies', async () => {
		const prefix = `p-${run}`;
		const copy = `t${run}_copy`;
		const restore = (targetVolume: string, replace: boolean) =>
			runWorkflow({
				workflow: workflow([
					{
						name: 'Restore',
						parameters: { operation: 'restore', prefix, volume: vol, targetVolume, replace },
					},
				]),
				nodeTypes,
				credentials: credentials(),
			});
		const first = await restore(copy, false);
		expect(first.error).toBeUndefined();
		expect(json(first.outputs.Restore[0])[0]).toMatchObject({
			check: 'volume-restore',
			status: 'ok',
			targetVolume: copy,
			created: true,
		});
		expect(describeTar(await volumeTar(docker.docker, copy))).toEqual(
			describeTar(await volumeTar(docker.docker, vol)),
		);
		expect((await docker.docker.getVolume(copy).inspect()).Labels).toEqual({
			'com.example.role': 'db',
		});

		const refused = await restore(copy, false);
		expect(refused.error?.message).toMatch(/is not empty/);
		expect(refused.error?.description).toMatch(/Replace/);
		const tolerated = await runWorkflow({
			workflow: workflow([
				{
					name: 'Restore',
					parameters: {
						operation: 'restore',
						prefix,
						volume: vol,
						targetVolume: copy,
						replace: false,
					},
					continueOnFail: true,
				},
			]),
			nodeTypes,
			credentials: credentials(),
		});
		// with continueOnFail the error item says the same, and what to do
		expect(json(tolerated.outputs.Restore[0])).toEqual([
			{ error: expect.stringMatching(/is not empty/), hint: expect.stringMatching(/Replace/) },
		]);

		await makeVolume(`t${run}_other`, 'echo stale > /v/stale.txt');
		const replaced = await restore(`t${run}_other`, true);
		expect(json(replaced.outputs.Restore[0])[0]).toMatchObject({
			status: 'warning',
			replaced: true,
			warnings: ['existing volume keeps its own labels (Docker cannot relabel a volume)'],
		});
		expect(describeTar(await volumeTar(docker.docker, `t${run}_other`))).toEqual(
			describeTar(await volumeTar(docker.docker, vol)),
		);

		const checked = await runWorkflow({
			workflow: workflow([
				{
					name: 'Verify',
					parameters: {
						operation: 'verify',
						prefix,
						volumes: vol,
						scratchRestore: true,
						recordInManifest: true,
					},
				},
				{ name: 'List', parameters: { operation: 'list', prefix, volumes: '' } },
			]),
			nodeTypes,
			credentials: credentials(),
		});
		expect(checked.error).toBeUndefined();
		expect(json(checked.outputs.Verify[0])[0]).toMatchObject({
			check: 'backup-verify',
			status: 'ok',
			scratchRestore: true,
		});
		expect(json(checked.outputs.List[0])).toEqual([
			expect.objectContaining({
				volume: vol,
				complete: true,
				verified: true,
				encrypted: true,
				compression: 'zstd',
			}),
		]);
		const scratch = (await docker.docker.listVolumes()).Volumes.filter((v) =>
			v.Name.startsWith('infra-ops-verify-'),
		);
		expect(scratch).toEqual([]);
	});

	it('Verify flags a tampered backup as critical', async () => {
		const prefix = `tamper-${run}`;
		const { outputs } = await runWorkflow({
			workflow: workflow([
				{
					name: 'Backup',
					parameters: {
						operation: 'backup',
						prefix,
						selectBy: 'names',
						volumeNames: vol,
						encryption: 'recipients',
						compression: 'zstd',
					},
				},
			]),
			nodeTypes,
			credentials: credentials(),
		});
		const key = json(outputs.Backup[0])[0].key as string;
		const data = await getObject(key);
		data[data.length - 100] ^= 0xff;
		await s3.send(new PutObjectCommand({ Bucket: services().s3.bucket, Key: key, Body: data }));
		const verify = await runWorkflow({
			workflow: workflow([
				{
					name: 'Verify',
					parameters: { operation: 'verify', prefix, volumes: vol, scratchRestore: false },
				},
			]),
			nodeTypes,
			credentials: credentials(),
		});
		const [finding] = json(verify.outputs.Verify[0]);
		expect(finding.status).toBe('critical');
		expect(finding.summary).toMatch(/FAILED verification: .*(altered|SHA-256)/);
	});

	it('stops a labelled running user and restarts it; a failing command-before fails the backup and still restarts it', async () => {
		const v = `t${run}_live`;
		await makeVolume(v, 'echo live > /v/f');
		const user = await docker.docker.createContainer({
			name: `user-${run}`,
			Image: services().docker.image,
			Cmd: SLEEPER,
			Labels: { 'infra-ops.backup.stop': 'true' },
			HostConfig: { Binds: [`${v}:/data`], NetworkMode: 'none' },
		});
		const side = await docker.docker.createContainer({
			name: `side-${run}`,
			Image: services().docker.image,
			Cmd: SLEEPER,
			HostConfig: { NetworkMode: 'none' },
		});
		await user.start();
		await side.start();
		try {
			const ok = await runWorkflow({
				workflow: workflow([
					{
						name: 'Backup',
						parameters: {
							operation: 'backup',
							prefix: `live-${run}`,
							selectBy: 'names',
							volumeNames: v,
							encryption: 'none',
							compression: 'zstd',
							stopContainers: 'label',
						},
					},
				]),
				nodeTypes,
				credentials: credentials(),
			});
			expect(json(ok.outputs.Backup[0])[0]).toMatchObject({
				status: 'ok',
				containersStopped: [`user-${run}`],
			});
			expect((await user.inspect()).State.Running).toBe(true);
			const stoppedAt = (await user.inspect()).State.StartedAt;

			const failing = await runWorkflow({
				workflow: workflow([
					{
						name: 'Backup',
						parameters: {
							operation: 'backup',
							prefix: `live-${run}`,
							selectBy: 'names',
							volumeNames: v,
							encryption: 'none',
							compression: 'zstd',
							stopContainers: 'label',
							options: {
								hooksBefore: {
									hook: [{ container: `side-${run}`, command: 'echo dump failed >&2; exit 3' }],
								},
							},
						},
					},
					{ name: 'Prune', parameters: { operation: 'prune', prefix: `live-${run}`, keepLast: 1 } },
				]),
				nodeTypes,
				credentials: credentials(),
			});
			const [finding] = json(failing.outputs.Backup[0]);
			expect(finding).toMatchObject({
				status: 'error',
				failedStep: `command before (side-${run})`,
			});
			expect(finding.summary).toMatch(/exited with 3: dump failed/);
			const state = (await user.inspect()).State;
			expect(state.Running).toBe(true);
			expect(state.StartedAt).not.toBe(stoppedAt);
			// the prune after a failed backup does not run
			expect(json(failing.outputs.Prune[0])[0]).toMatchObject({
				check: 'volume-prune',
				skipped: true,
				status: 'warning',
			});

			const live = await runWorkflow({
				workflow: workflow([
					{
						name: 'Backup',
						parameters: {
							operation: 'backup',
							prefix: `live-${run}`,
							selectBy: 'names',
							volumeNames: v,
							encryption: 'none',
							compression: 'none',
							stopContainers: 'never',
						},
					},
				]),
				nodeTypes,
				credentials: credentials(),
			});
			expect(json(live.outputs.Backup[0])[0]).toMatchObject({
				status: 'warning',
				summary: expect.stringMatching(/live backup: user-/),
			});
		} finally {
			await user.remove({ force: true });
			await side.remove({ force: true });
		}
	});

	it('gives a user that ignores SIGTERM the configured stop timeout, not a fixed 30 s, and restarts it', async () => {
		const v = `t${run}_stubborn`;
		await makeVolume(v, 'echo data > /v/f');
		// a bare `sleep` as PID 1 ignores SIGTERM: Docker kills it when the stop timeout runs out
		const user = await docker.docker.createContainer({
			name: `stubborn-${run}`,
			Image: services().docker.image,
			Cmd: ['sleep', '3600'],
			Labels: { 'infra-ops.backup.stop': 'true' },
			HostConfig: { Binds: [`${v}:/data`], NetworkMode: 'none' },
		});
		await user.start();
		try {
			const result = await runWorkflow({
				workflow: workflow([
					{
						name: 'Backup',
						parameters: {
							operation: 'backup',
							prefix: `stub-${run}`,
							selectBy: 'names',
							volumeNames: v,
							encryption: 'none',
							compression: 'zstd',
							stopContainers: 'label',
							options: { stopTimeoutS: 2 },
						},
					},
				]),
				nodeTypes,
				credentials: credentials(),
			});
			const [finding] = json(result.outputs.Backup[0]);
			expect(finding).toMatchObject({ status: 'ok', containersStopped: [`stubborn-${run}`] });
			const manifest = JSON.parse(
				(await getObject(manifestKey(finding.key as string))).toString(),
			) as { durationsMs: Record<string, number> };
			// Docker waited the 2 s grace period, then killed it; 30 s would be the old fixed timeout
			expect(manifest.durationsMs['stop containers']).toBeGreaterThanOrEqual(1_900);
			expect(manifest.durationsMs['stop containers']).toBeLessThan(15_000);
			expect((await user.inspect()).State.Running).toBe(true);
		} finally {
			await user.remove({ force: true });
		}
	});

	it('restores a host path backup over SSH into a new folder only: identical tree, a non-empty folder refused, a wrong key leaves nothing behind', async () => {
		const { ssh } = services();
		const sshCredential = {
			host: ssh.host,
			port: ssh.port,
			username: ssh.username,
			authentication: 'privateKey',
			privateKey: ssh.privateKey,
			hostKeyFingerprint: ssh.hostKeyFingerprint,
		};
		const base = mkdtempSync(join(tmpdir(), 'iops-hostrestore-'));
		const stack = join(base, 'traefik-stack');
		execFileSync('sh', [
			'-c',
			`set -e; mkdir -p '${stack}/dynamic' '${stack}/empty dir'; printf 'POSTGRES_PASSWORD=x\n' > '${stack}/.env'; chmod 600 '${stack}/.env'; printf 'http: {}\n' > '${stack}/dynamic/rate limit é.yml'; : > '${stack}/zero'; ln -s dynamic '${stack}/link'; chown 1234:5678 '${stack}/zero'`,
		]);
		const name = `stack-${run}`;
		const prefix = `host-${run}`;
		try {
			const backup = await runWorkflow({
				workflow: workflow([
					{
						name: 'Backup',
						parameters: {
							operation: 'backup',
							prefix,
							selectBy: 'prefix',
							volumePrefix: `nothing-${run}_`,
							encryption: 'recipients',
							compression: 'zstd',
							stopContainers: 'never',
							hostPathsEnabled: true,
							hostPathsName: name,
							hostPaths: stack,
						},
					},
				]),
				nodeTypes,
				credentials: credentials({ infraOpsSshApi: sshCredential }),
			});
			expect(backup.error).toBeUndefined();
			const backedUp = json(backup.outputs.Backup[0]).find((f) => f.target === name);
			expect(`${String(backedUp?.status)}: ${String(backedUp?.summary)}`).toMatch(/^ok: Backed up/);

			const into = join(base, 'restored');
			const restoreNode = (folder: string) =>
				workflow([
					{
						name: 'Restore',
						parameters: {
							operation: 'restore',
							prefix,
							volume: name,
							hostPathsEnabled: true,
							hostFolder: folder,
						},
						continueOnFail: true,
					},
				]);
			const restored = await runWorkflow({
				workflow: restoreNode(into),
				nodeTypes,
				credentials: credentials({ infraOpsSshApi: sshCredential }),
			});
			const [finding] = json(restored.outputs.Restore[0]);
			expect(finding).toMatchObject({
				check: 'volume-restore',
				status: 'ok',
				folder: into,
				paths: [stack],
			});
			const tree = (root: string) =>
				execFileSync('sh', [
					'-c',
					`cd '${root}' && find . -printf '%p %y %m %U:%G %s %l\n' | sort`,
				]).toString();
			expect(tree(join(into, stack.replace(/^\//, '')))).toBe(tree(stack));
			expect(
				execFileSync('diff', [
					'-r',
					'--no-dereference',
					stack,
					join(into, stack.replace(/^\//, '')),
				]).toString(),
			).toBe('');

			// the folder now holds files: a second restore into it is refused and changes nothing
			const before = tree(into);
			const again = await runWorkflow({
				workflow: restoreNode(into),
				nodeTypes,
				credentials: credentials({ infraOpsSshApi: sshCredential }),
			});
			expect(String(json(again.outputs.Restore[0])[0].error)).toMatch(
				/exists and is not an empty folder/,
			);
			expect(tree(into)).toBe(before);

			// a wrong identity fails the decryption: no folder, no staging folder left beside it
			const other = execFileSync('age-keygen', { stdio: ['ignore', 'pipe', 'ignore'] })
				.toString()
				.split('\n')
				.find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
			const wrong = await runWorkflow({
				// unsigned allowed: a wrong identity also derives a wrong signing key, and the refusal would come before decryption
				workflow: workflow([
					{
						name: 'Restore',
						parameters: {
							operation: 'restore',
							prefix,
							volume: name,
							hostPathsEnabled: true,
							hostFolder: join(base, 'wrong'),
							allowUnsigned: true,
						},
						continueOnFail: true,
					},
				]),
				nodeTypes,
				credentials: credentials({
					infraOpsSshApi: sshCredential,
					infraOpsBackupEncryption: { recipients: recipient, secretKey: other, passphrase: '' },
				}),
			});
			expect(String(json(wrong.outputs.Restore[0])[0].error)).toMatch(
				/read backup failed|identity|decrypt/i,
			);
			expect(execFileSync('ls', ['-A', base]).toString().trim().split('\n').sort()).toEqual([
				'restored',
				'traefik-stack',
			]);
		} finally {
			rmSync(base, { recursive: true, force: true });
		}
	});

	it('prunes by retention tiers on a synthetic clock, deleting only archive + manifest pairs it named', async () => {
		const prefix = `ret-${run}`;
		const volume = 'synthetic';
		const bucket = services().s3.bucket;
		const now = new Date('2026-06-30T02:00:00Z');
		const keys: string[] = [];
		for (let d = 0; d < 40; d++) {
			const at = new Date(now.getTime() - d * 86_400_000);
			const key = archiveKey(prefix, volume, at, 'zstd', true);
			keys.push(key);
			await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x' }));
			await s3.send(new PutObjectCommand({ Bucket: bucket, Key: manifestKey(key), Body: '{}' }));
		}
		// an incomplete archive (no manifest) and a foreign object are never touched
		const incomplete = archiveKey(
			prefix,
			volume,
			new Date(now.getTime() - 50 * 86_400_000),
			'zstd',
			true,
		);
		await s3.send(new PutObjectCommand({ Bucket: bucket, Key: incomplete, Body: 'x' }));
		await s3.send(
			new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${volume}/notes.txt`, Body: 'x' }),
		);
		const target = { s3, bucket, prefix };
		const dry = await pruneVolume(
			target,
			volume,
			{ keepLast: 3, keepDaily: 7, keepWeekly: 4 },
			true,
			now,
		);
		// 2026-06-30 is a Tuesday: last 3 ⊂ daily d0–d6; weekly adds Sun 06-28 (d2, already kept), 06-21 (d9), 06-14 (d16)
		const day = (d: number) =>
			archiveKey(prefix, volume, new Date(now.getTime() - d * 86_400_000), 'zstd', true);
		expect(dry.kept.map((k) => k.key)).toEqual([0, 1, 2, 3, 4, 5, 6, 9, 16].map(day));
		expect(dry.kept.find((k) => k.key === day(9))?.reasons).toEqual(['weekly 2026-W25']);
		expect((await listAll(s3, bucket, `${prefix}/`)).length).toBe(82);
		const done = await pruneVolume(
			target,
			volume,
			{ keepLast: 3, keepDaily: 7, keepWeekly: 4 },
			false,
			now,
		);
		expect(done.deleted.map((d) => d.key)).toEqual(dry.deleted.map((d) => d.key));
		const left = (await listAll(s3, bucket, `${prefix}/`)).map((o) => o.key).sort();
		const expected = [
			...done.kept.flatMap((k) => [k.key, manifestKey(k.key)]),
			incomplete,
			`${prefix}/${volume}/notes.txt`,
		].sort();
		expect(left).toEqual(expected);
	});
});

describe('restore safety (items 3, 4, 13 of issue 14)', () => {
	const restoreNode = (prefix: string, volume: string, targetVolume: string, replace = true) =>
		workflow([
			{
				name: 'Restore',
				parameters: { operation: 'restore', prefix, volume, targetVolume, replace },
				continueOnFail: true,
			},
		]);
	const backupOf = async (
		prefix: string,
		volume: string,
		encryption = 'recipients',
		extra: Record<string, Record<string, unknown>> = {},
	) => {
		const { outputs } = await runWorkflow({
			workflow: workflow([
				{
					name: 'Backup',
					parameters: {
						operation: 'backup',
						prefix,
						selectBy: 'names',
						volumeNames: volume,
						encryption,
						compression: 'zstd',
						stopContainers: 'never',
					},
				},
			]),
			nodeTypes,
			credentials: credentials(extra),
		});
		return json(outputs.Backup[0])[0];
	};
	// links that leave the volume: absolute, ../.., and from a sub folder (whose times the second PUT must keep)
	const OUTSIDE_LINKS = [
		'set -e',
		'mkdir -p /v/sub/deep',
		'printf payload > /v/sub/deep/file',
		'ln -s /etc/shadow /v/abs_link',
		'ln -s ../../../../etc/shadow /v/escape_link',
		'ln -s ../../../outside /v/sub/deep/up_link',
		'ln -s deep/file /v/sub/inside_link',
		'touch -h -d "2021-02-03 04:05:06" /v/escape_link /v/sub/deep/up_link',
		'touch -d "2020-01-01 00:00:00" /v/sub/deep /v/sub',
	].join(' && ');

	it('threat: a failed Replace restore (wrong passphrase, credential without identity, truncated object, an entry refused midway) empties the live volume under a running container', async () => {
		const prefix = `safe-${run}`;
		const db = `t${run}_db`;
		await makeVolume(db, TREE);
		const user = await docker.docker.createContainer({
			name: `db-${run}`,
			Image: services().docker.image,
			Cmd: SLEEPER,
			HostConfig: { Binds: [`${db}:/data`], NetworkMode: 'none' },
		});
		await user.start();
		try {
			const before = describeTar(await volumeTar(docker.docker, db));
			const startedAt = (await user.inspect()).State.StartedAt;
			const src = `t${run}_src`;
			// a root owned as a database's would be: Replace gives the live root the same owner and mode
			await makeVolume(src, 'echo other > /v/other.txt && chown 999:999 /v && chmod 0700 /v');
			// one Manifest Signing Secret for both: a wrong passphrase must fail the decryption, not the signature check
			await backupOf(prefix, src, 'passphrase', {
				infraOpsBackupEncryption: {
					recipients: '',
					secretKey: '',
					passphrase: 'right horse',
					manifestSigningSecret: `secret-${run}`,
				},
			});
			const truncatedSrc = `t${run}_trunc`;
			await makeVolume(truncatedSrc, 'head -c 2000000 /dev/urandom > /v/big.bin');
			const trunc = await backupOf(prefix, truncatedSrc);
			const whole = await getObject(trunc.key as string);
			await s3.send(
				new PutObjectCommand({
					Bucket: services().s3.bucket,
					Key: trunc.key as string,
					Body: whole.subarray(0, Math.floor(whole.length / 2)),
				}),
			);
			// a hard link to a symlink that leaves the volume: the archive is intact, Docker's PUT refuses it midway
			const midway = `t${run}_midway`;
			await makeVolume(
				midway,
				'set -e; for i in 1 2 3; do echo $i > /v/a$i; done; ln -s ../../../../etc/shadow /v/escape_link; ln /v/escape_link /v/escape_link2; head -c 16000000 /dev/urandom > /v/z_after',
			);
			const midwayBackup = await backupOf(prefix, midway);
			expect(midwayBackup).toMatchObject({
				status: 'warning',
				summary: expect.stringMatching(
					/Restore cannot reproduce 1 entry: escape_link2 \(hard link to the symlink escape_link/,
				),
			});

			const cases: [string, string, Record<string, Record<string, unknown>>, RegExp][] = [
				[
					'wrong passphrase',
					src,
					{
						infraOpsBackupEncryption: {
							recipients: '',
							secretKey: '',
							passphrase: 'wrong horse',
							manifestSigningSecret: `secret-${run}`,
						},
					},
					/read backup failed/,
				],
				[
					'credential without identity',
					midway,
					{ infraOpsBackupEncryption: { recipients: recipient, secretKey: '', passphrase: '' } },
					/no identity or passphrase/,
				],
				['truncated object', truncatedSrc, {}, /read backup failed/],
				['entry refused midway', midway, {}, /write volume failed: .*escape_link/],
			];
			for (const [name, volume, extra, error] of cases) {
				const result = await runWorkflow({
					workflow: restoreNode(prefix, volume, db),
					nodeTypes,
					credentials: credentials(extra),
				});
				const [item] = json(result.outputs.Restore[0]);
				expect(`${name}: ${String(item.error)}`).toMatch(new RegExp(`${name}: .*${error.source}`));
				expect(describeTar(await volumeTar(docker.docker, db))).toEqual(before);
				const state = (await user.inspect()).State;
				expect({ name, running: state.Running, startedAt: state.StartedAt }).toEqual({
					name,
					running: true,
					startedAt,
				});
			}
			const leftovers = (await docker.docker.listVolumes()).Volumes.filter((v) =>
				v.Name.startsWith('infra-ops-staging-'),
			);
			expect(leftovers).toEqual([]);

			// into a new volume: a failure removes the half-written volume, so a retry is not refused as "not empty"
			const fresh = `t${run}_fresh`;
			for (let attempt = 0; attempt < 2; attempt++) {
				const result = await runWorkflow({
					workflow: restoreNode(prefix, truncatedSrc, fresh, false),
					nodeTypes,
					credentials: credentials(),
				});
				expect(String(json(result.outputs.Restore[0])[0].error)).toMatch(/read backup failed/);
				await expect(docker.docker.getVolume(fresh).inspect()).rejects.toMatchObject({
					statusCode: 404,
				});
			}

			// and a good backup still replaces the content, with the user stopped only for the swap
			const good = await runWorkflow({
				workflow: restoreNode(prefix, src, db),
				nodeTypes,
				credentials: credentials({
					infraOpsBackupEncryption: {
						recipients: '',
						secretKey: '',
						passphrase: 'right horse',
						manifestSigningSecret: `secret-${run}`,
					},
				}),
			});
			expect(json(good.outputs.Restore[0])[0]).toMatchObject({
				status: 'ok',
				replaced: true,
				containersStopped: [`db-${run}`],
			});
			expect(describeTar(await volumeTar(docker.docker, db))).toEqual(
				describeTar(await volumeTar(docker.docker, src)),
			);
			expect(
				execFileSync('stat', [
					'-c',
					'%a %u:%g',
					(await docker.docker.getVolume(db).inspect()).Mountpoint,
				])
					.toString()
					.trim(),
			).toBe('700 999:999');
			expect((await user.inspect()).State.Running).toBe(true);
		} finally {
			await user.remove({ force: true });
		}
	});

	it('threat: a swap that fails halfway (a rename refused) leaves the live volume half old, half restored', async () => {
		const prefix = `swap-${run}`;
		const src = `t${run}_swapsrc`;
		await makeVolume(src, 'echo new > /v/new.txt && mkdir /v/newdir && echo n > /v/newdir/f');
		expect((await backupOf(prefix, src)).status).toBe('ok');
		const live = `t${run}_swaplive`;
		await makeVolume(
			live,
			'set -e; for n in a_first b_dir m_stuck z_last; do echo $n > /v/$n; done; rm /v/b_dir; mkdir /v/b_dir; echo x > /v/b_dir/x',
		);
		const user = await docker.docker.createContainer({
			name: `swap-${run}`,
			Image: services().docker.image,
			Cmd: SLEEPER,
			HostConfig: { Binds: [`${live}:/data`], NetworkMode: 'none' },
		});
		await user.start();
		// an immutable entry: its rename fails after a_first and b_dir were already moved aside
		const stuck = join((await docker.docker.getVolume(live).inspect()).Mountpoint, 'm_stuck');
		execFileSync('chattr', ['+i', stuck]);
		try {
			const before = describeTar(await volumeTar(docker.docker, live));
			const result = await runWorkflow({
				workflow: restoreNode(prefix, src, live),
				nodeTypes,
				credentials: credentials(),
			});
			const [item] = json(result.outputs.Restore[0]);
			expect(String(item.error)).toMatch(
				/swap volume content failed: the swap script exited with 11 .*every entry was moved back/,
			);
			expect(describeTar(await volumeTar(docker.docker, live))).toEqual(before);
			expect((await user.inspect()).State.Running).toBe(true);
		} finally {
			execFileSync('chattr', ['-i', stuck]);
			await user.remove({ force: true });
		}
	});

	it('a volume holding a 200 MiB sparse file with 64 KiB of data (a preallocated VM disk) is backed up ok, and the finding says its holes were read as zeros: apparent size and zero bytes', async () => {
		const prefix = `sparse-${run}`;
		const vol = `t${run}_sparse`;
		await makeVolume(
			vol,
			'set -e; truncate -s 200M /v/disk.img; head -c 65536 /dev/urandom | dd of=/v/disk.img conv=notrunc 2>/dev/null; echo small > /v/small.txt',
		);
		const backup = await backupOf(prefix, vol);
		expect(backup).toMatchObject({
			status: 'ok',
			sparse: {
				sparseEntries: 0,
				zeroFilledFiles: 1,
				zeroFilledApparentBytes: 200 * 1024 * 1024,
				zeroFilledZeroBytes: 200 * 1024 * 1024 - 65536,
			},
		});
		expect(backup.summary).toMatch(
			/1 file\(s\) of .* holding .* of zero blocks \(sparse files' holes arrive as zeros: read in full, restored fully allocated\)/,
		);
	});

	it('threat: a backup of symlinks pointing outside the volume is reported ok but Restore cannot reproduce it (and Verify blames the archive)', async () => {
		const prefix = `links-${run}`;
		const vol = `t${run}_links`;
		await makeVolume(vol, OUTSIDE_LINKS);
		const backup = await backupOf(prefix, vol);
		expect(backup.status).toBe('ok');
		// into a new volume (no shell needed) and over a live one (staged, then swapped)
		const copy = `t${run}_links_copy`;
		const intoNew = await runWorkflow({
			workflow: restoreNode(prefix, vol, copy, false),
			nodeTypes,
			credentials: credentials(),
		});
		expect(json(intoNew.outputs.Restore[0])[0]).toMatchObject({
			status: 'ok',
			created: true,
			linksOutside: 2,
		});
		const original = describeTar(await volumeTar(docker.docker, vol));
		expect(original.listing.join('\n')).toMatch(
			/escape_link -> \.\.\/\.\.\/\.\.\/\.\.\/etc\/shadow/,
		);
		expect(describeTar(await volumeTar(docker.docker, copy))).toEqual(original);
		const live = `t${run}_links_live`;
		await makeVolume(live, 'echo old > /v/old.txt');
		const user = await docker.docker.createContainer({
			name: `links-${run}`,
			Image: services().docker.image,
			Cmd: SLEEPER,
			HostConfig: { Binds: [`${live}:/data`], NetworkMode: 'none' },
		});
		await user.start();
		try {
			const over = await runWorkflow({
				workflow: restoreNode(prefix, vol, live),
				nodeTypes,
				credentials: credentials(),
			});
			expect(json(over.outputs.Restore[0])[0]).toMatchObject({
				status: 'ok',
				replaced: true,
				linksOutside: 2,
			});
			expect(describeTar(await volumeTar(docker.docker, live))).toEqual(original);
			expect((await user.inspect()).State.Running).toBe(true);
		} finally {
			await user.remove({ force: true });
		}
		const verify = await runWorkflow({
			workflow: workflow([
				{
					name: 'Verify',
					parameters: {
						operation: 'verify',
						prefix,
						volumes: vol,
						scratchRestore: true,
						recordInManifest: false,
					},
				},
			]),
			nodeTypes,
			credentials: credentials(),
		});
		expect(json(verify.outputs.Verify[0])[0]).toMatchObject({
			status: 'ok',
			scratchRestore: true,
			archiveOk: true,
		});

		// the helper image may be any image on the host: one without a shell still restores into a new
		// volume (archive API only); Replace needs mkdir/mv and says so before touching the volume
		const noShell = `noshell-${run}:latest`;
		const rootfs = execFileSync('sh', [
			'-c',
			'd=$(mktemp -d) && printf x > "$d/nothing" && tar -C "$d" -cf - . && rm -rf "$d"',
		]);
		await new Promise((resolve, reject) =>
			docker.docker.importImage(
				rootfs as never,
				{ repo: `noshell-${run}`, tag: 'latest' },
				(error: unknown, stream?: NodeJS.ReadableStream) =>
					error
						? reject(error)
						: docker.docker.modem.followProgress(stream!, (e: unknown) =>
								e ? reject(e) : resolve(undefined),
							),
			),
		);
		// removed again: an image left on the host would become the default helper of later tests
		try {
			const withImage = (targetVolume: string, replace: boolean) =>
				workflow([
					{
						name: 'Restore',
						parameters: {
							operation: 'restore',
							prefix,
							volume: vol,
							targetVolume,
							replace,
							helperImage: noShell,
						},
						continueOnFail: true,
					},
				]);
			const bare = `t${run}_links_bare`;
			const intoBare = await runWorkflow({
				workflow: withImage(bare, false),
				nodeTypes,
				credentials: credentials(),
			});
			expect(json(intoBare.outputs.Restore[0])[0]).toMatchObject({
				status: 'ok',
				created: true,
				linksOutside: 2,
			});
			expect(describeTar(await volumeTar(docker.docker, bare))).toEqual(original);
			await makeVolume(`t${run}_links_kept`, 'echo keep > /v/keep.txt');
			const kept = describeTar(await volumeTar(docker.docker, `t${run}_links_kept`));
			const refused = await runWorkflow({
				workflow: withImage(`t${run}_links_kept`, true),
				nodeTypes,
				credentials: credentials(),
			});
			expect(json(refused.outputs.Restore[0])[0]).toMatchObject({
				error: expect.stringMatching(/write volume failed/),
				hint: expect.stringMatching(/\/bin\/sh.*The volume was not changed/),
			});
			expect(describeTar(await volumeTar(docker.docker, `t${run}_links_kept`))).toEqual(kept);
		} finally {
			await docker.docker.getImage(noShell).remove({ force: true });
		}
	});

	it('threat: Verify reports an intact archive that Restore cannot reproduce as "verified", or as a damaged archive', async () => {
		const prefix = `unrest-${run}`;
		const vol = `t${run}_unrest`;
		await makeVolume(
			vol,
			'set -e; echo a > /v/a; ln -s ../../../../etc/shadow /v/escape_link; ln /v/escape_link /v/escape_link2',
		);
		const backup = await backupOf(prefix, vol);
		expect(backup).toMatchObject({
			status: 'warning',
			summary: expect.stringMatching(/Restore cannot reproduce 1 entry: escape_link2/),
		});
		for (const scratchRestore of [false, true]) {
			const verify = await runWorkflow({
				workflow: workflow([
					{
						name: 'Verify',
						parameters: {
							operation: 'verify',
							prefix,
							volumes: vol,
							scratchRestore,
							recordInManifest: false,
						},
					},
				]),
				nodeTypes,
				credentials: credentials(),
			});
			const [finding] = json(verify.outputs.Verify[0]);
			expect(finding).toMatchObject({ status: 'critical', archiveOk: true, scratchRestore });
			expect(finding.summary).toMatch(/archive intact, but RESTORE FAILED/);
			expect(finding.summary).not.toMatch(/FAILED verification/);
			expect(finding.restoreProblems).toEqual([
				expect.stringMatching(
					scratchRestore
						? /writing into the volume failed: .*escape_link/
						: /Restore cannot reproduce: escape_link2/,
				),
			]);
		}
		// a damaged archive is still told apart
		const data = await getObject(backup.key as string);
		data[data.length - 100] ^= 0xff;
		await s3.send(
			new PutObjectCommand({ Bucket: services().s3.bucket, Key: backup.key as string, Body: data }),
		);
		const damaged = await runWorkflow({
			workflow: workflow([
				{
					name: 'Verify',
					parameters: {
						operation: 'verify',
						prefix,
						volumes: vol,
						scratchRestore: true,
						recordInManifest: false,
					},
				},
			]),
			nodeTypes,
			credentials: credentials(),
		});
		expect(json(damaged.outputs.Verify[0])[0]).toMatchObject({
			status: 'critical',
			archiveOk: false,
			summary: expect.stringMatching(/FAILED verification/),
		});
	});

	it('threat: a host folder restore plants setuid/setgid binaries and absolute symlinks on the host without a word', async () => {
		const { ssh } = services();
		const sshCredential = {
			host: ssh.host,
			port: ssh.port,
			username: ssh.username,
			authentication: 'privateKey',
			privateKey: ssh.privateKey,
			hostKeyFingerprint: ssh.hostKeyFingerprint,
		};
		const base = mkdtempSync(join(tmpdir(), 'iops-setid-'));
		const stack = join(base, 'stack');
		execFileSync('sh', [
			'-c',
			`set -e; mkdir -p '${stack}/bin' '${stack}/shared'; printf x > '${stack}/bin/suid'; chmod 4755 '${stack}/bin/suid'; printf x > '${stack}/bin/sgid'; chmod 2750 '${stack}/bin/sgid'; chmod 2775 '${stack}/shared'; ln -s /etc/passwd '${stack}/passwd_link'; ln -s bin/suid '${stack}/rel_link'`,
		]);
		const name = `setid-${run}`;
		const prefix = `setid-${run}`;
		try {
			const backup = await runWorkflow({
				workflow: workflow([
					{
						name: 'Backup',
						parameters: {
							operation: 'backup',
							prefix,
							selectBy: 'prefix',
							volumePrefix: `nothing-${run}_`,
							encryption: 'recipients',
							compression: 'zstd',
							stopContainers: 'never',
							hostPathsEnabled: true,
							hostPathsName: name,
							hostPaths: stack,
						},
					},
				]),
				nodeTypes,
				credentials: credentials({ infraOpsSshApi: sshCredential }),
			});
			expect(json(backup.outputs.Backup[0]).find((f) => f.target === name)?.status).toBe('ok');
			const restore = (folder: string, keepSetid: boolean) =>
				runWorkflow({
					workflow: workflow([
						{
							name: 'Restore',
							parameters: {
								operation: 'restore',
								prefix,
								volume: name,
								hostPathsEnabled: true,
								hostFolder: folder,
								keepSetid,
							},
							continueOnFail: true,
						},
					]),
					nodeTypes,
					credentials: credentials({ infraOpsSshApi: sshCredential }),
				});
			const mode = (p: string) => execFileSync('stat', ['-c', '%a', p]).toString().trim();
			const into = join(base, 'restored');
			const [finding] = json((await restore(into, false)).outputs.Restore[0]);
			const rel = join(into, stack.replace(/^\//, ''));
			expect({
				suid: mode(join(rel, 'bin/suid')),
				sgid: mode(join(rel, 'bin/sgid')),
				shared: mode(join(rel, 'shared')),
			}).toEqual({ suid: '755', sgid: '750', shared: '2775' });
			expect(finding).toMatchObject({
				status: 'warning',
				setidCleared: [join(rel, 'bin/sgid'), join(rel, 'bin/suid')].sort(),
				absoluteLinks: [`${join(rel, 'passwd_link')} -> /etc/passwd`],
			});
			expect(finding.summary).toMatch(/setuid\/setgid bits cleared on 2 file\(s\)/);
			expect(finding.summary).toMatch(
				/symlink\(s\) with an absolute target .*passwd_link -> \/etc\/passwd/,
			);
			expect(finding.summary).not.toMatch(/rel_link/);

			const kept = join(base, 'kept');
			const [keptFinding] = json((await restore(kept, true)).outputs.Restore[0]);
			const relKept = join(kept, stack.replace(/^\//, ''));
			expect({
				suid: mode(join(relKept, 'bin/suid')),
				sgid: mode(join(relKept, 'bin/sgid')),
			}).toEqual({ suid: '4755', sgid: '2750' });
			expect(keptFinding).toMatchObject({ status: 'warning', setidCleared: [] });
		} finally {
			rmSync(base, { recursive: true, force: true });
		}
	});
});

describe('the bucket and the operator are not trusted blindly (issue 14: key leaks, planted objects, overlapping runs)', () => {
	const v = `t${run}_trust`;
	const bucket = () => services().s3.bucket;
	const target = (prefix: string): StorageTarget => ({ s3, bucket: bucket(), prefix });
	const recipientsEncryption = (): BackupOptions['encryption'] => {
		const r = identityToRecipient(identity);
		return { kind: 'recipients', publicKeys: [r.publicKey], fingerprints: [r.fingerprint] };
	};
	/** The key the node derives from credentials() (its identity): engine backups are signed like the node's. */
	const signing = (): SigningKey => signingKeyFrom({ identity }).key!;
	const engineBackup = (
		prefix: string,
		now?: Date,
		encryption = recipientsEncryption(),
		signingKey: SigningKey | null = signing(),
	) =>
		backupVolume(
			docker.docker,
			target(prefix),
			{ name: v, driver: 'local', labels: {} },
			{
				compression: 'zstd',
				encryption,
				signingKey: signingKey ?? undefined,
				stopMode: 'never',
				helperImage: services().docker.image,
				hooksBefore: [],
				hooksAfter: [],
				now,
			},
		);
	const readManifestJson = async (key: string) =>
		JSON.parse((await getObject(manifestKey(key))).toString()) as BackupManifest;
	/** What someone with write access to the bucket alone can do: copy an archive to a key of their choosing, with a manifest of their choosing. */
	const plant = async (
		fromKey: string,
		toKey: string,
		edit: (m: BackupManifest) => void,
		body?: Buffer,
	) => {
		const manifest = await readManifestJson(fromKey);
		manifest.key = toKey;
		edit(manifest);
		await s3.send(
			new PutObjectCommand({
				Bucket: bucket(),
				Key: toKey,
				Body: body ?? (await getObject(fromKey)),
			}),
		);
		await s3.send(
			new PutObjectCommand({
				Bucket: bucket(),
				Key: manifestKey(toKey),
				Body: JSON.stringify(manifest),
			}),
		);
	};
	const volumeExists = (name: string) =>
		docker.docker
			.getVolume(name)
			.inspect()
			.then(
				() => true,
				() => false,
			);

	beforeAll(async () => {
		await makeVolume(
			v,
			'set -e; mkdir -p /v/db; printf rows > /v/db/data; printf conf > /v/app.conf',
		);
	});

	it('threat: a one-character typo in the age identity reaches no output item, manifest, error or credential test', async () => {
		const prefix = `leak-${run}`;
		const { key } = await engineBackup(prefix);
		const typo = typoInIdentity(identity);
		const typoCredentials = credentials({
			infraOpsBackupEncryption: { recipients: recipient, secretKey: typo, passphrase: '' },
		});

		const verify = await runWorkflow({
			workflow: workflow([
				{
					name: 'Verify',
					parameters: {
						operation: 'verify',
						prefix,
						volumes: v,
						scratchRestore: true,
						recordInManifest: true,
					},
				},
			]),
			nodeTypes,
			credentials: typoCredentials,
		});
		const [finding] = json(verify.outputs.Verify[0]);
		expect(finding).toMatchObject({ check: 'backup-verify', status: 'critical' });
		expect(finding.summary).toMatch(
			/Identity \(Private Key\) is not valid: its checksum does not match/,
		);
		expect(firstKeyFragment(JSON.stringify(verify.outputs), identity)).toBeUndefined();
		const manifest = await readManifestJson(key);
		expect(manifest.verified).toMatchObject({
			ok: false,
			message: expect.stringMatching(/Identity \(Private Key\)/),
		});
		expect(firstKeyFragment(JSON.stringify(manifest), identity)).toBeUndefined();

		const restore = await runWorkflow({
			workflow: workflow([
				{
					name: 'Restore',
					parameters: { operation: 'restore', prefix, volume: v, targetVolume: `t${run}_leakcopy` },
				},
			]),
			nodeTypes,
			credentials: typoCredentials,
		});
		expect(restore.error?.message).toMatch(/Identity \(Private Key\)/);
		expect(
			firstKeyFragment(
				`${restore.error?.message} ${restore.error?.description} ${JSON.stringify(restore.outputs)}`,
				identity,
			),
		).toBeUndefined();
		const tolerated = await runWorkflow({
			workflow: workflow([
				{
					name: 'Restore',
					parameters: {
						operation: 'restore',
						prefix,
						volume: v,
						targetVolume: `t${run}_leakcopy2`,
					},
					continueOnFail: true,
				},
			]),
			nodeTypes,
			credentials: typoCredentials,
		});
		expect(json(tolerated.outputs.Restore[0])).toEqual([
			{ error: expect.stringMatching(/Identity \(Private Key\)/), hint: expect.any(String) },
		]);
		expect(firstKeyFragment(JSON.stringify(tolerated.outputs), identity)).toBeUndefined();

		const test = await credentialTests.infraOpsBackupEncryptionTest.call(
			{} as ICredentialTestFunctions,
			{
				id: '3',
				name: 'age',
				type: 'infraOpsBackupEncryption',
				data: { recipients: recipient, secretKey: typo, passphrase: '' },
			},
		);
		expect(test).toEqual({
			status: 'Error',
			message: expect.stringMatching(/Identity \(Private Key\)/),
		});
		expect(firstKeyFragment(test.message, identity)).toBeUndefined();
	});

	it('threat: a planted manifest redirects "restore volume A" into another volume, or a key of another volume is restored as A', async () => {
		const prefix = `redir-${run}`;
		const now = new Date();
		const real = await engineBackup(prefix, new Date(now.getTime() - 60_000));
		const victim = `t${run}_victim`;
		// newer than the real one, so it is "latest"; its manifest says the volume is the victim
		const planted = archiveKey(prefix, v, now, 'zstd', true, uniqueSuffix());
		await plant(real.key, planted, (m) => (m.volume = victim));
		const restore = await runWorkflow({
			// signing alone passes the planted pair over; with unsigned backups allowed the volume check must still refuse it
			workflow: workflow([
				{
					name: 'Restore',
					parameters: {
						operation: 'restore',
						prefix,
						volume: v,
						replace: true,
						allowUnsigned: true,
					},
				},
			]),
			nodeTypes,
			credentials: credentials(),
		});
		expect(restore.error?.message).toMatch(
			new RegExp(
				`Refusing backup ${planted}: its manifest names volume "${victim}", but the volume asked for .* is "${v}"`,
			),
		);
		expect(await volumeExists(victim)).toBe(false);

		// a key from another volume's folder, given explicitly, is refused before its manifest is read
		const other = `t${run}_other2`;
		await plant(
			real.key,
			archiveKey(prefix, other, now, 'zstd', true, uniqueSuffix()),
			(m) => (m.volume = other),
		);
		const foreignKey = (await listBackups(s3, bucket(), prefix, other))[0].key;
		const explicit = await runWorkflow({
			workflow: workflow([
				{
					name: 'Restore',
					parameters: {
						operation: 'restore',
						prefix,
						volume: v,
						backupKey: foreignKey,
						targetVolume: `t${run}_explicit`,
					},
				},
			]),
			nodeTypes,
			credentials: credentials(),
		});
		expect(explicit.error?.message).toMatch(new RegExp(`${foreignKey} is not a backup of "${v}"`));
		expect(await volumeExists(`t${run}_explicit`)).toBe(false);
	});

	it('threat: an unencrypted backup (which anyone with bucket write access can make) is restored although an identity is configured', async () => {
		const prefix = `plain-${run}`;
		await engineBackup(prefix, undefined, { kind: 'none' });
		const into = `t${run}_plaincopy`;
		const restore = (allowUnencrypted: boolean) =>
			runWorkflow({
				workflow: workflow([
					{
						name: 'Restore',
						parameters: {
							operation: 'restore',
							prefix,
							volume: v,
							targetVolume: into,
							allowUnencrypted,
						},
					},
					{
						name: 'Verify',
						parameters: { operation: 'verify', prefix, volumes: v, allowUnencrypted },
					},
				]),
				nodeTypes,
				credentials: credentials(),
			});
		const refused = await restore(false);
		expect(refused.error?.message).toMatch(
			/it is not encrypted, but the Backup Encryption credential has an identity/,
		);
		expect(refused.error?.description).toMatch(/Allow Unencrypted Backups/);
		expect(await volumeExists(into)).toBe(false);
		const verify = await runWorkflow({
			workflow: workflow([
				{ name: 'Verify', parameters: { operation: 'verify', prefix, volumes: v } },
			]),
			nodeTypes,
			credentials: credentials(),
		});
		expect(json(verify.outputs.Verify[0])).toEqual([
			expect.objectContaining({ status: 'error', summary: expect.stringMatching(/not encrypted/) }),
		]);

		const allowed = await restore(true);
		expect(allowed.error).toBeUndefined();
		expect(json(allowed.outputs.Restore[0])[0]).toMatchObject({
			status: 'ok',
			targetVolume: into,
			created: true,
		});
		expect(json(allowed.outputs.Verify[0])[0]).toMatchObject({ status: 'ok' });
		await docker.docker.getVolume(into).remove();
	});

	it('threat: a far-future-dated planted backup becomes "latest" for Verify, Restore and List', async () => {
		const prefix = `future-${run}`;
		const real = await engineBackup(prefix);
		// a complete-looking backup dated 2099 whose archive is not what the manifest says
		const planted = archiveKey(
			prefix,
			v,
			new Date('2099-01-01T00:00:00Z'),
			'zstd',
			true,
			uniqueSuffix(),
		);
		await plant(real.key, planted, () => undefined, randomBytes(4096));
		const verifyRun = await runWorkflow({
			workflow: workflow([
				{
					name: 'Verify',
					parameters: { operation: 'verify', prefix, volumes: v, recordInManifest: false },
				},
			]),
			nodeTypes,
			credentials: credentials(),
		});
		const { outputs, error } = await runWorkflow({
			workflow: workflow([
				{
					name: 'Restore',
					parameters: {
						operation: 'restore',
						prefix,
						volume: v,
						targetVolume: `t${run}_futurecopy`,
					},
				},
				{ name: 'List', parameters: { operation: 'list', prefix, volumes: v } },
			]),
			nodeTypes,
			credentials: credentials(),
		});
		expect(verifyRun.error).toBeUndefined();
		expect(error).toBeUndefined();
		const verified = json(verifyRun.outputs.Verify[0]);
		expect(verified).toEqual([
			expect.objectContaining({
				status: 'warning',
				summary: expect.stringMatching(/^future-dated backup: 1 object/),
				futureDated: [planted],
			}),
			expect.objectContaining({ status: 'ok', key: real.key }),
		]);
		const [restored] = json(outputs.Restore[0]);
		expect(restored).toMatchObject({
			status: 'warning',
			key: real.key,
			warnings: [expect.stringMatching(/^future-dated backup/)],
		});
		expect(describeTar(await volumeTar(docker.docker, `t${run}_futurecopy`))).toEqual(
			describeTar(await volumeTar(docker.docker, v)),
		);
		expect(json(outputs.List[0])).toEqual([
			expect.objectContaining({
				key: planted,
				futureDated: true,
				status: 'warning',
				summary: expect.stringMatching(/^future-dated backup/),
			}),
			expect.objectContaining({ key: real.key, futureDated: false }),
		]);
		await docker.docker.getVolume(`t${run}_futurecopy`).remove();
	});

	it('threat: planted future-dated backups fill the retention tiers and Prune deletes every real backup', async () => {
		const prefix = `futprune-${run}`;
		const volume = 'synthetic';
		const now = new Date();
		const put = async (key: string) => {
			await s3.send(new PutObjectCommand({ Bucket: bucket(), Key: key, Body: 'x' }));
			await s3.send(new PutObjectCommand({ Bucket: bucket(), Key: manifestKey(key), Body: '{}' }));
		};
		const real: string[] = [];
		for (let d = 0; d < 10; d++) {
			real.push(
				archiveKey(
					prefix,
					volume,
					new Date(now.getTime() - d * 86_400_000 - 60_000),
					'zstd',
					true,
					uniqueSuffix(),
				),
			);
			await put(real[d]);
		}
		const planted: string[] = [];
		for (let d = 0; d < 8; d++) {
			planted.push(archiveKey(prefix, volume, new Date(Date.UTC(2099, 0, 1 + d)), 'zstd', true));
			await put(planted[d]);
		}
		const { outputs, error } = await runWorkflow({
			workflow: workflow([
				{
					name: 'Prune',
					parameters: {
						operation: 'prune',
						prefix,
						volumes: volume,
						keepLast: 3,
						keepDaily: 3,
						keepWeekly: 0,
						keepMonthly: 0,
					},
				},
			]),
			nodeTypes,
			// no signing key (the synthetic manifests are unsigned): the date check alone must hold
			credentials: credentials({
				infraOpsBackupEncryption: { recipients: recipient, secretKey: '', passphrase: '' },
			}),
		});
		expect(error).toBeUndefined();
		const [finding] = json(outputs.Prune[0]);
		expect(finding).toMatchObject({
			status: 'warning',
			futureDated: [...planted].reverse(),
			signatureChecked: false,
			notes: [
				expect.stringMatching(
					/not signature-checked .* planted in the bucket cannot be told apart/,
				),
			],
		});
		expect(finding.summary).toMatch(
			/Deleted 7 backup\(s\) of synthetic, kept 3; future-dated backup: 8 object/,
		);
		expect((finding.kept as { key: string }[]).map((k) => k.key)).toEqual(real.slice(0, 3));
		const left = (await listAll(s3, bucket(), `${prefix}/`)).map((o) => o.key).sort();
		expect(left).toEqual(
			[...real.slice(0, 3), ...planted].flatMap((k) => [k, manifestKey(k)]).sort(),
		);
	});

	it('threat: planted past-dated complete backups take the keep-last places, so Prune deletes real backups for objects it did not write', async () => {
		const prefix = `pastprune-${run}`;
		const now = Date.now();
		const at = (hours: number) => new Date(now - hours * 3_600_000);
		// written before signing existed: unsigned, but not planted
		const old = await engineBackup(prefix, at(240), recipientsEncryption(), null);
		const real: Awaited<ReturnType<typeof engineBackup>>[] = [];
		for (const hours of [72, 48, 24]) real.push(await engineBackup(prefix, at(hours)));
		// what write access to the bucket alone gives: a fresh archive encrypted to the public recipient,
		// a real archive copied under a newer key with its manifest edited, and a made-up signature
		const fresh = await engineBackup(prefix, at(0.5), recipientsEncryption(), null);
		const copied = archiveKey(prefix, v, at(1), 'zstd', true, uniqueSuffix());
		await plant(real[2].key, copied, (m) => (m.createdAt = at(1).toISOString()));
		const forged = archiveKey(prefix, v, at(2), 'zstd', true, uniqueSuffix());
		await plant(
			real[2].key,
			forged,
			(m) => (m.signature = { ...m.signature!, value: randomBytes(32).toString('hex') }),
		);
		const objects = async () =>
			(await listAll(s3, bucket(), `${prefix}/`)).map((o) => o.key).sort();
		const before = await objects();
		const prune = (keepLast: number) =>
			runWorkflow({
				workflow: workflow([
					{
						name: 'Prune',
						parameters: {
							operation: 'prune',
							prefix,
							volumes: v,
							keepLast,
							keepDaily: 0,
							keepWeekly: 0,
							keepMonthly: 0,
						},
					},
				]),
				nodeTypes,
				credentials: credentials(),
			});

		const first = await prune(3);
		expect(first.error).toBeUndefined();
		const [finding] = json(first.outputs.Prune[0]);
		expect(finding).toMatchObject({
			status: 'warning',
			signatureChecked: true,
			deleted: [],
			hint: expect.stringMatching(/by hand .*"Allow Unsigned Backups"/),
		});
		expect((finding.kept as { key: string }[]).map((k) => k.key)).toEqual(
			real.map((r) => r.key).reverse(),
		);
		expect(finding.unsigned).toEqual([
			{ key: fresh.key, reason: 'no signature' },
			{ key: copied, reason: expect.stringMatching(/does not match the manifest/) },
			{ key: forged, reason: expect.stringMatching(/does not match the manifest/) },
			{ key: old.key, reason: 'no signature' },
		]);
		expect(finding.summary).toMatch(
			/^Deleted 0 backup\(s\) of .*, kept 3; 4 unsigned or forged backup, not counted, not deleted: /,
		);
		expect(await objects()).toEqual(before);

		// retention still applies to the signed ones: keeping 2 deletes the oldest real backup, nothing planted
		const second = await prune(2);
		const [pruned] = json(second.outputs.Prune[0]);
		expect((pruned.deleted as { key: string }[]).map((d) => d.key)).toEqual([real[0].key]);
		expect(await objects()).toEqual(
			before.filter((k) => k !== real[0].key && k !== manifestKey(real[0].key)),
		);
	});

	it('threat: a planted recent backup (encrypted to the public recipient) becomes "latest" for Verify and Restore', async () => {
		const prefix = `pastlatest-${run}`;
		const real = await engineBackup(prefix, new Date(Date.now() - 3_600_000));
		const planted = await engineBackup(
			prefix,
			new Date(Date.now() - 60_000),
			recipientsEncryption(),
			null,
		);
		const into = `t${run}_latestcopy`;
		const { outputs, error } = await runWorkflow({
			workflow: workflow([
				{
					name: 'Verify',
					parameters: { operation: 'verify', prefix, volumes: v, recordInManifest: false },
				},
				{
					name: 'Restore',
					parameters: { operation: 'restore', prefix, volume: v, targetVolume: into },
				},
				{ name: 'List', parameters: { operation: 'list', prefix, volumes: v } },
			]),
			nodeTypes,
			credentials: credentials(),
		});
		expect(error).toBeUndefined();
		expect(json(outputs.Verify[0])).toEqual([
			expect.objectContaining({
				status: 'ok',
				key: real.key,
				notes: [
					`newer unsigned or forged backup, not counted, not deleted: ${planted.key} (no signature)`,
				],
			}),
		]);
		expect(json(outputs.Restore[0])[0]).toMatchObject({
			status: 'warning',
			key: real.key,
			targetVolume: into,
		});
		expect(json(outputs.List[0])).toEqual([
			expect.objectContaining({ key: planted.key, signed: false }),
			expect.objectContaining({ key: real.key, signed: true }),
		]);
		await docker.docker.getVolume(into).remove();

		// given by key, the planted one is refused, unless unsigned backups are allowed
		const explicit = (allowUnsigned: boolean) =>
			runWorkflow({
				workflow: workflow([
					{
						name: 'Verify',
						parameters: {
							operation: 'verify',
							prefix,
							volumes: v,
							backupKey: planted.key,
							recordInManifest: false,
							allowUnsigned,
						},
					},
				]),
				nodeTypes,
				credentials: credentials(),
			});
		expect(json((await explicit(false)).outputs.Verify[0])).toEqual([
			expect.objectContaining({
				status: 'error',
				summary: expect.stringContaining(
					`Refusing backup ${planted.key}: its manifest is not signed`,
				),
			}),
		]);
		expect(json((await explicit(true)).outputs.Verify[0])).toEqual([
			expect.objectContaining({
				status: 'ok',
				key: planted.key,
				notes: [expect.stringMatching(/unsigned, accepted because "Allow Unsigned Backups" is on/)],
			}),
		]);
	});

	it('threat: a manifest edited in the bucket (stored SHA-256 changed), or a signed one replayed beside a newer key, passes as written by this n8n', async () => {
		const prefix = `edited-${run}`;
		const a = await engineBackup(prefix, new Date(Date.now() - 7_200_000));
		const b = await engineBackup(prefix, new Date(Date.now() - 3_600_000));
		const m = await readManifestJson(b.key);
		expect(checkSignature(m, b.key, signing())).toEqual({ state: true });
		expect(checkSignature({ ...m, volume: `t${run}_victim` }, b.key, signing()).state).toBe(
			'invalid',
		);
		// a stored SHA-256 of the attacker's choosing would let a swapped archive pass Verify
		const edited = {
			...m,
			stored: { ...m.stored, sha256: createHash('sha256').update('swapped').digest('hex') },
		};
		await s3.send(
			new PutObjectCommand({
				Bucket: bucket(),
				Key: manifestKey(b.key),
				Body: JSON.stringify(edited),
			}),
		);
		// an untouched signed pair copied to a newer key: the signed manifest names its own key
		const replay = archiveKey(
			prefix,
			v,
			new Date(Date.now() - 60_000),
			'zstd',
			true,
			uniqueSuffix(),
		);
		await s3.send(
			new PutObjectCommand({ Bucket: bucket(), Key: replay, Body: await getObject(a.key) }),
		);
		await s3.send(
			new PutObjectCommand({
				Bucket: bucket(),
				Key: manifestKey(replay),
				Body: await getObject(manifestKey(a.key)),
			}),
		);
		const { outputs, error } = await runWorkflow({
			workflow: workflow([
				{
					name: 'Verify',
					parameters: {
						operation: 'verify',
						prefix,
						volumes: v,
						backupKey: b.key,
						recordInManifest: false,
					},
				},
				{
					name: 'Latest',
					parameters: { operation: 'verify', prefix, volumes: v, recordInManifest: false },
				},
				{ name: 'List', parameters: { operation: 'list', prefix, volumes: v } },
			]),
			nodeTypes,
			credentials: credentials(),
		});
		expect(error).toBeUndefined();
		expect(json(outputs.Verify[0])).toEqual([
			expect.objectContaining({
				status: 'error',
				summary: expect.stringMatching(
					/Refusing backup .*: its manifest is signed, but the signature does not verify: the signature does not match the manifest/,
				),
			}),
		]);
		expect(json(outputs.Latest[0])).toEqual([
			expect.objectContaining({ status: 'ok', key: a.key }),
		]);
		expect(json(outputs.List[0])).toEqual([
			expect.objectContaining({
				key: replay,
				signed: 'invalid',
				signatureProblem: `the signed manifest belongs to ${a.key}`,
			}),
			expect.objectContaining({ key: b.key, signed: 'invalid' }),
			expect.objectContaining({ key: a.key, signed: true }),
		]);
	});

	it('threat: Verify recording its result in the manifest breaks the signature, and a real backup then counts as planted', async () => {
		const prefix = `verified-${run}`;
		const b = await engineBackup(prefix);
		const verify = (backupKey: string) =>
			runWorkflow({
				workflow: workflow([
					{
						name: 'Verify',
						parameters: {
							operation: 'verify',
							prefix,
							volumes: v,
							backupKey,
							recordInManifest: true,
						},
					},
				]),
				nodeTypes,
				credentials: credentials(),
			});
		expect(json((await verify('')).outputs.Verify[0])).toEqual([
			expect.objectContaining({ status: 'ok', key: b.key }),
		]);
		const m = await readManifestJson(b.key);
		expect(m.verified).toMatchObject({ ok: true });
		expect(checkSignature(m, b.key, signing())).toEqual({ state: true });
		expect(json((await verify(b.key)).outputs.Verify[0])).toEqual([
			expect.objectContaining({ status: 'ok', key: b.key }),
		]);
	});

	it('threat: the Manifest Signing Secret, or the key derived from it, reaches an output item or a manifest', async () => {
		const prefix = `sigleak-${run}`;
		const secret = randomBytes(32).toString('hex');
		const derived = signingKeyFrom({ signingSecret: secret }).key!;
		const { outputs, error } = await runWorkflow({
			workflow: workflow([
				{
					name: 'Backup',
					parameters: {
						operation: 'backup',
						prefix,
						selectBy: 'names',
						volumeNames: v,
						encryption: 'recipients',
						compression: 'zstd',
						stopContainers: 'never',
					},
				},
				{
					name: 'Prune',
					parameters: { operation: 'prune', prefix, volumes: '={{ $json.volume }}', keepLast: 1 },
				},
				{
					name: 'Verify',
					parameters: { operation: 'verify', prefix, volumes: v, recordInManifest: true },
				},
				{ name: 'List', parameters: { operation: 'list', prefix, volumes: v } },
			]),
			nodeTypes,
			credentials: credentials({
				infraOpsBackupEncryption: {
					recipients: recipient,
					secretKey: identity,
					passphrase: '',
					manifestSigningSecret: secret,
				},
			}),
		});
		expect(error).toBeUndefined();
		const [backup] = json(outputs.Backup[0]);
		expect(backup).toMatchObject({ status: 'ok' });
		expect(json(outputs.Prune[0])[0]).toMatchObject({
			status: 'ok',
			signatureChecked: true,
			unsigned: [],
		});
		expect(json(outputs.Verify[0])[0]).toMatchObject({ status: 'ok', key: backup.key });
		expect(json(outputs.List[0])).toEqual([
			expect.objectContaining({ key: backup.key, signed: true }),
		]);
		const manifestText = (await getObject(manifestKey(String(backup.key)))).toString();
		expect(JSON.parse(manifestText).signature).toEqual({
			alg: 'hmac-sha256',
			keyId: derived.keyId,
			value: expect.stringMatching(/^[0-9a-f]{64}$/),
		});
		for (const text of [JSON.stringify(outputs), manifestText]) {
			for (const key of [secret, derived.key.toString('hex'), derived.key.toString('base64')])
				expect(containsKeyFragment(text, key)).toBe(false);
		}
		// with a secret set, the identity plays no part in signing
		expect(
			checkSignature(JSON.parse(manifestText) as BackupManifest, String(backup.key), signing())
				.state,
		).toBe('invalid');
	});

	it('threat: two backups of one volume started in the same second overwrite each other', async () => {
		const prefix = `same-${run}`;
		const now = new Date('2026-12-04T02:00:00.000Z');
		const [a, b] = await Promise.all([engineBackup(prefix, now), engineBackup(prefix, now)]);
		expect(a.key).not.toBe(b.key);
		const stored = await listBackups(s3, bucket(), prefix, v);
		expect(stored.map((x) => x.key).sort()).toEqual([a.key, b.key].sort());
		expect(stored.every((x) => x.complete && x.at.getTime() === now.getTime())).toBe(true);
		for (const r of [a, b]) {
			expect((await readManifestJson(r.key)).key).toBe(r.key);
			const check = await verifyBackup(undefined, target(prefix), {
				volume: v,
				key: r.key,
				decryptKey: { kind: 'identity', identity },
				scratchRestore: false,
				recordInManifest: false,
			});
			expect(check).toMatchObject({ ok: true, problems: [] });
		}
	});

	it('threat: an upload or a manifest write replaces an object already at its key (PutObject and multipart)', async () => {
		const prefix = `noclobber-${run}`;
		const original = Buffer.from('the object that was here first');
		const small = `${prefix}/small.bin`;
		const big = `${prefix}/big.bin`;
		const json1 = `${prefix}/m.json`;
		for (const key of [small, big, json1])
			await s3.send(new PutObjectCommand({ Bucket: bucket(), Key: key, Body: original }));
		await expect(
			uploadStream(s3, bucket(), small, Readable.from([randomBytes(1000)]), DEFAULT_UPLOAD),
		).rejects.toThrow(/already exists in the bucket: refusing to replace it/);
		// 12 MiB in 5 MiB parts: three parts, then CompleteMultipartUpload is refused (s3rver cannot abort uploads: no retries)
		const multipart = uploadStream(s3, bucket(), big, Readable.from([randomBytes(12 * 2 ** 20)]), {
			...DEFAULT_UPLOAD,
			partSizeBytes: 5 * 2 ** 20,
			abortRetryMs: 0,
		});
		await expect(multipart).rejects.toThrow(
			/^noclobber-.*big\.bin already exists in the bucket: refusing to replace it \(multipart upload/,
		);
		await expect(
			putJson(s3, bucket(), json1, { planted: false }, { createOnly: true }),
		).rejects.toThrow(/already exists/);
		for (const key of [small, big, json1]) expect(await getObject(key)).toEqual(original);
	});
});

describe('fault injection: the manifest write fails after the archive is stored (s3rver)', () => {
	it('a host path backup, like a volume backup, deletes its archive and names the step when the manifest cannot be written', async () => {
		// s3rver keeps an object as files named `<last key segment>._S3rver_<what>`, and a file name has at
		// most 255 bytes (NAME_MAX). The manifest's key is the archive's plus ".manifest.json" (14 bytes): with
		// the archive's last segment 230 bytes long, its own files fit (longest suffix "._S3rver_metadata.json",
		// 22) and every request on the manifest key fails (ENAMETOOLONG, a 500), after the archive is stored.
		const archiveName = (name: string) =>
			archiveKey('', name, new Date(), 'none', true, 'deadbeef').slice(name.length + 1);
		const fill = 230 - archiveName('').length;
		const name = `m${run}`.padEnd(fill, 'x');
		expect(archiveName(name).length).toBe(230);
		expect(archiveName(name).length + '._S3rver_metadata.json'.length).toBeLessThanOrEqual(255);
		expect(manifestKey(archiveName(name)).length + '._S3rver_object'.length).toBeGreaterThan(255);
		await makeVolume(name, 'printf kept > /v/a.txt');
		const { ssh } = services();
		const base = mkdtempSync(join(tmpdir(), 'iops-manifestfail-'));
		const stack = join(base, 'stack');
		execFileSync('sh', ['-c', `mkdir -p '${stack}' && printf 'A=1\n' > '${stack}/.env'`]);
		const prefix = `mf-${run}`;
		try {
			const { outputs, error } = await runWorkflow({
				workflow: workflow([
					{
						name: 'Backup',
						parameters: {
							operation: 'backup',
							prefix,
							selectBy: 'names',
							volumeNames: name,
							encryption: 'recipients',
							compression: 'none',
							stopContainers: 'never',
							hostPathsEnabled: true,
							hostPathsName: name,
							hostPaths: stack,
						},
					},
				]),
				nodeTypes,
				credentials: credentials({
					infraOpsSshApi: {
						host: ssh.host,
						port: ssh.port,
						username: ssh.username,
						authentication: 'privateKey',
						privateKey: ssh.privateKey,
						hostKeyFingerprint: ssh.hostKeyFingerprint,
					},
				}),
			});
			expect(error).toBeUndefined();
			const findings = json(outputs.Backup[0]);
			expect(findings.map((f) => [f.target, f.status, f.failedStep])).toEqual([
				[name, 'error', 'write manifest'],
				[name, 'error', 'write manifest'],
			]);
			for (const f of findings) expect(f.summary).toMatch(/ failed: write manifest failed: /);
			// neither archive is left without its manifest (the host path one was, before issue 16)
			expect(await listAll(s3, services().s3.bucket, `${prefix}/`)).toEqual([]);
		} finally {
			rmSync(base, { recursive: true, force: true });
			await docker.docker
				.getVolume(name)
				.remove()
				.catch(() => undefined);
		}
	});
});

describe('fault injection: the S3 server dies mid-upload (fauxqs, which implements AbortMultipartUpload)', () => {
	let fq: FauxqsHandle;
	afterAll(async () => fq?.stop());

	it('errors with the failed step, aborts the multipart upload once the server is back, restarts the container, prunes nothing', async () => {
		fq = await startFauxqs({ bucket: 'faults' });
		const v = `t${run}_big`;
		await makeVolume(v, 'head -c 48000000 /dev/urandom > /v/big.bin');
		const user = await docker.docker.createContainer({
			name: `biguser-${run}`,
			Image: services().docker.image,
			Cmd: SLEEPER,
			HostConfig: { Binds: [`${v}:/data`], NetworkMode: 'none' },
		});
		await user.start();
		try {
			const creds = credentials({
				infraOpsS3Api: {
					...s3Credential(fq.endpoint, 'faults'),
					accessKeyId: 'test',
					secretAccessKey: 'test',
				},
			});
			// kill the server once the first parts arrived; bring it back 1.5 s later on the same port and data
			const killer = (async () => {
				await fq.waitForMultipart(30_000);
				await fq.kill();
				await new Promise((r) => setTimeout(r, 1_500));
				await fq.restart();
			})();
			const { outputs } = await runWorkflow({
				workflow: workflow([
					{
						name: 'Backup',
						parameters: {
							operation: 'backup',
							prefix: 'f',
							selectBy: 'names',
							volumeNames: v,
							encryption: 'recipients',
							compression: 'none',
							stopContainers: 'all',
							options: { partSizeMiB: 5 },
						},
					},
					{ name: 'Prune', parameters: { operation: 'prune', prefix: 'f', keepLast: 1 } },
				]),
				nodeTypes,
				credentials: creds,
			});
			await killer;
			const [finding] = json(outputs.Backup[0]);
			expect(finding).toMatchObject({
				status: 'error',
				failedStep: 'upload',
				multipartUploadAborted: true,
			});
			expect(finding.summary).toMatch(/aborted, no parts left/);
			expect(fq.pendingMultipartUploads()).toEqual([]);
			expect((await user.inspect()).State.Running).toBe(true);
			expect(json(outputs.Prune[0])[0]).toMatchObject({ skipped: true });
			const client = createS3Client({
				...s3Credential(fq.endpoint, 'faults'),
				accessKeyId: 'test',
				secretAccessKey: 'test',
			} as never);
			try {
				expect(await listAll(client, 'faults', 'f/')).toEqual([]);
			} finally {
				client.destroy();
			}
		} finally {
			await user.remove({ force: true });
		}
	});
});

/**
 * The backup runs in a child process so its RSS is its own (jest's is not). The child loads the
 * TypeScript sources through `typescript.transpileModule`, so it measures the RSS growth from just
 * before the backup to its peak (sampled every 5 ms), not the absolute figure; the absolute
 * `peak RSS <= 200 MiB, flat from 1 GiB to 4 GiB` of the issue is measured on dist/ by
 * `npm run bench -- backup` (rss_1g_mib, rss_4g_mib).
 */
const RSS_CHILD = `
const fs = require('node:fs');
const ts = require('typescript');
require.extensions['.ts'] = (module, filename) => {
	const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
	module._compile(out.outputText, filename);
};
const a = JSON.parse(process.argv[1]);
const { backupVolume } = require(a.root + '/nodes/DockerVolumeBackup/backup.ts');
const { createS3Client } = require(a.root + '/nodes/shared/s3.ts');
const { parseRecipient } = require(a.root + '/nodes/shared/ageKeys.ts');
require('@aws-sdk/client-s3');
const Docker = require('dockerode');
(async () => {
	const docker = new Docker({ socketPath: a.socketPath, timeout: 300000 });
	const s3 = createS3Client(a.s3);
	const r = parseRecipient(a.recipient);
	global.gc();
	const before = process.memoryUsage.rss();
	let peak = before;
	const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 5);
	const res = await backupVolume(docker, { s3, bucket: a.s3.bucket, prefix: a.prefix }, { name: a.volume, driver: 'local', labels: {} }, {
		compression: 'zstd', encryption: { kind: 'recipients', publicKeys: [r.publicKey], fingerprints: [r.fingerprint] }, stopMode: 'never', hooksBefore: [], hooksAfter: [],
	});
	clearInterval(timer);
	peak = Math.max(peak, process.memoryUsage.rss());
	s3.destroy();
	process.stdout.write(JSON.stringify({ beforeMiB: before / 2 ** 20, growthMiB: (peak - before) / 2 ** 20, tarBytes: res.manifest.tar.bytes, storedBytes: res.manifest.stored.bytes }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

describe('memory bound', () => {
	it('backs up a 1 GiB volume (128 MiB random, the rest text: 16+ parts) with RSS growing by at most 128 MiB', async () => {
		const v = `t${run}_1g`;
		// 128 MiB random and 14 copies of a 64 MiB log (cp, not 14 × `yes | head`: 4 s instead of 12 s);
		// dockerd's tar of the 1 GiB is the slow part, and little of it reaches s3rver
		await makeVolume(
			v,
			'set -e; head -c 134217728 /dev/urandom > /v/r.bin; yes "2026-11-27T02:00:00Z INFO request served path=/api/v1/chat user=42 latency_ms=17" | head -c 67108864 > /v/t0.log; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13; do cp /v/t0.log /v/t$i.log; done',
		);
		try {
			const args = {
				root: join(__dirname, '../..'),
				socketPath: services().docker.socketPath,
				s3: s3Credential(),
				recipient,
				volume: v,
				prefix: `mem-${run}`,
			};
			const { spawn } = await import('node:child_process');
			const child = spawn(
				process.execPath,
				['--expose-gc', '-e', RSS_CHILD, JSON.stringify(args)],
				{ cwd: join(__dirname, '../..'), stdio: ['ignore', 'pipe', 'pipe'] },
			);
			let stdout = '';
			let stderr = '';
			child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
			child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
			const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
			if (code !== 0) throw new Error(`backup child exited ${code}: ${stderr}`);
			const result = JSON.parse(stdout) as {
				beforeMiB: number;
				growthMiB: number;
				tarBytes: number;
				storedBytes: number;
			};
			expect(result.tarBytes).toBeGreaterThan(2 ** 30);
			// the upload went out in parts through the pool: 128 MiB random is 16 parts of 8 MiB
			expect(result.storedBytes).toBeGreaterThan(128 * 2 ** 20);
			// budget: 3 part buffers of 8 MiB, the streams' high-water marks (~1 MiB each), zstd's context,
			// and the garbage buffers V8 lets accumulate (about 64 MiB of external memory) before a GC
			expect(result.growthMiB).toBeLessThanOrEqual(128);
		} finally {
			await docker.docker
				.getVolume(v)
				.remove()
				.catch(() => undefined);
		}
	}, 120_000);
});
