/**
 * Backup, restore, verify, list and prune of Docker volumes on S3, streaming end to end:
 * Docker archive API → tar scan (SHA-256, counts) → zstd/gzip → age → S3 multipart, and back.
 * Plain arguments in, plain data out; no n8n import.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, pipeline, type Readable, type Transform } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import type Dockerode from 'dockerode';

import type { SshSession } from '../shared/ssh';
import { errorMessage, InfraOpsError } from '../shared/errors';
import { AgeDecryptStream, AgeEncryptStream, type AgeDecryptKey, type AgeKeyMaterial } from './age';
import {
	createCompressor,
	createDecompressor,
	resolveCompression,
	type CompressionChoice,
} from './compression';
import {
	createHelper,
	pickHelperImage,
	readVolumeArchive,
	removeQuietly,
	runHook,
	startContainers,
	stopContainers,
	volumeUsers,
	type ExecHook,
	type VolumeInfo,
} from './dockerVolumes';
import {
	archiveKey,
	isSafeName,
	manifestKey,
	MANIFEST_FORMAT,
	parseArchiveKey,
	uniqueSuffix,
	volumeFolder,
	type BackupManifest,
	type ParsedKey,
} from './manifest';
import { planRetention, type RetentionPolicy } from './retention';
import { checkSignature, signManifest, type SigningKey } from './signing';
import {
	deleteKeys,
	HashCounter,
	headSize,
	listBackups,
	putJson,
	readManifest,
	uploadStream,
	DEFAULT_UPLOAD,
	type StoredBackup,
	type UploadOptions,
} from './store';
import { TarScanner, type SparseSeen, type TarStats } from './tarScan';

export interface StorageTarget {
	s3: S3Client;
	bucket: string;
	prefix: string;
}

export type EncryptionSetting =
	| { kind: 'recipients'; publicKeys: Buffer[]; fingerprints: string[] }
	| { kind: 'passphrase'; passphrase: string; workFactor?: number }
	| { kind: 'none' };

export type StopMode = 'label' | 'all' | 'never';

export interface BackupOptions {
	compression: CompressionChoice;
	compressionLevel?: number;
	encryption: EncryptionSetting;
	stopMode: StopMode;
	helperImage?: string;
	/** Docker's grace period between SIGTERM and SIGKILL when stopping users; default 30. */
	stopTimeoutS?: number;
	hooksBefore: ExecHook[];
	hooksAfter: ExecHook[];
	upload?: Partial<UploadOptions>;
	now?: Date;
	/** Signs the manifest (see signing.ts); without it the manifest is unsigned. */
	signingKey?: SigningKey;
}

export interface StepError extends InfraOpsError {
	step?: string;
}

let packVersionCache: string | undefined;
export function packVersion(): string {
	if (packVersionCache) return packVersionCache;
	for (const rel of ['../../package.json', '../../../package.json']) {
		const file = join(__dirname, rel);
		if (existsSync(file)) {
			try {
				const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
				if (pkg.name === 'n8n-nodes-infra-ops')
					return (packVersionCache = pkg.version ?? 'unknown');
			} catch {
				// keep looking
			}
		}
	}
	return (packVersionCache = 'unknown');
}

/** Wraps a failure with the step it happened in, keeping the hint. */
export function stepError(step: string, error: unknown): StepError {
	const hint = error instanceof InfraOpsError ? error.hint : undefined;
	const wrapped = new InfraOpsError(`${step} failed: ${errorMessage(error)}`, hint, {
		cause: error,
	}) as StepError;
	wrapped.step = step;
	Object.assign(wrapped, {
		uploadId: (error as { uploadId?: string }).uploadId,
		uploadAborted: (error as { uploadAborted?: boolean }).uploadAborted,
	});
	return wrapped;
}

async function step<T>(
	name: string,
	timings: Record<string, number>,
	fn: () => Promise<T>,
): Promise<T> {
	const t0 = Date.now();
	try {
		return await fn();
	} catch (error) {
		throw (error as StepError).step ? error : stepError(name, error);
	} finally {
		timings[name] = (timings[name] ?? 0) + Date.now() - t0;
	}
}

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
	compression: ReturnType<typeof resolveCompression>,
	options: Pick<BackupOptions, 'compressionLevel' | 'encryption'>,
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

