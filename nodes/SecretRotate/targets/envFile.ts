/** A `.env` file over SSH: atomic in-place edit of KEY=VALUE lines, with a 0600 backup of the old file. */
import { errorMessage, InfraOpsError } from '../../shared/errors';
import { SshDirLock, type LeaseLock } from '../../shared/locks';
import { openSsh, type SshConnection, type SshSession } from '../../shared/ssh';
import { readEnvValue, readEnvValueBytes, setEnvValue, setEnvValueBytes } from '../envFile';
import type { GeneratedSecret } from '../generate';
import { RollbackLeftAlone, type RotationTarget } from '../rotation';
import { passwordOf } from './postgresRole';

export interface EnvFileOptions {
	ssh: SshConnection;
	path: string;
	keys: string[];
	addIfMissing: boolean;
	/** Keep a copy of the old file (mode 0600) beside it: it holds the old secret, so it is never world-readable. */
	backup: boolean;
	now?: Date;
}

export function backupPath(path: string, now: Date): string {
	return `${path}.infra-ops-bak-${now
		.toISOString()
		.replace(/[-:]/g, '')
		.replace(/\.\d+Z$/, 'Z')}`;
}

export class EnvFileTarget implements RotationTarget {
	readonly kind = 'env-file';
	readonly phase = 'restorable' as const;
	readonly target: string;
	private session?: SshSession;
	/** The file's bytes as create read them: never decoded, so a byte that is not UTF-8 survives set and rollback. */
	private original?: Buffer;
	private backupFile?: string;
	/** What this run's set wrote, and the value it set: a rollback only undoes that. */
	private written?: { data: Buffer; value: string; appended: boolean };

	constructor(private readonly options: EnvFileOptions) {
		if (!options.path.startsWith('/')) {
			throw new InfraOpsError(
				`"${options.path}" is not an absolute path`,
				'Give the full path of the .env file, e.g. /opt/supabase/docker/.env',
			);
		}
		if (options.keys.length === 0)
			throw new InfraOpsError(
				'No .env key to set is named',
				'Fill in "Keys", e.g. POSTGRES_PASSWORD',
			);
		this.target = `ssh://${options.ssh.host}:${options.ssh.port}${options.path} ${options.keys.join(', ')}`;
	}

	/** A folder beside the file (`<file>.infra-ops-lock`), holding the holder and its lease. */
	async locks(): Promise<LeaseLock[]> {
		return [new SshDirLock(await this.connect(), `${this.options.path}.infra-ops-lock`)];
	}

	private async connect(): Promise<SshSession> {
		this.session ??= await openSsh(this.options.ssh);
		return this.session;
	}

	async create(secret: GeneratedSecret): Promise<string> {
		passwordOf(secret, 'A .env value');
		const session = await this.connect();
		this.original = await session.readFile(this.options.path);
		let data = this.original;
		const notes: string[] = [];
		for (const key of this.options.keys) {
			// a dry run on the old bytes: a missing key or an unwritable value fails here, before anything changes
			const edit = setEnvValueBytes(data, key, secret.value, {
				addIfMissing: this.options.addIfMissing,
				file: this.options.path,
			});
			data = edit.data;
			notes.push(
				edit.appended
					? `${key} missing, will be appended`
					: `${key} on line ${edit.lines.join(', ')}`,
			);
		}
		return notes.join('; ');
	}

	/** The value the file held when create read it (its first key's), for targets that look for the old secret. */
	currentValue(): string | undefined {
		return this.original === undefined
			? undefined
			: readEnvValueBytes(this.original, this.options.keys[0]);
	}

