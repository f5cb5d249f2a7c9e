/**
 * log-error-digest.json in real n8n against the harness's dockerd: a container that logged error
 * lines gives one digest (Slack and email) with its repeated message counted; a second run with
 * nothing new sends nothing; a new error line gives one more digest with only that line.
 */
import Docker from 'dockerode';

import { waitUntil } from '../../harness/proc';
import type { Scenario } from '../scenario';

const LABEL = 'io.infra-ops.e2e-logs';
const NAME = 'e2e-logs-api';
let docker: Docker;

async function logged(text: string): Promise<boolean> {
	const buf = (await docker
		.getContainer(NAME)
		.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
	return buf.toString('latin1').includes(text);
}

const scenario: Scenario = {
	async prepare({ services }) {
		docker = new Docker({ socketPath: services.docker.socketPath });
		const c = await docker.createContainer({
			name: NAME,
			Image: services.docker.image,
			Cmd: [
				'sh',
				'-c',
				[
					'echo "level=info msg=started"',
					'echo "level=error msg=\\"upstream timeout after 3012ms\\" req=a1b2c3d4e5"',
					'echo "level=error msg=\\"upstream timeout after 15ms\\" req=ffee00112233" >&2',
					'echo "Traceback (most recent call last):"',
					'echo phase1-done',
					'while [ ! -f /tmp/go ]; do sleep 0.1; done',
					'echo "FATAL: out of disk space on /data"',
					'echo phase2-done',
					'exec sleep 3600',
				].join('\n'),
			],
			Labels: { [LABEL]: '1' },
			HostConfig: { NetworkMode: 'none' },
		});
		await c.start();
		await waitUntil(`${NAME} to log its first lines`, () => logged('phase1-done'), {
			timeoutMs: 60_000,
			intervalMs: 100,
		});
		return {
			settings: {
				containerLabels: `${LABEL}=1`,
				dockerHostName: 'e2e',
				slackChannel: '#infra-alerts',
				alertEmail: 'ops@example.com',
				fromEmail: 'n8n@example.com',
			},
			cleanup: async () => {
				await docker
					.getContainer(NAME)
					.remove({ force: true })
					.catch(() => undefined);
			},
		};
	},

	async run(ctx) {
		const mails0 = ctx.sinks.smtp.messages.length;
		const slack0 = ctx.sinks.slack.messages.length;
		const alerts = () => ({
			mails: ctx.sinks.smtp.messages.slice(mails0),
			slack: ctx.sinks.slack.messages.slice(slack0),
		});
		const check = (cond: boolean, what: string) => {
			if (!cond) {
				const a = alerts();
				throw new Error(
					`${what}; Slack: ${JSON.stringify(a.slack.map((m) => m.text))}; mail: ${JSON.stringify(a.mails.map((m) => [m.subject, m.text]))}`,
				);
			}
		};
		const runOnce = async (n: number) => {
			const execution = await ctx.runWebhook();
			if (execution.status !== 'success')
				throw new Error(
					`run ${n} ended ${execution.status}: ${execution.data?.resultData.error?.message ?? ''}`,
				);
			return execution;
		};

		await runOnce(1);
		let a = alerts();
		check(a.slack.length === 1 && a.mails.length === 1, 'run 1: one Slack and one email digest');
		const target = `e2e/${NAME}`;
		check(
			a.slack[0].text.includes('3 new error lines in 1 container') &&
				a.slack[0].text.includes(target) &&
				// the example is whichever of the two came first (stdout and stderr are separate streams)
				a.slack[0].text.includes('2x  level=error msg="upstream timeout after '),
			'run 1: the Slack digest counts 3 lines and the repeated timeout twice',
		);
		check(
			a.mails[0].subject.includes('3 new error lines') &&
				String(a.mails[0].text).includes('Traceback (most recent call last):') &&
				/first \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/.test(String(a.mails[0].text)),
			'run 1: the email digest lists the messages with their first time',
		);

		const quiet = await runOnce(2);
		check(ctx.outputOf(quiet, 'Error Logs (Docker)').length === 0, 'run 2: no finding');
		a = alerts();
		check(a.slack.length === 1 && a.mails.length === 1, 'run 2: nothing new, nothing sent');

		const exec = await docker.getContainer(NAME).exec({ Cmd: ['touch', '/tmp/go'] });
		await exec.start({ Detach: true });
		await waitUntil(`${NAME} to log the new line`, () => logged('phase2-done'), {
			timeoutMs: 60_000,
			intervalMs: 100,
		});
		await runOnce(3);
		a = alerts();
		check(
			a.slack.length === 2 &&
				a.mails.length === 2 &&
				a.slack[1].text.includes('1 new error line in 1 container') &&
				a.slack[1].text.includes('FATAL: out of disk space on /data') &&
				!a.slack[1].text.includes('upstream timeout'),
			'run 3: one more digest with only the new line',
		);
		return 'three runs: 3 error lines → 1 Slack + 1 email digest (repeat counted 2x); nothing new → none; 1 new line → 1 Slack + 1 email with only it';
	},
};

export default scenario;
