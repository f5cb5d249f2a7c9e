/**
 * workflows/backup-restore-drill.json: a real backup of a real volume (made here with the node's own
 * engine) is verified by the weekly drill with a scratch restore: no alert. Then the archive in the
 * bucket is damaged: the drill must report it critical, on Slack and by email, naming the volume.
 * Last, the credential's age identity gets a one-character typo (issue 14): the drill fails, and no
 * alert, execution output or manifest holds any 8 characters of the key.
 * Variant `restic` (Settings' engine = restic, test/e2e/resticVariant.ts): a restic backup of a volume
 * passes the drill (restic check and a scratch restore of the latest snapshot), no alert; then one pack
 * file of the repository is deleted from the bucket: critical, on Slack and by email, naming the volume.
 */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';

import { backupVolume } from '../../../nodes/DockerVolumeBackup/backup';
import { signingKeyFrom } from '../../../nodes/DockerVolumeBackup/signing';
import { parseRecipients } from '../../../nodes/shared/ageKeys';
import { createDockerClient } from '../../../nodes/shared/docker';
import { createS3Client } from '../../../nodes/shared/s3';
import { firstKeyFragment, typoInIdentity } from '../../support/keyFragments';
import { resticBackupVolume } from '../../../nodes/DockerVolumeBackup/resticOps';
import { NODE_TYPE, resticRepo, type ResticRepo } from '../resticVariant';
import type { Scenario, ScenarioVariant } from '../scenario';

const run = randomBytes(3).toString('hex');
const volume = `drill${run}_data`;
const prefix = `drill-${run}`;

const resticVolume = `drillr${run}_data`;
let restic: ResticRepo | undefined;

const resticVariant: ScenarioVariant = {
	name: 'restic',
	async prepare({ services }) {
		restic = await resticRepo(services, `drill-restic-${run}`, {
			volumes: resticVolume,
			slackChannel: '#e2e-drills-restic',
		});
		const prepared = restic.prepared;
		const params = prepared.nodeParameters?.[NODE_TYPE];
		if (params) params.verifyTimeLimitMin = 1;
		return prepared;
	},

	async run(ctx) {
		const repo = restic!;
		const { docker: dockerInfo } = ctx.services;
		const docker = await createDockerClient({ kind: 'socket', socketPath: dockerInfo.socketPath });
		try {
			await docker.docker.createVolume({ Name: resticVolume });
			const writer = await docker.docker.createContainer({
				Image: dockerInfo.image,
				Cmd: [
					'sh',
					'-c',
					'set -e; mkdir -p /v/db; printf "rows" > /v/db/data; printf x > /v/marker',
				],
				HostConfig: { Binds: [`${resticVolume}:/v`], NetworkMode: 'none' },
			});
			await writer.start();
			await writer.wait();
			await writer.remove();
			const made = await repo.withSetup((setup) =>
				resticBackupVolume(
					setup,
					{ name: resticVolume, driver: 'local', labels: {} },
					{ stopMode: 'never', hooksBefore: [], hooksAfter: [] },
				),
			);

			const mails = ctx.sinks.smtp.messages.length;
			const slack = ctx.sinks.slack.messages.length;
			const good = await ctx.runWebhook({ timeoutMs: 180_000 }).catch(async (error: Error) => {
				// a run that never finishes: say which helper containers were still there
				const running = await docker.docker.listContainers({ all: true });
				throw new Error(
					`${error.message}; containers: ${JSON.stringify(running.map((c) => [c.Names, c.Image, c.Status, c.Command]))}`,
				);
			});
			const passed = ctx.outputOf(good, 'Verify Latest Backups');
			expect(passed).toEqual([
				expect.objectContaining({
					target: resticVolume,
					status: 'ok',
					engine: 'restic',
					snapshotId: expect.stringMatching(new RegExp(`^${made.snapshotId}`)),
				}),
			]);
			expect(ctx.sinks.smtp.messages.length).toBe(mails);
			expect(ctx.sinks.slack.messages.length).toBe(slack);

			const verified = `restic: snapshot ${made.snapshotId.slice(0, 8)} of ${resticVolume} passes the drill (${String(passed[0].summary).slice(0, 90)}), no alert`;
			// whichever pack is deleted, the drill ends: a data pack fails the structure check in seconds,
			// a tree pack makes restic 0.14 retry each load ~45 s until the Drill Time Limit (1 min here) ends it
			const pack = await repo.deletePack();
			const bad = await ctx.runWebhook({ timeoutMs: 180_000 });
			const [failed] = ctx.outputOf(bad, 'Verify Latest Backups');
			expect(failed).toEqual(
				expect.objectContaining({ target: resticVolume, status: 'critical', engine: 'restic' }),
			);
			const mail = ctx.sinks.smtp.messages.slice(mails);
			const msgs = ctx.sinks.slack.messages.slice(slack);
			expect(mail.map((m) => m.subject)).toEqual([expect.stringContaining(resticVolume)]);
			expect(msgs).toEqual([
				expect.objectContaining({
					channel: '#e2e-drills-restic',
					text: expect.stringContaining(resticVolume),
				}),
			]);
			const secrets = [repo.password];
			const seen = [
				JSON.stringify(bad.data),
				...msgs.map((m) => m.text),
				...mail.map((m) => m.text),
			];
			expect(secrets.filter((x) => seen.some((t) => t.includes(x)))).toEqual([]);
			return `${verified}; pack ${pack.split('/').pop()!.slice(0, 12)}… deleted from the bucket -> critical "${String(failed.summary).slice(0, 100)}", Slack and email name the volume`;
		} finally {
			await docker.docker
				.getVolume(resticVolume)
				.remove()
				.catch(() => undefined);
			docker.close();
		}
	},
};

