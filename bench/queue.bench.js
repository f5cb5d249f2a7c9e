// n8n queue mode, one worker against two, same run: 40 webhook-triggered certificate checks of 50 loopback
// TLS endpoints each (a Webhook → the Cert Expiry node), with Redis, PostgreSQL and a main started here
// (scripts/n8n/queue.js). Each phase fires the 40 webhooks at once and ends when PostgreSQL holds 40
// finished executions; its time is first request → last stoppedAt. CPU seconds come from /proc (utime +
// stime of each process tree: workers with their task runners, the main, the TLS endpoints, PostgreSQL
// with its backends, Redis) over the phase. On a 2-core machine shared with other work the scale is bounded
// by the cores, so the line also gives the figure expected on 4 idle cores: the one-worker time over the
// largest of three bounds on the two-worker time: half the one-worker time (a worker runs at most 10
// executions at once, so twice the workers give twice the slots: the bound when one worker is not
// CPU-bound, as measured here), the busiest worker's CPU time (a worker's JavaScript runs on one core),
// and all processes' CPU time over 4 cores.
const crypto = require('node:crypto');
const { chmodSync, mkdtempSync, rmSync } = require('node:fs');
const os = require('node:os');
const { join, resolve } = require('node:path');

const root = resolve(__dirname, '..');
const n8n = require(join(root, 'scripts/n8n/n8n.js'));
const queue = require(join(root, 'scripts/n8n/queue.js'));
const { startTlsEndpoints } = require('./tlsEndpoints');

const RUNS = Number(process.env.BENCH_RUNS || 40);
const ENDPOINTS = Number(process.env.BENCH_ENDPOINTS || 50);
const WEBHOOK_PATH = 'bench/queue-cert';
const PACK = n8n.PACKAGE_NAME;

