/**
 * The restic engine's backup (users stopped and "before"/"after" commands run exactly as the archive
 * engine does, see archive.ts quiesceVolume), forget + prune, and check + scratch restore (snapshots
 * and restores: resticRestore.ts). Every snapshot carries host `infra-ops`, the tag
 * `volume=<name>` and the path `/data/<name>`, so restic finds the parent snapshot of a volume and
 * skips its unchanged files without reading them. No n8n import.
 */
import { randomBytes } from 'node:crypto';

import { errorMessage, InfraOpsError } from '../shared/errors';
import { quiesceVolume, type ArchiveOptions, type Cleanup } from './archive';
import { runCleanups, runHooksAfter } from './backup';
import type { ExecHook, VolumeInfo } from './dockerVolumes';
import { inStep, StepError } from './errors';
import {
	dataPath,
	ensureResticImage,
	jsonLines,
	openRepository,
	RESTIC_HOST,
	ResticError,
	ResticTimeoutError,
	runRestic,
	runResticWaiting,
	volumeTag,
	type ResticSetup,
	checkVolumeName,
} from './restic';
import {
	pickSnapshot,
	restoreSnapshotInto,
	type RawSnapshot,
	type SnapshotContent,
} from './resticRestore';

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
	let opened = false;
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
			// a missing image fails here, before any user is stopped; so does a wrong password when there
			// is something to stop or a command to run (else the backup itself finds it, one container less)
			async (_users, toStop) => {
				await inStep('pull restic image', () => ensureResticImage(setup), timings);
				if (
					toStop.length ||
					options.hooksBefore.some((h) => !h.volume || h.volume === volume.name)
				) {
					created =
						(await inStep('open repository', () => openRepository(setup, true), timings)) ===
						'created';
					opened = true;
				}
			},
		);
		stopped = quiet.stopped;
		if (quiet.live.length) warnings.push(`live backup: ${quiet.live.join(', ')} kept running`);
		const backup = () =>
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
			);
		const run = await inStep(
			'restic backup',
			async () => {
				try {
					return await backup();
				} catch (error) {
					if (opened || !(error instanceof ResticError) || error.kind !== 'no-repository')
						throw error;
				}
				await runRestic(setup, ['init']);
				created = true;
				return await backup();
			},
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

/** Default drill time limit of Verify, per phase (the repository check, then each volume). */
export const DEFAULT_VERIFY_LIMIT_MS = 10 * 60_000;

export function limitText(ms: number): string {
	return ms < 60_000 ? `${Math.round(ms / 1000)} s` : `${Math.round((ms / 60_000) * 10) / 10} min`;
}

function timedOutProblem(limitMs: number): string {
	return `the repository did not answer within ${limitText(limitMs)} (restic kept retrying: a pack may be missing from the bucket)`;
}

/**
 * `restic check` (structure), then `restic check --read-data-subset=<n>%`, and optionally a scratch
 * restore of each volume's latest snapshot. restic 0.14 retries a pack that is missing from the bucket
 * (10 tries with exponential backoff per Load, and a restore loads once per blob), so every phase is
 * bounded by the drill time limit: the repository check as a whole, then each volume; on expiry the
 * helper container is killed and removed and the volume reported critical. The structure check
 * runs first because it finds a missing data pack by listing the bucket, in seconds; a damaged
 * repository then skips the data read and the restores, which would only retry.
 */
export async function resticVerify(
	setup: ResticSetup,
	volumes: string[],
	options: {
		readDataPercent: number;
		scratchRestore: boolean;
		helperImage?: string;
		timeLimitMs?: number;
	},
): Promise<{ check: string[]; volumes: ResticVerifyResult[] }> {
	await ensureResticImage(setup);
	const pct = Math.min(100, Math.max(0, options.readDataPercent));
	const limitMs = Math.max(1000, options.timeLimitMs ?? DEFAULT_VERIFY_LIMIT_MS);
	const until = (deadline: number): ResticSetup => ({
		...setup,
		timeoutMs: Math.max(1000, Math.min(setup.timeoutMs ?? limitMs, deadline - Date.now())),
	});
	const problemOf = (error: unknown) =>
		error instanceof ResticTimeoutError ? timedOutProblem(limitMs) : errorMessage(error);
	const checkProblems: string[] = [];
	const checkDeadline = Date.now() + limitMs;
	try {
		await runResticWaiting(until(checkDeadline), ['check']);
		if (pct > 0)
			await runResticWaiting(until(checkDeadline), ['check', `--read-data-subset=${pct}%`]);
	} catch (error) {
		if (error instanceof ResticError && error.kind !== 'other') throw error;
		checkProblems.push(problemOf(error));
	}
	const results: ResticVerifyResult[] = [];
	for (const volume of volumes) {
		const result: ResticVerifyResult = {
			volume,
			checked: !checkProblems.length,
			readDataPercent: pct,
			problems: [...checkProblems],
		};
		results.push(result);
		// a restore from a damaged repository only retries the missing packs until the limit
		if (checkProblems.length) continue;
		const deadline = Date.now() + limitMs;
		try {
			const snapshot = await pickSnapshot(until(deadline), volume);
			result.snapshotId = snapshot.id;
			if (options.scratchRestore && options.helperImage) {
				const scratch = `infra-ops-scratch-${randomBytes(4).toString('hex')}`;
				await setup.docker.createVolume({ Name: scratch });
				try {
					result.scratch = await restoreSnapshotInto(
						until(deadline),
						snapshot,
						scratch,
						options.helperImage,
					);
				} finally {
					await setup.docker
						.getVolume(scratch)
						.remove()
						.catch(() => undefined);
				}
			}
		} catch (error) {
			result.problems.push(problemOf(error));
		}
	}
	return { check: checkProblems, volumes: results };
}
