/**
 * resource-limits-audit.json in real n8n against the harness's dockerd: a compose-labelled container
 * without limits and one within the policy. The first run alerts once (Slack + email) on the bare
 * one, with the compose snippet; the Apply branch stays off (its Settings flag is false by default),
 * so the container keeps no limit; a second run alerts on nothing.
 */
import Docker from 'dockerode';

import type { Scenario } from '../scenario';

const LABEL = 'io.infra-ops.e2e-limits';
const MiB = 1024 * 1024;
let docker: Docker;
const names = { bare: 'e2e-limits-bare', ok: 'e2e-limits-ok' };

const scenario: Scenario = {
	async prepare({ services }) {
		docker = new Docker({ socketPath: services.docker.socketPath });
		const start = async (name: string, host: Docker.HostConfig, labels: Record<string, string>) => {
			const c = await docker.createContainer({
				name,
				Image: services.docker.image,
				Cmd: ['sleep', '3600'],
				Labels: { [LABEL]: '1', ...labels },
				HostConfig: { NetworkMode: 'none', ...host },
			});
			await c.start();
		};
		await start(
			names.bare,
			{},
			{
				'com.docker.compose.project': 'shop',
				'com.docker.compose.service': 'web',
				'com.docker.compose.project.config_files': '/srv/shop/compose.yaml',
			},
		);
		await start(
			names.ok,
			{
				Memory: 64 * MiB,
				MemorySwap: 64 * MiB,
				NanoCpus: 5e8,
				PidsLimit: 100,
				RestartPolicy: { Name: 'unless-stopped' },
			},
			{},
		);
		return {
			settings: {
				containerLabels: `${LABEL}=1`,
				policy:
					'- match: "*"\n  memory: 256m\n  cpus: 1\n  pidsLimit: 200\n  restartPolicy: [unless-stopped]\n  severity: critical\n',
				slackChannel: '#infra-alerts',
				alertEmail: 'ops@example.com',
				fromEmail: 'n8n@example.com',
			},
			cleanup: async () => {
				for (const name of Object.values(names))
					await docker
						.getContainer(name)
						.remove({ force: true })
						.catch(() => undefined);
			},
		};
	},

	async run(ctx) {
		const mailsBefore = ctx.sinks.smtp.messages.length;
		const slackBefore = ctx.sinks.slack.messages.length;
		const first = await ctx.runWebhook();
		if (first.status !== 'success')
			throw new Error(
				`first run ended ${first.status}: ${first.data?.resultData.error?.message ?? ''}`,
			);
		const findings = ctx.outputOf(first, 'Audit Limits');
		const check = (cond: boolean, what: string) => {
			if (!cond)
				throw new Error(
					`${what}; findings: ${JSON.stringify(findings.map((f) => [f.target, f.status, f.summary]))}`,
				);
		};
		const by = Object.fromEntries(findings.map((f) => [String(f.target), f]));
		check(findings.length === 2, 'two findings');
		check(by[names.ok]?.status === 'ok', `${names.ok} meets the policy`);
		check(
			by[names.bare]?.status === 'critical' &&
				by[names.bare]?.composeFile === '/srv/shop/compose.yaml',
			`${names.bare} is critical and names its compose file`,
		);
		const mails = ctx.sinks.smtp.messages.slice(mailsBefore);
		const slack = ctx.sinks.slack.messages.slice(slackBefore);
		check(
			mails.length === 1 &&
				mails[0].subject.includes(names.bare) &&
				/services:\n\s+web:\n\s+deploy:\n\s+resources:\n\s+limits:\n\s+cpus: "1"\n\s+memory: 256M/.test(
					mails[0].text,
				) &&
				/pids_limit: 200/.test(mails[0].text),
			`one email naming ${names.bare} with the compose snippet (got ${JSON.stringify(mails.map((m) => [m.subject, m.text]))})`,
		);
		check(
			slack.length === 1 &&
				slack[0].text.includes(names.bare) &&
				slack[0].text.includes('memory: 256M'),
			`one Slack message with the snippet (got ${JSON.stringify(slack.map((m) => m.text))})`,
		);
		check(
			!('Apply Limits' in (first.data?.resultData.runData ?? {})) ||
				ctx.outputOf(first, 'Apply Limits').length === 0,
			'the Apply branch did not run (flag off)',
		);
		const host = (await docker.getContainer(names.bare).inspect()).HostConfig;
		check(
			host.Memory === 0 && !host.NanoCpus,
			'the bare container kept no limits (nothing applied)',
		);

		const second = await ctx.runWebhook();
		if (second.status !== 'success') throw new Error(`second run ended ${second.status}`);
		check(
			ctx.outputOf(second, 'Audit Limits').every((f) => f.changed === false),
			'nothing changed on the second run',
		);
		check(
			ctx.sinks.smtp.messages.length === mailsBefore + 1 &&
				ctx.sinks.slack.messages.length === slackBefore + 1,
			'no new alert on the second run',
		);
		return `2 containers (ok, critical with compose file); one Slack + one email with the deploy.resources snippet; Apply off: no limit set; second run: no alerts`;
	},
};

export default scenario;
