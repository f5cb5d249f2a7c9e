/**
 * The process phase, both ways: tar → scan (SHA-256, counts) → zstd/gzip → age → hash on the way to
 * storage, and stored object → hash → age → decompress → scan on the way back. Streams only: nothing
 * is held whole in memory or written to disk. No n8n import.
 */
import { createHash } from 'node:crypto';
import {
	PassThrough,
	pipeline,
	Transform,
	type Readable,
	type TransformCallback,
} from 'node:stream';

import { InfraOpsError } from '../shared/errors';
import { AgeDecryptStream, AgeEncryptStream, type AgeDecryptKey, type AgeKeyMaterial } from './age';
import { createCompressor, createDecompressor, type Compression } from './compression';
import type { BackupManifest } from './manifest';
import { TarScanner, type TarStats } from './tarScan';

/** Counts and hashes the bytes that go to storage. */
export class HashCounter extends Transform {
	private readonly hash = createHash('sha256');
	bytes = 0;
	sha256 = '';

	constructor() {
		super({ highWaterMark: 1024 * 1024 });
	}

	override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
		this.hash.update(chunk);
		this.bytes += chunk.length;
		callback(null, chunk);
	}

	override _flush(callback: TransformCallback): void {
		this.sha256 = this.hash.digest('hex');
		callback();
	}
}

export type EncryptionSetting =
	| { kind: 'recipients'; publicKeys: Buffer[]; fingerprints: string[] }
	| { kind: 'passphrase'; passphrase: string; workFactor?: number }
	| { kind: 'none' };

function encryptor(encryption: EncryptionSetting): Transform {
	if (encryption.kind === 'none') return new PassThrough({ highWaterMark: 1024 * 1024 });
	const key: AgeKeyMaterial =
		encryption.kind === 'recipients'
			? { kind: 'recipients', publicKeys: encryption.publicKeys }
			: {
					kind: 'passphrase',
					passphrase: encryption.passphrase,
					workFactor: encryption.workFactor,
				};
	return new AgeEncryptStream(key);
}

/** tar source → scan → compress → encrypt → hash: the bytes that go to storage, and what was seen on the way. */
export function backupStream(
	source: Readable,
	compression: Compression,
	options: { compressionLevel?: number; encryption: EncryptionSetting },
): { body: Readable; scanner: TarScanner; counter: HashCounter; error: () => Error | undefined } {
	const scanner = new TarScanner();
	const counter = new HashCounter();
	let pipelineError: Error | undefined;
	const body = pipeline(
		source,
		scanner,
		createCompressor(compression, options.compressionLevel),
		encryptor(options.encryption),
		counter,
		(error) => {
			if (error) pipelineError = error;
		},
	) as unknown as Readable;
	return { body, scanner, counter, error: () => pipelineError };
}

export function requireDecryptKey(
	manifest: BackupManifest,
	decryptKey: AgeDecryptKey | undefined,
): void {
	if (manifest.encryption.kind !== 'none' && !decryptKey) {
		throw new InfraOpsError(
			'This backup is encrypted and the Backup Encryption credential has no identity or passphrase',
			manifest.encryption.kind === 'age-scrypt'
				? 'Set the passphrase in the credential'
				: 'Set the age identity (AGE-SECRET-KEY-1…) in the credential used for restores',
		);
	}
}

/** S3 object → (hash) → age decrypt → decompress → tar scan; returns the tar stream's end and the stats promise. */
export function readBackupStream(
	body: Readable,
	manifest: BackupManifest,
	decryptKey: AgeDecryptKey | undefined,
): { tar: Readable; scanner: TarScanner; counter: HashCounter; done: Promise<void> } {
	requireDecryptKey(manifest, decryptKey);
	const counter = new HashCounter();
	const scanner = new TarScanner();
	const stages: NodeJS.ReadWriteStream[] = [counter];
	if (manifest.encryption.kind !== 'none') stages.push(new AgeDecryptStream(decryptKey!));
	stages.push(createDecompressor(manifest.compression), scanner);
	let resolveDone!: () => void;
	let rejectDone!: (e: Error) => void;
	const done = new Promise<void>((resolve, reject) => {
		resolveDone = resolve;
		rejectDone = reject;
	});
	done.catch(() => undefined);
	const tar = (pipeline as unknown as (...args: unknown[]) => Readable)(
		body,
		...stages,
		(error: Error | null) => (error ? rejectDone(error) : resolveDone()),
	);
	return { tar, scanner, counter, done };
}

export function checkAgainstManifest(
	manifest: BackupManifest,
	counter: HashCounter,
	tar: TarStats,
): string[] {
	const problems: string[] = [];
	if (counter.sha256 !== manifest.stored.sha256)
		problems.push(
			`stored object SHA-256 ${counter.sha256.slice(0, 12)}… is not the manifest's ${manifest.stored.sha256.slice(0, 12)}…`,
		);
	if (tar.sha256 !== manifest.tar.sha256)
		problems.push(
			`tar SHA-256 ${tar.sha256.slice(0, 12)}… is not the manifest's ${manifest.tar.sha256.slice(0, 12)}…`,
		);
	if (tar.entries !== manifest.tar.entries)
		problems.push(`${tar.entries} entries, the manifest says ${manifest.tar.entries}`);
	return problems;
}
