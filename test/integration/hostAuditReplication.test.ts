/**
 * Host Audit → Audit Replication on a real primary (the harness's PostgreSQL) and a real streaming
 * replica made from it with `pg_basebackup -R` on loopback. Lag is made for certain, not waited for:
 * replay paused on the replica (`pg_wal_replay_pause()`) while the primary writes. A stopped replica
 * leaves pg_stat_replication; started again, it recovers. Waits are on what PostgreSQL reports.
 */
import type { IDataObject } from 'n8n-workflow';

import { HostAudit } from '../../nodes/HostAudit/HostAudit.node';
import { parseLsn } from '../../nodes/HostAudit/replication';
import { queryPostgres, startReplica, type PgReplica } from '../harness/pgReplica';
import { waitUntil } from '../harness/proc';
import { services } from '../harness/services';
import { runWorkflow, startThen } from '../support/workflowRunner';

const TYPE = 'n8n-nodes-infra-ops.hostAudit';
const NAME = `replica_${process.pid}`;
const SLOW = 180_000;

let replica: PgReplica;

function credential(overrides: IDataObject = {}) {
	const pg = services().postgres;
	return {
		host: pg.host,
		port: pg.port,
		database: pg.database,
		user: pg.user,
		password: pg.password,
		ssl: 'disable',
		...overrides,
	};
}

async function run(parameters: IDataObject, staticData: IDataObject = {}, cred = credential()) {
	const result = await runWorkflow({
		workflow: startThen({
			name: 'Audit',
			type: TYPE,
			parameters: { operation: 'auditReplication', ...parameters },
			credentials: { infraOpsPostgresApi: { id: 'pg', name: 'pg' } },
		}),
		nodeTypes: { [TYPE]: new HostAudit() },
		credentials: { infraOpsPostgresApi: cred },
		staticData,
	});
	const out = (result.outputs.Audit?.[0] ?? []).map((i) => i.json);
	return { ...result, out, byTarget: Object.fromEntries(out.map((f) => [String(f.target), f])) };
}

const primaryQuery = <T>(sql: string) => queryPostgres<T>(services().postgres, sql);

async function streamingRows() {
	return await primaryQuery<{ application_name: string; state: string }>(
		`SELECT application_name, state FROM pg_stat_replication WHERE application_name = '${NAME}'`,
	);
}

beforeAll(async () => {
	replica = await startReplica(services().postgres, services().root, NAME);
	await waitUntil(
		'the replica to stream from the primary',
		async () => (await streamingRows()).some((r) => r.state === 'streaming'),
		{ timeoutMs: 60_000, intervalMs: 200 },
	);
}, SLOW);

afterAll(async () => {
	await replica?.stop();
});

