// Certificate checks on 500 loopback TLS endpoints, same run: the Cert Expiry node's probe and
// judge (bounded concurrency) against the review's method, an `openssl s_client | openssl x509
// -noout -dates` per host in a shell loop. stall_s: our run with one endpoint among the 500 that
// accepts and never answers. Endpoints live in a child process so neither side shares its CPU.
const { execFileSync, execSync, fork } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');

const root = resolve(__dirname, '..');
const ENDPOINTS = Number(process.env.BENCH_ENDPOINTS || 500);
const RUNS = Number(process.env.BENCH_RUNS || 3);
// the shell loop takes minutes at 500 endpoints, so it runs once unless asked
const BASELINE_RUNS = Number(process.env.BENCH_BASELINE_RUNS || 1);
const TIMEOUT_MS = 5000;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY || 50);

function serve() {
	const tls = require('node:tls');
	const net = require('node:net');
	const [cert, key] = [
		readFileSync(process.argv[3], 'utf8'),
		readFileSync(process.argv[4], 'utf8'),
	];
	(async () => {
		const ports = [];
		for (let i = 0; i < ENDPOINTS; i++) {
			const server = tls.createServer({ cert, key });
			await new Promise((r) => server.listen(0, '127.0.0.1', r));
			ports.push(server.address().port);
		}
		const silent = net.createServer(() => undefined);
		await new Promise((r) => silent.listen(0, '127.0.0.1', r));
		process.send({ ports, silent: silent.address().port });
	})();
}

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
	execFileSync(
		'openssl',
		[
			'req',
			'-x509',
			'-newkey',
			'ec',
			'-pkeyopt',
			'ec_paramgen_curve:P-256',
			'-nodes',
			'-subj',
			'/CN=localhost',
			'-addext',
			'subjectAltName=DNS:localhost',
			'-days',
			'60',
			'-keyout',
			join(dir, 'key.pem'),
			'-out',
			join(dir, 'cert.pem'),
		],
		{ stdio: 'ignore' },
	);
	const child = fork(__filename, ['serve', join(dir, 'cert.pem'), join(dir, 'key.pem')], {
		stdio: 'inherit',
	});
	child.once('exit', (code) => code && process.exit(1));
	try {
		const ca = readFileSync(join(dir, 'cert.pem'), 'utf8');
		const { ports, silent } = await new Promise((r) => child.once('message', r));
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
		child.kill();
		rmSync(dir, { recursive: true, force: true });
	}
}

if (process.argv[2] === 'serve') serve();
else
	main().catch((error) => {
		console.error(error);
		process.exit(1);
	});
