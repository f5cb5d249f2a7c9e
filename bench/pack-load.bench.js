// What the pack adds to n8n's start: time to require every node and credential file of dist/
// (as n8n does when it loads the package) against requiring n8n-workflow alone, each in a fresh
// process, interleaved so machine noise hits both alike.
const { spawnSync } = require('node:child_process');
const { join, resolve } = require('node:path');

const root = resolve(__dirname, '..');
const pkg = require(join(root, 'package.json'));
const files = [...pkg.n8n.nodes, ...pkg.n8n.credentials].map((f) => join(root, f));
const RUNS = Number(process.env.BENCH_RUNS || 15);

function measure(withPack) {
	const script = `
		const t0 = process.hrtime.bigint();
		require('n8n-workflow');
		for (const f of ${JSON.stringify(withPack ? files : [])}) {
			const mod = require(f);
			for (const exported of Object.values(mod)) if (typeof exported === 'function') new exported();
		}
		process.stdout.write(String(Number(process.hrtime.bigint() - t0) / 1e6));`;
	const out = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' });
	if (out.status !== 0) throw new Error(out.stderr);
	return Number(out.stdout);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ours = [];
const baseline = [];
measure(true); // warm the file cache for both
for (let i = 0; i < RUNS; i++) {
	baseline.push(measure(false));
	ours.push(measure(true));
}
const ms = median(ours);
const base = median(baseline);
console.log(
	`BENCH pack-load ms=${ms.toFixed(1)} baseline_ms=${base.toFixed(1)} ratio=${(ms / base).toFixed(2)} added_ms=${(ms - base).toFixed(1)} files=${files.length} runs=${RUNS}`,
);
