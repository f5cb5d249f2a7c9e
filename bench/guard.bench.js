// Container Guard over 200 containers on a real dockerd (started here), same run:
// (a) ours — dist's Health then Audit Limits path (ping, one list, then one inspect per container,
//     8 at a time), through a counting proxy in front of the Engine socket;
// (b) baseline — the review's shell loop `docker inspect $(docker ps -aq)`, once per check (twice),
//     which only fetches the data and judges nothing.
// Requests are counted on the socket (every HTTP request line the client sends) in one extra run
// through a counting proxy; the timed runs of both sides talk to dockerd's socket directly.
// Env: BENCH_CONTAINERS (default 200), BENCH_RUNS (default 3).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const os = require('node:os');

const root = path.resolve(__dirname, '..');

// the harness is TypeScript: transpile it on require (typescript is a dev dependency)
const ts = require('typescript');
require.extensions['.ts'] = (module, filename) => {
	const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
		compilerOptions: {
			module: ts.ModuleKind.CommonJS,
			target: ts.ScriptTarget.ES2022,
			esModuleInterop: true,
		},
	});
	module._compile(out.outputText, filename);
};

const CONTAINERS = Number(process.env.BENCH_CONTAINERS || 200);
const RUNS = Number(process.env.BENCH_RUNS || 3);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A unix socket that forwards to dockerd and counts request lines by method and path kind. */
function countingProxy(listenPath, upstreamPath) {
	const counts = { list: 0, inspect: 0, other: 0 };
	const requestLine = /(?:^|\n)(GET|POST|HEAD|PUT|DELETE) (\S+) HTTP\/1\.[01]\r/g;
	const server = net.createServer((client) => {
		const upstream = net.connect(upstreamPath);
		let tail = '';
		client.on('data', (chunk) => {
			const text = tail + chunk.toString('latin1');
			for (const m of text.matchAll(requestLine)) {
				const url = m[2].replace(/^\/v[\d.]+/, '');
				if (/^\/containers\/json/.test(url)) counts.list++;
				else if (/^\/containers\/[^/]+\/json/.test(url)) counts.inspect++;
				else counts.other++;
			}
			tail = text.slice(-64).replace(/^[^\n]*$/, '');
			upstream.write(chunk);
		});
		upstream.pipe(client);
		client.on('end', () => upstream.end());
		client.on('error', () => upstream.destroy());
		upstream.on('error', () => client.destroy());
	});
	return new Promise((resolve) =>
		server.listen(listenPath, () =>
			resolve({
				counts,
				reset: () => Object.assign(counts, { list: 0, inspect: 0, other: 0 }),
				close: () => new Promise((r) => server.close(r)),
			}),
		),
	);
}

