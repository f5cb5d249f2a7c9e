/**
 * workflows/deploy-on-push.json in real n8n: a real bare "origin" and the stack's working clone on the
 * harness's host (sshd), pushed to by the scenario; the push webhook is signed like GitHub's
 * (X-Hub-Signature-256). A signed push is checked out on the host and its start command (the
 * repository's start.sh, run by the Settings' command) starts it; n8n's own /healthz is the URL
 * checked; the same delivery re-sent is refused (warning); a push whose start script exits 3 is
 * critical on Slack and email with the exit status and the output's tail (a secret in it masked),
 * and is rolled back to the previous commit, whose start script runs again; a push that starts but
 * leaves a container of the compose project down (harness dockerd) is critical and rolled back too.
 */
import Docker from 'dockerode';
import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { Scenario } from '../scenario';

const SECRET = randomBytes(24).toString('hex');
const PUSH_PATH = 'infra-ops/deploy-on-push/push';
const PROJECT = 'e2e-deploy';
const WEB = 'e2e-deploy-web';
let docker: Docker;

let root = '';
let origin = '';
let dev = '';
let stackDir = '';

const git = (cwd: string, ...args: string[]) =>
	execFileSync('git', ['-c', 'user.email=ops@example.com', '-c', 'user.name=ops', ...args], {
		cwd,
		encoding: 'utf8',
	}).trim();

function push(version: string, startScript: string): string {
	fs.writeFileSync(path.join(dev, 'VERSION'), `${version}\n`);
	fs.writeFileSync(path.join(dev, 'start.sh'), startScript);
	git(dev, 'add', '.');
	git(dev, 'commit', '-q', '-m', version);
	git(dev, 'push', '-q', 'origin', 'HEAD:refs/heads/main');
	return git(dev, 'rev-parse', 'HEAD');
}

const GOOD = 'echo "starting $(cat VERSION)"\ncat VERSION > ../running\n';
const BAD =
	'echo "starting $(cat VERSION)"\necho "DB_PASSWORD=supersecret-e2e-value"\necho "postgres failed to start" >&2\nexit 3\n';

function pushBody(after: string): string {
	return (
		JSON.stringify(
			{ ref: 'refs/heads/main', after, repository: { full_name: 'example/stack' } },
			null,
			2,
		) + '\n'
	);
}

const sign = (raw: string) => 'sha256=' + createHmac('sha256', SECRET).update(raw).digest('hex');

function check(cond: boolean, what: string, detail: unknown = ''): void {
	if (!cond) throw new Error(`${what}${detail ? `: ${JSON.stringify(detail)}` : ''}`);
}

