// Docker Volume Backup throughput and memory, same run, real dockerd + s3rver (started here):
// (a) baseline — the review's method: a container runs `tar czf` into a host folder, then the SDK uploads the file;
// (b) ours — dist's backupVolume: Docker archive → zstd → age (X25519) → S3 multipart, in a child process (peak RSS = its maxRSS);
// (c) limit — the same Docker archive stream through zstd into nothing;
// (d) pipeline — ours without S3: the same stream through our scan, zstd, age and hash into nothing, and store only —
//     s3rver taking as many bytes from memory through our multipart upload (a second line),
// and the CPU seconds of our process, dockerd and s3rver per run (a third line: all share this machine's cores);
// cpu_per_gib_s on each line: our process's CPU seconds per GiB of tar stream (the line's own process: ours, or the pipeline).
// Env: BENCH_GIB (default 1), BENCH_RSS_GIB (default "1,4": sizes for the RSS-flatness runs; "1" skips 4 GiB), BENCH_RUNS (default 3).
const { spawnSync, execFileSync } = require('node:child_process');
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

const GIB = Number(process.env.BENCH_GIB || 1);
const RSS_GIB = (process.env.BENCH_RSS_GIB || '1,4').split(',').map(Number).filter(Boolean);
const RUNS = Number(process.env.BENCH_RUNS || 3);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
	if (process.getuid?.() !== 0)
		throw new Error('the backup benchmark starts dockerd: run it as root');
	const { startDocker } = require(path.join(root, 'test/harness/docker.ts'));
	const { startS3rver } = require(path.join(root, 'test/harness/s3.ts'));
	const tmp = fs.mkdtempSync(
		path.join(os.tmpdir().length <= 40 ? os.tmpdir() : '/tmp', 'iops-bench-'),
	);
	fs.writeFileSync(path.join(tmp, 'harness-state.json'), JSON.stringify({ ownerPid: process.pid }));
	const dockerSvc = await startDocker(tmp);
	const s3 = await startS3rver({ dir: path.join(tmp, 's3') });
	const Docker = require('dockerode');
	const docker = new Docker({ socketPath: dockerSvc.info.socketPath, timeout: 600_000 });
	// CPU seconds of a process and the children it waited for (dockerd's tar helper), from /proc
	const ticks = Number(execFileSync('getconf', ['CLK_TCK']).toString());
	const dockerdPid = Number(fs.readFileSync(path.join(tmp, 'docker', 'docker.pid'), 'utf8'));
	const cpuSeconds = (pid) => {
		const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
		return (
			(Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / ticks
		);
	};
	const image = dockerSvc.info.image;
	const s3conn = {
		provider: 'other',
		endpoint: s3.endpoint,
		bucket: s3.bucket,
		accessKeyId: 'S3RVER',
		secretAccessKey: 'S3RVER',
		forcePathStyle: true,
	};
	const hostDir = path.join(tmp, 'host-backup');
	fs.mkdirSync(hostDir);
	const runContainer = async (cmd, binds) => {
		const c = await docker.createContainer({
			Image: image,
			Cmd: ['sh', '-c', cmd],
			HostConfig: { Binds: binds, NetworkMode: 'none' },
		});
		await c.start();
		const { StatusCode } = await c.wait();
		await c.remove();
		if (StatusCode !== 0) throw new Error(`${cmd} exited ${StatusCode}`);
	};
	/** Half random (incompressible), half text (compressible), in 64 MiB files plus a folder of small files. */
	const makeVolume = async (name, gib) => {
		await docker.createVolume({ Name: name });
		const files = Math.round((gib * 1024) / 64);
		await runContainer(
			`set -e; i=0; while [ $i -lt ${files} ]; do if [ $((i % 2)) -eq 0 ]; then head -c 67108864 /dev/urandom > /v/r$i.bin; else yes "2026-11-27T02:00:00Z INFO request served path=/api/v1/chat user=42 latency_ms=17" | head -c 67108864 > /v/t$i.log; fi; i=$((i+1)); done; mkdir /v/small; j=0; while [ $j -lt 500 ]; do echo "file $j" > /v/small/f$j.txt; j=$((j+1)); done`,
			[`${name}:/v`],
		);
	};
	const child = (fn, args) => {
		const script = `
			const fn = ${fn.toString()};
			fn(${JSON.stringify(args)}).then((r) => { const u = process.cpuUsage(); process.stdout.write(JSON.stringify({ ...r, maxRssKiB: process.resourceUsage().maxRSS, cpuS: (u.user + u.system) / 1e6 })); process.exit(0); }, (e) => { console.error(e); process.exit(1); });`;
		const before = [cpuSeconds(dockerdPid), cpuSeconds(s3.pid)];
		const out = spawnSync(process.execPath, ['-e', script], {
			cwd: root,
			encoding: 'utf8',
			maxBuffer: 1 << 20,
		});
		if (out.status !== 0) throw new Error(`${fn.name} (${args.volume}) failed:\n${out.stderr}`);
		return {
			...JSON.parse(out.stdout),
			dockerdCpuS: cpuSeconds(dockerdPid) - before[0],
			s3CpuS: cpuSeconds(s3.pid) - before[1],
		};
	};
	const ours = async ({ socketPath, s3conn, volume, recipient, root }) => {
		const Docker = require('dockerode');
		const { backupVolume } = require(root + '/dist/nodes/DockerVolumeBackup/backup');
		const { createS3Client } = require(root + '/dist/nodes/shared/s3');
		const { parseRecipient } = require(root + '/dist/nodes/shared/ageKeys');
		const docker = new Docker({ socketPath, timeout: 600000 });
		const s3 = createS3Client(s3conn);
		const r = parseRecipient(recipient);
		const t0 = process.hrtime.bigint();
		const res = await backupVolume(
			docker,
			{ s3, bucket: s3conn.bucket, prefix: 'bench' },
			{ name: volume, driver: 'local', labels: {} },
			{
				compression: 'zstd',
				encryption: {
					kind: 'recipients',
					publicKeys: [r.publicKey],
					fingerprints: [r.fingerprint],
				},
				stopMode: 'never',
				hooksBefore: [],
				hooksAfter: [],
			},
		);
		const s = Number(process.hrtime.bigint() - t0) / 1e9;
		s3.destroy();
		return { s, tarBytes: res.manifest.tar.bytes, stored: res.manifest.stored.bytes };
	};
	const limit = async ({ socketPath, volume, image, root }) => {
		const Docker = require('dockerode');
		const { Writable } = require('node:stream');
		const { pipeline } = require('node:stream/promises');
		const docker = new Docker({ socketPath, timeout: 600000 });
		const c = await docker.createContainer({
			Image: image,
			Entrypoint: [],
			Cmd: ['/never'],
			HostConfig: { Binds: [volume + ':/src:ro'], NetworkMode: 'none' },
		});
		const t0 = process.hrtime.bigint();
		const stream = await c.getArchive({ path: '/src/.' });
		// our compressor itself (batched 512 KiB writes, level 3), so the limit is the best this stream allows
		const { createCompressor } = require(root + '/dist/nodes/DockerVolumeBackup/compression');
		await pipeline(
			stream,
			createCompressor('zstd', 3),
			new Writable({ write: (_c, _e, cb) => cb() }),
		);
		const s = Number(process.hrtime.bigint() - t0) / 1e9;
		await c.remove();
		return { s };
	};
	/** Ours without storage: the same archive stream through our whole pipeline (scan, zstd, age, hash) into nothing. */
	const pipelineOnly = async ({ socketPath, volume, image, recipient, root }) => {
		const Docker = require('dockerode');
		const { Writable } = require('node:stream');
		const { pipeline } = require('node:stream/promises');
		const { backupStream } = require(root + '/dist/nodes/DockerVolumeBackup/pipeline');
		const { parseRecipient } = require(root + '/dist/nodes/shared/ageKeys');
		const docker = new Docker({ socketPath, timeout: 600000 });
		const r = parseRecipient(recipient);
		const c = await docker.createContainer({
			Image: image,
			Entrypoint: [],
			Cmd: ['/never'],
			HostConfig: { Binds: [volume + ':/src:ro'], NetworkMode: 'none' },
		});
		const t0 = process.hrtime.bigint();
		const stream = await c.getArchive({ path: '/src/.' });
		const { body } = backupStream(stream, 'zstd', {
			encryption: { kind: 'recipients', publicKeys: [r.publicKey], fingerprints: [r.fingerprint] },
		});
		await pipeline(body, new Writable({ write: (_c, _e, cb) => cb() }));
		const s = Number(process.hrtime.bigint() - t0) / 1e9;
		await c.remove();
		return { s };
	};
	/** The S3 server alone: as many random bytes as ours stored, from memory, through our multipart upload. */
	const storeOnly = async ({ s3conn, bytes, root }) => {
		const { Readable } = require('node:stream');
		const { createS3Client } = require(root + '/dist/nodes/shared/s3');
		const { uploadStream, DEFAULT_UPLOAD } = require(
			root + '/dist/nodes/DockerVolumeBackup/upload',
		);
		const s3 = createS3Client(s3conn);
		const block = require('node:crypto').randomBytes(256 * 1024);
		function* blocks() {
			for (let left = bytes; left > 0; left -= block.length)
				yield left >= block.length ? block : block.subarray(0, left);
		}
		const t0 = process.hrtime.bigint();
		await uploadStream(s3, s3conn.bucket, 'bench/store-only.bin', Readable.from(blocks()), {
			...DEFAULT_UPLOAD,
			signPayload: false,
		});
		const s = Number(process.hrtime.bigint() - t0) / 1e9;
		s3.destroy();
		return { s };
	};
	const baseline = async ({ socketPath, s3conn, volume, image, hostDir, root }) => {
		const Docker = require('dockerode');
		const fs = require('node:fs');
		const { createS3Client } = require(root + '/dist/nodes/shared/s3');
		const { Upload } = require('@aws-sdk/lib-storage');
		const docker = new Docker({ socketPath, timeout: 600000 });
		const t0 = process.hrtime.bigint();
		const c = await docker.createContainer({
			Image: image,
			Cmd: ['sh', '-c', 'tar czf /backup/vol.tar.gz -C /src .'],
			HostConfig: { Binds: [volume + ':/src:ro', hostDir + ':/backup'], NetworkMode: 'none' },
		});
		await c.start();
		const { StatusCode } = await c.wait();
		await c.remove();
		if (StatusCode !== 0) throw new Error('tar czf exited ' + StatusCode);
		const s3 = createS3Client(s3conn);
		await new Upload({
			client: s3,
			params: {
				Bucket: s3conn.bucket,
				Key: 'baseline/vol.tar.gz',
				Body: fs.createReadStream(hostDir + '/vol.tar.gz'),
			},
		}).done();
		const s = Number(process.hrtime.bigint() - t0) / 1e9;
		fs.rmSync(hostDir + '/vol.tar.gz');
		s3.destroy();
		return { s };
	};

	const keyDir = fs.mkdtempSync(path.join(tmp, 'age-'));
	execFileSync('age-keygen', ['-o', path.join(keyDir, 'k')], { stdio: 'ignore' });
	const recipient = execFileSync('age-keygen', ['-y', path.join(keyDir, 'k')])
		.toString()
		.trim();
	const common = { socketPath: dockerSvc.info.socketPath, s3conn, image, hostDir, recipient, root };
	try {
		const main = `bench_${GIB}g`;
		await makeVolume(main, GIB);
		const o = [],
			b = [],
			l = [],
			p = [],
			so = [];
		const cpu = {
			pipeline: [],
			storeOnly: [],
			storeOnlyS3: [],
			ours: [],
			oursDockerd: [],
			oursS3: [],
			limit: [],
			limitDockerd: [],
			baseline: [],
			baselineDockerd: [],
			baselineS3: [],
		};
		let bytes = 0;
		let peak = 0;
		for (let i = 0; i < RUNS; i++) {
			const lr = child(limit, { ...common, volume: main });
			l.push(lr.s);
			cpu.limit.push(lr.cpuS);
			cpu.limitDockerd.push(lr.dockerdCpuS);
			const pr = child(pipelineOnly, { ...common, volume: main });
			p.push(pr.s);
			cpu.pipeline.push(pr.cpuS);
			const r = child(ours, { ...common, volume: main });
			o.push(r.s);
			cpu.ours.push(r.cpuS);
			const sr = child(storeOnly, { ...common, bytes: r.stored });
			so.push(sr.s);
			cpu.storeOnly.push(sr.cpuS);
			cpu.storeOnlyS3.push(sr.s3CpuS);
			cpu.oursDockerd.push(r.dockerdCpuS);
			cpu.oursS3.push(r.s3CpuS);
			bytes = r.tarBytes;
			peak = Math.max(peak, r.maxRssKiB / 1024);
			const br = child(baseline, { ...common, volume: main });
			b.push(br.s);
			cpu.baseline.push(br.cpuS);
			cpu.baselineDockerd.push(br.dockerdCpuS);
			cpu.baselineS3.push(br.s3CpuS);
		}
		const rss = {};
		for (const g of RSS_GIB) {
			const name = g === GIB ? main : `bench_${g}g`;
			if (name !== main) await makeVolume(name, g);
			const r = child(ours, { ...common, volume: name });
			rss[g] = Math.round(r.maxRssKiB / 1024);
			peak = Math.max(peak, r.maxRssKiB / 1024);
			if (name !== main) await docker.getVolume(name).remove();
		}
		const [ours_s, baseline_s, limit_s] = [median(o), median(b), median(l)];
		const fields = {
			bytes,
			ours_s: ours_s.toFixed(2),
			baseline_s: baseline_s.toFixed(2),
			limit_s: limit_s.toFixed(2),
			ratio: (ours_s / baseline_s).toFixed(3),
			of_limit: (limit_s / ours_s).toFixed(3),
			peak_rss_mib: Math.round(peak),
			rss_1g_mib: rss[1] ?? 'skipped',
			rss_4g_mib: rss[4] ?? 'skipped',
			// our process only (dockerd and s3rver are in the backup-cpu line): a change in our own cost shows run to run
			cpu_per_gib_s: (median(cpu.ours) / (bytes / 2 ** 30)).toFixed(2),
		};
		console.log(
			`BENCH backup ${Object.entries(fields)
				.map(([k, v]) => `${k}=${v}`)
				.join(' ')}`,
		);
		const pipeline_s = median(p);
		console.log(
			`BENCH backup-pipeline pipeline_s=${pipeline_s.toFixed(2)} limit_s=${limit_s.toFixed(2)} of_limit=${(limit_s / pipeline_s).toFixed(3)} store_only_s=${median(so).toFixed(2)} cpu_per_gib_s=${(median(cpu.pipeline) / (bytes / 2 ** 30)).toFixed(2)} (pipeline: ours without S3, into nothing; store only: s3rver taking the same bytes from memory)`,
		);
		// where the wall time goes: every process of a run shares this machine's cores (the baseline's `tar czf` runs in a container, counted in neither dockerd nor s3rver)
		const cpuFields = Object.fromEntries(
			Object.entries(cpu).map(([k, xs]) => [
				`${k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())}_cpu_s`,
				median(xs).toFixed(2),
			]),
		);
		console.log(
			`BENCH backup-cpu cores=${os.cpus().length} ${Object.entries(cpuFields)
				.map(([k, v]) => `${k}=${v}`)
				.join(' ')} cpu_per_gib_s=${(median(cpu.ours) / (bytes / 2 ** 30)).toFixed(2)}`,
		);
	} finally {
		await s3.stop();
		await dockerSvc.stop();
		fs.rmSync(tmp, { recursive: true, force: true });
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
