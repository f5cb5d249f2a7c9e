/**
 * host-hardening-audit.json in real n8n: Host Audit of two hosts from Settings, both the harness's
 * sshd (hardened sshd config) under different names, one expecting the hostname "Traefik" (fails),
 * one expecting this machine's own name (passes), plus one unreachable host (its column is "?" with
 * the reason). The email carries the checklist table (✓ / ✗ / ?) and the evidence; Slack gets the
 * failing controls that changed, and on the second run not the same ones again.
 */
import * as os from 'node:os';
import * as path from 'node:path';

import type { Scenario } from '../scenario';

const scenario: Scenario = {
	prepare({ services }) {
		const { ssh } = services;
		const address = `${ssh.host}:${ssh.port}`;
		return {
			settings: {
				hosts: `traefik ${address} Traefik\nai-stack ${address} ${os.hostname()}\n# a comment\ngone 127.0.0.1:1`,
				allowedPorts: '22, 80, 443',
				useSudo: false,
				minFreeDiskGb: 1,
				sshdConfigFile: path.join(services.root, 'ssh', 'sshd_config'),
				dockerHostName: 'e2e-docker',
				backupPrefix: `e2e-host-audit-${Date.now()}`,
				backupMaxAgeHours: 26,
				slackChannel: '#infra-alerts',
				alertEmail: 'ops@example.com',
				fromEmail: 'n8n@example.com',
			},
		};
	},

	async run(ctx) {
		const check = (cond: boolean, what: string) => {
			if (!cond) throw new Error(what);
		};
		const mailsBefore = ctx.sinks.smtp.messages.length;
		const slackBefore = ctx.sinks.slack.messages.length;
		const first = await ctx.runWebhook();
		if (first.status !== 'success')
			throw new Error(
				`first run ended ${first.status}: ${first.data?.resultData.error?.message ?? ''}`,
			);
		const host = ctx.outputOf(first, 'Audit Host');
		const find = (target: string, control: string) =>
			host.find((f) => f.target === target && f.control === control);
		const summary = JSON.stringify(host.map((f) => [f.target, f.control, f.result, f.error]));
		check(find('traefik', 'sshd')?.result === 'pass', `sshd passes on traefik: ${summary}`);
		check(find('traefik', 'hostname')?.result === 'fail', `hostname fails on traefik: ${summary}`);
		check(
			find('ai-stack', 'hostname')?.result === 'pass',
			`hostname passes on ai-stack: ${summary}`,
		);
		check(
			find('traefik', 'fail2ban')?.result === 'fail',
			`fail2ban (installed, stopped) fails: ${summary}`,
		);
		check(
			host.some((f) => typeof f.error === 'string' && /127\.0\.0\.1:1/.test(f.error)),
			`the unreachable host is an error item: ${summary}`,
		);
		const containers = ctx.outputOf(first, 'Audit Containers');
		check(
			containers.every((f) => !f.error),
			`Audit Containers ran: ${JSON.stringify(containers)}`,
		);

		const mails = ctx.sinks.smtp.messages.slice(mailsBefore);
		check(mails.length === 1, `one report email (got ${mails.length})`);
		const html = mails[0].html ?? '';
		check(/Host hardening audit: \d+ ✗/.test(mails[0].subject), `subject: ${mails[0].subject}`);
		const row = (label: string) =>
			new RegExp(`<tr><td>${label}</td>((?:<td[^>]*>.</td>)+)</tr>`).exec(html)?.[1] ?? '';
		const marks = (label: string) => [...row(label).matchAll(/>(.)<\/td>/g)].map((m) => m[1]);
		// columns: traefik, ai-stack, gone, e2e-docker & backups
		check(
			marks('SSH: keys only, no root password login').join('') === '✓✓??',
			`sshd row ✓✓?? (got ${marks('SSH: keys only, no root password login').join('')})`,
		);
		check(
			marks('Hostname as named in the inventory').join('') === '✗✓??',
			`hostname row ✗✓?? (got ${marks('Hostname as named in the inventory').join('')})`,
		);
		check(html.includes('passwordauthentication no'), 'sshd evidence in the email');
		check(/not audited: .*127\.0\.0\.1:1/.test(html), 'the unreachable host’s reason in the email');

		const slack = ctx.sinks.slack.messages.slice(slackBefore);
		check(
			slack.length === 1,
			`one Slack digest per run (got ${JSON.stringify(slack.map((m) => m.text))})`,
		);
		check(
			slack.some((m) => /traefik: Hostname as expected/.test(m.text) && /hostnamectl/.test(m.text)),
			`Slack names the failing hostname control with its fix (got ${JSON.stringify(slack.map((m) => m.text))})`,
		);
		check(
			!slack.some(
				(m) => /ai-stack: (Hostname|sshd)/.test(m.text) || /: sshd effective/.test(m.text),
			),
			'no Slack message for passing controls',
		);

		const second = await ctx.runWebhook();
		if (second.status !== 'success') throw new Error(`second run ended ${second.status}`);
		const again = ctx.sinks.slack.messages.slice(slackBefore + slack.length);
		check(
			!again.some((m) => /Hostname as expected|fail2ban/.test(m.text)),
			`the same failures do not alert again (got ${JSON.stringify(again.map((m) => m.text))})`,
		);
		check(ctx.sinks.smtp.messages.length === mailsBefore + 2, 'the report is mailed on every run');
		return `2 hosts + 1 unreachable audited; email checklist (sshd ✓✓??, hostname ✗✓??) with evidence; one Slack digest of the changed failures, none repeated on the second run`;
	},
};

export default scenario;
