/**
 * n8n in queue mode for `npm run dev -- --queue`, `npm run test:e2e -- --queue` and `npm run bench -- queue`:
 * Debian's redis-server on a private loopback port (no persistence), one `n8n start` (main: editor, API,
 * schedules, webhooks) and N `n8n worker` processes, all on one PostgreSQL with one encryption key, and the
 * pack installed once into the main's nodes folder, which every worker sees as its own ~/.n8n/nodes (in a
 * deployment: one volume mounted into every container, see docs/deploy.md). Plain CommonJS like n8n.js.
 */
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const n8n = require('./n8n');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A child process in its own process group, its output kept (last 200 kB) and optionally forwarded. */
function daemon(cmd, args, { env, cwd, uid, gid, onOutput } = {}) {
	const child = spawn(cmd, args, {
		env,
		cwd,
		uid,
		gid,
		stdio: ['ignore', 'pipe', 'pipe'],
		detached: true,
	});
	child.once('error', (err) => (child.spawnError = err));
	let output = '';
	for (const stream of [child.stdout, child.stderr])
		stream.on('data', (chunk) => {
			output = (output + chunk).slice(-200_000);
			onOutput?.(String(chunk));
		});
	const killGroup = () => {
		try {
			process.kill(-child.pid, 'SIGKILL');
		} catch {
			// gone
		}
	};
	process.on('exit', killGroup);
	const exited = new Promise((resolve) =>
		child.once('exit', (code, signal) => {
			process.off('exit', killGroup);
			resolve({ code, signal });
		}),
	);
	const stop = async (signal = 'SIGTERM', graceMs = 10_000) => {
		if (child.spawnError || child.exitCode !== null || child.signalCode !== null) return exited;
		try {
			process.kill(-child.pid, signal);
		} catch {
			child.kill(signal);
		}
		const timer = setTimeout(killGroup, graceMs);
		const result = await exited;
		clearTimeout(timer);
		return result;
	};
	const alive = () => !child.spawnError && child.exitCode === null && child.signalCode === null;
	return { child, stop, alive, output: () => output };
}

async function waitFor(what, check, { timeoutMs = 30_000, proc } = {}) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		if (proc && !proc.alive())
			throw new Error(`${what}: the process exited\n${proc.output().slice(-4000)}`);
		if (await check()) return;
		if (Date.now() > deadline)
			throw new Error(
				`${what}: not within ${timeoutMs / 1000}s\n${proc ? proc.output().slice(-4000) : ''}`,
			);
		await sleep(100);
	}
}

/** redis-server on 127.0.0.1:<free port>, nothing written to disk (no RDB snapshots, no AOF). */
async function startRedis(dir) {
	fs.mkdirSync(dir, { recursive: true });
	const port = await n8n.freePort();
	const proc = daemon('redis-server', [
		'--port',
		String(port),
		'--bind',
		'127.0.0.1',
		'--protected-mode',
		'yes',
		'--save',
		'',
		'--appendonly',
		'no',
		'--dir',
		dir,
		'--daemonize',
		'no',
		'--loglevel',
		'warning',
	]);
	await waitFor(
		`redis-server on port ${port}`,
		() => {
			try {
				return execFileSync('redis-cli', ['-p', String(port), 'ping'], {
					encoding: 'utf8',
					stdio: ['ignore', 'pipe', 'ignore'],
				}).includes('PONG');
			} catch {
				return false;
			}
		},
		{ proc },
	);
	return { host: '127.0.0.1', port, pid: proc.child.pid, stop: () => proc.stop('SIGTERM', 5000) };
}

function postgresBinDir() {
	const base = '/usr/lib/postgresql';
	const versions = fs.existsSync(base)
		? fs
				.readdirSync(base)
				.filter((v) => fs.existsSync(path.join(base, v, 'bin', 'postgres')))
				.sort((a, b) => Number(b) - Number(a))
		: [];
	if (versions.length === 0)
		throw new Error(`postgres not found in ${base}/*/bin: apt-get install postgresql`);
	return path.join(base, versions[0], 'bin');
}

/**
 * A PostgreSQL cluster of its own in `dir` (kept between runs: `npm run dev -- --queue` keeps its
 * workflows and executions), on loopback with a SCRAM password, run as the postgres user when started as
 * root (postgres refuses root). The e2e suite uses the harness's PostgreSQL instead.
 */