	async set(secret: GeneratedSecret): Promise<string> {
		const session = this.requireSession();
		const current = await session.readFile(this.options.path);
		if (!this.original || !current.equals(this.original)) {
			throw new InfraOpsError(
				`${this.options.path} changed since the rotation started`,
				'Something else edits this file: run the rotation again',
			);
		}
		let data = current;
		const lines: string[] = [];
		let appended = false;
		for (const key of this.options.keys) {
			const edit = setEnvValueBytes(data, key, secret.value, {
				addIfMissing: this.options.addIfMissing,
				file: this.options.path,
			});
			data = edit.data;
			appended ||= edit.appended;
			lines.push(`${key}${edit.appended ? ' (appended)' : ` (line ${edit.lines.join(', ')})`}`);
		}
		// the backup is written here, not in create, so a rotation that stops at create leaves no file behind
		if (this.options.backup) {
			this.backupFile = backupPath(this.options.path, this.options.now ?? new Date());
			await session.writeFileAtomic(this.backupFile, current, { mode: 0o600 });
		}
		// recorded before the write: a write whose reply was lost may still have landed
		this.written = { data, value: secret.value, appended };
		await session.writeFileAtomic(this.options.path, data);
		return `set ${lines.join(', ')}${this.backupFile ? `; old file kept as ${this.backupFile} (0600)` : ''}`;
	}

	async test(secret: GeneratedSecret): Promise<string> {
		const data = await this.requireSession().readFile(this.options.path);
		const wrong = this.options.keys.filter((key) => readEnvValueBytes(data, key) !== secret.value);
		if (wrong.length)
			throw new InfraOpsError(
				`${this.options.path}: ${wrong.join(', ')} do not read back as the new value`,
			);
		return `${this.options.keys.join(', ')} read back as the new value`;
	}

	async finish(): Promise<string> {
		return this.backupFile
			? `old file kept as ${this.backupFile} (0600); delete it once the services run fine`
			: 'done';
	}

	async rollback(): Promise<string> {
		if (this.original === undefined) return 'nothing to restore';
		const session = this.requireSession();
		const restored = await this.restoreOwnWrite(session, this.original);
		if (!this.backupFile) return restored;
		// the backup is the very file just restored: kept, it would only be another copy of the live secret
		const backup = this.backupFile;
		this.backupFile = undefined;
		try {
			await session.removeFile(backup);
		} catch (error) {
			// the file itself is back, which is what the rollback is for: a stray backup is not a failed rollback
			return `${restored}; its backup ${backup} (0600) could not be removed: ${errorMessage(error)}`;
		}
		return `${restored}; backup ${backup} removed`;
	}

	/**
	 * Puts the old text back only where the file still holds what this run wrote: byte for byte, or
	 * at least this run's value in every key (then only those keys get their old value back, and
	 * whatever else was edited since stays). Anything else is another writer's, and is left alone.
	 * All of it on bytes: the old file comes back as the bytes create read.
	 */
	private async restoreOwnWrite(session: SshSession, original: Buffer): Promise<string> {
		const path = this.options.path;
		if (!this.written) return `${path} was not written by this run: nothing to restore`;
		const current = await session.readFile(path);
		if (current.equals(this.written.data)) {
			await session.writeFileAtomic(path, original);
			return `${path} restored`;
		}
		if (current.equals(original)) return `${path} already holds its old text`;
		const { keys } = this.options;
		if (
			!this.written.appended &&
			keys.every((key) => readEnvValueBytes(current, key) === this.written!.value)
		) {
			// one character per byte: the old values go back as their exact bytes, whatever their encoding
			let text = current.toString('latin1');
			const old = original.toString('latin1');
			for (const key of keys)
				text = setEnvValue(text, key, readEnvValue(old, key) ?? '', { file: path }).text;
			await session.writeFileAtomic(path, Buffer.from(text, 'latin1'));
			return `${path}: old value of ${keys.join(', ')} restored; other lines changed since this run wrote the file kept`;
		}
		// nothing is removed either: the backup is the pre-run file, which the operator may want now
		this.backupFile = undefined;
		throw new RollbackLeftAlone(
			`${path} was changed by someone else after this run wrote it (${keys.join(', ')} no longer hold this run's value): left alone, not rolled back`,
		);
	}

	async close(): Promise<void> {
		this.session?.close();
		this.session = undefined;
	}

	private requireSession(): SshSession {
		if (!this.session)
			throw new InfraOpsError(`${this.target}: not connected (create did not run)`);
		return this.session;
	}
}