const scenario: Scenario = {
	async prepare({ services, n8nBaseUrl }) {
		root = path.join(services.ssh.dataDir, `e2e-deploy-on-push-${randomBytes(3).toString('hex')}`);
		origin = path.join(root, 'origin.git');
		dev = path.join(root, 'dev');
		stackDir = path.join(root, 'stack');
		fs.mkdirSync(dev, { recursive: true });
		execFileSync('git', ['init', '-q', '--bare', '-b', 'main', origin]);
		git(dev, 'init', '-q', '-b', 'main');
		git(dev, 'remote', 'add', 'origin', origin);
		push('v1', GOOD);
		execFileSync('git', ['clone', '-q', '-b', 'main', origin, stackDir]);
		// the stack's one container, as compose labels it; Container Health looks at its project
		docker = new Docker({ socketPath: services.docker.socketPath });
		const web = await docker.createContainer({
			name: WEB,
			Image: services.docker.image,
			Cmd: ['sleep', '3600'],
			Labels: { 'com.docker.compose.project': PROJECT, 'com.docker.compose.service': 'web' },
			HostConfig: { NetworkMode: 'none' },
		});
		await web.start();
		return {
			settings: {
				repoDir: stackDir,
				branch: 'main',
				startCommand: 'sh ./start.sh',
				commandTimeoutMinutes: 1,
				checkAfterSeconds: 1,
				urlsToCheck: `${n8nBaseUrl}/healthz`,
				composeProject: PROJECT,
				rollBackOnFailure: true,
				slackChannel: '#e2e-deploy',
				alertEmail: 'ops@example.com',
				fromEmail: 'n8n@example.com',
			},
			credentials: { infraOpsGitWebhookApi: { secret: SECRET } },
			cleanup: async () =>
				await docker
					.getContainer(WEB)
					.remove({ force: true })
					.catch(() => undefined),
		};
	},

	async run(ctx) {
		const v1 = git(stackDir, 'rev-parse', 'HEAD');
		const deliver = async (sha: string, delivery: string) => {
			const body = pushBody(sha);
			const execution = await ctx.runWebhook({
				path: PUSH_PATH,
				rawBody: body,
				headers: {
					'x-github-event': 'push',
					'x-github-delivery': delivery,
					'x-hub-signature-256': sign(body),
				},
				timeoutMs: 120_000,
			});
			check(
				execution.status === 'success',
				`push ${sha.slice(0, 8)} (${delivery}) ended ${execution.status}`,
				execution.data?.resultData.error?.message,
			);
			return execution;
		};
		const slack0 = ctx.sinks.slack.messages.length;
		const mail0 = ctx.sinks.smtp.messages.length;

		// a signed push: checked out on the host, started, its URL checked, a short success notice
		const v2 = push('v2', GOOD);
		const run1 = await deliver(v2, 'de9l0y00-0000-4000-8000-000000000001');
		const [deployed] = ctx.outputOf(run1, 'Deploy Stack');
		check(
			deployed?.status === 'ok' && deployed.fromCommit === v1 && deployed.toCommit === v2,
			'the pushed commit is deployed from the previous one',
			deployed,
		);
		check(git(stackDir, 'rev-parse', 'HEAD') === v2, 'the host checked out the pushed commit');
		check(fs.readFileSync(path.join(root, 'running'), 'utf8') === 'v2\n', 'the start command ran');
		const urls = ctx.outputOf(run1, 'Check URLs');
		check(urls.length === 1 && urls[0].status === 'ok', 'the Settings URL was checked', urls);
		const health = ctx.outputOf(run1, 'Container Health');
		check(
			health.length === 1 && health[0].status === 'ok' && health[0].target === WEB,
			"the compose project's container was checked",
			health,
		);
		const slack1 = ctx.sinks.slack.messages.slice(slack0);
		check(
			slack1.length === 1 &&
				/DEPLOYED\* deploy of main/.test(slack1[0].text) &&
				slack1[0].text.includes(v2.slice(0, 8)),
			'one short success notice naming the commit',
			slack1.map((m) => m.text),
		);
		check(ctx.sinks.smtp.messages.length === mail0, 'no email for a good deploy');

		// the same signed delivery re-sent: refused from the state on the host, nothing runs
		const replay = await deliver(v2, 'de9l0y00-0000-4000-8000-000000000001');
		const [refused] = ctx.outputOf(replay, 'Deploy Stack');
		check(
			refused?.status === 'warning' &&
				refused.action === 'refused' &&
				/was received before/.test(String(refused.summary)),
			'a replayed delivery is refused (warning)',
			refused,
		);
		check(
			ctx.sinks.slack.messages
				.slice(slack0 + 1)
				.some((m) => /WARNING\*/.test(m.text) && m.text.includes('replayed delivery')),
			'Slack warns about the replay',
		);
		const slack2 = ctx.sinks.slack.messages.length;

		// a push whose start script fails: critical with exit status and output, then rolled back
		const v3 = push('v3', BAD);
		const run3 = await deliver(v3, 'de9l0y00-0000-4000-8000-000000000003');
		const [failed] = ctx.outputOf(run3, 'Deploy Stack');
		check(
			failed?.status === 'critical' && failed.exitStatus === 3 && failed.toCommit === v3,
			'the failing start command is critical with exit status 3',
			failed,
		);
		check(!run3.data?.resultData.runData['Check URLs'], 'no URL check after a failed start');
		const [back] = ctx.outputOf(run3, 'Roll Back');
		check(
			back?.status === 'ok' && back.fromCommit === v3 && back.toCommit === v2,
			'rolled back to the previous commit',
			back,
		);
		check(git(stackDir, 'rev-parse', 'HEAD') === v2, 'the host is back on the previous commit');
		check(
			fs.readFileSync(path.join(root, 'running'), 'utf8') === 'v2\n',
			"the previous commit's start command ran again",
		);
		const slack3 = ctx.sinks.slack.messages.slice(slack2).map((m) => m.text);
		check(
			slack3.some(
				(t) =>
					/CRITICAL\* deploy of main/.test(t) &&
					t.includes('Exit status: 3') &&
					t.includes('postgres failed to start') &&
					t.includes('DB_PASSWORD=(redacted)'),
			) && slack3.some((t) => /ROLLED BACK\*/.test(t) && t.includes('Rolled back')),
			'Slack: critical with exit status and output tail, then the roll back',
			slack3,
		);
		const mails = ctx.sinks.smtp.messages.slice(mail0);
		check(
			mails.length === 2 &&
				mails.some(
					(m) =>
						/critical: deploy of main/.test(m.subject) &&
						m.text.includes('Exit status: 3') &&
						m.text.includes(v3),
				) &&
				mails.some((m) => /rolled back/.test(m.subject)),
			'email: the critical deploy and the roll back',
			mails.map((m) => [m.subject, m.text.slice(0, 300)]),
		);
		const everything = JSON.stringify([slack3, mails.map((m) => m.text), failed]);
		check(!everything.includes('supersecret-e2e-value'), 'the secret in the output is masked');

		// a push that starts fine but leaves the stack's container down: critical, rolled back
		await docker.getContainer(WEB).kill();
		const slack4 = ctx.sinks.slack.messages.length;
		const v4 = push('v4', GOOD);
		const run4 = await deliver(v4, 'de9l0y00-0000-4000-8000-000000000004');
		const [started] = ctx.outputOf(run4, 'Deploy Stack');
		check(started?.status === 'ok' && started.toCommit === v4, 'v4 started', started);
		const [down] = ctx.outputOf(run4, 'Container Health');
		check(down?.status === 'critical', 'Container Health sees the container down', down);
		const [judged] = ctx.outputOf(run4, 'Judge Deploy');
		check(judged?.status === 'critical' && judged.rollBack === true, 'judged critical', judged);
		const [back4] = ctx.outputOf(run4, 'Roll Back');
		check(
			back4?.status === 'ok' && back4.fromCommit === v4 && back4.toCommit === v2,
			'rolled back after the failed check',
			back4,
		);
		check(git(stackDir, 'rev-parse', 'HEAD') === v2, 'the host is back on v2');
		check(
			ctx.sinks.slack.messages
				.slice(slack4)
				.some((m) => /CRITICAL\* deploy of main/.test(m.text) && m.text.includes(WEB)),
			'Slack names the container that is down',
			ctx.sinks.slack.messages.slice(slack4).map((m) => m.text),
		);
		return "a signed push is checked out on the host (real git over sshd), started and its URL checked: a short Slack notice; the same delivery re-sent is refused (warning); a start script exiting 3 is critical on Slack + email with exit status and output tail (secret masked) and is rolled back to the previous commit, whose start script runs again; a push that leaves the compose project's container down is critical and rolled back";
	},
};
export default scenario;
