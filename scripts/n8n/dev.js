#!/usr/bin/env node
/**
 * `npm run dev`: build, pack and install this package into a local n8n 2.x the way n8n installs a community
 * package, import workflows/*.json, and run n8n on http://localhost:5678 (SQLite) until Ctrl-C.
 *
 * `npm run dev -- --queue`: n8n in queue mode instead, as a scaled-out deployment runs it: redis-server on a
 * private loopback port (no persistence), a PostgreSQL cluster of its own in <data>/postgres (kept between
 * starts), the main on the same port and two `n8n worker` processes, all with one encryption key (kept in
 * <data>/encryption-key) and the pack in one nodes folder every process loads (scripts/n8n/queue.js). Its
 * data folder is .n8n-dev-queue/ unless INFRA_OPS_DEV_DIR says otherwise. Each worker's log lines start with
 * [worker-N]. An "Infra Ops State Store" credential on that PostgreSQL is attached to every node of the pack
 * in the imported workflows: queue mode keeps no workflow static data between runs.
 *
 * Environment (all optional):
 *   INFRA_OPS_DEV_EMAIL     owner login, default admin@example.com
 *   INFRA_OPS_DEV_PASSWORD  owner password, default InfraOps-dev-1
 *   INFRA_OPS_DEV_PORT      default 5678 (its task-runner broker listens on the next port, 5679 by default)
 *   INFRA_OPS_DEV_LISTEN    address to listen on, default 127.0.0.1 (0.0.0.0 to reach it from elsewhere)
 *   INFRA_OPS_DEV_DIR       n8n user folder (database, settings), default .n8n-dev/ in the repository
 *   INFRA_OPS_N8N_VERSION   default 2.41.1; INFRA_OPS_CACHE where n8n and Node 24 are cached
 */
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const n8n = require('./n8n');
const queue = require('./queue');

const email = process.env.INFRA_OPS_DEV_EMAIL || 'admin@example.com';
const password = process.env.INFRA_OPS_DEV_PASSWORD || 'InfraOps-dev-1';
const port = Number(process.env.INFRA_OPS_DEV_PORT || 5678);
const brokerPort = port + 1;
const listen = process.env.INFRA_OPS_DEV_LISTEN || '127.0.0.1';
const queueMode = process.argv.includes('--queue');
const WORKERS = 2;
const dataDir = path.resolve(
	process.env.INFRA_OPS_DEV_DIR || path.join(n8n.ROOT, queueMode ? '.n8n-dev-queue' : '.n8n-dev'),
);
// queue mode: the main's user folder beside the workers' and PostgreSQL's
const userFolder = queueMode ? path.join(dataDir, 'main') : dataDir;
const say = (line) => process.stdout.write(`[dev] ${line}\n`);

/** Imports the workflow files that are new or changed since the last start (so edits made in n8n to an
 * unchanged file survive a restart); returns how many were imported. */
async function importChangedWorkflows(install, env, stateStore) {
	const stateFile = path.join(userFolder, 'imported-workflows.json');
	const state = fs.existsSync(stateFile) ? JSON.parse(fs.readFileSync(stateFile, 'utf8')) : {};
	const entries = [];
	const hashes = {};
	for (const file of n8n.workflowFiles()) {
		const text = fs.readFileSync(file, 'utf8');
		const name = path.basename(file);
		hashes[name] = crypto.createHash('sha256').update(text).digest('hex');
		if (state[name] !== hashes[name]) {
			const workflow = JSON.parse(text);
			entries.push({
				file,
				workflow: stateStore ? queue.attachToPack(workflow, stateStore) : workflow,
			});
		}
	}
	if (entries.length > 0) {
		await n8n.importWorkflows(install, env, entries);
		say(`imported ${entries.map((e) => path.relative(n8n.ROOT, e.file)).join(', ')}`);
	}
	fs.writeFileSync(stateFile, `${JSON.stringify({ ...state, ...hashes }, null, 2)}\n`);
	return { imported: entries.length, total: Object.keys(hashes).length };
}

function prefixed(name, chunk) {
	for (const line of String(chunk).split('\n'))
		if (line.trim()) process.stdout.write(`[${name}] ${line}\n`);
}

