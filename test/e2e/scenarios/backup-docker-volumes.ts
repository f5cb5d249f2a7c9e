/**
 * workflows/backup-docker-volumes.json: backs up a real Docker volume (harness dockerd) and a host folder
 * (over the harness sshd) to the S3 bucket; the objects must decrypt with the credential's age identity and
 * unpack to what was written. Then the host folder disappears: the failed backup must alert on Slack and email.
 * Variant `restic` (Settings' engine = restic, test/e2e/resticVariant.ts): the volume gets a snapshot in the
 * repository, a second run of the unchanged volume adds next to nothing, and a wrong repository password
 * is alerted without the password in any alert or execution data.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';

import { createDockerClient } from '../../../nodes/shared/docker';
import { createS3Client } from '../../../nodes/shared/s3';
import type { Services } from '../../harness/services';
import { resticSnapshots } from '../../../nodes/DockerVolumeBackup/resticRestore';
import { resticRepo, RESTIC_TYPE, type ResticRepo } from '../resticVariant';
import type { RunContext, Scenario, ScenarioVariant } from '../scenario';

const run = randomBytes(3).toString('hex');
const volume = `e2e${run}_data`;
const hostPathsName = 'traefik-stack';
let stackDir = '';

async function writeVolume(services: Services, volume: string): Promise<void> {
	const docker = await createDockerClient({
		kind: 'socket',
		socketPath: services.docker.socketPath,
	});
	try {
		await docker.docker.createVolume({ Name: volume });
		const writer = await docker.docker.createContainer({
			Image: services.docker.image,
			Cmd: [
				'sh',
				'-c',
				'set -e; mkdir -p /v/pg; printf "CREATE TABLE t();" > /v/pg/dump.sql; printf "%s" e2e > /v/marker',
			],
			HostConfig: { Binds: [`${volume}:/v`], NetworkMode: 'none' },
		});
		await writer.start();
		const { StatusCode } = (await writer.wait()) as { StatusCode: number };
		await writer.remove();
		if (StatusCode !== 0) throw new Error(`writing volume ${volume} exited ${StatusCode}`);
	} finally {
		docker.close();
	}
}

/** Fetches a backup object, decrypts it with `age`, decompresses it with the Debian tool, and lists the tar. */
async function listBackup(ctx: RunContext, key: string, compression: string): Promise<string[]> {
	const { s3 } = ctx.services;
	const client = createS3Client({
		provider: 'other',
		endpoint: s3.endpoint,
		region: s3.region,
		bucket: s3.bucket,
		accessKeyId: s3.accessKeyId,
		secretAccessKey: s3.secretAccessKey,
		forcePathStyle: true,
	} as never);
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-backup-'));
	try {
		const out = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
		fs.writeFileSync(path.join(dir, 'b.age'), Buffer.from(await out.Body!.transformToByteArray()));
		fs.writeFileSync(
			path.join(dir, 'key.txt'),
			String(ctx.credential('infraOpsBackupEncryption').secretKey),
			{ mode: 0o600 },
		);
		const decompress = { zstd: 'zstd -d', gzip: 'gzip -d', none: 'cat' }[compression];
		if (!decompress) throw new Error(`unexpected compression ${compression}`);
		const tar = execFileSync('sh', ['-c', `age -d -i key.txt b.age | ${decompress}`], {
			cwd: dir,
			maxBuffer: 1 << 26,
		});
		return execFileSync('tar', ['-tf', '-'], { input: tar }).toString().trim().split('\n');
	} finally {
		client.destroy();
		fs.rmSync(dir, { recursive: true, force: true });
	}
}

async function removeVolume(services: Services, name: string): Promise<void> {
	const docker = await createDockerClient({
		kind: 'socket',
		socketPath: services.docker.socketPath,
	});
	await docker.docker
		.getVolume(name)
		.remove()
		.catch(() => undefined);
	docker.close();
}

const resticVolume = `e2er${run}_data`;
let restic: ResticRepo | undefined;
let resticDir = '';

