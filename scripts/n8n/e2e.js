#!/usr/bin/env node
/**
 * `npm run test:e2e [-- --queue] [jest options]`: the end-to-end jest project, in regular mode (one n8n on
 * SQLite) or, with --queue, against n8n in queue mode (Redis, PostgreSQL, one main and two workers; see
 * scripts/n8n/queue.js). The flag becomes INFRA_OPS_E2E_MODE for the suite; other arguments go to jest.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
const args = process.argv.slice(2);
const queue = args.includes('--queue');
const result = spawnSync(
	process.execPath,
	[
		require.resolve('jest/bin/jest', { paths: [ROOT] }),
		'--selectProjects',
		'e2e',
		'--runInBand',
		...args.filter((a) => a !== '--queue'),
	],
	{
		cwd: ROOT,
		stdio: 'inherit',
		env: { ...process.env, INFRA_OPS_E2E: '1', INFRA_OPS_E2E_MODE: queue ? 'queue' : 'regular' },
	},
);
process.exit(result.status ?? 1);