/** Redis and PostgreSQL for queue mode; the encryption key is made once and kept, like n8n's own config. */
async function startQueueServices() {
	const missing = ['redis-server', '/usr/lib/postgresql'].filter((tool) =>
		tool.startsWith('/')
			? !fs.existsSync(tool)
			: !process.env.PATH.split(path.delimiter).some((d) => fs.existsSync(path.join(d, tool))),
	);
	if (missing.length)
		throw new Error(
			'queue mode needs redis-server and PostgreSQL: sudo apt-get install -y --no-install-recommends redis-server postgresql',
		);
	fs.mkdirSync(dataDir, { recursive: true });
	const keyFile = path.join(dataDir, 'encryption-key');
	if (!fs.existsSync(keyFile))
		fs.writeFileSync(keyFile, crypto.randomBytes(24).toString('base64url'), { mode: 0o600 });
	const encryptionKey = fs.readFileSync(keyFile, 'utf8').trim();
	const redis = await queue.startRedis(path.join(dataDir, 'redis'));
	let postgres;
	try {
		postgres = await queue.startPostgres(path.join(dataDir, 'postgres'));
	} catch (err) {
		await redis.stop();
		throw err;
	}
	say(`redis-server on 127.0.0.1:${redis.port}, PostgreSQL on 127.0.0.1:${postgres.port}`);
	return {
		redis,
		postgres,
		env: queue.queueEnv({ redis, postgres, encryptionKey }),
		stop: async () => {
			await postgres.stop();
			await redis.stop();
		},
	};
}

async function main() {
	const t0 = Date.now();
	let t = Date.now();
	// build first: a compile error shows in seconds, not after n8n's first install
	n8n.buildPackage();
	say(`built in ${((Date.now() - t) / 1000).toFixed(1)}s`);
	const install = n8n.ensureN8n();
	fs.mkdirSync(userFolder, { recursive: true });
	n8n.installPackage(userFolder, { reuseDependencies: true });

	const services = queueMode ? await startQueueServices() : undefined;
	const env = n8n.n8nEnv({
		userFolder,
		port,
		brokerPort,
		listen,
		host: 'localhost',
		owner: { email, password },
		extra: services?.env,
	});
	t = Date.now();
	// queue mode: the nodes keep change-detection state in PostgreSQL (this one), attached to each on import
	const stateStore = services && queue.stateStoreCredential(services.postgres);
	if (stateStore) await n8n.importCredentials(install, env, [stateStore]);
	const { imported, total } = await importChangedWorkflows(install, env, stateStore);
	say(
		`${total} workflow file(s) in workflows/, ${imported} (re)imported${imported ? ` in ${((Date.now() - t) / 1000).toFixed(1)}s` : ''}; starting n8n ${install.version}`,
	);

	let handle;
	const workers = [];
	try {
		handle = await n8n.startN8n(install, env, { stdio: 'inherit', timeoutMs: 180_000 });
		for (let i = 1; services && i <= WORKERS; i++) {
			const worker = await queue.startWorker(install, env, {
				root: dataDir,
				mainFolder: userFolder,
				index: i,
			});
			worker.child.stdout.on('data', (d) => prefixed(`worker-${i}`, d));
			worker.child.stderr.on('data', (d) => prefixed(`worker-${i}`, d));
			workers.push(worker);
		}
	} catch (err) {
		for (const w of workers) await w.stop();
		await handle?.stop();
		await services?.stop();
		throw err;
	}
	let stopping = false;
	const stop = async (signal, exitCode = 0) => {
		if (stopping) {
			// a second Ctrl-C: do not wait for the graceful shutdown
			for (const h of [handle, ...workers]) process.kill(-h.child.pid, 'SIGKILL');
			return;
		}
		stopping = true;
		say(`${signal}: stopping n8n`);
		const t = Date.now();
		await Promise.all(workers.map((w) => w.stop()));
		await handle.stop();
		await services?.stop();
		say(`n8n stopped in ${((Date.now() - t) / 1000).toFixed(1)}s`);
		process.exit(exitCode);
	};
	process.on('SIGINT', () => void stop('SIGINT'));
	process.on('SIGTERM', () => void stop('SIGTERM'));
	for (const h of [handle, ...workers])
		h.child.on('exit', (code, signal) => {
			if (stopping) return;
			say(`${h.name ?? 'n8n'} exited (${signal || `code ${code}`}); stopping the rest`);
			void stop('exit', code || 1);
		});

	const url = `http://localhost:${port}`;
	say('');
	say(
		`n8n ${install.version} with ${n8n.PACKAGE_NAME} is ready (${((Date.now() - t0) / 1000).toFixed(1)}s; n8n itself ${(handle.startedInMs / 1000).toFixed(1)}s)`,
	);
	say(`  open      ${url}`);
	say(
		`  log in as ${email} / ${password}${process.env.INFRA_OPS_DEV_PASSWORD ? '' : '   (defaults; set INFRA_OPS_DEV_EMAIL and INFRA_OPS_DEV_PASSWORD)'}`,
	);
	if (services)
		say(
			`  queue     redis 127.0.0.1:${services.redis.port}, PostgreSQL 127.0.0.1:${services.postgres.port}, ${WORKERS} workers (health ${workers.map((w) => w.baseUrl).join(', ')})`,
		);
	say(`  data      ${dataDir}`);
	say('  Ctrl-C stops it');
}

main().catch((err) => {
	process.stderr.write(`[dev] ${err.stack || err}\n`);
	process.exit(1);
});
