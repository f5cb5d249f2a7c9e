/**
 * fauxqs (an S3/SQS/SNS emulator on npm, file-backed here) as a child process, for the tests that need
 * what s3rver lacks: AbortMultipartUpload. Its in-progress multipart uploads live in
 * `<dir>/_multipart/<uploadId>/`, so a test can see whether parts were left behind, also across a
 * kill and restart on the same port and folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

export interface FauxqsHandle {
	endpoint: string;
	dir: string;
	bucket: string;
	/** Upload ids with a folder under _multipart (created, neither completed nor aborted). */
	pendingMultipartUploads(): string[];
	/** Resolves once a multipart upload has at least one stored part. */
	waitForMultipart(timeoutMs: number): Promise<void>;
	kill(): Promise<void>;
	restart(): Promise<void>;
	stop(): Promise<void>;
}

async function freePort(): Promise<number> {
	return await new Promise((resolve, reject) => {
		const server = net.createServer();
		server.listen(0, '127.0.0.1', () => {
			const port = (server.address() as net.AddressInfo).port;
			server.close(() => resolve(port));
		});
		server.on('error', reject);
	});
}

async function waitFor(
	what: string,
	check: () => boolean | Promise<boolean>,
	timeoutMs: number,
	intervalMs = 20,
): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (await check()) return;
		await new Promise((r) => setTimeout(r, intervalMs));
	}
	throw new Error(`timed out waiting for ${what}`);
}

export async function startFauxqs(opts: { bucket: string }): Promise<FauxqsHandle> {
	const parent = process.env.INFRA_OPS_SERVICES
		? path.dirname(process.env.INFRA_OPS_SERVICES)
		: os.tmpdir();
	const dir = fs.mkdtempSync(path.join(parent, 'fauxqs-'));
	const port = await freePort();
	const endpoint = `http://127.0.0.1:${port}`;
	const script = `import('fauxqs').then((m) => m.startFauxqs({ port: ${port}, host: '127.0.0.1', s3StorageDir: ${JSON.stringify(dir)}, logger: false })).then(() => console.log('ready'))`;
	let child: ChildProcess | undefined;
	/**
	 * fauxqs writes a part's data, then its metadata, with plain writes: a SIGKILL between or during them
	 * leaves a truncated `<n>.meta.json` that fauxqs then fails to parse at start. A server that writes
	 * atomically would simply not have that part, so drop such a part (as if its upload never finished).
	 */
	const dropPartsCutShort = () => {
		const multipart = path.join(dir, '_multipart');
		if (!fs.existsSync(multipart)) return;
		for (const id of fs.readdirSync(multipart)) {
			const parts = path.join(multipart, id, 'parts');
			if (!fs.existsSync(parts)) continue;
			for (const file of fs.readdirSync(parts).filter((f) => f.endsWith('.meta.json'))) {
				try {
					JSON.parse(fs.readFileSync(path.join(parts, file), 'utf8'));
				} catch {
					fs.rmSync(path.join(parts, file));
					fs.rmSync(path.join(parts, file.replace(/\.meta\.json$/, '.data')), { force: true });
				}
			}
		}
	};
	const start = async () => {
		dropPartsCutShort();
		const proc = spawn(process.execPath, ['-e', script], {
			cwd: path.join(__dirname, '..', '..'),
			stdio: ['ignore', 'pipe', 'inherit'],
		});
		child = proc;
		let out = '';
		proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
		await waitFor(
			'fauxqs to listen',
			() => out.includes('ready') || proc.exitCode !== null,
			30_000,
		);
		if (proc.exitCode !== null) throw new Error(`fauxqs exited with ${proc.exitCode}`);
	};
	const kill = async () => {
		const proc = child;
		if (!proc || proc.exitCode !== null) return;
		const exited = new Promise((r) => proc.once('exit', r));
		proc.kill('SIGKILL');
		await exited;
	};
	await start();
	const client = new S3Client({
		endpoint,
		region: 'us-east-1',
		forcePathStyle: true,
		credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
	});
	await client.send(new CreateBucketCommand({ Bucket: opts.bucket }));
	client.destroy();
	const multipartDir = path.join(dir, '_multipart');
	const pending = () => (fs.existsSync(multipartDir) ? fs.readdirSync(multipartDir) : []);
	return {
		endpoint,
		dir,
		bucket: opts.bucket,
		pendingMultipartUploads: pending,
		waitForMultipart: (timeoutMs) =>
			waitFor(
				'a stored multipart part',
				() =>
					pending().some((id) => {
						const parts = path.join(multipartDir, id, 'parts');
						return fs.existsSync(parts) && fs.readdirSync(parts).length > 0;
					}),
				timeoutMs,
			),
		kill,
		restart: start,
		stop: async () => {
			await kill();
			fs.rmSync(dir, { recursive: true, force: true });
		},
	};
}
