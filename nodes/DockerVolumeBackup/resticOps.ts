/**
 * The restic engine's operations on Docker volumes: backup (users stopped and "before"/"after"
 * commands run exactly as the archive engine does, see archive.ts quiesceVolume), list, restore,
 * forget + prune, check + scratch restore. Every snapshot carries host `infra-ops`, the tag
 * `volume=<name>` and the path `/data/<name>`, so restic finds the parent snapshot of a volume and
 * skips its unchanged files without reading them. No n8n import.
 */
import { randomBytes } from 'node:crypto';

import { errorMessage, InfraOpsError } from '../shared/errors';
import { quiesceVolume, type ArchiveOptions, type Cleanup } from './archive';
import { runCleanups, runHooksAfter } from './backup';
import { createHelper, removeQuietly, type ExecHook, type VolumeInfo } from './dockerVolumes';
import { inStep, StepError } from './errors';
import { isSafeName } from './manifest';
import {
	dataPath,
	ensureResticImage,
	jsonLines,
	openRepository,
	RESTIC_HOST,
	ResticError,
	runRestic,
	runResticWaiting,
	volumeTag,
	type ResticSetup,
} from './restic';
import { readTree } from './stage';

export interface ResticBackupOptions extends Omit<ArchiveOptions, 'helperImage'> {
	hooksAfter: ExecHook[];
	/** The snapshot's time (restic backup --time); default now. */
	time?: Date;
}

export interface ResticBackupResult {
	volume: string;
	snapshotId: string;
	filesNew: number;
	filesChanged: number;
	filesUnmodified: number;
	dirsNew: number;
	dirsChanged: number;
	dirsUnmodified: number;
	/** Bytes restic added to the repository (after deduplication and compression). */
	dataAdded: number;
	totalFiles: number;
	totalBytes: number;
	repositoryCreated: boolean;
	containersStopped: string[];
	durationMs: number;
	timings: Record<string, number>;
	warnings: string[];
}

interface BackupSummary {
	message_type: 'summary';
	files_new: number;
	files_changed: number;
	files_unmodified: number;
	dirs_new: number;
	dirs_changed: number;
	dirs_unmodified: number;
	data_added: number;
	total_files_processed: number;
	total_bytes_processed: number;
	snapshot_id: string;
}

/** restic's --time format (the helper's clock is UTC). */
export function resticTime(d: Date): string {
	return d.toISOString().slice(0, 19).replace('T', ' ');
}

function checkVolumeName(volume: string): void {
	if (!isSafeName(volume)) throw new InfraOpsError(`"${volume}" is not a valid volume name`);
}

export async function resticBackupVolume(
	setup: ResticSetup,
	volume: VolumeInfo,
	options: ResticBackupOptions,
): Promise<ResticBackupResult> {
	checkVolumeName(volume.name);
	const t0 = Date.now();
	const timings: Record<string, number> = {};
	const warnings: string[] = [];
	const cleanups: Cleanup[] = [];
	let created = false;
	let stopped: string[] = [];
	let summary: BackupSummary | undefined;
	let code = 0;
	try {
		const quiet = await quiesceVolume(
			setup.docker,
			volume,
			options,
			timings,
			cleanups,
			// a missing image or a wrong password fails here, before any user is stopped
			async () => {
				await inStep('pull restic image', () => ensureResticImage(setup), timings);
				created =
					(await inStep('open repository', () => openRepository(setup, true), timings)) ===
					'created';
			},
		);
		stopped = quiet.stopped;
		if (quiet.live.length) warnings.push(`live backup: ${quiet.live.join(', ')} kept running`);
		const run = await inStep(
			'restic backup',
			() =>
				runResticWaiting(
					setup,
					[
						'backup',
						'--json',
						'--quiet',
						'--host',
						RESTIC_HOST,
						'--tag',
						volumeTag(volume.name),
						...(options.time ? ['--time', resticTime(options.time)] : []),
						dataPath(volume.name),
					],
					{ binds: [`${volume.name}:${dataPath(volume.name)}:ro`], okCodes: [3] },
				),
			timings,
		);
		code = run.code;
		summary = jsonLines(run.stdout).find(
			(v): v is BackupSummary => (v as BackupSummary)?.message_type === 'summary',
		);
		if (!summary)
			throw new StepError('restic backup', new InfraOpsError('restic printed no summary'));
	} finally {
		await runCleanups(cleanups, summary !== undefined, warnings);
	}
	await runHooksAfter(setup.docker, volume.name, options, timings);
	if (code === 3)
		warnings.push('restic could not read some files: the snapshot lacks them (see restic check)');
	return {
		volume: volume.name,
		snapshotId: summary.snapshot_id,
		filesNew: summary.files_new,
		filesChanged: summary.files_changed,
		filesUnmodified: summary.files_unmodified,
		dirsNew: summary.dirs_new,
		dirsChanged: summary.dirs_changed,
		dirsUnmodified: summary.dirs_unmodified,
		dataAdded: summary.data_added,
		totalFiles: summary.total_files_processed,
		totalBytes: summary.total_bytes_processed,
		repositoryCreated: created,
		containersStopped: stopped,
		durationMs: Date.now() - t0,
		timings,
		warnings,
	};
}

