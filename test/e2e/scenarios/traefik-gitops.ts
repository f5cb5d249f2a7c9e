/**
 * workflows/traefik-gitops.json in real n8n: a real bare git repository on the harness's "Traefik
 * host" (sshd), pushed to by the scenario; the Git host's webhook is signed like GitHub's
 * (X-Hub-Signature-256). A wrong signature gets 401 and changes nothing; a signed push is fetched
 * into a staging checkout over SSH, validated, deployed and verified against a replayed Traefik API
 * (the project's fixture, test/fixtures/traefik-api, plus the watched folder's routers); the same delivery re-sent is refused (a replay, warning); a pushed commit with a
 * broken reference is refused (critical, Slack + email), and
 * the live files stay as they were.
 */
import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { startTraefikReplay, type TraefikReplay } from '../../support/traefikApiReplay';
import type { Scenario } from '../scenario';

const SECRET = randomBytes(24).toString('hex');
const PUSH_PATH = 'infra-ops/traefik-gitops/push';

const MIDDLEWARES = `http:
  middlewares:
    general-ratelimit:
      rateLimit:
        average: 100
        period: 1m
        sourceCriterion:
          ipStrategy:
            depth: 1
`;
const ROUTERS = `# managed in git
http:
  routers:
    n8n:
      rule: Host(\`n8n.example.com\`)
      service: n8n
      middlewares: [general-ratelimit]
  services:
    n8n:
      loadBalancer:
        servers:
          - url: http://n8n:5678
`;

let replay: TraefikReplay | undefined;
let root = '';
let bare = '';
let work = '';
let dynamicDir = '';

const git = (...args: string[]) =>
	execFileSync('git', ['-c', 'user.email=ops@example.com', '-c', 'user.name=ops', ...args], {
		cwd: work,
		encoding: 'utf8',
	}).trim();

function commit(files: Record<string, string>, message: string): string {
	for (const [name, text] of Object.entries(files))
		fs.writeFileSync(path.join(work, 'dynamic', name), text);
	git('add', '.');
	git('commit', '-q', '-m', message);
	git('push', '-q', bare, 'main');
	return git('rev-parse', 'HEAD');
}

/** Indented like Gitea's deliveries: n8n's parsed-and-re-serialized body differs from these bytes, so only an HMAC over the raw body verifies. */
function pushBody(after: string): string {
	return (
		JSON.stringify(
			{
				ref: 'refs/heads/main',
				after,
				repository: { full_name: 'example/traefik-config' },
				head_commit: { id: after },
			},
			null,
			2,
		) + '\n'
	);
}

function check(cond: boolean, what: string, detail: unknown = ''): void {
	if (!cond) throw new Error(`${what}${detail ? `: ${JSON.stringify(detail)}` : ''}`);
}