const resticVariant: ScenarioVariant = {
	name: 'restic',
	async prepare({ services }) {
		await writeVolume(services, resticVolume);
		resticDir = path.join(services.ssh.dataDir, `e2e-restic-stack-${run}`);
		fs.mkdirSync(resticDir, { recursive: true });
		fs.writeFileSync(path.join(resticDir, 'traefik.yml'), 'entryPoints: {}\n');
		restic = await resticRepo(services, `e2e-restic-${run}`, {
			volumePrefix: `e2er${run}_`,
			hostPaths: resticDir,
			slackChannel: '#e2e-restic',
		});
		const frontCleanup = restic.prepared.cleanup;
		return {
			...restic.prepared,
			cleanup: async () => {
				await frontCleanup?.();
				fs.rmSync(resticDir, { recursive: true, force: true });
				await removeVolume(services, resticVolume);
			},
		};
	},

	async run(ctx) {
		const repo = restic!;
		const { slack, smtp } = ctx.sinks;
		const slackSeen = slack.messages.length;
		const mailSeen = smtp.messages.length;
		const first = await ctx.runWebhook({ timeoutMs: 180_000 });
		expect({ status: first.status, error: first.data?.resultData.error }).toEqual({
			status: 'success',
			error: undefined,
		});
		const [made, host] = ctx.outputOf(first, 'Back Up Volumes');
		expect([made, host]).toEqual([
			expect.objectContaining({ target: resticVolume, status: 'ok', engine: 'restic' }),
			expect.objectContaining({ target: hostPathsName, status: 'ok', engine: 'restic' }),
		]);
		expect(ctx.outputOf(first, 'Prune Old Backups')).toEqual([
			expect.objectContaining({ target: resticVolume, status: 'ok', engine: 'restic' }),
			expect.objectContaining({ target: hostPathsName, status: 'ok', engine: 'restic' }),
		]);

		// unchanged volume: every file unmodified, next to nothing added to the repository
		const second = await ctx.runWebhook({ timeoutMs: 180_000 });
		const [again] = ctx.outputOf(second, 'Back Up Volumes');
		expect(again).toEqual(
			expect.objectContaining({
				target: resticVolume,
				status: 'ok',
				filesNew: 0,
				filesChanged: 0,
				filesUnmodified: made.totalFiles,
			}),
		);
		expect(Number(made.totalFiles)).toBeGreaterThanOrEqual(2);
		expect(Number(again.dataAdded)).toBeLessThan(4096);
		// restic's own listing of the repository: both snapshots of the volume
		const snapshots = await repo.withSetup((setup) => resticSnapshots(setup, resticVolume));
		expect(snapshots.map((s) => s.shortId).sort()).toEqual(
			[String(made.snapshotId), String(again.snapshotId)].sort(),
		);
		expect(slack.messages.length).toBe(slackSeen);
		expect(smtp.messages.length).toBe(mailSeen);

		// the credential's password is wrong: an error finding, alerted on both channels, the password nowhere
		const listed = await ctx.api<{ data: { id: string; type: string; name: string }[] }>(
			'GET',
			'/credentials?limit=250',
		);
		const credential = listed.data.find(
			(c) => c.type === RESTIC_TYPE && c.name.includes(path.basename(ctx.file)),
		);
		if (!credential) throw new Error('n8n holds no Restic Repository credential of this variant');
		const original = ctx.credential(RESTIC_TYPE);
		const wrong = `wrong-${randomBytes(12).toString('hex')}`;
		await ctx.api('PATCH', `/credentials/${credential.id}`, {
			data: { ...original, password: wrong },
		});
		let bad;
		try {
			bad = await ctx.runWebhook({ timeoutMs: 180_000 });
		} finally {
			await ctx.api('PATCH', `/credentials/${credential.id}`, { data: original });
		}
		const [refused] = ctx.outputOf(bad, 'Back Up Volumes');
		expect(refused).toEqual(
			expect.objectContaining({
				target: resticVolume,
				status: expect.stringMatching(/^(error|critical)$/),
			}),
		);
		const posted = slack.messages.slice(slackSeen).filter((m) => m.text.includes(resticVolume));
		const mails = smtp.messages.slice(mailSeen).filter((m) => m.subject.includes(resticVolume));
		expect(posted).toEqual([expect.objectContaining({ channel: '#e2e-restic' })]);
		expect(mails).toEqual([
			expect.objectContaining({
				to: ['oncall@example.com'],
				subject: expect.stringMatching(/^.*(error|critical).*$/),
			}),
		]);
		const seen = [
			...slack.messages.slice(slackSeen).map((m) => m.text),
			...smtp.messages.slice(mailSeen).map((m) => `${m.subject}\n${m.text}`),
			JSON.stringify(bad.data),
			JSON.stringify(first.data),
			JSON.stringify(second.data),
		].join('\n');
		for (const secret of [wrong, repo.password]) expect(seen.includes(secret)).toBe(false);

		return (
			`restic: volume ${resticVolume} and host folder backed up into the repository (snapshot ${String(made.snapshotId).slice(0, 8)}), prune ok, no alert; ` +
			`unchanged second run: ${String(again.filesUnmodified)} of ${String(made.totalFiles)} files unmodified, ${String(again.dataAdded)} bytes added, restic lists both snapshots; ` +
			`wrong repository password -> ${String(refused.status)}, Slack (#e2e-restic) and email name the volume, no password in alerts or execution data`
		);
	},
};

