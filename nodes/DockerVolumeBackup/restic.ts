/**
 * restic, run in a helper container through the Docker Engine API: the repository's password, S3 keys
 * and CA go in as files (archive PUT into the created container) before it starts, so neither its
 * environment nor its command line (`docker inspect`) carries a secret. restic reads the keys through
 * AWS_SHARED_CREDENTIALS_FILE (minio-go's credential chain), the password through RESTIC_PASSWORD_FILE.
 * Its failures are mapped to clear errors here; nothing restic prints is passed on without removing
 * the secrets from it. No n8n import. Over ~350 lines: the two repository kinds (S3, sftp) and the one
 * runner that turns their secrets into files belong together.
 */
import { randomBytes } from 'node:crypto';
import type Dockerode from 'dockerode';

import { InfraOpsError } from '../shared/errors';
import { resolveS3Endpoint, type S3Connection } from '../shared/s3';
import type { SshConnection } from '../shared/ssh';
import { secretFilesTar } from '../shared/secretFiles';
import { demuxDockerLogs, ensureImage } from '../TrivyScan/dockerRunner';
import { HELPER_LABEL, removeQuietly } from './dockerVolumes';
import { isSafeName } from './manifest';

export const DEFAULT_RESTIC_IMAGE = 'restic/restic:0.17.3';
/** The snapshots' host name: stable, so restic finds the parent snapshot whatever runs the helper. */
export const RESTIC_HOST = 'infra-ops';
/** Where a volume is mounted in the helper: stable, so the parent snapshot has the same path. */
export const dataPath = (volume: string) => `/data/${volume}`;
export const volumeTag = (volume: string) => `volume=${volume}`;
const SECRETS_DIR = 'infra-ops-restic';
/** A named volume for restic's cache: an unchanged backup then reads no index or tree from S3. */
export const CACHE_VOLUME = 'infra-ops-restic-cache';

export interface ResticRepository {
	/** e.g. s3:https://minio.example.com/backups/restic (no secret in it) */
	url: string;
	/** `-o key=value` options (no secret in them) */
	options: string[];
	/** Global flags, e.g. --cacert <file> (no secret in them) */
	flags: string[];
	password: string;
	/** Secret files besides the password, by name, put into SECRETS_DIR before restic starts. */
	files: Record<string, string>;
	/** What must never appear in an error: the password, keys. */
	secrets: string[];
}

/** Where the secret files are inside the helper container. */
export const SECRETS_PATH = `/${SECRETS_DIR}`;

function requirePassword(password: string | undefined): string {
	if (!password)
		throw new InfraOpsError(
			'The Restic Repository credential has no password',
			'Set the repository password (keep a copy outside n8n: without it nothing can be restored)',
		);
	return password;
}

export interface ResticSetup {
	docker: Dockerode;
	repo: ResticRepository;
	image: string;
	/** Docker network mode of the helper; empty = the engine's default. */
	networkMode?: string;
	/** Per restic command; default 6 h. */
	timeoutMs?: number;
	/** How long to retry while another restic run holds an exclusive lock; default 60 s. */
	lockWaitMs?: number;
	/** Time between lock retries (tests shorten it); default 5 s. */
	lockRetryMs?: number;
}