async function startPostgres(dir, { port } = {}) {
	const bin = postgresBinDir();
	const dataDir = path.join(dir, 'data');
	const passwordFile = path.join(dir, 'password');
	const asRoot = process.getuid?.() === 0;
	const owner = asRoot
		? (() => {
				const line = fs
					.readFileSync('/etc/passwd', 'utf8')
					.split('\n')
					.find((l) => l.startsWith('postgres:'));
				if (!line) throw new Error('no postgres user: apt-get install postgresql');
				const [, , uid, gid] = line.split(':');
				return { uid: Number(uid), gid: Number(gid) };
			})()
		: undefined;
	fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
	if (owner) {
		for (let p = path.dirname(dir); ; p = path.dirname(p)) {
			if ((fs.statSync(p).mode & 0o001) === 0)
				throw new Error(
					`PostgreSQL runs as the postgres user, which cannot enter ${p} (no o+x): chmod o+x ${p}, or keep the data elsewhere`,
				);
			if (p === path.dirname(p)) break;
		}
		fs.chownSync(dir, owner.uid, owner.gid);
	}
	const opts = {
		...(owner ?? {}),
		cwd: dir,
		env: { ...process.env, HOME: dir, LC_ALL: 'C.UTF-8' },
	};
	if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
		const password = crypto.randomBytes(18).toString('base64url');
		fs.writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
		if (owner) fs.chownSync(passwordFile, owner.uid, owner.gid);
		execFileSync(
			path.join(bin, 'initdb'),
			[
				'-D',
				dataDir,
				'-U',
				'n8n',
				`--pwfile=${passwordFile}`,
				'--auth-host=scram-sha-256',
				'--auth-local=peer',
				'-E',
				'UTF8',
				'--locale=C',
			],
			{ ...opts, stdio: ['ignore', 'ignore', 'pipe'] },
		);
	}
	const password = fs.readFileSync(passwordFile, 'utf8').trim();
	port ??= await n8n.freePort();
	const proc = daemon(
		path.join(bin, 'postgres'),
		[
			'-D',
			dataDir,
			'-c',
			'listen_addresses=127.0.0.1',
			'-c',
			`port=${port}`,
			'-c',
			`unix_socket_directories=${dir}`,
		],
		opts,
	);
	await waitFor(
		`postgres on port ${port}`,
		() => {
			try {
				execFileSync(
					path.join(bin, 'pg_isready'),
					['-q', '-h', '127.0.0.1', '-p', String(port), '-t', '2'],
					{ stdio: 'ignore' },
				);
				return true;
			} catch {
				return false;
			}
		},
		{ proc },
	);
	return {
		host: '127.0.0.1',
		port,
		user: 'n8n',
		password,
		database: 'postgres',
		pid: proc.child.pid,
		// SIGINT: fast shutdown, without waiting for n8n's pool to disconnect
		stop: () => proc.stop('SIGINT', 15_000),
	};
}

/**
 * What every process of a queue-mode n8n shares: the queue, the database, the encryption key (workers
 * decrypt credentials), and the binary-data mode. `database` is n8n 2.41's default in queue mode (set here
 * so that it is visible): `filesystem` would leave a worker's binary data on that worker's disk, where the
 * main (editor, webhook responses) and the other workers cannot read it; `s3` needs an enterprise license.
 */
function queueEnv({ redis, postgres, encryptionKey }) {
	return {
		EXECUTIONS_MODE: 'queue',
		QUEUE_BULL_REDIS_HOST: redis.host,
		QUEUE_BULL_REDIS_PORT: String(redis.port),
		DB_TYPE: 'postgresdb',
		DB_POSTGRESDB_HOST: postgres.host,
		DB_POSTGRESDB_PORT: String(postgres.port),
		DB_POSTGRESDB_DATABASE: postgres.database,
		DB_POSTGRESDB_USER: postgres.user,
		DB_POSTGRESDB_PASSWORD: postgres.password,
		N8N_ENCRYPTION_KEY: encryptionKey,
		N8N_DEFAULT_BINARY_DATA_MODE: 'database',
		// manual runs from the editor go to the workers too, as in production
		OFFLOAD_MANUAL_EXECUTIONS_TO_WORKERS: 'true',
	};
}

