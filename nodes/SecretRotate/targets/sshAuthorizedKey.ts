/** An SSH authorized key: add the new public key, log in with the new private key, then remove the old key. */
import { InfraOpsError } from '../../shared/errors';
import { loadSsh2 } from '../../shared/lazy';
import { SshDirLock, type LeaseLock } from '../../shared/locks';
import { openSsh, sshKeyProblem, type SshConnection, type SshSession } from '../../shared/ssh';
import { addKey, findKey, removeKey } from '../authorizedKeys';
import type { GeneratedSecret } from '../generate';
import { RollbackLeftAlone, type RotationTarget } from '../rotation';

export interface SshAuthorizedKeyOptions {
	/** Logs in with the key being rotated. */
	ssh: SshConnection;
	/** Relative paths start in the user's home folder. */
	authorizedKeysPath: string;
}

function keyPairOf(secret: GeneratedSecret): { privateKey: string; publicKey: string } {
	if (secret.kind !== 'sshKey' || !secret.publicKey) {
		throw new InfraOpsError(
			'An SSH authorized key needs an SSH key pair',
			'Set "Secret Type" to SSH Key Pair',
		);
	}
	return { privateKey: secret.value, publicKey: secret.publicKey };
}

/** The public key blob (base64) of the credential's private key: the key to retire. */
export function publicBlobOf(privateKey: string, passphrase?: string): string {
	let parsed: ReturnType<ReturnType<typeof loadSsh2>['utils']['parseKey']>;
	try {
		parsed = loadSsh2().utils.parseKey(privateKey, passphrase);
	} catch (error) {
		parsed = error as Error;
	}
	const key = Array.isArray(parsed) ? parsed[0] : parsed;
	if (key instanceof Error)
		throw new InfraOpsError(
			`The SSH credential's Private Key cannot be read: ${sshKeyProblem(key)}`,
			'Paste the whole key including the BEGIN/END lines; set the passphrase if it has one',
		);
	return key.getPublicSSH().toString('base64');
}

export class SshAuthorizedKeyTarget implements RotationTarget {
	readonly kind = 'ssh-authorized-key';
	readonly phase = 'restorable' as const;
	readonly target: string;
	private session?: SshSession;
	private original?: string;
	private oldBlob = '';
	private oldOptions = '';
	/** Blob of the key this run's set added: the only line a rollback removes. */
	private addedBlob?: string;

	constructor(private readonly options: SshAuthorizedKeyOptions) {
		const { ssh } = options;
		if (!ssh.privateKey) {
			throw new InfraOpsError(
				'The SSH credential logs in with a password: there is no key to rotate',
				'Use a credential with the private key being rotated',
			);
		}
		this.target = `ssh://${ssh.username}@${ssh.host}:${ssh.port} ${options.authorizedKeysPath}`;
	}

	async create(secret: GeneratedSecret): Promise<string> {
		keyPairOf(secret);
		this.oldBlob = publicBlobOf(this.options.ssh.privateKey!, this.options.ssh.passphrase);
		this.session ??= await openSsh(this.options.ssh);
		this.original = (await this.session.readFile(this.options.authorizedKeysPath)).toString('utf8');
		const found = findKey(this.original, this.oldBlob);
		if (found.length === 0) {
			throw new InfraOpsError(
				`${this.options.authorizedKeysPath} does not list the credential's key, though it logged in`,
				'sshd reads another file (AuthorizedKeysFile in sshd_config): set "Authorized Keys Path" to it',
			);
		}
		this.oldOptions = found[0].options;
		return `old key found on line ${found.map((k) => k.index + 1).join(', ')}${this.oldOptions ? ' (its options carry over)' : ''}`;
	}

	/** A folder beside the file (`<authorized_keys>.infra-ops-lock`; relative paths start in the home folder). */
	async locks(): Promise<LeaseLock[]> {
		this.session ??= await openSsh(this.options.ssh);
		return [new SshDirLock(this.session, `${this.options.authorizedKeysPath}.infra-ops-lock`)];
	}

	async set(secret: GeneratedSecret): Promise<string> {
		const session = this.requireSession();
		const current = (await session.readFile(this.options.authorizedKeysPath)).toString('utf8');
		if (current !== this.original)
			throw new InfraOpsError(
				`${this.options.authorizedKeysPath} changed since the rotation started`,
				'Run the rotation again',
			);
		this.addedBlob = keyPairOf(secret).publicKey.trim().split(/\s+/)[1];
		await session.writeFileAtomic(
			this.options.authorizedKeysPath,
			addKey(current, keyPairOf(secret).publicKey, this.oldOptions),
		);
		return `new key ${secret.metadata.fingerprint} added beside the old one`;
	}

	async test(secret: GeneratedSecret): Promise<string> {
		const { privateKey } = keyPairOf(secret);
		const fresh = await openSsh({
			...this.options.ssh,
			privateKey,
			passphrase: undefined,
			password: undefined,
		});
		try {
			const result = await fresh.exec('echo infra-ops-key-ok', { timeoutMs: 15_000 });
			// a forced command (options) may print something else: logging in is what counts then
			if (!this.oldOptions.includes('command=') && !result.stdout.includes('infra-ops-key-ok')) {
				throw new InfraOpsError(
					`logged in with the new key, but a command failed (exit ${result.code})`,
				);
			}
		} finally {
			fresh.close();
		}
		return 'logged in with the new key';
	}

	async finish(): Promise<string> {
		const session = this.requireSession();
		const current = (await session.readFile(this.options.authorizedKeysPath)).toString('utf8');
		await session.writeFileAtomic(
			this.options.authorizedKeysPath,
			removeKey(current, this.oldBlob),
		);
		return 'old key removed';
	}

	async rollback(): Promise<string> {
		const path = this.options.authorizedKeysPath;
		if (!this.addedBlob) return `${path} was not written by this run: nothing to restore`;
		const session = this.requireSession();
		const current = (await session.readFile(path)).toString('utf8');
		// only the line this run added goes: lines another writer added or removed since stay as they are
		if (findKey(current, this.addedBlob).length === 0) {
			if (current === this.original) return `${path} does not hold the new key: nothing to restore`;
			throw new RollbackLeftAlone(
				`${path} no longer holds the key this run added (someone else changed the file): left alone`,
			);
		}
		await session.writeFileAtomic(path, removeKey(current, this.addedBlob));
		return `${path}: the new key removed, the rest of the file kept`;
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