/** The credential's path in the bucket, without slashes around it; throws for one restic cannot take. */
export function repositoryPath(raw: string): string {
	const path = raw.trim().replace(/^\/+|\/+$/g, '');
	if (!path || /[\s'"\\]|\.\./.test(path))
		throw new InfraOpsError(
			`"${raw}" is not a usable repository path`,
			'Use a folder name such as restic or backups/restic',
		);
	return path;
}

/** The repository of the restic credential inside the bucket of the node's S3 credential. */
export function resticRepository(
	s3: S3Connection,
	cred: { path?: string; password?: string; caPem?: string },
): ResticRepository {
	const password = requirePassword(cred.password);
	const path = repositoryPath(cred.path ?? '');
	const ca = cred.caPem?.trim() || undefined;
	const { endpoint, region, forcePathStyle } = resolveS3Endpoint(s3);
	const host = endpoint ?? `https://s3.${region}.amazonaws.com`;
	return {
		url: `s3:${host}/${s3.bucket}/${path}`,
		options: [`s3.region=${region}`, `s3.bucket-lookup=${forcePathStyle ? 'path' : 'auto'}`],
		flags: ca ? ['--cacert', `${SECRETS_PATH}/ca.pem`] : [],
		password,
		files: {
			aws: `[default]\naws_access_key_id = ${s3.accessKeyId}\naws_secret_access_key = ${s3.secretAccessKey}\n`,
			...(ca ? { 'ca.pem': `${ca}\n` } : {}),
		},
		secrets: [password, s3.secretAccessKey, s3.accessKeyId],
	};
}

/**
 * A repository on an SSH host, reached with restic's `sftp:` backend through the `ssh` client of the
 * helper image, with the SSH credential's private key and the host key it was checked against (a
 * known_hosts line from knownHostsLine) as files: strict host key checking, no prompt, no agent.
 */
export function sftpRepository(
	ssh: SshConnection,
	knownHosts: string,
	cred: { path?: string; password?: string },
): ResticRepository {
	const password = requirePassword(cred.password);
	if (!ssh.privateKey || ssh.passphrase)
		throw new InfraOpsError(
			'An sftp repository needs an SSH credential with a private key without passphrase',
			'The ssh client in the helper cannot type a password or passphrase; use a dedicated key for backups',
		);
	const path = repositoryPath(cred.path ?? '');
	if (!/^[A-Za-z0-9._-]+$/.test(ssh.username) || !/^[A-Za-z0-9.:-]+$/.test(ssh.host))
		throw new InfraOpsError(`"${ssh.username}@${ssh.host}" cannot be used in an sftp repository`);
	const s = SECRETS_PATH;
	const command = [
		'ssh -F /dev/null',
		`-i ${s}/ssh_key -p ${ssh.port}`,
		`-o UserKnownHostsFile=${s}/known_hosts -o StrictHostKeyChecking=yes`,
		'-o BatchMode=yes -o IdentitiesOnly=yes',
		`${ssh.username}@${ssh.host} -s sftp`,
	].join(' ');
	const key = ssh.privateKey.trim();
	return {
		url: `sftp:${ssh.username}@${ssh.host}:${raw(path, cred.path)}`,
		options: [`sftp.command=${command}`],
		flags: [],
		password,
		files: { ssh_key: `${key}\n`, known_hosts: knownHosts },
		secrets: [password, key],
	};
}

/** An absolute path stays absolute for sftp (a relative one is under the user's home). */
function raw(path: string, given?: string): string {
	return given?.trim().startsWith('/') ? `/${path}` : path;
}

/** What restic said, with the repository's secrets removed. */
export function scrub(text: string, repo: ResticRepository): string {
	let out = text;
	for (const secret of repo.secrets) {
		// a private key is scrubbed line by line: an error could quote a part of it
		for (const part of secret.split('\n').map((l) => l.trim())) {
			if (part.length >= 4 && !/^-----/.test(part)) out = out.split(part).join('***');
		}
	}
	return out;
}

export function checkVolumeName(volume: string): void {
	if (!isSafeName(volume)) throw new InfraOpsError(`"${volume}" is not a valid volume name`);
}

export type ResticFailureKind = 'password' | 'locked' | 'no-repository' | 'other';

export class ResticError extends InfraOpsError {
	constructor(
		message: string,
		hint: string | undefined,
		readonly kind: ResticFailureKind,
		readonly exitCode: number,
	) {
		super(message, hint);
		this.name = 'ResticError';
	}
}

/** A restic run stopped by its time limit (restic 0.14 retries a missing pack for minutes). */
export class ResticTimeoutError extends ResticError {
	constructor(
		message: string,
		hint: string,
		readonly timeoutMs: number,
	) {
		super(message, hint, 'other', -1);
		this.name = 'ResticTimeoutError';
	}
}

export function classify(stderr: string): ResticFailureKind {
	if (/wrong password or no key found/i.test(stderr)) return 'password';
	if (/repository is already locked/i.test(stderr)) return 'locked';
	// restic asks "Is there a repository…?" after any failure to read the config, an unreachable
	// endpoint too: only a missing object means there is none (and Backup may create it)
	if (
		/unable to open config file/i.test(stderr) &&
		/does not exist|NoSuchKey|no such file|404/i.test(stderr)
	)
		return 'no-repository';
	return 'other';
}

/** The error for a failed restic command, by what its stderr says. */
export function resticFailure(
	command: string,
	code: number,
	stderr: string,
	repo: ResticRepository,
): ResticError {
	const kind = classify(stderr);
	const tail = scrub(stderr, repo)
		.split('\n')
		.map((l) => l.trim())
		.filter((l) => l && !/^using temporary cache|^\[\d/.test(l))
		.slice(-6)
		.join(' | ')
		.slice(-800);
	switch (kind) {
		case 'password':
			return new ResticError(
				`The restic repository ${repo.url} does not open with this password`,
				'Check the password in the Restic Repository credential; nothing was changed',
				kind,
				code,
			);
		case 'locked':
			return new ResticError(
				`The restic repository ${repo.url} is locked by another run`,
				'Another backup, prune or check is running; if none is, a crashed run left a stale lock: `restic unlock`',
				kind,
				code,
			);
		case 'no-repository':
			return new ResticError(
				`There is no restic repository at ${repo.url}`,
				'Run a Backup first (it creates the repository), or check the path in the Restic Repository credential and the bucket',
				kind,
				code,
			);
		default:
			return new ResticError(
				`restic ${command} exited with ${code}${tail ? `: ${tail}` : ''}`,
				undefined,
				kind,
				code,
			);
	}
}

/** restic's command line (no secret in it); `secretsDir` where the secret files are, if not SECRETS_PATH. */
export function resticArgs(
	repo: ResticRepository,
	args: string[],
	secretsDir = SECRETS_PATH,
): string[] {
	const at = (value: string) => value.split(SECRETS_PATH).join(secretsDir);
	return [
		'-r',
		repo.url,
		...repo.options.flatMap((o) => ['-o', at(o)]),
		...repo.flags.map(at),
		...args,
	];
}

export interface ResticRun {
	code: number;
	stdout: string;
	stderr: string;
}

/**
 * Runs `restic <args>` once in a new helper container and removes it. Exit codes in `okCodes` return
 * (restic backup's 3: a snapshot was made but some files could not be read); any other throws.
 */
export async function runRestic(
	setup: ResticSetup,
	args: string[],
	opts: { binds?: string[]; okCodes?: number[] } = {},
): Promise<ResticRun> {
	const { docker, repo } = setup;
	const secrets = SECRETS_PATH;
	const files: Record<string, string> = { ...repo.files, password: repo.password };
	const cmd = resticArgs(repo, args);
	const container = await docker.createContainer({
		Image: setup.image,
		Entrypoint: ['/usr/bin/restic'],
		Cmd: cmd,
		User: '0:0',
		// a run's own host name: restic's lock then names this run, not a reused container
		Hostname: `infra-ops-restic-${randomBytes(3).toString('hex')}`,
		Env: [
			`RESTIC_PASSWORD_FILE=${secrets}/password`,
			...(files.aws ? [`AWS_SHARED_CREDENTIALS_FILE=${secrets}/aws`] : []),
			'RESTIC_CACHE_DIR=/cache',
			'HOME=/tmp',
		],
		Labels: { [HELPER_LABEL]: 'true' },
		HostConfig: {
			Binds: [...(opts.binds ?? []), `${CACHE_VOLUME}:/cache`],
			NetworkMode: setup.networkMode || undefined,
			AutoRemove: false,
		},
	});
	try {
		await container.putArchive(secretFilesTar(SECRETS_DIR, files), { path: '/' });
		await container.start();
		const timeoutMs = setup.timeoutMs ?? 6 * 3600_000;
		let timer: NodeJS.Timeout | undefined;
		const timedOut = new Promise<'timeout'>((resolve) => {
			timer = setTimeout(() => resolve('timeout'), timeoutMs);
		});
		const waited = await Promise.race([
			container.wait() as Promise<{ StatusCode: number }>,
			timedOut,
		]).finally(() => clearTimeout(timer));
		if (waited === 'timeout') {
			// SIGINT first: restic then removes its lock (a killed run's lock, under a host name no later
			// run shares, blocks the repository until restic deems it stale, 30 min); SIGKILL after 10 s
			await container.kill({ signal: 'SIGINT' }).catch(() => undefined);
			let grace: NodeJS.Timeout | undefined;
			await Promise.race([
				container.wait().catch(() => undefined),
				new Promise((r) => (grace = setTimeout(r, 10_000))),
			]).finally(() => clearTimeout(grace));
			await container.kill().catch(() => undefined);
			throw new ResticTimeoutError(
				`restic ${args[0]} did not finish within ${Math.round(timeoutMs / 1000)} s and was stopped`,
				'Raise Restic Timeout, or check that the S3 endpoint answers; a stale lock may be left in the repository (`restic unlock` once no other run is active)',
				timeoutMs,
			);
		}
		const raw = (await container.logs({ stdout: true, stderr: true })) as unknown as Buffer;
		const { stdout, stderr } = demuxDockerLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(raw));
		const result = {
			code: waited.StatusCode,
			stdout: stdout.toString('utf8'),
			stderr: stderr.toString('utf8'),
		};
		if (result.code !== 0 && !(opts.okCodes ?? []).includes(result.code))
			throw resticFailure(args[0], result.code, result.stderr, repo);
		return result;
	} finally {
		await removeQuietly(container);
	}
}

/** `runRestic`, retried while another run holds an exclusive lock, up to `lockWaitMs`. */
export async function runResticWaiting(
	setup: ResticSetup,
	args: string[],
	opts: { binds?: string[]; okCodes?: number[] } = {},
): Promise<ResticRun> {
	const deadline = Date.now() + (setup.lockWaitMs ?? 60_000);
	for (;;) {
		try {
			return await runRestic(setup, args, opts);
		} catch (error) {
			if (!(error instanceof ResticError) || error.kind !== 'locked' || Date.now() >= deadline)
				throw error;
		}
		await new Promise((r) =>
			setTimeout(r, Math.min(setup.lockRetryMs ?? 5000, Math.max(0, deadline - Date.now()))),
		);
	}
}

/** Pulls the restic image only when the engine lacks it. */
export async function ensureResticImage(setup: ResticSetup): Promise<void> {
	await ensureImage(setup.docker, setup.image, undefined, {
		image: 'restic image',
		setting: 'Restic Image',
	});
}

/** Opens the repository (proves the password); creates it when there is none yet and `create` is set. */
export async function openRepository(
	setup: ResticSetup,
	create: boolean,
): Promise<'opened' | 'created'> {
	try {
		await runRestic(setup, ['cat', 'config']);
		return 'opened';
	} catch (error) {
		if (!(error instanceof ResticError) || error.kind !== 'no-repository' || !create) throw error;
	}
	await runRestic(setup, ['init']);
	return 'created';
}

/** The JSON values of a `--json` output, one per line; lines that are not JSON are skipped. */
export function jsonLines(text: string): unknown[] {
	const out: unknown[] = [];
	for (const line of text.split('\n')) {
		const t = line.trim();
		if (!t.startsWith('{') && !t.startsWith('[')) continue;
		try {
			out.push(JSON.parse(t));
		} catch {
			// a progress line cut short
		}
	}
	return out;
}
