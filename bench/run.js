#!/usr/bin/env node
// Runs every bench/<name>.bench.js (or only those named on the command line); each prints one
// `BENCH <name> key=value ...` line with its own baseline measured in the same run.
const { readdirSync } = require('node:fs');
const { join } = require('node:path');
const { spawnSync } = require('node:child_process');

const all = readdirSync(__dirname)
	.filter((f) => f.endsWith('.bench.js'))
	.map((f) => f.replace(/\.bench\.js$/, ''))
	.sort();
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length) {
	console.error(`Unknown benchmark(s): ${unknown.join(', ')}. Known: ${all.join(', ')}`);
	process.exit(2);
}
let failed = 0;
for (const name of wanted.length ? wanted : all) {
	const result = spawnSync(process.execPath, [join(__dirname, `${name}.bench.js`)], {
		stdio: 'inherit',
	});
	if (result.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
