/** Trivy as a container through the Docker Engine API: the host's socket mounted read-only (so it sees
 * local images), a named volume as its DB cache; create, put the server token in as a file, start, wait,
 * read and demultiplex the logs, remove. No n8n import. */
import type Dockerode from 'dockerode';

import { errorMessage, InfraOpsError, TimeoutError, withTimeout } from '../shared/errors';
import { secretFilesTar } from '../shared/secretFiles';
import { RUNNER_LABEL } from './containers';
import type { ProcessResult, TrivyRunner } from './trivyRun';

export const DEFAULT_TRIVY_IMAGE = 'aquasec/trivy:0.58.1';
/** Where the aquasec/trivy image (running as root) keeps its cache by default. */
export const CONTAINER_CACHE_DIR = '/root/.cache/trivy';

export interface DockerRunnerOptions {
	trivyImage: string;
	/** Path of the Docker socket on the Docker host (bind source), mounted read-only at /var/run/docker.sock. */
	hostSocketPath: string;
	cacheVolume: string;
	/** Docker network mode for the Trivy container; empty = the engine's default. */
	networkMode?: string;
	pullTimeoutMs?: number;
}

/**
 * Splits Docker's multiplexed log stream (non-TTY containers): frames of an 8-byte header — stream
 * (1 stdout, 2 stderr), three zero bytes, big-endian payload length — then the payload.
 */
export function demuxDockerLogs(data: Buffer): { stdout: Buffer; stderr: Buffer } {
	const stdout: Buffer[] = [];
	const stderr: Buffer[] = [];
	let offset = 0;
	while (offset + 8 <= data.length) {
		const stream = data[offset];
		const length = data.readUInt32BE(offset + 4);
		if (stream > 2 || data[offset + 1] !== 0 || data[offset + 2] !== 0 || data[offset + 3] !== 0) {
			throw new InfraOpsError(
				'The Docker log stream is not multiplexed as expected (was the container started with a TTY?)',
			);
		}
		const payload = data.subarray(offset + 8, offset + 8 + length);
		if (payload.length < length)
			throw new InfraOpsError('The Docker log stream ends inside a frame');
		(stream === 2 ? stderr : stdout).push(payload);
		offset += 8 + length;
	}
	if (offset !== data.length)
		throw new InfraOpsError('The Docker log stream ends inside a frame header');
	return { stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) };
}

/** Uses the image when the engine has it; pulls it only when it does not, with a clear error if that fails. */
export async function ensureImage(
	docker: Dockerode,
	image: string,
	timeoutMs = 10 * 60_000,
	what = { image: 'Trivy image', setting: 'Trivy Image' },
): Promise<'present' | 'pulled'> {
	try {
		await docker.getImage(image).inspect();
		return 'present';
	} catch (error) {
		if ((error as { statusCode?: number }).statusCode !== 404) {
			throw new InfraOpsError(
				`Cannot inspect the ${what.image} ${image}: ${errorMessage(error)}`,
				undefined,
				{ cause: error },
			);
		}
	}
	try {
		await withTimeout(
			new Promise<void>((resolve, reject) =>
				docker.pull(image, (error: Error | null, stream?: NodeJS.ReadableStream) => {
					if (error || !stream) return reject(error ?? new Error('no pull stream'));
					docker.modem.followProgress(
						stream,
						(done: Error | null, events: { error?: string }[]) => {
							const failed = events?.find((e) => e.error);
							if (done || failed) reject(done ?? new Error(failed?.error));
							else resolve();
						},
					);
				}),
			),
			timeoutMs,
			`Pulling ${image}`,
		);
		return 'pulled';
	} catch (error) {
		throw new InfraOpsError(
			`The ${what.image} ${image} is not on the Docker host and cannot be pulled: ${errorMessage(error)}`,
			`Pull it on the Docker host (docker pull ${image}), or set ${what.setting} to an image that is there`,
			{ cause: error },
		);
	}
}

/** Folder (inside the Trivy container) of the config file that carries the server token. */
export const CONFIG_DIR = '/tmp/infra-ops-trivy';
const CONFIG_FILE = `${CONFIG_DIR}/trivy.yaml`;