/** The backup stream → S3. Returns once the object is stored and checked. */
async function streamToStore(
	source: Readable,
	target: StorageTarget,
	key: string,
	compression: ReturnType<typeof resolveCompression>,
	options: BackupOptions,
	timings: Record<string, number>,
): Promise<{
	tar: TarStats;
	stored: { sha256: string; bytes: number };
	unrestorable: string[];
	sparse: SparseSeen;
}> {
	const { body, scanner, counter, error: sourceError } = backupStream(source, compression, options);
	await step('upload', timings, async () => {
		try {
			await uploadStream(target.s3, target.bucket, key, body, {
				...DEFAULT_UPLOAD,
				signPayload: options.encryption.kind === 'none',
				...options.upload,
			});
		} catch (error) {
			// a source failure surfaces in the upload as a stream error: name the source's
			const failed = sourceError();
			if (failed && failed !== error && !(error as { uploadId?: string }).uploadId)
				throw stepError('read archive', failed);
			throw error;
		}
		const failed = sourceError();
		if (failed) throw stepError('read archive', failed);
	});
	if (!scanner.stats) throw stepError('read archive', new Error('the archive stream ended early'));
	const stored = { sha256: counter.sha256, bytes: counter.bytes };
	await step('check stored object', timings, async () => {
		const size = await headSize(target.s3, target.bucket, key);
		if (size !== stored.bytes)
			throw new InfraOpsError(`the stored object is ${size} bytes, ${stored.bytes} were sent`);
	});
	return { tar: scanner.stats, stored, unrestorable: scanner.unrestorable, sparse: scanner.sparse };
}

export interface BackupResult {
	volume: string;
	key: string;
	manifest: BackupManifest;
	warnings: string[];
	/** Sparse or zero-filled files the tar scan saw: the archive stream has no holes (see SparseSeen). */
	sparse?: SparseSeen;
}

/** Backs up one volume. Stopped containers are restarted in `finally`, whatever failed. */
export async function backupVolume(
	docker: Dockerode,
	target: StorageTarget,
	volume: VolumeInfo,
	options: BackupOptions,
): Promise<BackupResult> {
	const started = options.now ?? new Date();
	const compression = resolveCompression(options.compression);
	const encrypted = options.encryption.kind !== 'none';
	const key = archiveKey(
		target.prefix,
		volume.name,
		started,
		compression,
		encrypted,
		uniqueSuffix(),
	);
	const timings: Record<string, number> = {};
	const warnings: string[] = [];
	const stopped: string[] = [];
	let helper: Dockerode.Container | undefined;
	let result: Awaited<ReturnType<typeof streamToStore>> | undefined;
	const t0 = Date.now();
	try {
		const users = await step('inspect users', timings, () => volumeUsers(docker, volume.name));
		const toStop = users.filter(
			(u) =>
				u.running && (options.stopMode === 'all' || (options.stopMode === 'label' && u.stopLabel)),
		);
		const live = users.filter((u) => u.running && !toStop.includes(u));
		if (live.length)
			warnings.push(`live backup: ${live.map((u) => u.name).join(', ')} kept running`);
		const image = await step('pick helper image', timings, () =>
			pickHelperImage(docker, options.helperImage, users),
		);
		await step('stop containers', timings, () =>
			stopContainers(docker, toStop, options.stopTimeoutS ?? 30, stopped),
		);
		for (const hook of options.hooksBefore.filter((h) => !h.volume || h.volume === volume.name)) {
			await step(`command before (${hook.container})`, timings, () => runHook(docker, hook));
		}
		helper = await step('create helper container', timings, () =>
			createHelper(docker, image, [`${volume.name}:/src:ro`]),
		);
		const source = await step('read archive', timings, () => readVolumeArchive(helper!, '/src'));
		result = await streamToStore(source, target, key, compression, options, timings);
	} finally {
		await removeQuietly(helper);
		if (stopped.length) {
			const failures = await startContainers(docker, stopped);
			if (failures.length) {
				// restart problems must not hide behind a backup error, nor be lost after a success
				const message = `restart failed: ${failures.join('; ')}`;
				if (!result) warnings.push(message);
				else
					throw stepError(
						'restart containers',
						new InfraOpsError(message, 'Start them by hand: docker start <name>'),
					);
			}
		}
	}
	for (const hook of options.hooksAfter.filter((h) => !h.volume || h.volume === volume.name)) {
		await step(`command after (${hook.container})`, timings, () => runHook(docker, hook));
	}
	timings.total = Date.now() - t0;
	if (!result) throw stepError('read archive', new Error('no result'));
	if (result.unrestorable.length)
		warnings.push(
			`Restore cannot reproduce ${result.unrestorable.length === 50 ? '50 or more entries' : `${result.unrestorable.length} entr${result.unrestorable.length === 1 ? 'y' : 'ies'}`}: ${result.unrestorable.join('; ')}`,
		);
	const manifest: BackupManifest = {
		format: MANIFEST_FORMAT,
		volume: volume.name,
		sourceKind: 'volume',
		labels: volume.labels,
		driver: volume.driver,
		key,
		createdAt: started.toISOString(),
		tar: {
			sha256: result.tar.sha256,
			bytes: result.tar.tarBytes,
			entries: result.tar.entries,
			files: result.tar.files,
			fileBytes: result.tar.fileBytes,
			treeSha256: result.tar.treeSha256,
		},
		stored: result.stored,
		compression,
		encryption:
			options.encryption.kind === 'recipients'
				? { kind: 'age-x25519', recipients: options.encryption.fingerprints }
				: options.encryption.kind === 'passphrase'
					? { kind: 'age-scrypt' }
					: { kind: 'none' },
		containersStopped: stopped,
		liveBackup: warnings.some((w) => w.startsWith('live backup')),
		durationsMs: timings,
		packVersion: packVersion(),
	};
	await step('write manifest', timings, async () => {
		try {
			if (options.signingKey) manifest.signature = signManifest(manifest, options.signingKey);
			await putJson(target.s3, target.bucket, manifestKey(key), manifest, { createOnly: true });
		} catch (error) {
			await deleteKeys(target.s3, target.bucket, [key]).catch(() => undefined);
			throw error;
		}
	});
	return { volume: volume.name, key, manifest, warnings, sparse: result.sparse };
}