export interface Snapshot {
	id: string;
	shortId: string;
	time: string;
	volume: string;
	paths: string[];
	tags: string[];
}

interface RawSnapshot {
	id: string;
	short_id: string;
	time: string;
	paths?: string[];
	tags?: string[] | null;
	hostname?: string;
}

function toSnapshot(raw: RawSnapshot): Snapshot | undefined {
	const tag = (raw.tags ?? []).find((t) => t.startsWith('volume='));
	if (!tag || raw.hostname !== RESTIC_HOST) return undefined;
	const volume = tag.slice('volume='.length);
	// a snapshot whose path is not its volume's was not written by this node
	if ((raw.paths ?? []).join() !== dataPath(volume)) return undefined;
	return {
		id: raw.id,
		shortId: raw.short_id,
		time: raw.time,
		volume,
		paths: raw.paths ?? [],
		tags: raw.tags ?? [],
	};
}

/** Snapshots this node wrote, oldest first; only `volume`'s when given. */
export async function resticSnapshots(setup: ResticSetup, volume?: string): Promise<Snapshot[]> {
	if (volume) checkVolumeName(volume);
	const run = await runRestic(setup, [
		'snapshots',
		'--json',
		'--no-lock',
		'--host',
		RESTIC_HOST,
		...(volume ? ['--tag', volumeTag(volume)] : []),
	]);
	const list = (jsonLines(run.stdout)[0] ?? []) as RawSnapshot[];
	return list
		.map(toSnapshot)
		.filter((s): s is Snapshot => !!s)
		.sort((a, b) => a.time.localeCompare(b.time));
}

/** The snapshot to restore: `id` (which must be one of `volume`'s), or the volume's latest. */
export async function pickSnapshot(
	setup: ResticSetup,
	volume: string,
	id?: string,
): Promise<Snapshot> {
	const snapshots = await resticSnapshots(setup, volume);
	const wanted = id?.trim();
	const found = wanted
		? snapshots.find((s) => s.id === wanted || s.shortId === wanted || s.id.startsWith(wanted))
		: snapshots[snapshots.length - 1];
	if (!found)
		throw new InfraOpsError(
			wanted
				? `Snapshot ${wanted} is not a snapshot of volume ${volume} in the repository`
				: `The repository has no snapshot of volume ${volume}`,
			'List the snapshots (List operation, Restic engine) and pick one of this volume',
		);
	return found;
}

interface LsNode {
	type: string;
	path: string;
	size?: number;
	struct_type?: string;
}

export interface SnapshotContent {
	entries: number;
	files: number;
	fileBytes: number;
}

