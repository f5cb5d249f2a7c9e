/**
 * A backup run, as phases: archive (archive.ts: the tar stream of a volume or of host paths) →
 * process (pipeline.ts: scan, compress, encrypt, hash) → copy (here: S3 multipart upload, size check,
 * then the manifest) ; the archive phase's cleanups run once, when the archive is stored or the copy
 * failed. Prune (prune.ts) is an operation of its own. Volumes and host paths share the copy phase and
 * the manifest, so both leave no archive without its manifest and name the step that failed.
 * No n8n import.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Dockerode from 'dockerode';

import { InfraOpsError } from '../shared/errors';
import type { SshSession } from '../shared/ssh';
import {
	checkHostPaths,
	openHostPathArchive,
	openVolumeArchive,
	type ArchiveSource,
	type Cleanup,
	type HostPathSource,
} from './archive';
import { resolveCompression, type Compression, type CompressionChoice } from './compression';
import { runHook, type ExecHook, type VolumeInfo } from './dockerVolumes';
import { inStep, StepError, UploadError } from './errors';
import {
	archiveKey,
	manifestKey,
	MANIFEST_FORMAT,
	uniqueSuffix,
	type BackupManifest,
} from './manifest';
import { backupStream, type EncryptionSetting } from './pipeline';
import { signManifest, type SigningKey } from './signing';
import { deleteKeys, headSize, putJson, type StorageTarget } from './store';
import { uploadStream, DEFAULT_UPLOAD, type UploadOptions } from './upload';
import type { SparseSeen, TarStats } from './tarScan';

export type { HostPathSource } from './archive';

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

export interface BackupResult {
	volume: string;
	key: string;
	manifest: BackupManifest;
	warnings: string[];
	/** Sparse or zero-filled files the tar scan saw: the archive stream has no holes (see SparseSeen). */
	sparse?: SparseSeen;
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

/** What one run fixes before its first phase: the key it writes and when it started. */
export interface Run {
	started: Date;
	compression: Compression;
	key: string;
	timings: Record<string, number>;
	t0: number;
}

function startRun(target: StorageTarget, name: string, options: BackupOptions): Run {
	const started = options.now ?? new Date();
	const compression = resolveCompression(options.compression);
	const encrypted = options.encryption.kind !== 'none';
	const key = archiveKey(target.prefix, name, started, compression, encrypted, uniqueSuffix());
	return { started, compression, key, timings: {}, t0: Date.now() };
}

export interface Copied {
	tar: TarStats;
	stored: { sha256: string; bytes: number };
	unrestorable: string[];
	sparse: SparseSeen;
}

/** Process and copy: the archive stream through the pipeline to S3; returns once the object is stored and its size checked. */
async function copyToStore(
	archive: ArchiveSource,
	target: StorageTarget,
	run: Run,
	options: BackupOptions,
): Promise<Copied> {
	const {
		body,
		scanner,
		counter,
		error: sourceError,
	} = backupStream(archive.tar, run.compression, options);
	await inStep(
		'upload',
		async () => {
			try {
				await uploadStream(target.s3, target.bucket, run.key, body, {
					...DEFAULT_UPLOAD,
					signPayload: options.encryption.kind === 'none',
					...options.upload,
				});
			} catch (error) {
				// a source failure surfaces in the upload as a stream error: name the source's
				const failed = sourceError();
				if (failed && failed !== error && !(error instanceof UploadError))
					throw new StepError('read archive', failed);
				throw error;
			}
			const failed = sourceError();
			if (failed) throw new StepError('read archive', failed);
		},
		run.timings,
	);
	if (!scanner.stats)
		throw new StepError('read archive', new Error('the archive stream ended early'));
	const stored = { sha256: counter.sha256, bytes: counter.bytes };
	await inStep(
		'check stored object',
		async () => {
			const size = await headSize(target.s3, target.bucket, run.key);
			if (size !== stored.bytes)
				throw new InfraOpsError(`the stored object is ${size} bytes, ${stored.bytes} were sent`);
		},
		run.timings,
	);
	return { tar: scanner.stats, stored, unrestorable: scanner.unrestorable, sparse: scanner.sparse };
}

/** Runs every cleanup once, last registered first; a problem fails a stored backup, and is a warning beside a failed one. */
export async function runCleanups(
	cleanups: Cleanup[],
	succeeded: boolean,
	warnings: string[],
): Promise<void> {
	const problems = [];
	for (const cleanup of [...cleanups].reverse()) {
		const problem = await cleanup();
		if (problem) problems.push(problem);
	}
	// restart problems must not hide behind a backup error, nor be lost after a success
	if (!succeeded) warnings.push(...problems.map((p) => p.message));
	else if (problems.length)
		throw new StepError(problems[0].step, new InfraOpsError(problems[0].message, problems[0].hint));
}

type ManifestSource = Pick<
	BackupManifest,
	'volume' | 'sourceKind' | 'paths' | 'host' | 'labels' | 'driver'
