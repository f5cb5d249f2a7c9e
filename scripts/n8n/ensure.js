#!/usr/bin/env node
/**
 * Installs the cached n8n (scripts/n8n/n8n.js ensureN8n) as a step of its own, before jest starts: the
 * first install downloads ~600 MB and compiles two native modules for 10-25 minutes, which must not run
 * under a test timeout. Prints one line when n8n is already there.
 */
'use strict';
const n8n = require('./n8n');

try {
	const t0 = Date.now();
	const install = n8n.ensureN8n();
	const took = Date.now() - t0;
	process.stderr.write(
		took < 1000
			? `[n8n] n8n@${install.version} is installed in ${install.dir}\n`
			: `[n8n] n8n@${install.version} installed in ${(took / 1000).toFixed(0)}s\n`,
	);
} catch (err) {
	process.stderr.write(`[n8n] installing n8n failed: ${err.message}\n`);
	process.exit(1);
}
