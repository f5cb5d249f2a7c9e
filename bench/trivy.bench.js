// Trivy scans of what runs: 30 running containers over 6 distinct images on a real dockerd (started
// here), same run, same Trivy stand-in image (test/harness/trivyStandIn.ts: checks its arguments, takes
// a fixed simulated scan time, prints a recorded report from ../shared/reference/trivy):
// (a) baseline — the review's loop: `docker ps`, then one `docker run … trivy image <image>` per container, serially;
// (b) ours — dist's Scan Running Containers path: list containers, dedupe by image ID, one Trivy container
//     per distinct image through the Engine API, bounded concurrency (the node's default, 2).
// Scans are counted by the stand-in itself (one line per scan in each side's own cache volume).
// Env: BENCH_SCAN_SECONDS (simulated scan time, default 1), BENCH_RUNS (default 3), BENCH_CONCURRENCY (default 2).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
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

const CONTAINERS = 30;
const IMAGES = 6;
const SCAN_SECONDS = Number(process.env.BENCH_SCAN_SECONDS || 1);
const RUNS = Number(process.env.BENCH_RUNS || 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY || 2);
const STAND_IN = 'infra-ops-bench/trivy-standin:1';
const GOLDENS = [
	'alpine-39-high-critical.json.golden',
	'alpine-310.json.golden',
	'debian-buster-ignore-unfixed.json.golden',
	'alpine-39-skip.json.golden',
];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
	if (process.getuid?.() !== 0)
		throw new Error('the trivy benchmark starts dockerd: run it as root');
	const { startDocker } = require(path.join(root, 'test/harness/docker.ts'));
	const { buildTrivyStandInImage, TRIVY_REFERENCE_DIR } = require(
		path.join(root, 'test/harness/trivyStandIn.ts'),
	);
	if (!fs.existsSync(TRIVY_REFERENCE_DIR))
		throw new Error(`the trivy benchmark needs the recorded reports in ${TRIVY_REFERENCE_DIR}`);
	const { DockerTrivyRunner } = require(path.join(root, 'dist/nodes/TrivyScan/dockerRunner.js'));
	const { listRunningImages } = require(path.join(root, 'dist/nodes/TrivyScan/containers.js'));
	const { scanAll } = require(path.join(root, 'dist/nodes/TrivyScan/trivyRun.js'));

	const tmp = fs.mkdtempSync(
		path.join(os.tmpdir().length <= 40 ? os.tmpdir() : '/tmp', 'iops-bench-'),
	);
	fs.writeFileSync(path.join(tmp, 'harness-state.json'), JSON.stringify({ ownerPid: process.pid }));
	const dockerSvc = await startDocker(tmp);
	const socketPath = dockerSvc.info.socketPath;
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
			maxBuffer: 64 << 20,
			stdio: ['ignore', 'pipe', 'pipe'],
		});
	try {
		const apps = Array.from({ length: IMAGES }, (_, k) => `infra-ops-bench/app-${k + 1}:1`);
		const reports = Object.fromEntries(apps.map((ref, k) => [ref, GOLDENS[k % GOLDENS.length]]));
		await buildTrivyStandInImage(socketPath, fs.mkdtempSync(path.join(tmp, 'standin-')), STAND_IN, {
			reports,
			scanSeconds: SCAN_SECONDS,
		});
		const base = await docker.createContainer({
			Image: dockerSvc.info.image,
			Cmd: ['true'],
			HostConfig: { NetworkMode: 'none' },
		});
		for (const [k, ref] of apps.entries()) {
			const [repo, tag] = ref.split(':');
			await base.commit({ repo, tag, changes: [`LABEL app=${k + 1}`] });
		}
		await base.remove({ force: true });
		for (let i = 0; i < CONTAINERS; i++) {
			const c = await docker.createContainer({
				Image: apps[i % IMAGES],
				name: `bench-${i + 1}`,
				Cmd: ['sleep', '3600'],
				HostConfig: { NetworkMode: 'none' },
			});
			await c.start();
		}

		const scansIn = async (volume) => {
			const reader = await docker.createContainer({
				Image: dockerSvc.info.image,
				Cmd: ['sh', '-c', 'cat /c/standin-scans.log 2>/dev/null | wc -l'],
				HostConfig: { Binds: [`${volume}:/c:ro`], NetworkMode: 'none' },
			});
			await reader.start();
			await reader.wait();
			const out = await reader.logs({ stdout: true });
			await reader.remove();
			return Number(out.subarray(8).toString().trim());
		};
		const dropVolume = (volume) =>
			docker
				.getVolume(volume)
				.remove()
				.catch(() => undefined);
		const options = {
			severities: ['HIGH', 'CRITICAL'],
			ignoreUnfixed: false,
			skipDbUpdate: true,
			timeoutSeconds: 600,
			cacheDir: '/root/.cache/trivy',
			dockerOnly: true,
		};

		const ours = async () => {
			await dropVolume('bench-cache-ours');
			const t0 = process.hrtime.bigint();
			const running = await listRunningImages(docker, `unix://${socketPath}`);
			const runner = new DockerTrivyRunner(
				docker,
				{
					trivyImage: STAND_IN,
					hostSocketPath: socketPath,
					cacheVolume: 'bench-cache-ours',
					networkMode: 'none',
				},
				`unix://${socketPath}`,
			);
			await runner.prepare();
			const outcomes = await scanAll(
				runner,
				running.map((r) => r.reference),
				options,
				CONCURRENCY,
			);
			const s = Number(process.hrtime.bigint() - t0) / 1e9;
			const failed = outcomes.filter((o) => !o.ok);
			if (failed.length)
				throw new Error(`our scans failed: ${failed.map((o) => o.error).join('; ')}`);
			const containers = running.reduce((n, r) => n + r.containers.length, 0);
			return { s, scans: await scansIn('bench-cache-ours'), images: running.length, containers };
		};

		// the review's sketch, with the same stand-in and the flags Trivy needs for a JSON report
		const baseline = async () => {
			await dropVolume('bench-cache-baseline');
			const flags = [
				'image',
				'--format',
				'json',
				'--quiet',
				'--exit-code',
				'0',
				'--scanners',
				'vuln',
				'--severity',
				'HIGH,CRITICAL',
				'--skip-db-update',
				'--cache-dir',
				'/root/.cache/trivy',
				'--timeout',
				'600s',
			];
			const t0 = process.hrtime.bigint();
			const images = cli(['ps', '--format', '{{.Image}}']).trim().split('\n');
			for (const image of images) {
				cli([
					'run',
					'--rm',
					'--network',
					'none',
					'-v',
					`${socketPath}:/var/run/docker.sock:ro`,
					'-v',
					'bench-cache-baseline:/root/.cache/trivy',
					STAND_IN,
					...flags,
					image,
				]);
			}
			const s = Number(process.hrtime.bigint() - t0) / 1e9;
			return { s, scans: await scansIn('bench-cache-baseline'), containers: images.length };
		};

		const oursRuns = [];
		const baseRuns = [];
		for (let r = 0; r < RUNS; r++) {
			oursRuns.push(await ours());
			baseRuns.push(await baseline());
		}
		const fields = {
			containers: oursRuns[0].containers,
			images: oursRuns[0].images,
			scans_ours: oursRuns[0].scans,
			scans_baseline: baseRuns[0].scans,
			ours_s: median(oursRuns.map((x) => x.s)).toFixed(2),
			baseline_s: median(baseRuns.map((x) => x.s)).toFixed(2),
			simulated_scan_s: SCAN_SECONDS,
			concurrency: CONCURRENCY,
			runs: RUNS,
		};
		if (oursRuns.some((x) => x.scans !== fields.images))
			throw new Error(
				`ours scanned ${oursRuns.map((x) => x.scans)} times, not once per image (${fields.images})`,
			);
		console.log(
			`BENCH trivy ${Object.entries(fields)
				.map(([k, v]) => `${k}=${v}`)
				.join(' ')}`,
		);
	} finally {
		await dockerSvc.stop();
		fs.rmSync(tmp, { recursive: true, force: true });
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
