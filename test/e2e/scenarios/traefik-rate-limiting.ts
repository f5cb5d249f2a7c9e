/**
 * workflows/traefik-rate-limiting.json in real n8n: a hand-written routers.yml on the harness's sshd,
 * and a replayed Traefik API (the project's fixture, test/fixtures/traefik-api, plus the watched
 * folder's routers, as Traefik's file provider loads them). The first run builds the review's
 * middlewares (100/min general, 10/min API, secure headers), attaches them, validates, deploys both
 * files and sees them served: Slack says so. The second run changes nothing and says nothing. Then
 * an operator adds a router by hand that Traefik rejects: the deploy is rolled back, critical on
 * Slack and by email.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { startTraefikReplay, type TraefikReplay } from '../../support/traefikApiReplay';
import type { Scenario } from '../scenario';

const ROUTERS = `# Routers of the stack -- edited by hand, keep the comments
http:
  routers:
    n8n:
      rule: Host(\`n8n.example.com\`)   # editor
      service: n8n
    n8n-api:
      rule: Host(\`n8n.example.com\`) && PathPrefix(\`/api\`)
      service: n8n
    openwebui:
      rule: Host(\`chat.example.com\`)
      service: openwebui
  services:
    n8n:
      loadBalancer:
        servers:
          - url: http://n8n:5678
    openwebui:
      loadBalancer:
        servers:
          - url: http://open-webui:8080
`;

let replay: TraefikReplay | undefined;
let dynamicDir = '';
let backupDir = '';

function check(cond: boolean, what: string, detail: unknown = ''): void {
	if (!cond) throw new Error(`${what}${detail ? `: ${JSON.stringify(detail)}` : ''}`);
}

const scenario: Scenario = {
	async prepare({ services }) {
		const root = path.join(
			services.ssh.dataDir,
			`e2e-traefik-rl-${randomBytes(3).toString('hex')}`,
		);
		dynamicDir = path.join(root, 'dynamic');
		backupDir = path.join(root, 'dynamic-history');
		fs.mkdirSync(dynamicDir, { recursive: true });
		fs.writeFileSync(path.join(dynamicDir, 'routers.yml'), ROUTERS);
		// the project's own API fixture, so the scenario runs without ../shared/reference
		replay = await startTraefikReplay({ base: 'fixture', watchDir: dynamicDir, loadDelayMs: 500 });
		return {
			// 5 s instead of the default 30: the rollback run waits the whole timeout twice (the change, then the restored file)
			settings: {
				dynamicDir,
				backupDir,
				verifyTimeoutSeconds: 5,
				slackChannel: '#e2e-traefik',
				alertEmail: 'ops@example.com',
				fromEmail: 'n8n@example.com',
			},
			credentials: {
				infraOpsTraefikApi: { url: replay.url, authentication: 'none', tls: 'system' },
			},
			cleanup: async () => await replay?.close(),
		};
	},

	async run(ctx) {
		const slack0 = ctx.sinks.slack.messages.length;
		const mail0 = ctx.sinks.smtp.messages.length;
		const first = await ctx.runWebhook({ timeoutMs: 120_000 });
		check(
			first.status === 'success',
			`first run ended ${first.status}`,
			first.data?.resultData.error?.message,
		);
		const deployed = ctx.outputOf(first, 'Deploy');
		check(
			deployed.length === 2 && deployed.every((d) => d.status === 'ok' && d.action === 'written'),
			'both files deployed',
			deployed.map((d) => [d.file, d.status, d.action, d.summary]),
		);
		check(
			deployed.every((d) => (d.verification as { ok?: boolean } | null)?.ok === true),
			'both verified as served by Traefik',
			deployed.map((d) => d.verification),
		);

		const middlewares = fs.readFileSync(path.join(dynamicDir, 'infra-ops-middlewares.yml'), 'utf8');
		check(
			/general-ratelimit:\n\s+rateLimit:\n\s+average: 100\n\s+period: 1m/.test(middlewares),
			'general limit 100 per 1m',
			middlewares,
		);
		check(
			/api-ratelimit:\n\s+rateLimit:\n\s+average: 10\n\s+period: 1m/.test(middlewares),
			'API limit 10 per 1m',
			middlewares,
		);
		check(
			/depth: 1/.test(middlewares) && /secure-headers:\n\s+headers:/.test(middlewares),
			'source criterion and secure headers',
			middlewares,
		);
		const routers = fs.readFileSync(path.join(dynamicDir, 'routers.yml'), 'utf8');
		check(
			routers.startsWith('# Routers of the stack -- edited by hand, keep the comments') &&
				routers.includes('rule: Host(`n8n.example.com`)   # editor'),
			'comments and formatting kept',
			routers,
		);
		check(
			/n8n-api:\n[^]*?middlewares:\n\s+- api-ratelimit\n\s+- general-ratelimit\n\s+- secure-headers/.test(
				routers,
			),
			'the API router gets the API limit first',
			routers,
		);
		check(
			fs
				.readdirSync(backupDir)
				.some(
					(f) =>
						f.startsWith('routers.yml.') &&
						fs.readFileSync(path.join(backupDir, f), 'utf8') === ROUTERS,
				),
			'the hand-written version is kept outside the watched folder',
		);
		check(
			fs.readdirSync(dynamicDir).sort().join() === 'infra-ops-middlewares.yml,routers.yml',
			'nothing else in the watched folder',
			fs.readdirSync(dynamicDir),
		);
		const served = (await (await fetch(`${replay!.url}/api/http/routers/n8n-api@file`)).json()) as {
			middlewares: string[];
			status: string;
		};
		check(
			served.status === 'enabled' &&
				served.middlewares.join() ===
					'api-ratelimit@file,general-ratelimit@file,secure-headers@file',
			'the replayed Traefik API serves the new router',
			served,
		);
		const slack1 = ctx.sinks.slack.messages.slice(slack0);
		check(
			slack1.length === 2 &&
				slack1.every(
					(m) => m.channel === '#e2e-traefik' && /OK\* Traefik rate limiting: written/.test(m.text),
				),
			'one Slack message per deployed file',
			slack1.map((m) => m.text),
		);
		check(ctx.sinks.smtp.messages.length === mail0, 'no email for a successful deploy');

		const second = await ctx.runWebhook({ timeoutMs: 120_000 });
		check(second.status === 'success', `second run ended ${second.status}`);
		check(
			ctx.outputOf(second, 'Deploy').every((d) => d.action === 'unchanged'),
			'second run: unchanged',
			ctx.outputOf(second, 'Deploy'),
		);
		check(ctx.sinks.slack.messages.length === slack0 + 2, 'second run: no alert');

		// a router added by hand, which Traefik rejects once the middlewares are attached
		const handEdited = fs
			.readFileSync(path.join(dynamicDir, 'routers.yml'), 'utf8')
			.replace(
				'  services:\n',
				'    flowise:\n      rule: Host(`flow.example.com`)\n      service: n8n\n  services:\n',
			);
		fs.writeFileSync(path.join(dynamicDir, 'routers.yml'), handEdited);
		replay!.options.failRouters = new Set(['flowise']);
		const third = await ctx.runWebhook({ timeoutMs: 180_000 });
		check(
			third.status === 'success',
			`third run ended ${third.status}`,
			third.data?.resultData.error?.message,
		);
		const rolled = ctx.outputOf(third, 'Deploy').find((d) => d.file === 'routers.yml');
		check(
			rolled?.status === 'critical' &&
				rolled.action === 'rolledBack' &&
				/flowise@file/.test(String(rolled.summary)),
			'the rejected change is rolled back, critical',
			rolled,
		);
		check(
			fs.readFileSync(path.join(dynamicDir, 'routers.yml'), 'utf8') === handEdited,
			'the previous (hand-edited) file is back',
		);
		const mails = ctx.sinks.smtp.messages.slice(mail0);
		check(
			mails.length === 1 &&
				/critical: Traefik routers\.yml rolledBack/.test(mails[0].subject) &&
				/^\+\s+- general-ratelimit$/m.test(mails[0].text),
			'one email with the diff',
			mails.map((m) => [m.subject, m.text]),
		);
		check(
			ctx.sinks.slack.messages
				.slice(slack0 + 2)
				.some((m) => /CRITICAL\* Traefik rate limiting: rolledBack routers\.yml/.test(m.text)),
			'Slack names the rollback',
		);
		return 'middlewares (100/min, 10/min, secure headers) + routers deployed and served (replayed Traefik API, fixture), comments kept, old version kept outside the folder; rerun silent; a router Traefik rejects is rolled back: Slack + email with the diff';
	},
};
export default scenario;
