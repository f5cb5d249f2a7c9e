/**
 * certificate-expiry.json in real n8n: two real TLS endpoints (one healthy, one 3 days from expiry)
 * and a Traefik acme.json on the harness's sshd. The first on-demand run alerts on the expiring
 * endpoint only, to Slack and email; the second run alerts on nothing (transitions only).
 */
import { withSsh } from '../../../nodes/shared/ssh';
import { makeCertificates, startTlsServer, type TlsServer } from '../../harness/services';
import type { Scenario } from '../scenario';

const servers: TlsServer[] = [];
let healthyPort = 0;
let expiringPort = 0;

const scenario: Scenario = {
	async prepare({ services }) {
		const certs = await makeCertificates({
			leaves: [
				{ dnsNames: ['localhost'], notBeforeDays: -30, days: 60 },
				{ dnsNames: ['localhost'], notBeforeDays: -87, days: 3 },
				{ dnsNames: ['acme.example'], notBeforeDays: -10, days: 80 },
			],
		});
		const [healthy, expiring, acmeLeaf] = certs.leaves;
		for (const leaf of [healthy, expiring])
			servers.push(await startTlsServer({ certPem: leaf.certPem, keyPem: leaf.keyPem }));
		[healthyPort, expiringPort] = servers.map((s) => s.port);
		const { ssh } = services;
		const acmePath = `${ssh.dataDir}/e2e-acme-${Date.now()}.json`;
		const acme = {
			letsencrypt: {
				Account: { Email: 'ops@example.com', PrivateKey: 'ZTJlLWFjY291bnQta2V5' },
				Certificates: [
					{
						domain: { main: 'acme.example', sans: [] },
						certificate: Buffer.from(acmeLeaf.fullchainPem).toString('base64'),
						key: 'ZTJlLXByaXZhdGUta2V5',
						Store: 'default',
					},
				],
			},
		};
		await withSsh(
			{
				host: ssh.host,
				port: ssh.port,
				username: ssh.username,
				privateKey: ssh.privateKey,
				hostKeyFingerprints: [ssh.hostKeyFingerprint],
			},
			(s) => s.writeFileAtomic(acmePath, JSON.stringify(acme), { mode: 0o600 }),
		);
		return {
			settings: {
				targets: `localhost:${healthyPort}\nlocalhost:${expiringPort}`,
				acmeJsonPath: acmePath,
				traefikAddress: '127.0.0.1',
				customCa: certs.ca.certPem,
				slackChannel: '#infra-alerts',
				alertEmail: 'ops@example.com',
				fromEmail: 'n8n@example.com',
			},
			cleanup: async () => {
				for (const s of servers) await s.close();
			},
		};
	},

	async run(ctx) {
		const expiring = `localhost:${expiringPort}`;
		const mailsBefore = ctx.sinks.smtp.messages.length;
		const slackBefore = ctx.sinks.slack.messages.length;
		const first = await ctx.runWebhook();
		if (first.status !== 'success')
			throw new Error(
				`first run ended ${first.status}: ${first.data?.resultData.error?.message ?? ''}`,
			);
		const findings = [...ctx.outputOf(first, 'All Findings')];
		const byTarget = Object.fromEntries(findings.map((f) => [String(f.target), f]));
		const expect = (cond: boolean, what: string) => {
			if (!cond)
				throw new Error(
					`${what}; findings: ${JSON.stringify(findings.map((f) => [f.target, f.status, f.summary]))}`,
				);
		};
		expect(byTarget[`localhost:${healthyPort}`]?.status === 'ok', 'the healthy endpoint is ok');
		expect(byTarget[expiring]?.status === 'critical', 'the expiring endpoint is critical');
		expect(
			byTarget['letsencrypt/acme.example']?.status === 'ok',
			'the acme.json certificate is ok',
		);
		expect(
			!JSON.stringify(findings).includes('ZTJlLXByaXZhdGUta2V5'),
			'no private key from acme.json in the output',
		);

		const mails = ctx.sinks.smtp.messages.slice(mailsBefore);
		const slack = ctx.sinks.slack.messages.slice(slackBefore);
		expect(
			mails.length === 1 &&
				mails[0].subject.includes(expiring) &&
				/expires in [23](\.\d)? days/.test(mails[0].text),
			`one email naming ${expiring} and its expiry (got ${JSON.stringify(mails.map((m) => m.subject))})`,
		);
		expect(
			slack.length === 1 &&
				slack[0].text.includes(expiring) &&
				/CRITICAL/.test(slack[0].text) &&
				/expires in/.test(slack[0].text),
			`one Slack message naming ${expiring} (got ${JSON.stringify(slack.map((m) => m.text))})`,
		);

		const second = await ctx.runWebhook();
		if (second.status !== 'success') throw new Error(`second run ended ${second.status}`);
		const again = ctx.outputOf(second, 'All Findings');
		expect(
			again.every((f) => f.changed === false),
			'nothing changed on the second run',
		);
		expect(
			ctx.sinks.smtp.messages.length === mailsBefore + 1 &&
				ctx.sinks.slack.messages.length === slackBefore + 1,
			'no new alert on the second run',
		);
		return `3 findings (ok, critical, acme ok); one Slack + one email naming ${expiring}; second run: no changes, no alerts; no key in output`;
	},
};

export default scenario;
