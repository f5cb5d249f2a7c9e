/**
 * Restore against inputs the restore code did not make: an archive planted in the bucket with a
 * matching manifest (anyone with write access to it can do that), and a volume whose users run an
 * image with a non-root USER. Real dockerd, s3rver, sshd, age and zstd.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { INodeExecutionData } from 'n8n-workflow';

import { DockerVolumeBackup } from '../../nodes/DockerVolumeBackup/DockerVolumeBackup.node';
import {
	archiveKey,
	manifestKey,
	uniqueSuffix,
	type BackupManifest,
} from '../../nodes/DockerVolumeBackup/manifest';
import { TarScanner, type TarStats } from '../../nodes/DockerVolumeBackup/tarScan';
import { createDockerClient, type DockerClient } from '../../nodes/shared/docker';
import { identityToRecipient } from '../../nodes/shared/ageKeys';
import { createS3Client } from '../../nodes/shared/s3';
import { services } from '../harness/services';
import { runWorkflow, type WorkflowJson } from '../support/workflowRunner';

jest.setTimeout(180_000);

const NODE_TYPE = 'n8n-nodes-infra-ops.dockerVolumeBackup';
const nodeTypes = { [NODE_TYPE]: new DockerVolumeBackup() };
const run = randomBytes(3).toString('hex');
const SLEEPER = ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'];
const json = (items: INodeExecutionData[]) => items.map((i) => i.json as Record<string, unknown>);

let dir: string;
let identity: string;
let recipient: string;
let docker: DockerClient;
let s3: S3Client;

function s3Credential() {
	const { s3: info } = services();
	return {
		provider: 'other',
		endpoint: info.endpoint,
		region: info.region,
		bucket: info.bucket,
		accessKeyId: info.accessKeyId,
		secretAccessKey: info.secretAccessKey,
		forcePathStyle: true,
	};
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

function credentials() {
	return {
		infraOpsS3Api: s3Credential(),
		infraOpsDockerApi: { connection: 'socket', socketPath: services().docker.socketPath },
		infraOpsBackupEncryption: { recipients: recipient, secretKey: identity, passphrase: '' },
		infraOpsSshApi: sshCredential(),
	};
}

function workflow(name: string, parameters: Record<string, unknown>): WorkflowJson {
	return {
		nodes: [
			{
				id: 's',
				name: 'Start',
				type: 'test.start',
				typeVersion: 1,
				position: [0, 0],
				parameters: {},
			},
			{
				id: 'n',
				name,
				type: NODE_TYPE,
				typeVersion: 1,
				position: [220, 0],
				parameters,
				continueOnFail: true,
				credentials: {
					infraOpsS3Api: { id: '1', name: 's3' },
					infraOpsDockerApi: { id: '2', name: 'docker' },
					infraOpsBackupEncryption: { id: '3', name: 'age' },
					infraOpsSshApi: { id: '4', name: 'ssh' },
				},
			},
		] as never,
		connections: { Start: { main: [[{ node: name, type: 'main' as never, index: 0 }]] } },
		settings: { executionOrder: 'v1' },
	};
}

async function makeVolume(name: string, script: string): Promise<void> {
	await docker.docker.createVolume({ Name: name });
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

async function volumeListing(name: string): Promise<string> {
	const reader = await docker.docker.createContainer({
		Image: services().docker.image,
		Cmd: ['true'],
		HostConfig: { Binds: [`${name}:/src:ro`], NetworkMode: 'none' },
	});
	try {
		const stream = (await reader.getArchive({ path: '/src/.' })) as unknown as Readable;
		const chunks: Buffer[] = [];
		for await (const c of stream) chunks.push(c as Buffer);
		const tar = Buffer.concat(chunks);
		const listing = execFileSync('tar', ['-tvf', '-', '--numeric-owner', '--full-time'], {
			input: tar,
		}).toString();
		const content = createHash('sha256')
			.update(execFileSync('tar', ['-xOf', '-'], { input: tar, maxBuffer: 1 << 28 }))
			.digest('hex');
		return `${listing
			.split('\n')
			.filter((l) => !/ \.\/$/.test(l))
			.join('\n')}\n${content}`;
	} finally {
		await reader.remove();
	}
}

async function getObject(key: string): Promise<Buffer> {
	const out = await s3.send(new GetObjectCommand({ Bucket: services().s3.bucket, Key: key }));
	return Buffer.from(await out.Body!.transformToByteArray());
}

async function tarStats(tar: Buffer): Promise<TarStats> {
	const scanner = new TarScanner();
	scanner.resume();
	await new Promise<void>((resolve, reject) => {
		scanner.on('finish', resolve).on('error', reject);
		scanner.end(tar);
	});
	return scanner.stats!;
}

/** What someone with write access to the bucket can do: a tar of their own, zstd + age to the public recipient, with a manifest that matches it. */
async function plant(fromKey: string, prefix: string, name: string, tar: Buffer): Promise<string> {
	const manifest = JSON.parse((await getObject(manifestKey(fromKey))).toString()) as BackupManifest;
	const stored = execFileSync('sh', ['-c', `zstd -q -c | age -r ${recipient}`], { input: tar });
	const stats = await tarStats(tar);
	const key = archiveKey(prefix, name, new Date(Date.now() + 1000), 'zstd', true, uniqueSuffix());
	manifest.key = key;
	manifest.tar = {
		sha256: stats.sha256,
		bytes: stats.tarBytes,
		entries: stats.entries,
		files: stats.files,
		fileBytes: stats.fileBytes,
		treeSha256: stats.treeSha256,
	};
	manifest.stored = {
		sha256: createHash('sha256').update(stored).digest('hex'),
		bytes: stored.length,
	};
	await s3.send(new PutObjectCommand({ Bucket: services().s3.bucket, Key: key, Body: stored }));
	await s3.send(
		new PutObjectCommand({
			Bucket: services().s3.bucket,
			Key: manifestKey(key),
			Body: JSON.stringify(manifest),
		}),
	);
	return key;
}

