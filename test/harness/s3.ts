/** s3rver (an S3 protocol server on the local file system) as a child process, so a test can kill it mid-transfer. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Daemon, waitUntil } from './proc';

export const S3_REGION = 'us-east-1';
/** s3rver 3 accepts only this key pair. */
export const S3_ACCESS_KEY_ID = 'S3RVER';
export const S3_SECRET_ACCESS_KEY = 'S3RVER';
export const S3_BUCKET = 'infra-ops-test';

export interface S3rverOptions {
	/** Bucket created at startup; default 'infra-ops-test'. */
	bucket?: string;
	/** Data folder; reuse one with the same port to restart a killed server with its objects. Default: a new folder. */
	dir?: string;
	/** Default: a free port. */
	port?: number;
}

export interface S3rverHandle {
	endpoint: string;
	bucket: string;
	port: number;
	dir: string;
	pid: number;
	/** Kills the server at once (SIGKILL: in-flight requests are cut) and removes its folder if startS3rver made it. */
	stop(): Promise<void>;
}

function defaultParent(): string {
	const servicesFile = process.env.INFRA_OPS_SERVICES;
	return servicesFile ? path.dirname(servicesFile) : os.tmpdir();
}

export async function startS3rver(opts: S3rverOptions = {}): Promise<S3rverHandle> {
	const bucket = opts.bucket ?? S3_BUCKET;
	const ownDir = opts.dir === undefined;
	const dir = opts.dir ?? fs.mkdtempSync(path.join(defaultParent(), 's3-'));
	const dataDir = path.join(dir, 'data');
	fs.mkdirSync(dataDir, { recursive: true });
	const logFile = path.join(dir, 's3rver.log');
	fs.writeFileSync(logFile, '');

	const cli = require.resolve('s3rver/bin/s3rver.js');
	const args = [
		cli,
		'--directory',
		dataDir,
		'--address',
		'127.0.0.1',
		'--port',
		String(opts.port ?? 0),
		'--silent',
		'--configure-bucket',
		bucket,
	];
	const daemon = new Daemon('s3rver', process.execPath, args, { logFile });

	let port = 0;
	try {
		await waitUntil(
			's3rver to listen',
			async () => {
				const match = /S3rver listening on [\d.]+:(\d+)/.exec(fs.readFileSync(logFile, 'utf8'));
				if (match) port = Number(match[1]);
				return port > 0;
			},
			{ timeoutMs: 30_000, daemon, intervalMs: 25 },
		);
	} catch (err) {
		await daemon.stop('SIGKILL', 1_000);
		throw err;
	}

	return {
		endpoint: `http://127.0.0.1:${port}`,
		bucket,
		port,
		dir,
		pid: daemon.pid,
		stop: async () => {
			await daemon.stop('SIGKILL', 5_000);
			if (ownDir) await fs.promises.rm(dir, { recursive: true, force: true });
		},
	};
}