const scenario: Scenario = {
	async prepare({ services }) {
		root = path.join(services.ssh.dataDir, `e2e-traefik-gitops-${randomBytes(3).toString('hex')}`);
		dynamicDir = path.join(root, 'dynamic');
		bare = path.join(root, 'traefik-config.git');
		work = path.join(root, 'work');
		fs.mkdirSync(dynamicDir, { recursive: true });
		fs.mkdirSync(path.join(work, 'dynamic'), { recursive: true });
		execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
		git('init', '-q', '-b', 'main');
		// the project's own API fixture, so the scenario runs without ../shared/reference
		replay = await startTraefikReplay({ base: 'fixture', watchDir: dynamicDir, loadDelayMs: 500 });
		return {
			settings: {
				repoUrl: bare,
				branch: 'main',
				pathInRepo: 'dynamic',
				stagingDir: path.join(root, 'staging'),
				dynamicDir,
				backupDir: path.join(root, 'dynamic-history'),
				verifyTimeoutSeconds: 5,
				behindProxy: true,
				slackChannel: '#e2e-gitops',
				alertEmail: 'ops@example.com',
				fromEmail: 'n8n@example.com',
			},
			credentials: {
				infraOpsTraefikApi: { url: replay.url, authentication: 'none', tls: 'system' },
				infraOpsGitWebhookApi: { secret: SECRET },
			},
			cleanup: async () => await replay?.close(),
		};
	},

	async run(ctx) {
		const first = commit(
			{ 'middlewares.yml': MIDDLEWARES, 'routers.yml': ROUTERS },
			'rate limit n8n',
		);
		const body = pushBody(first);
		const sign = (raw: string, secret = SECRET) =>
			'sha256=' + createHmac('sha256', secret).update(raw).digest('hex');

		const forged = await ctx.webhook({
			path: PUSH_PATH,
			auth: false,
			rawBody: body,
			headers: { 'x-github-event': 'push', 'x-hub-signature-256': sign(body, 'not-the-secret') },
		});
		check(forged.status === 401, `a wrong signature gets 401, got ${forged.status}`, forged.body);
		const unsigned = await ctx.webhook({
			path: PUSH_PATH,
			auth: false,
			rawBody: body,
			headers: { 'x-github-event': 'push' },
		});
		check(
			unsigned.status === 401,
			`an unsigned push gets 401, got ${unsigned.status}`,
			unsigned.body,
		);
		check(fs.readdirSync(dynamicDir).length === 0, 'nothing deployed for a forged push');
		// the two refused deliveries ran (Verify → Reject) and must be finished before the next run is awaited
		const deadline = Date.now() + 30_000;
		for (;;) {
			const list = await ctx.api<{ data: Array<{ id: string; status: string }> }>(
				'GET',
				`/executions?workflowId=${ctx.workflow.id}&limit=50`,
			);
			const done = list.data.filter((x) =>
				['success', 'error', 'crashed', 'canceled'].includes(x.status),
			);
			if (done.length >= 2 && done.length === list.data.length) break;
			if (Date.now() > deadline)
				throw new Error(
					`the refused deliveries' executions did not finish: ${JSON.stringify(list.data)}`,
				);
			await new Promise((r) => setTimeout(r, 300));
		}

		const slack0 = ctx.sinks.slack.messages.length;
		const mail0 = ctx.sinks.smtp.messages.length;
		const delivery1 = '5a1e7c00-0000-4000-8000-000000000001';
		const run1 = await ctx.runWebhook({
			path: PUSH_PATH,
			rawBody: body,
			headers: {
				'x-github-event': 'push',
				'x-github-delivery': delivery1,
				'x-hub-signature-256': sign(body),
			},
			timeoutMs: 120_000,
		});
		check(
			run1.status === 'success',
			`signed push run ended ${run1.status}`,
			run1.data?.resultData.error?.message,
		);
		const fetched = ctx.outputOf(run1, 'Fetch Git Files');
		check(
			fetched.length === 2 && fetched.every((f) => f.commit === first),
			'the pushed commit was fetched on the host',
			fetched.map((f) => [f.file, f.commit]),
		);
		const deployed = ctx.outputOf(run1, 'Deploy');
		check(
			deployed.length === 2 &&
				deployed.every(
					(d) =>
						d.status === 'ok' &&
						d.action === 'written' &&
						(d.verification as { ok?: boolean } | null)?.ok === true,
				),
			'both files deployed and served',
			deployed.map((d) => [d.file, d.status, d.summary]),
		);
		check(
			fs.readFileSync(path.join(dynamicDir, 'routers.yml'), 'utf8') === ROUTERS,
			'routers.yml is the pushed file, comments included',
		);
		check(
			fs.readFileSync(path.join(dynamicDir, 'middlewares.yml'), 'utf8') === MIDDLEWARES,
			'middlewares.yml is the pushed file',
		);
		const slack1 = ctx.sinks.slack.messages.slice(slack0);
		check(
			slack1.length === 2 &&
				slack1.every(
					(m) => m.text.includes(first.slice(0, 8)) && /OK\* Traefik GitOps/.test(m.text),
				),
			'Slack names the commit per deployed file',
			slack1.map((m) => m.text),
		);

		// the same signed delivery re-sent (a replay): refused by Deploy from the state on the Traefik host
		const replayed = await ctx.runWebhook({
			path: PUSH_PATH,
			rawBody: body,
			headers: {
				'x-github-event': 'push',
				'x-github-delivery': delivery1,
				'x-hub-signature-256': sign(body),
			},
			timeoutMs: 120_000,
		});
		check(
			replayed.status === 'success',
			`replayed push run ended ${replayed.status}`,
			replayed.data?.resultData.error?.message,
		);
		const refusedReplay = ctx.outputOf(replayed, 'Deploy');
		check(
			refusedReplay.length === 2 &&
				refusedReplay.every(
					(d) =>
						d.status === 'warning' &&
						d.action === 'refused' &&
						String(d.summary).includes(`delivery ${delivery1} was received before`),
				),
			'a replayed delivery is refused (warning)',
			refusedReplay.map((d) => [d.file, d.status, d.summary]),
		);
		check(
			ctx.sinks.slack.messages
				.slice(slack0 + 2)
				.some(
					(m) => /WARNING\* Traefik GitOps/.test(m.text) && m.text.includes('replayed delivery'),
				),
			'Slack warns about the replay',
		);
		const slack2 = ctx.sinks.slack.messages.length;

		// a commit whose router names a middleware nobody defines: refused, nothing written
		const broken = commit(
			{
				'routers.yml': ROUTERS.replace('[general-ratelimit]', '[general-ratelimit, missing-auth]'),
			},
			'typo',
		);
		const body2 = pushBody(broken);
		const run2 = await ctx.runWebhook({
			path: PUSH_PATH,
			rawBody: body2,
			headers: {
				'x-github-event': 'push',
				'x-github-delivery': '5a1e7c00-0000-4000-8000-000000000002',
				'x-hub-signature-256': sign(body2),
			},
			timeoutMs: 120_000,
		});
		check(
			run2.status === 'success',
			`second push run ended ${run2.status}`,
			run2.data?.resultData.error?.message,
		);
		const validation = ctx.outputOf(run2, 'Validate').find((v) => v.file === 'routers.yml');
		check(
			validation?.status === 'critical' && /missing-auth/.test(String(validation.summary)),
			'validation names the missing middleware',
			validation,
		);
		const refused = ctx.outputOf(run2, 'Deploy').find((d) => d.file === 'routers.yml');
		check(
			refused?.status === 'critical' && refused.action === 'rejected',
			'the broken commit is not deployed',
			refused,
		);
		check(
			fs.readFileSync(path.join(dynamicDir, 'routers.yml'), 'utf8') === ROUTERS,
			'the live routers.yml is unchanged',
		);
		const mails = ctx.sinks.smtp.messages.slice(mail0);
		check(
			mails.length === 1 &&
				/critical: Traefik GitOps routers\.yml rejected/.test(mails[0].subject) &&
				mails[0].text.includes(broken),
			'one email naming the commit',
			mails.map((m) => [m.subject, m.text.slice(0, 300)]),
		);
		check(
			ctx.sinks.slack.messages
				.slice(slack2)
				.some(
					(m) => /CRITICAL\* Traefik GitOps/.test(m.text) && m.text.includes(broken.slice(0, 8)),
				),
			'Slack alert for the refused commit',
		);
		return 'forged and unsigned pushes get 401 and deploy nothing; a signed push is fetched on the host (real git), validated, deployed and served (replayed Traefik API, fixture); the same delivery re-sent is refused (warning); a broken commit is refused: critical on Slack + email, live files unchanged';
	},
};
export default scenario;