const scenario: Scenario = {
	variants: [resticVariant],
	prepare() {
		return {
			settings: {
				keyPrefix: prefix,
				volumes: volume,
				slackChannel: '#e2e-drills',
				alertEmail: 'ops@example.com',
				fromEmail: 'n8n@example.com',
			},
		};
	},

	async run(ctx) {
		const { docker: dockerInfo, s3 } = ctx.services;
		const docker = await createDockerClient({ kind: 'socket', socketPath: dockerInfo.socketPath });
		const client = createS3Client({
			provider: 'minio',
			endpoint: s3.endpoint,
			region: s3.region,
			bucket: s3.bucket,
			accessKeyId: s3.accessKeyId,
			secretAccessKey: s3.secretAccessKey,
		});
		try {
			await docker.docker.createVolume({ Name: volume });
			const writer = await docker.docker.createContainer({
				Image: dockerInfo.image,
				Cmd: [
					'sh',
					'-c',
					'set -e; mkdir -p /v/db /v/empty; printf "rows" > /v/db/data; ln -s db/data /v/link',
				],
				HostConfig: { Binds: [`${volume}:/v`], NetworkMode: 'none' },
			});
			await writer.start();
			await writer.wait();
			await writer.remove();
			const recipients = parseRecipients(
				String(ctx.credential('infraOpsBackupEncryption').recipients),
			);
			// signed as the Backup operation signs with this credential: Verify takes the newest signed backup as "latest"
			const signingKey = signingKeyFrom({
				identity: String(ctx.credential('infraOpsBackupEncryption').secretKey),
			}).key;
			if (!signingKey) throw new Error('the e2e Backup Encryption credential gives no signing key');
			// written as the workflow's Backup writes it (recipients only), signed with the drill credential's key
			const backupNow = async () =>
				await backupVolume(
					docker.docker,
					{ s3: client, bucket: s3.bucket, prefix },
					{ name: volume, driver: 'local', labels: {} },
					{
						compression: 'auto',
						encryption: {
							kind: 'recipients',
							publicKeys: recipients.map((r) => r.publicKey),
							fingerprints: recipients.map((r) => r.fingerprint),
						},
						stopMode: 'never',
						helperImage: dockerInfo.image,
						hooksBefore: [],
						hooksAfter: [],
						signingKey,
					},
				);
			const backup = await backupNow();

			const mails = ctx.sinks.smtp.messages.length;
			const slack = ctx.sinks.slack.messages.length;
			const good = await ctx.runWebhook();
			const passed = ctx.outputOf(good, 'Verify Latest Backups');
			if (passed.length !== 1 || passed[0].status !== 'ok')
				throw new Error(`drill of a good backup: ${JSON.stringify(passed)}`);
			if (ctx.sinks.smtp.messages.length !== mails || ctx.sinks.slack.messages.length !== slack)
				throw new Error('a passing drill must not alert');

			await client.send(
				new PutObjectCommand({ Bucket: s3.bucket, Key: backup.key, Body: randomBytes(4096) }),
			);
			const started = Date.now();
			const bad = await ctx.runWebhook();
			const badSeconds = ((Date.now() - started) / 1000).toFixed(1);
			// a damaged archive must fail fast, not hang the scratch restore until Docker's request timeout
			if (Number(badSeconds) > 30)
				throw new Error(`the drill of a damaged backup took ${badSeconds}s`);
			const failed = ctx.outputOf(bad, 'Verify Latest Backups');
			if (failed.length !== 1 || failed[0].status === 'ok')
				throw new Error(`drill of a damaged backup: ${JSON.stringify(failed)}`);
			const mail = ctx.sinks.smtp.messages.slice(mails);
			const msgs = ctx.sinks.slack.messages.slice(slack);
			if (mail.length !== 1 || !mail[0].subject.includes(volume))
				throw new Error(
					`expected one email naming ${volume}: ${JSON.stringify(mail.map((m) => m.subject))}`,
				);
			if (
				msgs.length !== 1 ||
				!msgs[0].text.includes(volume) ||
				!msgs[0].text.includes(String(failed[0].summary).slice(0, 20))
			)
				throw new Error(
					`expected one Slack message naming ${volume} and the problem: ${JSON.stringify(msgs.map((m) => m.text))}`,
				);

			// a fresh good backup is "latest"; the drill's credential now holds the identity with a typo
			const fresh = await backupNow();
			const original = ctx.credential('infraOpsBackupEncryption');
			const identity = String(original.secretKey);
			const listed = await ctx.api<{ data: { id: string; type: string }[] }>(
				'GET',
				'/credentials?limit=250',
			);
			const credentialId = listed.data.find((c) => c.type === 'infraOpsBackupEncryption')?.id;
			if (!credentialId) throw new Error('n8n holds no Backup Encryption credential');
			const mails2 = ctx.sinks.smtp.messages.length;
			const slack2 = ctx.sinks.slack.messages.length;
			await ctx.api('PATCH', `/credentials/${credentialId}`, {
				data: { ...original, secretKey: typoInIdentity(identity) },
			});
			let typoRun;
			try {
				typoRun = await ctx.runWebhook();
			} finally {
				await ctx.api('PATCH', `/credentials/${credentialId}`, { data: original });
			}
			const typoOut = ctx.outputOf(typoRun, 'Verify Latest Backups');
			if (typoOut.length !== 1 || typoOut[0].status !== 'critical' || typoOut[0].key !== fresh.key)
				throw new Error(`drill with a mistyped identity: ${JSON.stringify(typoOut)}`);
			const alerts = [
				...ctx.sinks.smtp.messages.slice(mails2).map((m) => `${m.subject}\n${m.text}`),
				...ctx.sinks.slack.messages.slice(slack2).map((m) => m.text),
			];
			if (alerts.length !== 2)
				throw new Error(
					`expected one email and one Slack message for the mistyped identity, got ${alerts.length}`,
				);
			const manifest = await (
				await client.send(
					new GetObjectCommand({ Bucket: s3.bucket, Key: `${fresh.key}.manifest.json` }),
				)
			).Body!.transformToString();
			for (const [what, text] of [
				['alerts', alerts.join('\n')],
				['execution output', JSON.stringify(typoOut)],
				['manifest', manifest],
			] as const) {
				if (firstKeyFragment(text, identity))
					throw new Error(`the ${what} of the drill with a mistyped identity hold part of the key`);
			}
			if (!alerts[0].includes('Identity (Private Key)'))
				throw new Error(`the alert does not name the field: ${alerts[0].slice(0, 200)}`);

			return `good backup of ${volume} verified with a scratch restore, no alert; damaged archive -> ${String(failed[0].status)} "${String(failed[0].summary).slice(0, 80)}", Slack and email name the volume (damaged run took ${badSeconds}s); mistyped identity -> critical, no 8 characters of the key in the alerts, output or manifest`;
		} finally {
			docker.close();
			client.destroy();
		}
	},
};

export default scenario;