export interface HostPathSource {
	name: string;
	paths: string[];
}

/** Backs up host paths read with `tar` over SSH (e.g. /opt/traefik-stack and its .env). */
export async function backupHostPaths(
	ssh: SshSession,
	target: StorageTarget,
	source: HostPathSource,
	options: BackupOptions,
): Promise<BackupResult> {
	if (!isSafeName(source.name))
		throw new InfraOpsError(
			`"${source.name}" is not a usable backup name`,
			'Use letters, digits, dot, dash and underscore',
		);
	const paths = source.paths.map((p) => p.trim()).filter(Boolean);
	if (!paths.length) throw new InfraOpsError('No host path to back up');
	for (const p of paths) {
		if (!p.startsWith('/') || p.includes('\n') || p.includes("'"))
			throw new InfraOpsError(`"${p}" is not an absolute path without quotes`);
	}
	const started = options.now ?? new Date();
	const compression = resolveCompression(options.compression);
	const key = archiveKey(
		target.prefix,
		source.name,
		started,
		compression,
		options.encryption.kind !== 'none',
		uniqueSuffix(),
	);
	const timings: Record<string, number> = {};
	const t0 = Date.now();
	const rel = paths.map((p) => `'${p.replace(/^\/+/, '')}'`).join(' ');
	const { stdout, exit } = await step('read host paths', timings, () =>
		ssh.execStream(`tar -cf - --numeric-owner -C / -- ${rel}`),
	);
	const result = await streamToStore(stdout, target, key, compression, options, timings);
	await step('read host paths', timings, () => exit);
	timings.total = Date.now() - t0;
	const manifest: BackupManifest = {
		format: MANIFEST_FORMAT,
		volume: source.name,
		sourceKind: 'host-path',
		paths,
		host: ssh.target,
		labels: {},
		key,
		createdAt: started.toISOString(),
		tar: {
			sha256: result.tar.sha256,
			bytes: result.tar.tarBytes,
			entries: result.tar.entries,
			files: result.tar.files,
			fileBytes: result.tar.fileBytes,
			treeSha256: result.tar.treeSha256,
		},
		stored: result.stored,
		compression,
		encryption:
			options.encryption.kind === 'recipients'
				? { kind: 'age-x25519', recipients: options.encryption.fingerprints }
				: options.encryption.kind === 'passphrase'
					? { kind: 'age-scrypt' }
					: { kind: 'none' },
		containersStopped: [],
		liveBackup: false,
		durationsMs: timings,
		packVersion: packVersion(),
	};
	if (options.signingKey) manifest.signature = signManifest(manifest, options.signingKey);
	await putJson(target.s3, target.bucket, manifestKey(key), manifest, { createOnly: true });
	return { volume: source.name, key, manifest, warnings: [], sparse: result.sparse };
}