async function main() {
	if (process.getuid?.() !== 0)
		throw new Error('the guard benchmark starts dockerd: run it as root');
	const { startDocker } = require(path.join(root, 'test/harness/docker.ts'));
	const { createDockerClient, pingDocker } = require(
		path.join(root, 'dist/nodes/shared/docker.js'),
	);
	const { listContainers, inspectAll } = require(
		path.join(root, 'dist/nodes/ContainerGuard/containers.js'),
	);
	const { assessHealth } = require(path.join(root, 'dist/nodes/ContainerGuard/health.js'));
	const { auditContainers } = require(path.join(root, 'dist/nodes/ContainerGuard/audit.js'));
	const { parsePolicy, DEFAULT_POLICY } = require(
		path.join(root, 'dist/nodes/ContainerGuard/policy.js'),
	);

	const tmp = fs.mkdtempSync(
		path.join(os.tmpdir().length <= 40 ? os.tmpdir() : '/tmp', 'iops-bench-'),
	);
	fs.writeFileSync(path.join(tmp, 'harness-state.json'), JSON.stringify({ ownerPid: process.pid }));
	const dockerSvc = await startDocker(tmp);
	const socketPath = dockerSvc.info.socketPath;
	const proxyPath = path.join(tmp, 'count.sock');
	const proxy = await countingProxy(proxyPath, socketPath);
	const Docker = require('dockerode');
	const docker = new Docker({ socketPath, timeout: 600_000 });
	const cli = (args) =>
		execFileSync('docker', args, {
			env: {
				...process.env,
				DOCKER_HOST: `unix://${socketPath}`,
				DOCKER_CONFIG: path.join(tmp, 'cli'),
			},
			encoding: 'utf8',
			maxBuffer: 256 << 20,
			stdio: ['ignore', 'pipe', 'pipe'],
		});
	try {
		// a mix like a real host: some with limits and a restart policy, some stopped
		for (let i = 0; i < CONTAINERS; i++) {
			const c = await docker.createContainer({
				Image: dockerSvc.info.image,
				name: `bench-${i + 1}`,
				Cmd: ['sleep', '3600'],
				Labels:
					i % 3 === 0
						? { 'com.docker.compose.project': 'bench', 'com.docker.compose.service': `s${i}` }
						: {},
				HostConfig: {
					NetworkMode: 'none',
					...(i % 2
						? { Memory: 64 << 20, MemorySwap: 64 << 20, RestartPolicy: { Name: 'unless-stopped' } }
						: {}),
				},
			});
			if (i % 10 !== 9) await c.start();
		}
		const policy = parsePolicy(DEFAULT_POLICY);
		const selection = { names: [], labels: [], composeProject: '' };
		const store = {};

		const ours = async (via) => {
			proxy.reset();
			const t0 = process.hrtime.bigint();
			const perOp = [];
			let findings = 0;
			for (const op of ['health', 'audit']) {
				const before = { ...proxy.counts };
				const client = await createDockerClient({ kind: 'socket', socketPath: via });
				try {
					await pingDocker(client);
					const target = client.target;
					const inspected = await inspectAll(
						client.docker,
						target,
						await listContainers(client.docker, target, selection),
					);
					findings +=
						op === 'health'
							? assessHealth(inspected, store, {
									flapRestarts: 3,
									windowMinutes: 30,
									forgetHours: 24,
									scope: target,
									now: new Date(),
								}).length
							: auditContainers(inspected, policy).length;
				} finally {
					client.close();
				}
				perOp.push({
					list: proxy.counts.list - before.list,
					inspect: proxy.counts.inspect - before.inspect,
					other: proxy.counts.other - before.other,
				});
			}
			const s = Number(process.hrtime.bigint() - t0) / 1e9;
			return {
				s,
				perOp,
				findings,
				requests: proxy.counts.list + proxy.counts.inspect + proxy.counts.other,
			};
		};
		const baseline = () => {
			const t0 = process.hrtime.bigint();
			let inspected = 0;
			for (let k = 0; k < 2; k++) {
				const ids = cli(['ps', '-aq']).trim().split('\n');
				inspected = JSON.parse(cli(['inspect', ...ids])).length;
			}
			return { s: Number(process.hrtime.bigint() - t0) / 1e9, inspected };
		};

		const oursRuns = [];
		const baseRuns = [];
		// requests are counted on one run through the proxy; the timed runs talk to dockerd directly, as the baseline does
		const counted = await ours(proxyPath);
		for (let r = 0; r < RUNS; r++) {
			oursRuns.push(await ours(socketPath));
			baseRuns.push(baseline());
		}
		for (const run of [counted, ...oursRuns]) {
			if (run.findings !== 2 * CONTAINERS)
				throw new Error(`ours gave ${run.findings} findings, not ${2 * CONTAINERS}`);
		}
		{
			for (const op of counted.perOp)
				if (op.list !== 1 || op.inspect > CONTAINERS)
					throw new Error(`a check made ${op.list} list and ${op.inspect} inspect requests`);
		}
		if (baseRuns.some((b) => b.inspected !== CONTAINERS))
			throw new Error('the baseline missed containers');
		const oursS = median(oursRuns.map((x) => x.s));
		const baseS = median(baseRuns.map((x) => x.s));
		const op = counted.perOp;
		const fields = {
			containers: CONTAINERS,
			requests: counted.requests,
			per_check: `list=${op[0].list},inspect=${op[0].inspect},other=${op[0].other}`,
			ours_s: oursS.toFixed(2),
			baseline_s: baseS.toFixed(2),
			speedup: (baseS / oursS).toFixed(2),
			runs: RUNS,
		};
		console.log(
			`BENCH guard ${Object.entries(fields)
				.map(([k, v]) => `${k}=${v}`)
				.join(' ')}`,
		);
	} finally {
		await proxy.close();
		await dockerSvc.stop();
		fs.rmSync(tmp, { recursive: true, force: true });
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