/** Backs up one volume as the Backup operation does (age recipients, zstd) and expects it ok. */
async function backupOk(prefix: string, volume: string): Promise<void> {
	const backup = await runWorkflow({
		workflow: workflow('Backup', {
			operation: 'backup',
			prefix,
			selectBy: 'names',
			volumeNames: volume,
			encryption: 'recipients',
			compression: 'zstd',
			stopContainers: 'never',
		}),
		nodeTypes,
		credentials: credentials(),
	});
	expect(json(backup.outputs.Backup[0])[0].status).toBe('ok');
}

/** A tar built by Python's tarfile, which writes whatever it is told (device nodes, modes, owners). */
function pythonTar(script: string): Buffer {
	return execFileSync('python3', [
		'-c',
		`import io, sys, tarfile\nbuf = io.BytesIO()\nt = tarfile.open(fileobj=buf, mode='w', format=tarfile.PAX_FORMAT)\ndef add(name, type, mode, data=b'', **kw):\n    i = tarfile.TarInfo(name); i.type = type; i.mode = mode; i.size = len(data)\n    for k, v in kw.items(): setattr(i, k, v)\n    t.addfile(i, io.BytesIO(data) if data else None)\n${script}\nt.close()\nsys.stdout.buffer.write(buf.getvalue())\n`,
	]);
}