/** How far a backup's stamp may be ahead of this host's clock before it counts as planted. */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** Backups dated after `now` + CLOCK_SKEW_MS: no run of this node wrote them (a run stamps its start). */
export function splitFutureDated<T extends { at: Date }>(
	all: T[],
	now: Date,
): { current: T[]; future: T[] } {
	const limit = now.getTime() + CLOCK_SKEW_MS;
	return {
		current: all.filter((b) => b.at.getTime() <= limit),
		future: all.filter((b) => b.at.getTime() > limit),
	};
}

export function futureDatedNote(future: { key: string }[]): string {
	return `future-dated backup: ${future.length} object(s) dated after now ignored for "latest" and retention (${future.map((b) => b.key).join(', ')}); no run of this node writes such keys, so someone with write access to the bucket (or a host with a wrong clock) put them there`;
}

/** The future-dated backups of a volume, for a warning finding. */
export async function futureDatedBackups(
	target: StorageTarget,
	volume: string,
	now = new Date(),
): Promise<StoredBackup[]> {
	return splitFutureDated(await listBackups(target.s3, target.bucket, target.prefix, volume), now)
		.future;
}

/** What Restore and Verify require of a backup beyond its folder; anyone with write access to the bucket can write a manifest. */
export interface TrustOptions {
	/** A configured identity or passphrase: the backup must be encrypted for that kind of key. */
	decryptKey?: AgeDecryptKey;
	/** Accept a backup stored without encryption although a key is configured. */
	allowUnencrypted?: boolean;
	/** With a key, "latest" is the newest backup whose manifest signature verifies, and an explicit key must verify. */
	signingKey?: SigningKey;
	/** Accept unsigned or forged manifests as before signing existed (backups written without a signing key). */
	allowUnsigned?: boolean;
	now?: Date;
}

export function unsignedNote(keys: { key: string; reason?: string }[]): string {
	return `unsigned or forged backup, not counted, not deleted: ${keys.map((k) => `${k.key}${k.reason ? ` (${k.reason})` : ''}`).join(', ')}`;
}

export const UNSIGNED_HINT =
	'Backups written before signing existed (or by a Backup whose credential had no signing secret or identity) look the same as planted ones. Check them, then delete them by hand (archive and .manifest.json), or turn on "Allow Unsigned Backups"; give the credential Backup uses the same Manifest Signing Secret';

export const NO_SIGNING_KEY_NOTE =
	'manifests are not signature-checked (the Backup Encryption credential has no signing secret, identity or passphrase here), so backups planted in the bucket cannot be told apart from real ones';

/**
 * The manifest and key must name the volume the operator asked for, and their encryption must be what
 * the configured key expects: a planted manifest could otherwise redirect a restore into another
 * volume, or have an unencrypted archive (which anyone can write) restored although the operator only
 * trusts data encrypted to their key.
 */
