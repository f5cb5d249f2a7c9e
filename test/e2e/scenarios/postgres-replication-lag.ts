/**
 * postgres-replication-lag.json in real n8n: the harness's PostgreSQL as the primary and a real
 * streaming replica made with `pg_basebackup -R`. Healthy: no alert. Replay paused while the primary
 * writes 2 MiB: critical lag alerts. Replica stopped: "not connected" alert. Started again: recovered.
 */
import { parseLsn } from '../../../nodes/HostAudit/replication';
import { queryPostgres, startReplica, type PgReplica } from '../../harness/pgReplica';
import { waitUntil } from '../../harness/proc';
import type { Services } from '../../harness/services';
import type { Scenario } from '../scenario';

const NAME = 'e2e_replica';
let replica: PgReplica;
let services: Services;

const primaryQuery = <T>(sql: string) => queryPostgres<T>(services.postgres, sql);

async function caughtUp(): Promise<void> {
	await waitUntil(
		'the replica to stream and replay everything',
		async () =>
			(
				await primaryQuery<{ d: number }>(
					`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 AS d FROM pg_stat_replication WHERE application_name = '${NAME}' AND state = 'streaming'`,
				)
			)[0]?.d === 0,
		{ timeoutMs: 60_000, intervalMs: 200 },
	);
}

const scenario: Scenario = {
	async prepare(ctx) {
		services = ctx.services;
		replica = await startReplica(services.postgres, services.root, NAME);
		return {
			settings: {
				expectedReplicas: NAME,
				replicaAddresses: `127.0.0.1:${replica.port}`,
				maxLagMib: 0.5,
				maxLagSeconds: 0,
				slackChannel: '#infra-alerts',
				alertEmail: 'ops@example.com',
				fromEmail: 'n8n@example.com',
			},
			cleanup: async () => await replica.stop(),
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
					`${what}; Slack: ${JSON.stringify(a.slack.map((m) => m.text))}; mail: ${JSON.stringify(a.mails.map((m) => m.subject))}`,
				);
			}
		};
		const runOnce = async (n: number) => {
			const execution = await ctx.runWebhook();
			if (execution.status !== 'success')
				throw new Error(
					`run ${n} ended ${execution.status}: ${execution.data?.resultData.error?.message ?? ''}`,
				);
			return ctx.outputOf(execution, 'Audit Replication');
		};
		const sender = `${services.postgres.host}:${services.postgres.port}/${NAME}`;

		await caughtUp();
		const healthy = await runOnce(1);
		check(
			healthy.some((f) => f.target === sender && f.status === 'ok' && f.state === 'streaming'),
			'run 1: the replica streams and is ok',
		);
		check(alerts().slack.length === 0 && alerts().mails.length === 0, 'run 1: no alert');

		await replica.query('SELECT pg_wal_replay_pause()');
		await primaryQuery(
			"CREATE TABLE e2e_lag AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 10000) g",
		);
		const [{ lsn }] = await primaryQuery<{ lsn: string }>(
			'SELECT pg_current_wal_lsn()::text AS lsn',
		);
		await waitUntil(
			'the replica to receive the WAL it does not replay',
			async () => {
				const [r] = await replica.query<{ received: string }>(
					'SELECT pg_last_wal_receive_lsn()::text AS received',
				);
				return parseLsn(r.received)! >= parseLsn(lsn)!;
			},
			{ timeoutMs: 60_000, intervalMs: 200 },
		);
		await runOnce(2);
		let a = alerts();
		check(
			a.slack.length === 2 &&
				a.mails.length === 2 &&
				a.slack.every((m) => /CRITICAL/.test(m.text)) &&
				a.slack.some((m) => m.text.includes(sender) && /lags the primary/.test(m.text)) &&
				a.slack.some((m) => /replay is paused/.test(m.text)),
			'run 2: a critical lag alert for the primary view and the replica view, Slack and email',
		);

		await replica.stop();
		await waitUntil(
			'the replica to leave pg_stat_replication',
			async () =>
				!(
					await primaryQuery(`SELECT 1 FROM pg_stat_replication WHERE application_name = '${NAME}'`)
				).length,
			{ timeoutMs: 60_000, intervalMs: 200 },
		);
		await runOnce(3);
		a = alerts();
		check(
			a.slack.length === 4 &&
				a.slack
					.slice(2)
					.some((m) => m.text.includes(`Expected replica ${NAME} is not connected`)) &&
				a.mails.length === 4,
			'run 3: the replica that went away alerts (not connected, unreadable)',
		);

		await replica.start();
		await caughtUp();
		await runOnce(4);
		a = alerts();
		check(
			a.slack.length === 6 &&
				a.slack.slice(4).every((m) => /RECOVERED/.test(m.text)) &&
				a.mails.slice(4).every((m) => /recovered/.test(m.subject)),
			'run 4: both views recovered, on Slack and by email',
		);
		return 'four runs on a real primary + pg_basebackup replica: healthy → none; replay paused + 2 MiB written → 2 critical; replica stopped → 2 alerts (not connected); restarted → 2 recovered';
	},
};

export default scenario;