/** What `restic ls --json` says the snapshot holds under the volume's path (its root included). */
export async function snapshotContent(
	setup: ResticSetup,
	snapshot: Snapshot,
): Promise<SnapshotContent> {
	const run = await runRestic(setup, ['ls', '--json', '--no-lock', snapshot.id]);
	const root = dataPath(snapshot.volume);
	const nodes = (jsonLines(run.stdout) as LsNode[]).filter(
		(n) => n.struct_type === 'node' && (n.path === root || n.path.startsWith(`${root}/`)),
	);
	const files = nodes.filter((n) => n.type === 'file');
	return {
		entries: nodes.length,
		files: files.length,
		fileBytes: files.reduce((sum, n) => sum + (n.size ?? 0), 0),
	};
}

export interface ResticRestoreResult {
	volume: string;
	targetVolume: string;
	snapshotId: string;
	snapshotTime: string;
	created: boolean;
	entries: number;
	files: number;
	fileBytes: number;
	durationMs: number;
	warnings: string[];
}

/**
 * Restores a snapshot into `into` (mounted where restic wrote it from, so the volume root gets the
 * snapshot's mode and owner) with restic's own content check (--verify), then compares the written
 * tree (read back through Docker's archive API) with the snapshot's listing.
 */
export async function restoreSnapshotInto(
	setup: ResticSetup,
	snapshot: Snapshot,
	into: string,
	helperImage: string,
): Promise<SnapshotContent> {
	const expected = await inStep('list snapshot', () => snapshotContent(setup, snapshot));
	await inStep('restic restore', () =>
		runRestic(setup, ['restore', '--no-lock', snapshot.id, '--target', '/restore', '--verify'], {
			binds: [`${into}:/restore${dataPath(snapshot.volume)}`],
		}),
	);
	const helper = await createHelper(setup.docker, helperImage, [`${into}:/dst:ro`]);
	try {
		const back = await inStep('read restored tree', () => readTree(helper, '/dst'));
		const problems: string[] = [];
		if (back.entries !== expected.entries)
			problems.push(`${back.entries} entries restored, the snapshot lists ${expected.entries}`);
		if (back.fileBytes > expected.fileBytes)
			problems.push(
				`${back.fileBytes} file bytes restored, the snapshot lists ${expected.fileBytes}`,
			);
		if (problems.length)
			throw new StepError(
				'compare with snapshot',
				new InfraOpsError(`the restored tree differs from the snapshot: ${problems.join('; ')}`),
			);
	} finally {
		await removeQuietly(helper);
	}
	return expected;
}

export interface ResticRestoreOptions {
	volume: string;
	snapshotId?: string;
	/** Empty: the same volume, which must not exist or be empty. */
	targetVolume?: string;
	helperImage: string;
}

/**
 * Restores into a new volume (removed again if anything fails) or into an existing empty one. A
 * volume with content is refused: restore into a new one, check it, and switch the service over.
 */
export async function resticRestoreVolume(
	setup: ResticSetup,
	options: ResticRestoreOptions,
): Promise<ResticRestoreResult> {
	const t0 = Date.now();
	checkVolumeName(options.volume);
	const targetVolume = options.targetVolume?.trim() || options.volume;
	checkVolumeName(targetVolume);
	await inStep('pull restic image', () => ensureResticImage(setup));
	const snapshot = await inStep('find snapshot', () =>
		pickSnapshot(setup, options.volume, options.snapshotId),
	);
	const { docker } = setup;
	const exists = await docker
		.getVolume(targetVolume)
		.inspect()
		.then(
			() => true,
			() => false,
		);
	if (exists) {
		const helper = await createHelper(docker, options.helperImage, [`${targetVolume}:/dst:ro`]);
		const seen = await readTree(helper, '/dst').finally(() => removeQuietly(helper));
		if (seen.entries > 1)
			throw new InfraOpsError(
				`Volume "${targetVolume}" is not empty`,
				'Restore into a new volume name (Target Volume), check it, then point the service at it',
			);
	} else {
		await docker.createVolume({
			Name: targetVolume,
			Labels: { 'infra-ops.restic.snapshot': snapshot.id },
		});
	}
	try {
		const content = await restoreSnapshotInto(setup, snapshot, targetVolume, options.helperImage);
		return {
			volume: options.volume,
			targetVolume,
			snapshotId: snapshot.id,
			snapshotTime: snapshot.time,
			created: !exists,
			...content,
			durationMs: Date.now() - t0,
			warnings: [],
		};
	} catch (error) {
		if (!exists) {
			const removed = await docker
				.getVolume(targetVolume)
				.remove()
				.then(
					() => true,
					() => false,
				);
			if (!removed && error instanceof Error)
				error.message += ` (the new volume ${targetVolume} is left half-written: docker volume rm ${targetVolume} before a retry)`;
		}
		throw error;
	}
}