export function checkManifestTrust(
	manifest: BackupManifest,
	volume: string,
	key: string,
	parsed: ParsedKey,
	trust: TrustOptions,
): void {
	const refuse = (message: string, hint?: string) =>
		new InfraOpsError(`Refusing backup ${key}: ${message}`, hint);
	if (manifest.volume !== volume) {
		throw refuse(
			`its manifest names volume "${manifest.volume}", but the volume asked for (and the key's folder) is "${volume}"`,
			'The manifest was changed or copied from another backup; restore only what the manifest of the chosen volume describes',
		);
	}
	if (manifest.key !== undefined && manifest.key !== key)
		throw refuse(
			`its manifest belongs to another key (${manifest.key})`,
			'The manifest was copied or changed in the bucket',
		);
	const kind = manifest.encryption?.kind;
	if (kind !== 'none' && kind !== 'age-x25519' && kind !== 'age-scrypt')
		throw refuse(`its manifest names an unknown encryption "${String(kind)}"`);
	if ((kind !== 'none') !== parsed.encrypted || manifest.compression !== parsed.compression) {
		throw refuse(
			'its manifest and its key disagree on encryption or compression',
			'The manifest was changed in the bucket',
		);
	}
	const wanted = trust.decryptKey;
	if (!wanted) return;
	if (kind === 'none') {
		if (trust.allowUnencrypted) return;
		throw refuse(
			`it is not encrypted, but the Backup Encryption credential has ${wanted.kind === 'identity' ? 'an identity' : 'a passphrase'}: anyone with write access to the bucket can write an unencrypted backup`,
			'If this volume is backed up without encryption on purpose, turn on "Allow Unencrypted Backups"',
		);
	}
	if (wanted.kind === 'identity' && kind !== 'age-x25519') {
		throw refuse(
			'it is encrypted with a passphrase, and the credential holds an identity',
			'Use a Backup Encryption credential with the passphrase of this backup (and no identity)',
		);
	}
	if (wanted.kind === 'passphrase' && kind !== 'age-scrypt') {
		throw refuse(
			'it is encrypted to age recipients, and the credential holds only a passphrase',
			'Set the age identity (AGE-SECRET-KEY-1…) in the Backup Encryption credential',
		);
	}
}

/**
 * Picks the backup: an explicit key (which must lie in the volume's folder), or the newest complete
 * one not dated in the future; then checks its manifest against what was asked (checkManifestTrust).
 * `notes` carry the future-dated backups that were passed over.
 */