>;

export function buildManifest(
	source: ManifestSource,
	run: Run,
	copied: Copied,
	encryption: EncryptionSetting,
	containers: { stopped: string[]; live: string[] },
): BackupManifest {
	return {
		format: MANIFEST_FORMAT,
		...source,
		key: run.key,
		createdAt: run.started.toISOString(),
		tar: {
			sha256: copied.tar.sha256,
			bytes: copied.tar.tarBytes,
			entries: copied.tar.entries,
			files: copied.tar.files,
			fileBytes: copied.tar.fileBytes,
			treeSha256: copied.tar.treeSha256,
		},
		stored: copied.stored,
		compression: run.compression,
		encryption:
			encryption.kind === 'recipients'
				? { kind: 'age-x25519', recipients: encryption.fingerprints }
				: encryption.kind === 'passphrase'
					? { kind: 'age-scrypt' }
					: { kind: 'none' },
		containersStopped: containers.stopped,
		liveBackup: containers.live.length > 0,
		durationsMs: run.timings,
		packVersion: packVersion(),
	};
}

/**
 * The copy phase's last step: signs the manifest and writes it beside its archive, never over an
 * existing one. An archive without its manifest is no backup (Restore and Prune skip it, List calls
 * it incomplete), so if this step fails the archive is deleted and the error names the step.
 */
export async function storeManifest(
	target: StorageTarget,
	manifest: BackupManifest,
	signingKey: SigningKey | undefined,
	timings: Record<string, number>,
): Promise<void> {
	await inStep(
		'write manifest',
		async () => {
			try {
				if (signingKey) manifest.signature = signManifest(manifest, signingKey);
				await putJson(target.s3, target.bucket, manifestKey(manifest.key), manifest, {
					createOnly: true,
				});
			} catch (error) {
				await deleteKeys(target.s3, target.bucket, [manifest.key]).catch(() => undefined);
				throw error;
			}
		},
		timings,
	);
}

export async function runHooksAfter(
	docker: Dockerode,
	volume: string,
	options: Pick<BackupOptions, 'hooksAfter'>,
	timings: Record<string, number>,
): Promise<void> {
	for (const hook of options.hooksAfter.filter((h) => !h.volume || h.volume === volume)) {
		await inStep(`command after (${hook.container})`, () => runHook(docker, hook), timings);
	}
}

/** Backs up one volume. Stopped containers are restarted once the archive is stored, whatever failed. */
export async function backupVolume(
	docker: Dockerode,
	target: StorageTarget,
	volume: VolumeInfo,
	options: BackupOptions,
): Promise<BackupResult> {
	const run = startRun(target, volume.name, options);
	const warnings: string[] = [];
	const cleanups: Cleanup[] = [];
	let archive: ArchiveSource | undefined;
	let copied: Copied | undefined;
	try {
		archive = await openVolumeArchive(docker, volume, options, run.timings, cleanups);
		if (archive.live.length) warnings.push(`live backup: ${archive.live.join(', ')} kept running`);
		copied = await copyToStore(archive, target, run, options);
	} finally {
		await runCleanups(cleanups, copied !== undefined, warnings);
	}
	await runHooksAfter(docker, volume.name, options, run.timings);
	run.timings.total = Date.now() - run.t0;
	const unrestorable = copied.unrestorable;
	if (unrestorable.length)
		warnings.push(
			`Restore cannot reproduce ${unrestorable.length === 50 ? '50 or more entries' : `${unrestorable.length} entr${unrestorable.length === 1 ? 'y' : 'ies'}`}: ${unrestorable.join('; ')}`,
		);
	const manifest = buildManifest(
		{ volume: volume.name, sourceKind: 'volume', labels: volume.labels, driver: volume.driver },
		run,
		copied,
		options.encryption,
		archive,
	);
	await storeManifest(target, manifest, options.signingKey, run.timings);
	return { volume: volume.name, key: run.key, manifest, warnings, sparse: copied.sparse };
}

/** Backs up host paths read with `tar` over SSH (e.g. /opt/traefik-stack and its .env). */
export async function backupHostPaths(
	ssh: SshSession,
	target: StorageTarget,
	source: HostPathSource,
	options: BackupOptions,
): Promise<BackupResult> {
	const paths = checkHostPaths(source);
	const run = startRun(target, source.name, options);
	const archive = await openHostPathArchive(ssh, paths, run.timings);
	const copied = await copyToStore(archive, target, run, options);
	await inStep('read host paths', () => archive.exited!, run.timings);
	run.timings.total = Date.now() - run.t0;
	const manifest = buildManifest(
		{ volume: source.name, sourceKind: 'host-path', paths, host: ssh.target, labels: {} },
		run,
		copied,
		options.encryption,
		archive,
	);
	await storeManifest(target, manifest, options.signingKey, run.timings);
	return { volume: source.name, key: run.key, manifest, warnings: [], sparse: copied.sparse };
}
