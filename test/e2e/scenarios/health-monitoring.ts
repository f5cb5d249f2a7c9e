/**
 * health-monitoring.json in real n8n against the harness's dockerd, over exactly three runs: a
 * container that is down (exited 3) alerts once; still down, no alert; started again, one recovery
 * alert. Slack and email each get exactly one message per transition.
 */
import Docker from 'dockerode';

import type { Scenario } from '../scenario';

const LABEL = 'io.infra-ops.e2e-health';
const NAME = 'e2e-health-web';
let docker: Docker;

const scenario: Scenario = {
	async prepare({ services }) {
		docker = new Docker({ socketPath: services.docker.socketPath });
		// the same command exits 3 on its first start and stays up on the next, keyed on a file it leaves
		const c = await docker.createContainer({
			name: NAME,
			Image: services.docker.image,
			Cmd: [
				'sh',
				'-c',
				'if [ -f /tmp/started ]; then exec sleep 3600; fi; touch /tmp/started; exit 3',
			],
			Labels: { [LABEL]: '1' },
			HostConfig: { NetworkMode: 'none' },
		});
		await c.start();
		await c.wait();
		return {
			settings: {
				containerLabels: `${LABEL}=1`,
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
		const runOnce = async (n: number) => {
			const execution = await ctx.runWebhook();
			if (execution.status !== 'success')
				throw new Error(
					`run ${n} ended ${execution.status}: ${execution.data?.resultData.error?.message ?? ''}`,
				);
			return ctx.outputOf(execution, 'Health').find((f) => f.target === NAME);
		};
		const check = (cond: boolean, what: string) => {
			if (!cond) {
				const a = alerts();
				throw new Error(
					`${what}; Slack: ${JSON.stringify(a.slack.map((m) => m.text))}; mail: ${JSON.stringify(a.mails.map((m) => m.subject))}`,
				);
			}
		};

		const down = await runOnce(1);
		check(down?.condition === 'down' && down.changed === true, `run 1: ${NAME} down and changed`);
		let a = alerts();
		check(
			a.slack.length === 1 &&
				a.mails.length === 1 &&
				/CRITICAL/.test(a.slack[0].text) &&
				a.slack[0].text.includes(`${NAME} is down: exited with code 3`) &&
				a.mails[0].subject.includes(NAME),
			'run 1: exactly one Slack and one email alert saying it is down',
		);

		const still = await runOnce(2);
		check(still?.condition === 'down' && still.changed === false, 'run 2: still down, not changed');
		a = alerts();
		check(a.slack.length === 1 && a.mails.length === 1, 'run 2: no new alert while it stays down');

		await docker.getContainer(NAME).start();
		const running = await docker.getContainer(NAME).inspect();
		check(running.State.Running, `${NAME} runs again`);
		const up = await runOnce(3);
		check(up?.condition === 'up' && up.changed === true, 'run 3: up again and changed');
		a = alerts();
		check(
			a.slack.length === 2 &&
				a.mails.length === 2 &&
				/RECOVERED/.test(a.slack[1].text) &&
				a.slack[1].text.includes('recovered (was down)') &&
				/recovered/.test(a.mails[1].subject),
			'run 3: exactly one more Slack and email alert saying it recovered',
		);
		return 'three runs: down → 1 Slack + 1 email; still down → none; recovered → 1 Slack + 1 email';
	},
};

export default scenario;
