/**
 * workflows/backup-restore-drill.json: a real backup of a real volume (made here with the node's own
 * engine) is verified by the weekly drill with a scratch restore: no alert. Then the archive in the
 * bucket is damaged: the drill must report it critical, on Slack and by email, naming the volume.
 */
import { randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';

import { backupVolume } from '../../../nodes/DockerVolumeBackup/engine';
import { parseRecipients } from '../../../nodes/shared/ageKeys';
import { createDockerClient } from '../../../nodes/shared/docker';
import { createS3Client } from '../../../nodes/shared/s3';
import type { Scenario } from '../scenario';

const run = randomBytes(3).toString('hex');
const volume = `drill${run}_data`;
const prefix = `drill-${run}`;

const scenario: Scenario = {
	prepare() {
		return { settings: { keyPrefix: prefix, volumes: volume, slackChannel: '#e2e-drills', alertEmail: 'ops@example.com', fromEmail: 'n8n@example.com' } };
	},

	async run(ctx) {
		const { docker: dockerInfo, s3 } = ctx.services;
		const docker = await createDockerClient({ kind: 'socket', socketPath: dockerInfo.socketPath });
		const client = createS3Client({ provider: 'minio', endpoint: s3.endpoint, region: s3.region, bucket: s3.bucket, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
		try {
			await docker.docker.createVolume({ Name: volume });
			const writer = await docker.docker.createContainer({
				Image: dockerInfo.image,
				Cmd: ['sh', '-c', 'set -e; mkdir -p /v/db /v/empty; printf "rows" > /v/db/data; ln -s db/data /v/link'],
				HostConfig: { Binds: [`${volume}:/v`], NetworkMode: 'none' },
			});
			await writer.start();
			await writer.wait();
			await writer.remove();
			const recipients = parseRecipients(String(ctx.credential('infraOpsBackupEncryption').recipients));
			const backup = await backupVolume(docker.docker, { s3: client, bucket: s3.bucket, prefix }, { name: volume, driver: 'local', labels: {} }, {
				compression: 'auto',
				encryption: { kind: 'recipients', publicKeys: recipients.map((r) => r.publicKey), fingerprints: recipients.map((r) => r.fingerprint) },
				stopMode: 'never',
				helperImage: dockerInfo.image,
				hooksBefore: [],
				hooksAfter: [],
			});

			const mails = ctx.sinks.smtp.messages.length;
			const slack = ctx.sinks.slack.messages.length;
			const good = await ctx.runWebhook();
			const passed = ctx.outputOf(good, 'Verify Latest Backups');
			if (passed.length !== 1 || passed[0].status !== 'ok') throw new Error(`drill of a good backup: ${JSON.stringify(passed)}`);
			if (ctx.sinks.smtp.messages.length !== mails || ctx.sinks.slack.messages.length !== slack) throw new Error('a passing drill must not alert');

			await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: backup.key, Body: randomBytes(4096) }));
			const started = Date.now();
			const bad = await ctx.runWebhook();
			const badSeconds = ((Date.now() - started) / 1000).toFixed(1);
			// a damaged archive must fail fast, not hang the scratch restore until Docker's request timeout
			if (Number(badSeconds) > 30) throw new Error(`the drill of a damaged backup took ${badSeconds}s`);
			const failed = ctx.outputOf(bad, 'Verify Latest Backups');
			if (failed.length !== 1 || failed[0].status === 'ok') throw new Error(`drill of a damaged backup: ${JSON.stringify(failed)}`);
			const mail = ctx.sinks.smtp.messages.slice(mails);
			const msgs = ctx.sinks.slack.messages.slice(slack);
			if (mail.length !== 1 || !mail[0].subject.includes(volume)) throw new Error(`expected one email naming ${volume}: ${JSON.stringify(mail.map((m) => m.subject))}`);
			if (msgs.length !== 1 || !msgs[0].text.includes(volume) || !msgs[0].text.includes(String(failed[0].summary).slice(0, 20))) throw new Error(`expected one Slack message naming ${volume} and the problem: ${JSON.stringify(msgs.map((m) => m.text))}`);
			return `good backup of ${volume} verified with a scratch restore, no alert; damaged archive -> ${String(failed[0].status)} "${String(failed[0].summary).slice(0, 80)}", Slack and email name the volume (damaged run took ${badSeconds}s)`;
		} finally {
			docker.close();
			client.destroy();
		}
	},
};

export default scenario;