/**
 * Trivy's config file with the server token (`server.token`, as Trivy documents its trivy.yaml), as a
 * tar for the archive API: a 0700 folder and a 0400 file, owned by root (the aquasec/trivy image runs
 * as root). A JSON string is a valid YAML double-quoted scalar, so any token survives as written.
 */
export function tokenConfigTar(token: string): Buffer {
	return secretFilesTar(CONFIG_DIR.split('/').pop()!, {
		'trivy.yaml': `server:\n  token: ${JSON.stringify(token)}\n`,
	});
}

/**
 * The container's exit code. Docker's wait is a long poll: its answer is immediate when the container
 * exits, but a client request timeout (docker-modem's, 60 s by default) can cut it mid-response, and
 * then it never settles. So the state is also read every second; whichever answers first wins.
 */
export async function waitForExit(
	container: Dockerode.Container,
	timeoutMs: number,
	what: string,
): Promise<number> {
	const deadline = Date.now() + timeoutMs;
	const abort = new AbortController();
	// a cut or aborted long poll is no answer: this promise then stays pending and the state reads decide
	const waited = new Promise<number>((resolve) => {
		container.wait({ abortSignal: abort.signal }).then(
			(result: { StatusCode: number }) => resolve(result.StatusCode),
			() => undefined,
		);
	});
	try {
		for (;;) {
			const remaining = deadline - Date.now();
			if (remaining <= 0) throw new TimeoutError(`${what} did not finish within ${timeoutMs} ms`);
			let timer: NodeJS.Timeout | undefined;
			const pause = new Promise<undefined>(
				(resolve) => (timer = setTimeout(() => resolve(undefined), Math.min(1000, remaining))),
			);
			const code = await Promise.race([waited, pause]);
			clearTimeout(timer);
			if (code !== undefined) return code;
			const state = (await container.inspect()).State;
			if (!state.Running && state.Status === 'exited') return state.ExitCode;
		}
	} finally {
		abort.abort();
	}
}

export class DockerTrivyRunner implements TrivyRunner {
	readonly where: string;

	constructor(
		private readonly docker: Dockerode,
		private readonly options: DockerRunnerOptions,
		target: string,
	) {
		this.where = `${options.trivyImage} on ${target}`;
	}

	async prepare(): Promise<void> {
		await ensureImage(this.docker, this.options.trivyImage, this.options.pullTimeoutMs);
	}

	async run(
		args: string[],
		env: Record<string, string>,
		timeoutMs: number,
	): Promise<ProcessResult> {
		let container: Dockerode.Container | undefined;
		// The token must not sit in the container's Env or Cmd: both are readable by anyone who may
		// `docker inspect` (and kept with the container). It goes into a file put into the created,
		// not yet started container, and Trivy reads it from its config file.
		const { TRIVY_TOKEN: token, ...plainEnv } = env;
		const trivyArgs = token ? [args[0], '--config', CONFIG_FILE, ...args.slice(1)] : args;
		try {
			container = await this.docker.createContainer({
				Image: this.options.trivyImage,
				Cmd: trivyArgs,
				Env: Object.entries(plainEnv).map(([k, v]) => `${k}=${v}`),
				Tty: false,
				AttachStdout: false,
				AttachStderr: false,
				Labels: { [RUNNER_LABEL]: 'true' },
				HostConfig: {
					Binds: [`${this.options.hostSocketPath}:/var/run/docker.sock:ro`],
					Mounts: [
						{ Type: 'volume', Source: this.options.cacheVolume, Target: CONTAINER_CACHE_DIR },
					],
					...(this.options.networkMode ? { NetworkMode: this.options.networkMode } : {}),
					AutoRemove: false,
				},
			});
			if (token) await container.putArchive(tokenConfigTar(token), { path: '/tmp' });
			await container.start();
			let status: number;
			try {
				status = await waitForExit(container, timeoutMs, `Trivy in ${this.where}`);
			} catch (error) {
				await container.kill().catch(() => undefined);
				throw error;
			}
			const logs = (await container.logs({
				stdout: true,
				stderr: true,
				follow: false,
			})) as unknown as Buffer;
			const { stdout, stderr } = demuxDockerLogs(
				Buffer.isBuffer(logs) ? logs : Buffer.from(String(logs)),
			);
			return { code: status, stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8') };
		} finally {
			await container?.remove({ force: true, v: false }).catch(() => undefined);
		}
	}

	close(): void {}
}
