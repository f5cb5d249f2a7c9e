/**
 * workflows/backup-docker-volumes.json: backs up a real Docker volume (harness dockerd) and a host folder
 * (over the harness sshd) to the S3 bucket; the objects must decrypt with the credential's age identity and
 * unpack to what was written. Then the host folder disappears: the failed backup must alert on Slack and email.
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
import type { RunContext, Scenario } from '../scenario';

const run = randomBytes(3).toString('hex');
const volume = `e2e${run}_data`;
const hostPathsName = 'traefik-stack';
let stackDir = '';

async function writeVolume(services: Services): Promise<void> {
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

const scenario: Scenario = {
	async prepare({ services }) {
		await writeVolume(services);
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
				const docker = await createDockerClient({
					kind: 'socket',
					socketPath: services.docker.socketPath,
				});
				await docker.docker
					.getVolume(volume)
					.remove()
					.catch(() => undefined);
				docker.close();
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