/**
 * The Infra Ops State Store credential (the pack's `infraOpsStateStoreApi`, for `n8n import:credentials`)
 * on a PostgreSQL reached on loopback: in queue mode every change-detecting node needs one, since workflow
 * static data is not kept between runs there (docs/deploy.md, "State Store (queue mode)").
 */
function stateStoreCredential(
	postgres,
	{ name = 'Infra Ops State Store', ssl = 'disable', ca } = {},
) {
	return {
		id: n8n.stableId(`credential:infraOpsStateStoreApi:${name}`),
		name,
		type: 'infraOpsStateStoreApi',
		data: {
			host: postgres.host,
			port: postgres.port,
			database: postgres.database,
			user: postgres.user,
			password: postgres.password,
			ssl,
			...(ca ? { ca } : {}),
			table: 'infra_ops_state',
		},
	};
}

/** A copy of a workflow with `credential` attached to every node of the pack that has none of its type. */
function attachToPack(workflow, credential) {
	const copy = JSON.parse(JSON.stringify(workflow));
	for (const node of copy.nodes ?? [])
		if (node.type.startsWith(`${n8n.PACKAGE_NAME}.`))
			node.credentials = {
				[credential.type]: { id: credential.id, name: credential.name },
				...node.credentials,
			};
	return copy;
}

/** `<folder>/.n8n/nodes` → the main's nodes folder, where installPackage put the pack. */
function shareNodesFolder(mainFolder, folder) {
	const target = path.join(mainFolder, '.n8n', 'nodes');
	const link = path.join(folder, '.n8n', 'nodes');
	fs.mkdirSync(path.dirname(link), { recursive: true });
	fs.rmSync(link, { recursive: true, force: true });
	fs.symlinkSync(target, link, 'dir');
}

/**
 * Starts `n8n worker` number `index` with its own user folder (`<root>/worker-<index>`) sharing the main's
 * nodes folder, its own task-runner broker port and health port; resolves once its /healthz/readiness
 * answers. Its output is kept: at log level info it says "Worker started execution <id>" per job, which is
 * how the suite tells which worker ran what (n8n's execution records do not name the worker).
 */
async function startWorker(install, baseEnv, { root, mainFolder, index, concurrency = 10, stdio }) {
	const folder = path.join(root, `worker-${index}`);
	fs.mkdirSync(folder, { recursive: true });
	shareNodesFolder(mainFolder, folder);
	const env = {
		...baseEnv,
		N8N_USER_FOLDER: folder,
		N8N_RUNNERS_BROKER_PORT: String(await n8n.freePort()),
		QUEUE_HEALTH_CHECK_ACTIVE: 'true',
		QUEUE_HEALTH_CHECK_PORT: String(await n8n.freePort()),
		N8N_WORKER_SERVER_ADDRESS: '127.0.0.1',
		N8N_LOG_LEVEL: baseEnv.N8N_LOG_LEVEL === 'debug' ? 'debug' : 'info',
	};
	for (const key of Object.keys(env)) if (key.startsWith('N8N_INSTANCE_OWNER_')) delete env[key];
	const handle = await n8n.startN8n(install, env, {
		command: 'worker',
		args: [`--concurrency=${concurrency}`],
		stdio,
	});
	return {
		...handle,
		name: `worker-${index}`,
		env,
		/** Execution ids this worker started, from its log. */
		executionIds: () =>
			[...handle.output().matchAll(/Worker started execution (\d+)/g)].map((m) => m[1]),
	};
}

/** Pid and descendants' CPU seconds (utime + stime, from /proc) of a process tree. */
function cpuSeconds(pid) {
	const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
	let total = 0;
	const seen = new Set();
	const visit = (p) => {
		if (seen.has(p)) return;
		seen.add(p);
		try {
			const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
			const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
			// fields[11], [12]: utime, stime (fields 14 and 15 of proc(5), counted from the state field)
			total += Number(fields[11]) + Number(fields[12]);
			const children = fs.readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim();
			for (const c of children ? children.split(' ') : []) visit(Number(c));
		} catch {
			// exited meanwhile
		}
	};
	visit(pid);
	return total / ticks;
}

module.exports = {
	daemon,
	waitFor,
	startRedis,
	startPostgres,
	queueEnv,
	stateStoreCredential,
	attachToPack,
	shareNodesFolder,
	startWorker,
	cpuSeconds,
};