function workflow(id, ports, ca) {
	return {
		id,
		name: 'Bench: queue-mode certificate checks',
		nodes: [
			{
				id: 'a1b2c3d4-0000-4000-8000-000000000001',
				name: 'Webhook',
				type: 'n8n-nodes-base.webhook',
				typeVersion: 2,
				position: [0, 0],
				webhookId: 'a1b2c3d4-0000-4000-8000-0000000000ff',
				parameters: {
					httpMethod: 'POST',
					path: WEBHOOK_PATH,
					responseMode: 'onReceived',
					options: {},
				},
			},
			{
				id: 'a1b2c3d4-0000-4000-8000-000000000002',
				name: 'Check Endpoints',
				type: `${PACK}.certExpiry`,
				typeVersion: 1,
				position: [240, 0],
				parameters: {
					operation: 'checkEndpoints',
					targets: ports.map((p) => `localhost:${p}`).join('\n'),
					options: { customCa: ca },
				},
			},
		],
		connections: {
			Webhook: { main: [[{ node: 'Check Endpoints', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	};
}

async function sql(pg, text, values) {
	const { Client } = require(join(root, 'node_modules/pg'));
	const client = new Client({ ...pg, connectionTimeoutMillis: 10_000 });
	await client.connect();
	try {
		return (await client.query(text, values)).rows;
	} finally {
		await client.end();
	}
}

/** Fires `runs` webhooks at once; resolves when that many executions after `afterId` finished. */
async function burst(baseUrl, pg, workflowId, afterId, runs) {
	const started = Date.now();
	const answers = await Promise.all(
		Array.from({ length: runs }, () =>
			fetch(`${baseUrl}/webhook/${WEBHOOK_PATH}`, { method: 'POST', body: '{}' }).then(
				(r) => r.status,
			),
		),
	);
	if (answers.some((s) => s !== 200)) throw new Error(`webhook answers: ${answers.join(',')}`);
	for (;;) {
		const [row] = await sql(
			pg,
			`SELECT count(*)::int AS done, count(*) FILTER (WHERE status <> 'success')::int AS failed,
			        max(id::int) AS last, extract(epoch FROM max("stoppedAt")) * 1000 AS stopped
			   FROM execution_entity
			  WHERE "workflowId" = $1 AND id::int > $2 AND status IN ('success', 'error', 'crashed', 'canceled')`,
			[workflowId, afterId],
		);
		if (row.failed > 0) throw new Error(`${row.failed} execution(s) did not succeed`);
		if (row.done >= runs)
			return { seconds: (Number(row.stopped) - started) / 1000, last: row.last };
		if (Date.now() - started > 15 * 60_000) throw new Error(`only ${row.done} of ${runs} finished`);
		await new Promise((r) => setTimeout(r, 200));
	}
}

const cpu = (pids) => pids.map((pid) => queue.cpuSeconds(pid));

async function main() {
	const dir = mkdtempSync(join(os.tmpdir(), 'bench-queue-'));
	// PostgreSQL runs as the postgres user and must enter it
	chmodSync(dir, 0o711);
	const stops = [];
	try {
		const endpoints = await startTlsEndpoints(dir, ENDPOINTS);
		stops.push(async () => endpoints.stop());
		const { ports, ca } = endpoints;

		const install = n8n.ensureN8n();
		const redis = await queue.startRedis(join(dir, 'redis'));
		stops.push(redis.stop);
		const postgres = await queue.startPostgres(join(dir, 'pg'));
		stops.push(postgres.stop);
		const pg = {
			host: postgres.host,
			port: postgres.port,
			user: postgres.user,
			password: postgres.password,
			database: postgres.database,
		};
		const mainFolder = join(dir, 'main');
		n8n.installPackage(mainFolder);
		const port = await n8n.freePort();
		const env = n8n.n8nEnv({
			userFolder: mainFolder,
			port,
			brokerPort: await n8n.freePort(),
			host: '127.0.0.1',
			listen: '127.0.0.1',
			logLevel: 'warn',
			extra: queue.queueEnv({
				redis,
				postgres,
				encryptionKey: crypto.randomBytes(24).toString('base64url'),
			}),
		});
		const id = n8n.stableId('bench-queue');
		const wf = workflow(id, ports, ca);
		// queue mode keeps change-detection state in PostgreSQL (the nodes refuse to run without it)
		const stateStore = queue.stateStoreCredential(pg);
		await n8n.importCredentials(install, env, [stateStore]);
		await n8n.importWorkflows(install, env, [
			{ file: 'bench-queue.json', workflow: queue.attachToPack(wf, stateStore) },
		]);
		// published before the main starts: the CLI writes the database, the main activates it at start
		await n8n.n8nCli(install, ['publish:workflow', `--id=${id}`], env);
		const main = await n8n.startN8n(install, env);
		stops.push(main.stop);
		const baseUrl = `http://127.0.0.1:${port}`;
		const workers = [];
		const addWorker = async () => {
			const w = await queue.startWorker(install, env, {
				root: dir,
				mainFolder,
				index: workers.length + 1,
			});
			workers.push(w);
			stops.push(w.stop);
		};

		const phase = async (afterId) => {
			const pids = [
				...workers.map((w) => w.child.pid),
				main.child.pid,
				endpoints.pid,
				postgres.pid,
				redis.pid,
			];
			const before = cpu(pids);
			const result = await burst(baseUrl, pg, id, afterId, RUNS);
			const used = cpu(pids).map((c, i) => c - before[i]);
			const n = workers.length;
			return {
				...result,
				workerCpu: used.slice(0, n),
				mainCpu: used[n],
				endpointCpu: used[n + 1],
				dbCpu: used[n + 2] + used[n + 3],
				totalCpu: used.reduce((a, b) => a + b, 0),
			};
		};

		const load = os.loadavg()[0];
		await addWorker();
		// warm-up: the first execution loads the nodes and opens connections
		let last = (await burst(baseUrl, pg, id, 0, 2)).last;
		const one = await phase(last);
		last = one.last;
		await addWorker();
		last = (await burst(baseUrl, pg, id, last, 4)).last;
		const two = await phase(last);

		const expect4 =
			one.seconds / Math.max(one.seconds / 2, Math.max(...two.workerCpu), two.totalCpu / 4);
		const f = (x) => x.toFixed(2);
		console.log(
			`BENCH queue runs=${RUNS} endpoints=${ENDPOINTS} one_worker_s=${f(one.seconds)} two_workers_s=${f(two.seconds)} scale=${f(one.seconds / two.seconds)} ` +
				`cpu_one_worker_s=${f(one.workerCpu[0])} cpu_two_workers_s=${two.workerCpu.map(f).join('+')} ` +
				`cpu_main_s=${f(one.mainCpu)}/${f(two.mainCpu)} cpu_endpoints_s=${f(one.endpointCpu)}/${f(two.endpointCpu)} cpu_pg_redis_s=${f(one.dbCpu)}/${f(two.dbCpu)} ` +
				`cpu_total_s=${f(one.totalCpu)}/${f(two.totalCpu)} cores=${os.cpus().length} load=${f(load)} expected_scale_4_cores=${f(expect4)}`,
		);
	} finally {
		for (const stop of stops.reverse()) await stop().catch(() => undefined);
		rmSync(dir, { recursive: true, force: true });
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
