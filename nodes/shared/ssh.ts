// Over 350 lines: one SshSession class (exec, streams, SFTP, atomic write, host key pinning) whose methods share one connection and its timeouts.
/** SSH transport: exec with timeout and exit status, SFTP read, atomic write, host key pinning. */
import { createHash, randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import type { Client, ClientChannel, ConnectConfig, SFTPWrapper, Stats } from 'ssh2';

import { describeConnectError, InfraOpsError, TimeoutError, withTimeout } from './errors';
import { loadSsh2 } from './lazy';

/** One POSIX shell word: single-quoted, with embedded single quotes closed, escaped and reopened. */
export function shellQuote(word: string): string {
	return `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface SshConnection {
	host: string;
	port: number;
	username: string;
	privateKey?: string;
	passphrase?: string;
	password?: string;
	/** Accepted host keys as `SHA256:<base64>`; a key that matches none is refused, never prompted. */
	hostKeyFingerprints: string[];
}

export interface DirEntry {
	name: string;
	size: number;
	mtime: number;
	isFile: boolean;
	isDirectory: boolean;
	isSymlink: boolean;
}

export interface ExecResult {
	code: number | null;
	signal?: string;
	stdout: string;
	stderr: string;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
const DEFAULT_EXEC_TIMEOUT_MS = 60_000;
const MAX_CAPTURE_BYTES = 16 * 1024 * 1024;

/** The form `ssh-keygen -lf` prints: `SHA256:` and unpadded base64 of the key blob's SHA-256. */
export function sha256Fingerprint(keyBlob: Buffer): string {
	return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/** Accepts `SHA256:abc`, `abc`, with or without padding, several separated by commas/space/newlines. */
export function parseFingerprints(text: string): string[] {
	return text
		.split(/[\s,]+/)
		.map((s) => s.trim())
		.filter(Boolean)
		.map((s) => {
			const bare = s.replace(/^SHA256:/i, '').replace(/=+$/, '');
			if (!/^[A-Za-z0-9+/]{43}$/.test(bare)) {
				throw new InfraOpsError(
					`"${s}" is not a SHA-256 host key fingerprint`,
					'Expected the form SHA256:<43 base64 characters>, as printed by `ssh-keyscan -t ed25519 <host> | ssh-keygen -lf -`',
				);
			}
			return 'SHA256:' + bare;
		});
}

export class HostKeyMismatchError extends InfraOpsError {
	constructor(
		readonly host: string,
		readonly presented: string,
	) {
		super(
			`Host key of ${host} is ${presented}, which is not the expected fingerprint: refusing to connect`,
			'If the host was reinstalled or its key rotated, check the new key out of band (ssh-keyscan on the host itself) and update the credential; otherwise something is intercepting the connection.',
		);
	}
}

/**
 * Why ssh2 could not read a private key, in fixed words: some of its messages quote bytes decoded from
 * the key (`Unsupported OpenSSH key magic: …`), and the message reaches execution data and alerts.
 */
export function sshKeyProblem(error: unknown): string {
	const text = error instanceof Error ? error.message : '';
	if (/no passphrase given/i.test(text)) return 'it is encrypted and no passphrase is set';
	if (/integrity check failed|bad passphrase|decrypt/i.test(text))
		return 'the passphrase does not decrypt it (or the key is damaged)';
	if (/unsupported|not supported/i.test(text))
		return 'its key type, cipher or format is not supported';
	return 'it is not a complete OpenSSH, PEM or PuTTY private key';
}

/** ssh2 connect options with the host key pinned; shared by the SSH sessions and Docker over SSH. */
export function sshConnectConfig(
	conn: SshConnection,
	onMismatch: (presented: string) => void,
	timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
	onAccepted?: (key: Buffer) => void,
): ConnectConfig {
	if (conn.hostKeyFingerprints.length === 0) {
		throw new InfraOpsError(
			`No host key fingerprint is set for ${conn.host}`,
			'Set the expected host key fingerprint (SHA256:...) in the SSH credential: `ssh-keyscan -t ed25519 <host> | ssh-keygen -lf -`',
		);
	}
	if (!conn.privateKey && !conn.password) {
		throw new InfraOpsError(`No private key or password is set for ${conn.username}@${conn.host}`);
	}
	const expected = new Set(conn.hostKeyFingerprints);
	return {
		host: conn.host,
		port: conn.port,
		username: conn.username,
		privateKey: conn.privateKey || undefined,
		passphrase: conn.passphrase || undefined,
		password: conn.privateKey ? undefined : conn.password,
		readyTimeout: timeoutMs,
		keepaliveInterval: 10_000,
		hostVerifier: (key: Buffer) => {
			const presented = sha256Fingerprint(key);
			if (expected.has(presented)) {
				onAccepted?.(key);
				return true;
			}
			onMismatch(presented);
			return false;
		},
	};
}

/** Opens a connection; rejects with a HostKeyMismatchError, an auth error or a network error that says which. */
export async function connectSsh(
	conn: SshConnection,
	timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
	onAccepted?: (key: Buffer) => void,
): Promise<Client> {
	const { Client } = loadSsh2();
	const client = new Client();
	let mismatch: string | undefined;
	const config = sshConnectConfig(
		conn,
		(presented) => (mismatch = presented),
		timeoutMs,
		onAccepted,
	);
	const target = `SSH ${conn.username}@${conn.host}:${conn.port}`;
	return await new Promise<Client>((resolve, reject) => {
		client.once('ready', () => resolve(client));
		client.once('error', (error: Error & { level?: string }) => {
			client.end();
			if (mismatch) return reject(new HostKeyMismatchError(`${conn.host}:${conn.port}`, mismatch));
			if (error.level === 'client-authentication') {
				return reject(
					new InfraOpsError(
						`${target}: authentication failed (${conn.privateKey ? 'private key' : 'password'} refused)`,
						'Check the user name, and that the public key is in ~/.ssh/authorized_keys on the host (or the password is right)',
						{ cause: error },
					),
				);
			}
			if (/timed out/i.test(error.message)) {
				return reject(
					new TimeoutError(`${target}: no SSH handshake within ${timeoutMs} ms`, undefined, {
						cause: error,
					}),
				);
			}
			reject(describeConnectError(target, error));
		});
		try {
			client.connect(config);
		} catch (error) {
			// ssh2 throws synchronously on an unreadable private key
			reject(
				new InfraOpsError(
					`${target}: the Private Key field cannot be used: ${sshKeyProblem(error)}`,
					'Paste the whole key including the BEGIN/END lines (OpenSSH or PEM format); set the passphrase if it has one',
				),
			);
		}
	});
}

export class SshSession {
	private sftpPromise?: Promise<SFTPWrapper>;

	/** Rejects once the connection is gone: ssh2 leaves pending SFTP callbacks unanswered then. */
	private readonly closed: Promise<never>;
	private isClosed = false;

	constructor(
		readonly client: Client,
		readonly target: string,
	) {
		this.closed = new Promise<never>((_, reject) =>
			client.once('close', () => {
				this.isClosed = true;
				reject(new InfraOpsError(`${target}: the SSH connection closed`));
			}),
		);
		this.closed.catch(() => undefined);
	}

	/** Runs a command and collects its output; a non-zero exit is returned, not thrown. */
	async exec(
		command: string,
		options: { timeoutMs?: number; stdin?: string | Buffer } = {},
	): Promise<ExecResult> {
		const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
		const channel = await this.openExec(command);
		const stdout: Buffer[] = [];
		const stderr: Buffer[] = [];
		let captured = 0;
		const keep = (into: Buffer[]) => (chunk: Buffer) => {
			if (captured >= MAX_CAPTURE_BYTES) return;
			captured += chunk.length;
			into.push(chunk);
		};
		channel.on('data', keep(stdout));
		channel.stderr.on('data', keep(stderr));
		const done = new Promise<ExecResult>((resolve, reject) => {
			let code: number | null = null;
			let signal: string | undefined;
			channel.on('exit', (c: number | null, s?: string) => {
				code = c;
				signal = s ?? undefined;
			});
			channel.on('error', reject);
			channel.on('close', () =>
				resolve({
					code,
					signal,
					stdout: Buffer.concat(stdout).toString('utf8'),
					stderr: Buffer.concat(stderr).toString('utf8'),
				}),
			);
		});
		channel.end(options.stdin);
		try {
			return await withTimeout(
				done,
				timeoutMs,
				`${this.target}: command "${command.slice(0, 80)}"`,
			);
		} catch (error) {
			channel.signal('KILL');
			channel.close();
			throw error;
		}
	}

	/** Runs a command whose stdout is consumed as a stream (e.g. `tar -cf -`). `exit` rejects on a non-zero status. */
	async execStream(command: string): Promise<{ stdout: Readable; exit: Promise<void> }> {
		const channel = await this.openExec(command);
		const stderr: Buffer[] = [];
		channel.stderr.on('data', (chunk: Buffer) => {
			if (stderr.length < 64) stderr.push(chunk);
		});
		const exit = new Promise<void>((resolve, reject) => {
			let code: number | null = null;
			channel.on('exit', (c: number | null) => (code = c));
			channel.on('close', () =>
				code === 0
					? resolve()
					: reject(
							new InfraOpsError(
								`${this.target}: "${command.slice(0, 80)}" exited with ${code}: ${Buffer.concat(stderr).toString('utf8').trim().slice(0, 500)}`,
							),
						),
			);
		});
		exit.catch(() => undefined);
		channel.end();
		return { stdout: channel, exit };
	}

	/**
	 * Runs a command with `input` piped to its stdin (e.g. `tar -x`), with backpressure. Rejects on a
	 * non-zero exit (with stderr), on an input stream error or `signal` abort (the command is killed),
	 * or after `idleTimeoutMs` without progress.
	 */
	async execWithInput(
		command: string,
		input: Readable,
		options: { idleTimeoutMs?: number; signal?: AbortSignal } = {},
	): Promise<void> {
		const idleMs = options.idleTimeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
		const channel = await this.openExec(command);
		const stderr: Buffer[] = [];
		channel.stderr.on('data', (chunk: Buffer) => {
			if (stderr.length < 64) stderr.push(chunk);
		});
		channel.on('data', () => undefined);
		await new Promise<void>((resolve, reject) => {
			let code: number | null = null;
			let failed: Error | undefined;
			let idle: NodeJS.Timeout | undefined;
			const fail = (error: Error) => {
				failed ??= error;
				input.unpipe(channel);
				input.destroy();
				channel.signal('KILL');
				channel.close();
			};
			const touch = () => {
				clearTimeout(idle);
				idle = setTimeout(
					() =>
						fail(
							new InfraOpsError(
								`${this.target}: "${command.slice(0, 80)}" made no progress for ${idleMs / 1000} s`,
							),
						),
					idleMs,
				);
			};
			touch();
			// the input's producer may fail without the input stream itself erroring (a pipeline's returned tail)
			if (options.signal?.aborted) fail(options.signal.reason as Error);
			options.signal?.addEventListener('abort', () => fail(options.signal!.reason as Error), {
				once: true,
			});
			input.on('data', touch);
			input.once('error', (error: Error) => fail(error));
			channel.on('exit', (c: number | null) => (code = c));
			channel.on('close', () => {
				clearTimeout(idle);
				if (failed) return reject(failed);
				if (code === 0) return resolve();
				reject(
					new InfraOpsError(
						`${this.target}: "${command.slice(0, 80)}" exited with ${code}: ${Buffer.concat(stderr).toString('utf8').trim().slice(0, 500)}`,
					),
				);
			});
			input.pipe(channel);
		});
	}

	async readFile(path: string, maxBytes = MAX_CAPTURE_BYTES): Promise<Buffer> {
		const sftp = await this.sftp();
		const stats = await this.stat(path);
		if (!stats) throw new InfraOpsError(`${this.target}: ${path} does not exist`);
		if (stats.size > maxBytes) {
			throw new InfraOpsError(
				`${this.target}: ${path} is ${stats.size} bytes, more than the ${maxBytes} allowed`,
			);
		}
		return await Promise.race([
			new Promise<Buffer>((resolve, reject) =>
				sftp.readFile(path, (error, data) =>
					error ? reject(this.sftpError(`read ${path}`, error)) : resolve(data),
				),
			),
			this.closed,
		]);
	}

	/** `undefined` when the path does not exist. */
	async stat(path: string): Promise<Stats | undefined> {
		const sftp = await this.sftp();
		return await Promise.race([
			new Promise<Stats | undefined>((resolve, reject) =>
				sftp.stat(path, (error, stats) => {
					if (!error) return resolve(stats);
					if ((error as { code?: number }).code === 2) return resolve(undefined);
					reject(this.sftpError(`stat ${path}`, error));
				}),
			),
			this.closed,
		]);
	}

	/**
	 * Replaces `path` so a reader sees the old file or the new one, never a mix: the data goes to a
	 * temp file in the same folder (same filesystem; a non-config extension so watchers such as
	 * Traefik's ignore it), is flushed, gets the old file's mode and owner, then is renamed over.
	 * The temp file is removed on any failure.
	 */
	async writeFileAtomic(
		path: string,
		data: string | Buffer,
		options: { mode?: number } = {},
	): Promise<void> {
		const sftp = await this.sftp();
		const dir = posix.dirname(path);
		const tmp = posix.join(
			dir,
			`.${posix.basename(path)}.${randomBytes(6).toString('hex')}.infra-ops-tmp`,
		);
		const existing = await this.stat(path);
		const mode = options.mode ?? (existing ? existing.mode & 0o7777 : 0o644);
		const call = <T>(
			what: string,
			fn: (cb: (error: Error | undefined | null, value?: T) => void) => void,
		) =>
			Promise.race([
				new Promise<T>((resolve, reject) =>
					fn((error, value) => (error ? reject(this.sftpError(what, error)) : resolve(value as T))),
				),
				this.closed,
			]);
		let created = false;
		try {
			const handle = await call<Buffer>(`create ${tmp}`, (cb) =>
				sftp.open(tmp, 'wx', { mode }, cb),
			);
			created = true;
			const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
			let offset = 0;
			while (offset < body.length) {
				const length = Math.min(32 * 1024, body.length - offset);
				await call(`write ${tmp}`, (cb) => sftp.write(handle, body, offset, length, offset, cb));
				offset += length;
			}
			try {
				await call(`fsync ${tmp}`, (cb) => sftp.ext_openssh_fsync(handle, cb));
			} catch {
				// servers without fsync@openssh.com still get a correct, only less durable, write
			}
			await call(`close ${tmp}`, (cb) => sftp.close(handle, cb));
			await call(`chmod ${tmp}`, (cb) => sftp.chmod(tmp, mode, cb));
			if (existing) {
				try {
					await call(`chown ${tmp}`, (cb) => sftp.chown(tmp, existing.uid, existing.gid, cb));
				} catch (error) {
					throw new InfraOpsError(
						`${this.target}: cannot keep the owner ${existing.uid}:${existing.gid} of ${path}`,
						'Connect as the file owner or as root, so services reading the file keep access',
						{ cause: error },
					);
				}
			}
			await call(`rename ${tmp} to ${path}`, (cb) => sftp.ext_openssh_rename(tmp, path, cb));
			created = false;
		} finally {
			if (created) {
				await Promise.race([
					new Promise<void>((resolve) => sftp.unlink(tmp, () => resolve())),
					this.closed,
				]).catch(() => undefined);
			}
		}
	}

	/** Entries of a folder (not recursive; types as lstat sees them, links not followed); `undefined` when the folder does not exist. */
	async readDir(path: string): Promise<DirEntry[] | undefined> {
		const sftp = await this.sftp();
		return await Promise.race([
			new Promise<DirEntry[] | undefined>((resolve, reject) =>
				sftp.readdir(path, (error, list) => {
					if (!error) {
						return resolve(
							list.map((e) => {
								const type = e.attrs.mode & 0o170000;
								return {
									name: e.filename,
									size: e.attrs.size,
									mtime: e.attrs.mtime,
									isFile: type === 0o100000,
									isDirectory: type === 0o040000,
									isSymlink: type === 0o120000,
								};
							}),
						);
					}
					if ((error as { code?: number }).code === 2) return resolve(undefined);
					reject(this.sftpError(`list ${path}`, error));
				}),
			),
			this.closed,
		]);
	}

	/** Removes a file; a file that is already gone is fine. */
	async removeFile(path: string): Promise<void> {
		const sftp = await this.sftp();
		await Promise.race([
			new Promise<void>((resolve, reject) =>
				sftp.unlink(path, (error) =>
					!error || (error as { code?: number }).code === 2
						? resolve()
						: reject(this.sftpError(`remove ${path}`, error)),
				),
			),
			this.closed,
		]);
	}

	close(): void {
		this.client.end();
	}

	private async openExec(command: string): Promise<ClientChannel> {
		return await new Promise<ClientChannel>((resolve, reject) =>
			this.client.exec(command, (error, channel) =>
				error
					? reject(
							new InfraOpsError(
								`${this.target}: cannot start "${command.slice(0, 80)}": ${error.message}`,
							),
						)
					: resolve(channel),
			),
		);
	}

	private async sftp(): Promise<SFTPWrapper> {
		// a connection that drops while the subsystem starts makes ssh2 fail the request too ("Unable to
		// start subsystem", "No response from server"): that is a closed connection, not a missing sftp server
		this.sftpPromise ??= Promise.race([
			new Promise<SFTPWrapper>((resolve, reject) =>
				this.client.sftp((error, sftp) => {
					if (!error) return resolve(sftp);
					if (this.isClosed)
						return reject(
							new InfraOpsError(
								`${this.target}: the SSH connection closed before SFTP started`,
								undefined,
								{ cause: error },
							),
						);
					reject(
						new InfraOpsError(
							`${this.target}: SFTP is not available: ${error.message}`,
							'Enable the sftp subsystem in sshd_config',
						),
					);
				}),
			),
			this.closed,
		]);
		return await this.sftpPromise;
	}

	private sftpError(what: string, error: Error): InfraOpsError {
		const code = (error as { code?: number }).code;
		const reason =
			code === 3 ? 'permission denied' : code === 2 ? 'no such file or folder' : error.message;
		return new InfraOpsError(`${this.target}: cannot ${what}: ${reason}`, undefined, {
			cause: error,
		});
	}
}

/**
 * The host's key as an OpenSSH known_hosts line (`[host]:port type base64`), taken from a login whose
 * key matched the credential's fingerprint: for an `ssh` client that must check the same host key.
 */
export async function knownHostsLine(conn: SshConnection): Promise<string> {
	let key: Buffer | undefined;
	const client = await connectSsh(conn, undefined, (k) => (key = k));
	client.end();
	if (!key) throw new InfraOpsError(`${conn.host}: no host key was seen`);
	const type = key.subarray(4, 4 + key.readUInt32BE(0)).toString('latin1');
	return `[${conn.host}]:${conn.port} ${type} ${key.toString('base64')}\n`;
}

export async function openSsh(conn: SshConnection, timeoutMs?: number): Promise<SshSession> {
	const client = await connectSsh(conn, timeoutMs);
	return new SshSession(client, `${conn.username}@${conn.host}:${conn.port}`);
}

/** Opens a session for `fn` and always closes it. */
export async function withSsh<T>(
	conn: SshConnection,
	fn: (session: SshSession) => Promise<T>,
): Promise<T> {
	const session = await openSsh(conn);
	try {
		return await fn(session);
	} finally {
		session.close();
	}
}
