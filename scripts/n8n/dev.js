#!/usr/bin/env node
/**
 * `npm run dev`: build, pack and install this package into a local n8n 2.x the way n8n installs a community
 * package, import workflows/*.json, and run n8n on http://localhost:5678 (SQLite) until Ctrl-C.
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

const email = process.env.INFRA_OPS_DEV_EMAIL || 'admin@example.com';
const password = process.env.INFRA_OPS_DEV_PASSWORD || 'InfraOps-dev-1';
const port = Number(process.env.INFRA_OPS_DEV_PORT || 5678);
const brokerPort = port + 1;
const listen = process.env.INFRA_OPS_DEV_LISTEN || '127.0.0.1';
const userFolder = path.resolve(process.env.INFRA_OPS_DEV_DIR || path.join(n8n.ROOT, '.n8n-dev'));
const say = (line) => process.stdout.write(`[dev] ${line}\n`);

/** Imports the workflow files that are new or changed since the last start (so edits made in n8n to an
 * unchanged file survive a restart); returns how many were imported. */
async function importChangedWorkflows(install, env) {
	const stateFile = path.join(userFolder, 'imported-workflows.json');
	const state = fs.existsSync(stateFile) ? JSON.parse(fs.readFileSync(stateFile, 'utf8')) : {};
	const entries = [];
	const hashes = {};
	for (const file of n8n.workflowFiles()) {
		const text = fs.readFileSync(file, 'utf8');
		const name = path.basename(file);
		hashes[name] = crypto.createHash('sha256').update(text).digest('hex');
		if (state[name] !== hashes[name]) entries.push({ file, workflow: JSON.parse(text) });
	}
	if (entries.length > 0) {
		await n8n.importWorkflows(install, env, entries);
		say(`imported ${entries.map((e) => path.relative(n8n.ROOT, e.file)).join(', ')}`);
	}
	fs.writeFileSync(stateFile, `${JSON.stringify({ ...state, ...hashes }, null, 2)}\n`);
	return { imported: entries.length, total: Object.keys(hashes).length };
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

	const env = n8n.n8nEnv({
		userFolder,
		port,
		brokerPort,
		listen,
		host: 'localhost',
		owner: { email, password },
	});
	t = Date.now();
	const { imported, total } = await importChangedWorkflows(install, env);
	say(
		`${total} workflow file(s) in workflows/, ${imported} (re)imported${imported ? ` in ${((Date.now() - t) / 1000).toFixed(1)}s` : ''}; starting n8n ${install.version}`,
	);

	const handle = await n8n.startN8n(install, env, { stdio: 'inherit', timeoutMs: 180_000 });
	let stopping = false;
	const stop = async (signal) => {
		if (stopping) {
			// a second Ctrl-C: do not wait for the graceful shutdown
			process.kill(-handle.child.pid, 'SIGKILL');
			return;
		}
		stopping = true;
		say(`${signal}: stopping n8n`);
		const t = Date.now();
		await handle.stop();
		say(`n8n stopped in ${((Date.now() - t) / 1000).toFixed(1)}s`);
		process.exit(0);
	};
	process.on('SIGINT', () => void stop('SIGINT'));
	process.on('SIGTERM', () => void stop('SIGTERM'));
	handle.child.on('exit', (code, signal) => {
		if (stopping) return;
		say(`n8n exited (${signal || `code ${code}`})`);
		process.exit(code || 1);
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
	say(`  data      ${userFolder}`);
	say('  Ctrl-C stops it');
}

main().catch((err) => {
	process.stderr.write(`[dev] ${err.stack || err}\n`);
	process.exit(1);
});
