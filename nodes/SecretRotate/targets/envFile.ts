/** A `.env` file over SSH: atomic in-place edit of KEY=VALUE lines, with a 0600 backup of the old file. */
import { errorMessage, InfraOpsError } from '../../shared/errors';
import { SshDirLock, type LeaseLock } from '../../shared/locks';
import { openSsh, type SshConnection, type SshSession } from '../../shared/ssh';
import { readEnvValue, setEnvValue } from '../envFile';
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
	return `${path}.infra-ops-bak-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
}

export class EnvFileTarget implements RotationTarget {
	readonly kind = 'env-file';
	readonly phase = 'restorable' as const;
	readonly target: string;
	private session?: SshSession;
	private original?: string;
	private backupFile?: string;
	/** What this run's set wrote, and the value it set: a rollback only undoes that. */
	private written?: { text: string; value: string; appended: boolean };

	constructor(private readonly options: EnvFileOptions) {
		if (!options.path.startsWith('/')) {
			throw new InfraOpsError(`"${options.path}" is not an absolute path`, 'Give the full path of the .env file, e.g. /opt/supabase/docker/.env');
		}
		if (options.keys.length === 0) throw new InfraOpsError('No .env key to set is named', 'Fill in "Keys", e.g. POSTGRES_PASSWORD');
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
		this.original = (await session.readFile(this.options.path)).toString('utf8');
		let text = this.original;
		const notes: string[] = [];
		for (const key of this.options.keys) {
			// a dry run on the old text: a missing key or an unwritable value fails here, before anything changes
			const edit = setEnvValue(text, key, secret.value, { addIfMissing: this.options.addIfMissing, file: this.options.path });
			text = edit.text;
			notes.push(edit.appended ? `${key} missing, will be appended` : `${key} on line ${edit.lines.join(', ')}`);
		}
		return notes.join('; ');
	}

	/** The value the file held when create read it (its first key's), for targets that look for the old secret. */
	currentValue(): string | undefined {
		return this.original === undefined ? undefined : readEnvValue(this.original, this.options.keys[0]);
	}

	async set(secret: GeneratedSecret): Promise<string> {
		const session = this.requireSession();
		const current = (await session.readFile(this.options.path)).toString('utf8');
		if (current !== this.original) {
			throw new InfraOpsError(`${this.options.path} changed since the rotation started`, 'Something else edits this file: run the rotation again');
		}
		let text = current;
		const lines: string[] = [];
		let appended = false;
		for (const key of this.options.keys) {
			const edit = setEnvValue(text, key, secret.value, { addIfMissing: this.options.addIfMissing, file: this.options.path });
			text = edit.text;
			appended ||= edit.appended;
			lines.push(`${key}${edit.appended ? ' (appended)' : ` (line ${edit.lines.join(', ')})`}`);
		}
		// the backup is written here, not in create, so a rotation that stops at create leaves no file behind
		if (this.options.backup) {
			this.backupFile = backupPath(this.options.path, this.options.now ?? new Date());
			await session.writeFileAtomic(this.backupFile, current, { mode: 0o600 });
		}
		// recorded before the write: a write whose reply was lost may still have landed
		this.written = { text, value: secret.value, appended };
		await session.writeFileAtomic(this.options.path, text);
		return `set ${lines.join(', ')}${this.backupFile ? `; old file kept as ${this.backupFile} (0600)` : ''}`;
	}

	async test(secret: GeneratedSecret): Promise<string> {
		const text = (await this.requireSession().readFile(this.options.path)).toString('utf8');
		const wrong = this.options.keys.filter((key) => readEnvValue(text, key) !== secret.value);
		if (wrong.length) throw new InfraOpsError(`${this.options.path}: ${wrong.join(', ')} do not read back as the new value`);
		return `${this.options.keys.join(', ')} read back as the new value`;
	}

	async finish(): Promise<string> {
		return this.backupFile ? `old file kept as ${this.backupFile} (0600); delete it once the services run fine` : 'done';
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
	 */
	private async restoreOwnWrite(session: SshSession, original: string): Promise<string> {
		const path = this.options.path;
		if (!this.written) return `${path} was not written by this run: nothing to restore`;
		const current = (await session.readFile(path)).toString('utf8');
		if (current === this.written.text) {
			await session.writeFileAtomic(path, original);
			return `${path} restored`;
		}
		if (current === original) return `${path} already holds its old text`;
		const { keys } = this.options;
		if (!this.written.appended && keys.every((key) => readEnvValue(current, key) === this.written!.value)) {
			let text = current;
			for (const key of keys) text = setEnvValue(text, key, readEnvValue(original, key) ?? '', { file: path }).text;
			await session.writeFileAtomic(path, text);
			return `${path}: old value of ${keys.join(', ')} restored; other lines changed since this run wrote the file kept`;
		}
		// nothing is removed either: the backup is the pre-run file, which the operator may want now
		this.backupFile = undefined;
		throw new RollbackLeftAlone(`${path} was changed by someone else after this run wrote it (${keys.join(', ')} no longer hold this run's value): left alone, not rolled back`);
	}

	async close(): Promise<void> {
		this.session?.close();
		this.session = undefined;
	}

	private requireSession(): SshSession {
		if (!this.session) throw new InfraOpsError(`${this.target}: not connected (create did not run)`);
		return this.session;
	}
}