const scenario: Scenario = {
	variants: [resticVariant],
	async prepare({ services }) {
		await writeVolume(services, volume);
		stackDir = path.join(services.ssh.dataDir, `e2e-stack-${run}`);
		fs.mkdirSync(path.join(stackDir, 'dynamic'), { recursive: true });
		fs.writeFileSync(
			path.join(stackDir, 'dynamic', 'middlewares.yml'),
			'http:\n  middlewares: {}\n',
		);
		fs.writeFileSync(path.join(stackDir, '.env'), 'POSTGRES_PASSWORD=e2e\n');
		return {
			settings: {
				volumePrefix: `e2e${run}_`,
				keyPrefix: `e2e-${run}`,
				hostPathsName,
				hostPaths: stackDir,
				slackChannel: '#e2e-backups',
				alertEmail: 'oncall@example.com',
				fromEmail: 'n8n-e2e@example.com',
			},
			cleanup: async () => {
				fs.rmSync(stackDir, { recursive: true, force: true });
				await removeVolume(services, volume);
			},
		};
	},

	async run(ctx) {
		const { slack, smtp } = ctx.sinks;
		let slackSeen = slack.messages.length;
		let mailSeen = smtp.messages.length;

		const ok = await ctx.runWebhook({ timeoutMs: 180_000 });
		expect(ok.status).toBe('success');
		const findings = ctx.outputOf(ok, 'Back Up Volumes');
		expect(findings).toEqual([
			expect.objectContaining({
				check: 'volume-backup',
				target: volume,
				status: 'ok',
				key: expect.stringMatching(new RegExp(`^e2e-${run}/${volume}/`)),
			}),
			expect.objectContaining({
				check: 'volume-backup',
				target: hostPathsName,
				status: 'ok',
				key: expect.stringMatching(new RegExp(`^e2e-${run}/`)),
			}),
		]);
		expect(JSON.stringify(ok.data)).not.toContain('AGE-SECRET-KEY');
		const volumeFiles = await listBackup(
			ctx,
			String(findings[0].key),
			String(findings[0].compression),
		);
		expect(volumeFiles).toEqual(expect.arrayContaining(['./pg/dump.sql', './marker']));
		const hostFiles = await listBackup(
			ctx,
			String(findings[1].key),
			String(findings[1].compression),
		);
		expect(hostFiles.join('\n')).toContain('dynamic/middlewares.yml');
		// Prune holds the Backup Encryption credential: it counts only backups whose manifest signature verifies
		const pruned = ctx.outputOf(ok, 'Prune Old Backups');
		expect(pruned).toEqual([
			expect.objectContaining({
				status: 'ok',
				signatureChecked: true,
				unsigned: [],
				kept: [expect.objectContaining({ key: findings[0].key })],
			}),
			expect.objectContaining({
				status: 'ok',
				signatureChecked: true,
				unsigned: [],
				kept: [expect.objectContaining({ key: findings[1].key })],
			}),
		]);
		expect(slack.messages.length).toBe(slackSeen);
		expect(smtp.messages.length).toBe(mailSeen);

		// the host folder is gone: that backup fails, and the failure is alerted on both channels
		fs.rmSync(stackDir, { recursive: true, force: true });
		slackSeen = slack.messages.length;
		mailSeen = smtp.messages.length;
		const failed = await ctx.runWebhook({ timeoutMs: 180_000 });
		expect(failed.status).toBe('success');
		expect(ctx.outputOf(failed, 'Back Up Volumes')).toEqual([
			expect.objectContaining({ target: volume, status: 'ok' }),
			expect.objectContaining({
				target: hostPathsName,
				status: 'error',
				summary: expect.stringContaining(`Backup of ${hostPathsName} failed`),
			}),
		]);
		// (Prune also warns that it skipped traefik-stack, whose backup failed: a second, separate alert)
		const problem = `Backup of ${hostPathsName} failed: read host paths failed`;
		const posted = slack.messages.slice(slackSeen).filter((m) => m.text.includes(problem));
		expect(posted).toEqual([
			expect.objectContaining({
				channel: '#e2e-backups',
				text: expect.stringContaining(`volume-backup ${hostPathsName}`),
			}),
		]);
		const mails = smtp.messages.slice(mailSeen).filter((m) => m.text.includes(problem));
		expect(mails).toEqual([
			expect.objectContaining({
				to: ['oncall@example.com'],
				subject: expect.stringContaining(`error: volume-backup ${hostPathsName}`),
			}),
		]);
		expect(slack.unknownCalls).toEqual([]);

		return (
			`volume ${volume} and host folder (over SSH) backed up to S3, both objects decrypt with the age identity and list their files, prune ok (signed manifests checked), no alert; ` +
			`host folder removed -> error finding, Slack (#e2e-backups) and email name "${hostPathsName}" and the failure`
		);
	},
};

export default scenario;