export interface ResticPolicy {
	keepLast: number;
	keepDaily: number;
	keepWeekly: number;
	keepMonthly: number;
}

export interface ResticForgetResult {
	volume: string;
	kept: string[];
	removed: string[];
	pruned: boolean;
}

/** `restic forget` of one volume's snapshots by the policy, then `--prune` (unless a dry run). */
export async function resticForget(
	setup: ResticSetup,
	volume: string,
	policy: ResticPolicy,
	dryRun: boolean,
): Promise<ResticForgetResult> {
	checkVolumeName(volume);
	const keep = (flag: string, n: number) => (n > 0 ? [flag, String(Math.floor(n))] : []);
	const run = await runResticWaiting(setup, [
		'forget',
		'--json',
		'--host',
		RESTIC_HOST,
		'--tag',
		volumeTag(volume),
		'--path',
		dataPath(volume),
		'--group-by',
		'host,paths',
		...keep('--keep-last', Math.max(1, policy.keepLast)),
		...keep('--keep-daily', policy.keepDaily),
		...keep('--keep-weekly', policy.keepWeekly),
		...keep('--keep-monthly', policy.keepMonthly),
		...(dryRun ? ['--dry-run'] : ['--prune']),
	]);
	const groups = (jsonLines(run.stdout).find(Array.isArray) ?? []) as {
		keep?: RawSnapshot[] | null;
		remove?: RawSnapshot[] | null;
	}[];
	return {
		volume,
		kept: groups.flatMap((g) => (g.keep ?? []).map((s) => s.id)),
		removed: groups.flatMap((g) => (g.remove ?? []).map((s) => s.id)),
		pruned: !dryRun,
	};
}

export interface ResticVerifyResult {
	volume: string;
	snapshotId?: string;
	checked: boolean;
	readDataPercent: number;
	scratch?: SnapshotContent;
	problems: string[];
}

/** `restic check --read-data-subset=<n>%`, and optionally a scratch restore of the volume's latest snapshot. */
export async function resticVerify(
	setup: ResticSetup,
	volumes: string[],
	options: { readDataPercent: number; scratchRestore: boolean; helperImage?: string },
): Promise<{ check: string[]; volumes: ResticVerifyResult[] }> {
	await ensureResticImage(setup);
	const pct = Math.min(100, Math.max(0, options.readDataPercent));
	const checkProblems: string[] = [];
	try {
		await runResticWaiting(setup, ['check', ...(pct > 0 ? [`--read-data-subset=${pct}%`] : [])]);
	} catch (error) {
		if (error instanceof ResticError && error.kind !== 'other') throw error;
		checkProblems.push(errorMessage(error));
	}
	const results: ResticVerifyResult[] = [];
	for (const volume of volumes) {
		const result: ResticVerifyResult = {
			volume,
			checked: !checkProblems.length,
			readDataPercent: pct,
			problems: [...checkProblems],
		};
		try {
			const snapshot = await pickSnapshot(setup, volume);
			result.snapshotId = snapshot.id;
			if (options.scratchRestore && options.helperImage) {
				const scratch = `infra-ops-scratch-${randomBytes(4).toString('hex')}`;
				await setup.docker.createVolume({ Name: scratch });
				try {
					result.scratch = await restoreSnapshotInto(setup, snapshot, scratch, options.helperImage);
				} finally {
					await setup.docker
						.getVolume(scratch)
						.remove()
						.catch(() => undefined);
				}
			}
		} catch (error) {
			result.problems.push(errorMessage(error));
		}
		results.push(result);
	}
	return { check: checkProblems, volumes: results };
}