describe('Audit Replication (real primary and streaming replica)', () => {
	it(
		'reports each replica, then lag over the threshold, a replica gone and its recovery as changes',
		async () => {
			const { host, port } = services().postgres;
			const primary = `${host}:${port}`;
			const params = {
				expectedReplicas: NAME,
				replicaAddresses: `127.0.0.1:${replica.port}`,
				maxLagMib: 0.5,
				maxLagSeconds: 0,
			};
			const senderTarget = `${primary}/${NAME}`;
			const replicaTarget = `127.0.0.1:${replica.port}`;

			// 1. healthy: streaming, caught up
			await waitUntil(
				'the replica to replay everything',
				async () =>
					(
						await primaryQuery<{ d: number }>(
							`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 AS d FROM pg_stat_replication WHERE application_name = '${NAME}'`,
						)
					)[0]?.d === 0,
				{ timeoutMs: 60_000, intervalMs: 200 },
			);
			const healthy = await run(params);
			expect(healthy.error).toBeUndefined();
			expect(healthy.byTarget[senderTarget]).toMatchObject({
				check: 'replication',
				status: 'ok',
				changed: false,
				state: 'streaming',
				clientAddr: '127.0.0.1',
				applicationName: NAME,
			});
			expect(healthy.byTarget[replicaTarget]).toMatchObject({
				check: 'replication-replica',
				status: 'ok',
				inRecovery: true,
				replayPaused: false,
				receiverStatus: 'streaming',
			});
			expect(Number(healthy.byTarget[replicaTarget].lagBytes)).toBeLessThan(512 * 1024);

			// 2. replay paused, 2 MiB of WAL written: over the 0.5 MiB threshold on both views
			await replica.query('SELECT pg_wal_replay_pause()');
			await primaryQuery(
				`CREATE TABLE IF NOT EXISTS lag_${process.pid} AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 10000) g`,
			);
			const written = (
				await primaryQuery<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')
			)[0].lsn;
			await waitUntil(
				'the replica to receive the new WAL without replaying it',
				async () => {
					const [r] = await replica.query<{ received: string }>(
						'SELECT pg_last_wal_receive_lsn()::text AS received',
					);
					return parseLsn(r.received)! >= parseLsn(written)!;
				},
				{ timeoutMs: 60_000, intervalMs: 200 },
			);
			const lagging = await run(params, healthy.staticData);
			expect(lagging.byTarget[senderTarget]).toMatchObject({ status: 'critical', changed: true });
			expect(Number(lagging.byTarget[senderTarget].lagBytes)).toBeGreaterThan(512 * 1024);
			expect(lagging.byTarget[senderTarget].summary).toMatch(
				/lags the primary: .* behind \(limit 512\.0 KiB\)/,
			);
			expect(lagging.byTarget[replicaTarget]).toMatchObject({
				status: 'critical',
				changed: true,
				replayPaused: true,
			});
			expect(Number(lagging.byTarget[replicaTarget].lagSeconds)).toBeGreaterThanOrEqual(0);
			expect(lagging.byTarget[replicaTarget].summary).toMatch(/replay is paused/);

			// 3. the replica stops: it leaves pg_stat_replication, and the expected one is reported absent
			await replica.stop();
			await waitUntil(
				'the replica to leave pg_stat_replication',
				async () => !(await streamingRows()).length,
				{
					timeoutMs: 60_000,
					intervalMs: 200,
				},
			);
			const gone = await run(params, lagging.staticData);
			expect(gone.error).toBeUndefined();
			expect(gone.byTarget[senderTarget]).toMatchObject({
				status: 'critical',
				state: 'absent',
				changed: true,
				summary: expect.stringContaining(`Expected replica ${NAME} is not connected`),
			});
			expect(gone.byTarget[replicaTarget]).toMatchObject({ status: 'error', changed: true });

			// 4. started again (replay resumes: a pause does not survive a restart): recovered
			await replica.start();
			await waitUntil(
				'the replica to stream and replay again',
				async () =>
					(
						await primaryQuery<{ d: number }>(
							`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 AS d FROM pg_stat_replication WHERE application_name = '${NAME}' AND state = 'streaming'`,
						)
					)[0]?.d === 0,
				{ timeoutMs: 60_000, intervalMs: 200 },
			);
			const recovered = await run(params, gone.staticData);
			expect(recovered.byTarget[senderTarget]).toMatchObject({ status: 'ok', changed: true });
			expect(recovered.byTarget[replicaTarget]).toMatchObject({ status: 'ok', changed: true });
		},
		SLOW,
	);

	it(
		'reports an expected replica that never connected, and refuses a replica as the primary',
		async () => {
			const missing = await run({ expectedReplicas: 'nightly-standby' });
			expect(missing.out).toContainEqual(
				expect.objectContaining({
					status: 'critical',
					state: 'absent',
					changed: true,
					replica: 'nightly-standby',
				}),
			);
			const onReplica = await run({}, {}, credential({ port: replica.port }));
			expect(onReplica.error?.message).toMatch(/is in recovery: it is a replica, not the primary/);
			expect(onReplica.error?.description).toMatch(/Replica Addresses/);
		},
		SLOW,
	);
});