export async function resolveBackup(
	target: StorageTarget,
	volume: string,
	key?: string,
	trust: TrustOptions = {},
): Promise<{ key: string; manifest: BackupManifest; all: StoredBackup[]; notes: string[] }> {
	const all = await listBackups(target.s3, target.bucket, target.prefix, volume);
	const { current, future } = splitFutureDated(all, trust.now ?? new Date());
	const explicit = key?.trim();
	const passedOver: { key: string; reason?: string }[] = [];
	let chosen = explicit || undefined;
	let chosenManifest: BackupManifest | undefined;
	if (!explicit && trust.signingKey && !trust.allowUnsigned) {
		// a planted pair dated "now" would otherwise be the one restored
		for (const b of current.filter((c) => c.complete)) {
			const manifest = await readManifest(target.s3, target.bucket, b.key).catch(() => undefined);
			const check = checkSignature(manifest, b.key, trust.signingKey);
			if (check.state === true) {
				chosen = b.key;
				chosenManifest = manifest;
				break;
			}
			passedOver.push({ key: b.key, reason: check.reason });
		}
	} else if (!explicit) {
		chosen = current.find((b) => b.complete)?.key;
	}
	if (
		!chosen &&
		passedOver.length &&
		passedOver.every((p) => p.reason?.startsWith('signed with key id'))
	) {
		// every backup verifies under some other key: the credential is not the one Backup signed with
		throw new InfraOpsError(
			`No complete backup of "${volume}" is signed with this credential's key (id ${trust.signingKey!.keyId}): ${unsignedNote(passedOver)}`,
			"A wrong identity, passphrase or Manifest Signing Secret gives another key: use the credential's values that Backup used",
		);
	}
	if (!chosen) {
		throw new InfraOpsError(
			`No complete ${trust.signingKey && !trust.allowUnsigned ? 'signed ' : ''}backup of "${volume}" under ${target.prefix || '(bucket root)'}${future.length ? ` (${future.length} future-dated object(s) ignored)` : ''}${passedOver.length ? ` (${unsignedNote(passedOver)})` : ''}`,
			passedOver.length
				? UNSIGNED_HINT
				: 'Check the volume name and the prefix, or run a backup first',
		);
	}
	const parsed = parseArchiveKey(target.prefix, volume, chosen);
	if (!parsed) {
		throw new InfraOpsError(
			`Backup key ${chosen} is not a backup of "${volume}": its keys are ${volumeFolder(target.prefix, volume)}${volume}-<time>.tar…`,
			'Give a key that List shows for this volume, or set Volume to the volume the key belongs to',
		);
	}
	const manifest = chosenManifest ?? (await readManifest(target.s3, target.bucket, chosen));
	const notes = !explicit && future.length ? [futureDatedNote(future)] : [];
	if (passedOver.length) notes.push(`newer ${unsignedNote(passedOver)}`);
	if (trust.signingKey && !chosenManifest) {
		const check = checkSignature(manifest, chosen, trust.signingKey);
		if (check.state !== true) {
			if (!trust.allowUnsigned) {
				throw new InfraOpsError(
					`Refusing backup ${chosen}: its manifest is ${check.state === false ? 'not signed' : `signed, but the signature does not verify: ${check.reason}`}; anyone with write access to the bucket can write a backup`,
					UNSIGNED_HINT,
				);
			}
			notes.push(
				`backup ${chosen} is ${check.state === false ? 'unsigned' : `not validly signed (${check.reason})`}, accepted because "Allow Unsigned Backups" is on`,
			);
		}
	}
	checkManifestTrust(manifest, volume, chosen, parsed, trust);
	return { key: chosen, manifest, all, notes };
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

export interface PruneResult {
	volume: string;
	dryRun: boolean;
	kept: { key: string; reasons: string[] }[];
	deleted: { key: string; reasons: string[] }[];
	failed: string[];
	incomplete: string[];
	/** Backups dated after now: neither counted in any tier nor deleted (see pruneVolume). */
	futureDated: string[];
	/** With a signing key: complete backups whose manifest signature does not verify, neither counted nor deleted. */
	unsigned: { key: string; reason?: string }[];
	/** Whether manifests were signature-checked (a signing key was given). */
	signatureChecked: boolean;
}

/**
 * Applies the retention policy to complete backups; deletes only archive + manifest pairs it named.
 * Future-dated backups (planted, or from a host with a wrong clock) take no place in "last N" or any
 * tier: counted, a handful of them would push every real backup out of every tier, and Prune would
 * delete the real ones for objects it never wrote. They are not deleted either (they are not known to
 * be ours); the caller reports them as a warning.
 */
export async function pruneVolume(
	target: StorageTarget,
	volume: string,
	policy: Partial<RetentionPolicy>,
	dryRun: boolean,
	now = new Date(),
	signingKey?: SigningKey,
): Promise<PruneResult> {
	const all = await listBackups(target.s3, target.bucket, target.prefix, volume);
	const { current, future } = splitFutureDated(all, now);
	const unsigned: { key: string; reason?: string }[] = [];
	let complete = current.filter((b) => b.complete);
	if (signingKey) {
		// past-dated planted pairs would take keep-last and tier places just as future-dated ones do:
		// only backups whose signed manifest names this volume and key count, and only they are deleted
		const signed: typeof complete = [];
		for (const b of complete) {
			const manifest = await readManifest(target.s3, target.bucket, b.key).catch(() => undefined);
			const check = checkSignature(manifest, b.key, signingKey);
			if (check.state === true && manifest?.volume === volume) signed.push(b);
			else
				unsigned.push({
					key: b.key,
					reason:
						check.state === true
							? `its signed manifest names volume "${manifest?.volume}"`
							: check.reason,
				});
		}
		complete = signed;
	}
	const plan = planRetention(complete, policy, now);
	const kept = plan.filter((d) => d.keep).map((d) => ({ key: d.item.key, reasons: d.reasons }));
	const deleted = plan.filter((d) => !d.keep).map((d) => ({ key: d.item.key, reasons: d.reasons }));
	if (complete.length && !kept.length)
		throw new InfraOpsError('Retention would delete every backup: refusing');
	let failed: string[] = [];
	if (!dryRun && deleted.length) {
		failed = await deleteKeys(
			target.s3,
			target.bucket,
			deleted.flatMap((d) => [d.key, manifestKey(d.key)]),
		);
	}
	return {
		volume,
		dryRun,
		kept,
		deleted,
		failed,
		incomplete: current.filter((b) => !b.complete).map((b) => b.key),
		futureDated: future.map((b) => b.key),
		unsigned,
		signatureChecked: Boolean(signingKey),
	};
}