beforeAll(async () => {
	dir = mkdtempSync(join(tmpdir(), 'dvb-hostile-'));
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

describe('restore against inputs it did not make', () => {
	it('threat: Replace over a volume whose users run an image with a non-root USER fails or leaves the old content behind', async () => {
		const prefix = `user-${run}`;
		const src = `t${run}_usersrc`;
		await makeVolume(src, 'set -e; echo new > /v/new.txt; mkdir /v/d; echo n > /v/d/f');
		await backupOk(prefix, src);
		// an application image that runs as an unprivileged user, as most do (node, grafana, ...)
		const base = await docker.docker.createContainer({
			Image: services().docker.image,
			Cmd: ['true'],
		});
		const appImage = `app-user-${run}`;
		await base.commit({ repo: appImage, tag: 'latest', changes: ['USER 1000:1000'] } as never);
		await base.remove();
		const live = `t${run}_userlive`;
		// root-owned, as Docker creates it, with a folder of the application's user inside
		await makeVolume(
			live,
			'set -e; echo old > /v/old.txt; mkdir /v/appdata; echo a > /v/appdata/a; chown -R 1000:1000 /v/appdata',
		);
		const user = await docker.docker.createContainer({
			name: `app-${run}`,
			Image: `${appImage}:latest`,
			Cmd: SLEEPER,
			HostConfig: { Binds: [`${live}:/data`], NetworkMode: 'none' },
		});
		await user.start();
		try {
			const result = await runWorkflow({
				workflow: workflow('Restore', {
					operation: 'restore',
					prefix,
					volume: src,
					targetVolume: live,
					replace: true,
				}),
				nodeTypes,
				credentials: credentials(),
			});
			expect(json(result.outputs.Restore[0])[0]).toMatchObject({ status: 'ok', replaced: true });
			expect(await volumeListing(live)).toEqual(await volumeListing(src));
			expect((await user.inspect()).State.Running).toBe(true);
		} finally {
			await user.remove({ force: true });
			await docker.docker.getImage(`${appImage}:latest`).remove({ force: true });
		}
	});

	it('threat: Replace of a volume larger than a few MiB hangs in its copy step until the Docker API time-out, and never restores', async () => {
		const prefix = `big-${run}`;
		const src = `t${run}_bigsrc`;
		await makeVolume(
			src,
			'set -e; head -c 24000000 /dev/urandom > /v/big.bin; echo small > /v/small.txt',
		);
		await backupOk(prefix, src);
		const live = `t${run}_biglive`;
		await makeVolume(live, 'echo old > /v/old.txt');
		const user = await docker.docker.createContainer({
			name: `big-${run}`,
			Image: services().docker.image,
			Cmd: SLEEPER,
			HostConfig: { Binds: [`${live}:/data`], NetworkMode: 'none' },
		});
		await user.start();
		try {
			const result = await runWorkflow({
				workflow: workflow('Restore', {
					operation: 'restore',
					prefix,
					volume: src,
					targetVolume: live,
					replace: true,
				}),
				nodeTypes,
				credentials: credentials(),
			});
			expect(json(result.outputs.Restore[0])[0]).toMatchObject({ status: 'ok', replaced: true });
			expect(await volumeListing(live)).toEqual(await volumeListing(src));
			expect((await user.inspect()).State.Running).toBe(true);
		} finally {
			await user.remove({ force: true });
		}
	});

	it('threat: Replace refuses to restore (or to replace) a volume with a file name holding a newline at its root', async () => {
		const prefix = `nl-${run}`;
		const src = `t${run}_nlsrc`;
		await makeVolume(
			src,
			"set -e; printf new > '/v/new\nline'; printf dash > '/v/-rf'; echo n > /v/plain",
		);
		await backupOk(prefix, src);
		const live = `t${run}_nllive`;
		await makeVolume(live, "set -e; printf old > '/v/old\nline'; echo o > /v/old.txt");
		const result = await runWorkflow({
			workflow: workflow('Restore', {
				operation: 'restore',
				prefix,
				volume: src,
				targetVolume: live,
				replace: true,
			}),
			nodeTypes,
			credentials: credentials(),
		});
		expect(json(result.outputs.Restore[0])[0]).toMatchObject({ status: 'ok', replaced: true });
		expect(await volumeListing(live)).toEqual(await volumeListing(src));
	});

	it('threat: a restore into a new volume gives a database volume a root owned by root with mode 755 (not the 700 999:999 it had)', async () => {
		const prefix = `root-${run}`;
		const src = `t${run}_rootsrc`;
		await makeVolume(src, 'set -e; echo 16 > /v/PG_VERSION; chown -R 999:999 /v; chmod 0700 /v');
		await backupOk(prefix, src);
		const fresh = `t${run}_rootnew`;
		const result = await runWorkflow({
			workflow: workflow('Restore', {
				operation: 'restore',
				prefix,
				volume: src,
				targetVolume: fresh,
				replace: false,
			}),
			nodeTypes,
			credentials: credentials(),
		});
		expect(json(result.outputs.Restore[0])[0]).toMatchObject({ status: 'ok', created: true });
		const root = (name: string) =>
			docker.docker
				.getVolume(name)
				.inspect()
				.then((v) => execFileSync('stat', ['-c', '%a %u:%g', v.Mountpoint]).toString().trim());
		expect(await root(fresh)).toBe('700 999:999');
	});

	it('threat: every restore interrupted by a crash (n8n killed mid-restore) leaves a full-size staging volume behind for good', async () => {
		const prefix = `stale-${run}`;
		const src = `t${run}_stalesrc`;
		await makeVolume(src, 'echo new > /v/new.txt');
		await backupOk(prefix, src);
		const live = `t${run}_stalelive`;
		await makeVolume(live, 'echo old > /v/old.txt');
		// what a run killed between staging and swap leaves: a staging volume labelled for its target, and one of another target
		const left = `infra-ops-staging-left${run}`;
		await docker.docker.createVolume({ Name: left, Labels: { 'infra-ops.backup.staging': live } });
		const other = `infra-ops-staging-other${run}`;
		await docker.docker.createVolume({
			Name: other,
			Labels: { 'infra-ops.backup.staging': `${live}-other` },
		});
		try {
			const result = await runWorkflow({
				workflow: workflow('Restore', {
					operation: 'restore',
					prefix,
					volume: src,
					targetVolume: live,
					replace: true,
				}),
				nodeTypes,
				credentials: credentials(),
			});
			const [item] = json(result.outputs.Restore[0]);
			expect(item).toMatchObject({
				status: 'warning',
				replaced: true,
				summary: expect.stringContaining(
					`removed ${left}, the staging volume of an interrupted restore`,
				),
			});
			const names = (await docker.docker.listVolumes()).Volumes.map((v) => v.Name);
			expect(names).not.toContain(left);
			expect(names).toContain(other);
		} finally {
			await docker.docker
				.getVolume(other)
				.remove()
				.catch(() => undefined);
			await docker.docker
				.getVolume(left)
				.remove()
				.catch(() => undefined);
		}
	});

	it('threat: a planted host path backup puts world-writable device nodes onto the host without a word', async () => {
		const name = `dev-${run}`;
		const prefix = `dev-${run}`;
		const base = mkdtempSync(join(tmpdir(), 'iops-dev-'));
		try {
			const stack = join(base, 'stack');
			execFileSync('sh', ['-c', `mkdir -p '${stack}' && echo conf > '${stack}/app.conf'`]);
			const backup = await runWorkflow({
				workflow: workflow('Backup', {
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
				}),
				nodeTypes,
				credentials: credentials(),
			});
			const real = json(backup.outputs.Backup[0]).find((f) => f.target === name)!;
			expect(real.status).toBe('ok');
			const hostile = pythonTar(
				[
					"add('./', tarfile.DIRTYPE, 0o755)",
					"add('opt/', tarfile.DIRTYPE, 0o755)",
					"add('opt/disk', tarfile.BLKTYPE, 0o666, devmajor=7, devminor=0)",
					"add('opt/mem', tarfile.CHRTYPE, 0o666, devmajor=1, devminor=1)",
					"add('opt/app.conf', tarfile.REGTYPE, 0o644, b'conf\\n')",
				].join('\n'),
			);
			const planted = await plant(real.key as string, prefix, name, hostile);
			const into = join(base, 'restored');
			// a signed manifest keeps a planted backup from being "latest"; here the operator chose it and allowed
			// unsigned backups (e.g. ones from before signing), and the unpacking itself must still plant no device
			const restore = await runWorkflow({
				workflow: workflow('Restore', {
					operation: 'restore',
					prefix,
					volume: name,
					backupKey: planted,
					allowUnsigned: true,
					hostPathsEnabled: true,
					hostFolder: into,
				}),
				nodeTypes,
				credentials: credentials(),
			});
			const [finding] = json(restore.outputs.Restore[0]);
			const devices = execFileSync('sh', [
				'-c',
				`find '${base}' \\( -type b -o -type c \\) -printf '%M %p\\n'`,
			])
				.toString()
				.trim();
			expect(devices).toBe('');
			expect(finding).toMatchObject({
				status: 'warning',
				devicesRemoved: [join(into, 'opt/disk'), join(into, 'opt/mem')],
			});
			expect(finding.summary).toMatch(/2 device node\(s\) in the backup were not restored/);
			// everything else of the archive is there, and no staging folder is left beside it
			expect(readFileSync(join(into, 'opt/app.conf'), 'utf8')).toBe('conf\n');
			expect(execFileSync('ls', ['-A', base]).toString().trim().split('\n').sort()).toEqual([
				'restored',
				'stack',
			]);
		} finally {
			rmSync(base, { recursive: true, force: true });
		}
	});
});
