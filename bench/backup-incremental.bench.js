// Docker Volume Backup, archive engine vs restic engine, same run, real dockerd + s3rver (started here):
// a 1 GiB volume (half random, half text, 2,000 files); the archive engine's full backup (zstd + age), then
// restic's first backup, a second one of the unchanged volume, and a third after rewriting 5 % of the files.
// restic (Debian's, in the harness's test image) reaches s3rver through the HTTPS front (test/harness/
// s3TlsFront.ts); *_uploaded_bytes are the request bodies that passed the front during that run (packs,
// index, snapshot, lock files); data_added is restic's own figure (after deduplication and compression).
// Env: BENCH_GIB (default 1), BENCH_FILES (default 2000).
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
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
const FILES = Number(process.env.BENCH_FILES || 2000);

async function main() {
	if (process.getuid?.() !== 0)
		throw new Error('the backup benchmark starts dockerd: run it as root');
	const { startDocker } = require(path.join(root, 'test/harness/docker.ts'));
	const { startS3rver } = require(path.join(root, 'test/harness/s3.ts'));
	const { startS3TlsFront } = require(path.join(root, 'test/harness/s3TlsFront.ts'));
	const { backupVolume } = require(path.join(root, 'dist/nodes/DockerVolumeBackup/backup'));
	const { resticBackupVolume } = require(
		path.join(root, 'dist/nodes/DockerVolumeBackup/resticOps'),
	);
	const { resticRepository } = require(path.join(root, 'dist/nodes/DockerVolumeBackup/restic'));
	const { createS3Client } = require(path.join(root, 'dist/nodes/shared/s3'));
	const { parseRecipient } = require(path.join(root, 'dist/nodes/shared/ageKeys'));
	const tmp = fs.mkdtempSync(
		path.join(os.tmpdir().length <= 40 ? os.tmpdir() : '/tmp', 'iops-bench-'),
	);
	fs.writeFileSync(path.join(tmp, 'harness-state.json'), JSON.stringify({ ownerPid: process.pid }));
	process.env.INFRA_OPS_SERVICES = path.join(tmp, 'services.json');
	const dockerSvc = await startDocker(tmp);
	const s3rver = await startS3rver({ dir: path.join(tmp, 's3') });
	const front = await startS3TlsFront(s3rver.endpoint);
	const Docker = require('dockerode');
	const docker = new Docker({ socketPath: dockerSvc.info.socketPath, timeout: 600_000 });
	const volume = 'bench_incremental';
	const runContainer = async (cmd) => {
		const c = await docker.createContainer({
			Image: dockerSvc.info.image,
			Cmd: ['sh', '-c', cmd],
			HostConfig: { Binds: [`${volume}:/v`], NetworkMode: 'none' },
		});
		await c.start();
		const { StatusCode } = await c.wait();
		await c.remove();
		if (StatusCode !== 0) throw new Error(`${cmd.slice(0, 80)} exited ${StatusCode}`);
	};
	const fileBytes = Math.floor((GIB * 2 ** 30) / FILES);
	const TEXT = '2026-11-27T02:00:00Z INFO request served path=/api/v1/chat user=42 latency_ms=17';
	// even files random, odd files text; `from`..`to` only (the 5 % rewrite reuses it)
	const write = (from, to, step = 1) =>
		`set -e; i=${from}; while [ $i -lt ${to} ]; do if [ $((i % 2)) -eq 0 ]; then head -c ${fileBytes} /dev/urandom > /v/f$i; else yes "${TEXT} $i $RANDOM" | head -c ${fileBytes} > /v/f$i; fi; i=$((i+${step})); done`;
	const s3conn = {
		provider: 'other',
		endpoint: front.endpoint,
		region: 'us-east-1',
		bucket: s3rver.bucket,
		accessKeyId: 'S3RVER',
		secretAccessKey: 'S3RVER',
		forcePathStyle: true,
	};
	const setup = {
		docker,
		repo: resticRepository(s3conn, {
			path: 'restic',
			password: 'incremental-bench-password',
			caPem: front.caPem,
		}),
		image: dockerSvc.info.resticImage,
		networkMode: 'host',
	};
	const options = { stopMode: 'never', hooksBefore: [], hooksAfter: [] };
	const info = { name: volume, driver: 'local', labels: {} };
	const timed = async (fn) => {
		const before = front.uploadedBytes;
		const t0 = process.hrtime.bigint();
		const result = await fn();
		return {
			s: Number(process.hrtime.bigint() - t0) / 1e9,
			uploaded: front.uploadedBytes - before,
			result,
		};
	};
	try {
		await docker.createVolume({ Name: volume });
		await runContainer(write(0, FILES));
		const volumeBytes = fileBytes * FILES;

		// the archive engine straight to s3rver over HTTP, as bench/backup.bench.js does
		const keyDir = fs.mkdtempSync(path.join(tmp, 'age-'));
		execFileSync('age-keygen', ['-o', path.join(keyDir, 'k')], { stdio: 'ignore' });
		const r = parseRecipient(
			execFileSync('age-keygen', ['-y', path.join(keyDir, 'k')])
				.toString()
				.trim(),
		);
		const s3 = createS3Client({ ...s3conn, endpoint: s3rver.endpoint });
		const archive = await timed(() =>
			backupVolume(docker, { s3, bucket: s3rver.bucket, prefix: 'archive' }, info, {
				...options,
				compression: 'zstd',
				encryption: {
					kind: 'recipients',
					publicKeys: [r.publicKey],
					fingerprints: [r.fingerprint],
				},
			}),
		);
		s3.destroy();

		const first = await timed(() => resticBackupVolume(setup, info, options));
		const unchanged = await timed(() => resticBackupVolume(setup, info, options));
		// every 20th file: 5 %, random and text alike
		await runContainer(write(0, FILES, 20));
		const changed = await timed(() => resticBackupVolume(setup, info, options));
		const fields = {
			first_s: first.s.toFixed(2),
			unchanged_s: unchanged.s.toFixed(2),
			changed5_s: changed.s.toFixed(2),
			archive_s: archive.s.toFixed(2),
			unchanged_uploaded_bytes: unchanged.uploaded,
			changed5_uploaded_bytes: changed.uploaded,
			volume_bytes: volumeBytes,
			first_uploaded_bytes: first.uploaded,
			archive_stored_bytes: archive.result.manifest.stored.bytes,
			unchanged_of_archive: (unchanged.s / archive.s).toFixed(3),
			unchanged_uploaded_pct: ((100 * unchanged.uploaded) / volumeBytes).toFixed(3),
			changed5_uploaded_pct: ((100 * changed.uploaded) / volumeBytes).toFixed(2),
			unchanged_files_unmodified: unchanged.result.filesUnmodified,
			changed5_files_changed: changed.result.filesChanged,
			unchanged_data_added: unchanged.result.dataAdded,
			changed5_data_added: changed.result.dataAdded,
		};
		console.log(
			`BENCH backup-incremental ${Object.entries(fields)
				.map(([k, v]) => `${k}=${v}`)
				.join(' ')}`,
		);
	} finally {
		await front.close().catch(() => undefined);
		await s3rver.stop().catch(() => undefined);
		await dockerSvc.stop().catch(() => undefined);
		try {
			// dockerd leaves its netns mount behind
			require(path.join(root, 'test/harness/proc.ts')).unmountUnder(tmp);
			fs.rmSync(tmp, { recursive: true, force: true });
		} catch (error) {
			console.error(`could not remove ${tmp}: ${error.message}`);
		}
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
