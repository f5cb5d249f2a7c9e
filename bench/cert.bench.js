// Certificate checks on 500 loopback TLS endpoints, same run: the Cert Expiry node's probe and
// judge (bounded concurrency) against the review's method, an `openssl s_client | openssl x509
// -noout -dates` per host in a shell loop. stall_s: our run with one endpoint among the 500 that
// accepts and never answers. Endpoints live in a child process so neither side shares its CPU.
const { execSync } = require('node:child_process');
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');

const { startTlsEndpoints } = require('./tlsEndpoints');

const root = resolve(__dirname, '..');
const ENDPOINTS = Number(process.env.BENCH_ENDPOINTS || 500);
const RUNS = Number(process.env.BENCH_RUNS || 3);
// the shell loop takes minutes at 500 endpoints, so it runs once unless asked
const BASELINE_RUNS = Number(process.env.BENCH_BASELINE_RUNS || 1);
const TIMEOUT_MS = 5000;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY || 50);

function load() {
	return {
		...require(join(root, 'dist/nodes/CertExpiry/tlsProbe.js')),
		...require(join(root, 'dist/nodes/CertExpiry/judge.js')),
		...require(join(root, 'dist/nodes/shared/concurrency.js')),
	};
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function ours(ports, ca) {
	const { probeTls, judgeChain, mapConcurrent } = load();
	const started = process.hrtime.bigint();
	const findings = await mapConcurrent(ports, CONCURRENCY, async (port) => {
		try {
			const probe = await probeTls({
				host: 'localhost',
				port,
				startTls: 'none',
				timeoutMs: TIMEOUT_MS,
				ca,
			});
			return judgeChain({
				chain: probe.chain,
				hostname: 'localhost',
				protocol: probe.protocol,
				trust: { authorized: probe.authorized, error: probe.authorizationError },
				customCa: ca,
				thresholds: { mode: 'lifetime' },
				now: new Date(),
			}).status;
		} catch {
			return 'error';
		}
	});
	const seconds = Number(process.hrtime.bigint() - started) / 1e9;
	return { seconds, findings };
}

function baseline(ports, dir) {
	const list = join(dir, 'ports.txt');
	writeFileSync(list, ports.join('\n') + '\n');
	// stdin from /dev/null rather than the usual `echo |`, which makes s_client linger ~0.5 s: the faster baseline
	const script = `while read p; do openssl s_client -connect 127.0.0.1:$p -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -dates >/dev/null; done < ${list}`;
	const started = process.hrtime.bigint();
	execSync(script, { shell: '/bin/bash', stdio: 'ignore' });
	return Number(process.hrtime.bigint() - started) / 1e9;
}

async function main() {
	const dir = mkdtempSync(join(tmpdir(), 'bench-cert-'));
	const endpoints = await startTlsEndpoints(dir, ENDPOINTS, { silent: true });
	try {
		const { ports, silent, ca } = endpoints;
		const oursS = [];
		const baseS = [];
		await ours(ports.slice(0, 20), ca);
		for (let i = 0; i < RUNS; i++) {
			const run = await ours(ports, ca);
			if (run.findings.some((s) => s === 'error')) throw new Error('an endpoint failed in our run');
			oursS.push(run.seconds);
			if (i < BASELINE_RUNS) baseS.push(baseline(ports, dir));
		}
		const stalled = [...ports.slice(0, ENDPOINTS - 1), silent];
		const stall = await ours(stalled, ca);
		const o = median(oursS);
		const b = baseS.length ? median(baseS) : NaN;
		console.log(
			`BENCH cert endpoints=${ENDPOINTS} ours_s=${o.toFixed(2)} baseline_s=${Number.isNaN(b) ? 'skipped' : b.toFixed(2)} speedup=${Number.isNaN(b) ? 'n/a' : (b / o).toFixed(1)} stall_s=${stall.seconds.toFixed(2)} timeout_s=${TIMEOUT_MS / 1000} concurrency=${CONCURRENCY} runs=${RUNS} baseline_runs=${baseS.length}`,
		);
	} finally {
		endpoints.stop();
		rmSync(dir, { recursive: true, force: true });
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
