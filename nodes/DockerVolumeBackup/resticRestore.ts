/**
 * The restic engine's snapshots and restores: which snapshots are this node's (host infra-ops, tag
 * volume=<name>, path /data/<name>), and restoring one into a new volume, an empty one, or (Replace)
 * a volume with content through a staging volume: restored there and compared with the snapshot's
 * listing, copied into a hidden folder of the target and compared again, and only then swapped in
 * with the users stopped (swapIn.ts, shared with the archive engine). No n8n import.
 */
import type Dockerode from 'dockerode';

import { InfraOpsError } from '../shared/errors';
import { createHelper, removeQuietly } from './dockerVolumes';
import { inStep, StepError } from './errors';
import {
	checkVolumeName,
	dataPath,
	ensureResticImage,
	jsonLines,
	RESTIC_HOST,
	runRestic,
	volumeTag,
	type ResticSetup,
} from './restic';
import { readTree } from './stage';
import { swapInThroughStaging } from './swapIn';

export interface Snapshot {
	id: string;
	shortId: string;
	time: string;
	volume: string;
	paths: string[];
	tags: string[];
}

export interface RawSnapshot {
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
	return (
		list
			.map(toSnapshot)
			// restic's --tag matches any one tag: a snapshot tagged with this volume too may be another's
			.filter((s): s is Snapshot => !!s && (!volume || s.volume === volume))
			.sort((a, b) => a.time.localeCompare(b.time))
	);
}

/** The snapshot to restore: `id` (which must be one of `volume`'s), or the volume's latest. */
export async function pickSnapshot(
	setup: ResticSetup,
	volume: string,
	id?: string,
): Promise<Snapshot> {
	const snapshots = await resticSnapshots(setup, volume);
	const wanted = id?.trim();
	const matches = wanted
		? snapshots.filter((s) => s.id === wanted || s.shortId === wanted || s.id.startsWith(wanted))
		: [];
	// a prefix that several snapshots share names none of them: restoring the oldest would be a guess
	if (matches.length > 1 && !matches.some((s) => s.id === wanted))
		throw new InfraOpsError(
			`Snapshot id ${wanted} matches ${matches.length} snapshots of volume ${volume}`,
			'Give more of the id (the List operation shows each full id)',
		);
	const found = wanted ? matches[0] : snapshots[snapshots.length - 1];
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
	uid?: number;
	gid?: number;
	/** Go's os.FileMode: permission bits low, type bits high */
	mode?: number;
	struct_type?: string;
}

export interface SnapshotContent {
	entries: number;
	files: number;
	fileBytes: number;
	/** The volume root as backed up: what a swap gives the volume's own folder. */
	root?: { uid: number; gid: number; mode: number };
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
	const top = nodes.find((n) => n.path === root);
	return {
		root: top && {
			uid: top.uid ?? 0,
			gid: top.gid ?? 0,
			mode: (top.mode ?? 0o755) & 0o777,
		},
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
	replaced: boolean;
	containersStopped: string[];
	entries: number;
	files: number;
	fileBytes: number;
	durationMs: number;
	warnings: string[];
}

/** Reads `path` of the helper back through Docker's archive API and compares it with the snapshot's listing. */
async function compareTree(
	helper: Dockerode.Container,
	path: string,
	expected: SnapshotContent,
	step: string,
): Promise<void> {
	const back = await inStep(step, () => readTree(helper, path));
	const problems: string[] = [];
	if (back.entries !== expected.entries)
		problems.push(`${back.entries} entries, the snapshot lists ${expected.entries}`);
	// a hard link's second name carries no data in a tar stream, so fewer bytes can be right; more cannot
	if (back.fileBytes > expected.fileBytes)
		problems.push(`${back.fileBytes} file bytes, the snapshot lists ${expected.fileBytes}`);
	if (problems.length)
		throw new StepError(
			step,
			new InfraOpsError(`the restored tree differs from the snapshot: ${problems.join('; ')}`),
		);
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
		await compareTree(helper, '/dst', expected, 'compare with snapshot');
	} finally {
		await removeQuietly(helper);
	}
	return expected;
}

export interface ResticRestoreOptions {
	volume: string;
	snapshotId?: string;
	/** Empty: the same volume. */
	targetVolume?: string;
	/** Whether a target volume with content may be replaced (through a staging volume). */
	replace?: boolean;
	/** Never-started readers, and the copy and swap of Replace (which need /bin/sh, mkdir and mv). */
	helperImage: string;
	stopTimeoutS?: number;
}

/**
 * Restores into a new volume (removed again if anything fails), an existing empty one, or (Replace) one
 * with content through a staging volume, swapped in only once checked.
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
		if (seen.entries > 1) {
			if (!options.replace)
				throw new InfraOpsError(
					`Volume "${targetVolume}" is not empty`,
					'Turn on Replace to replace its content (checked in a staging volume first), or restore into a new volume name',
				);
			const replaced = await replaceContent(setup, snapshot, targetVolume, options);
			return {
				volume: options.volume,
				targetVolume,
				snapshotId: snapshot.id,
				snapshotTime: snapshot.time,
				created: false,
				replaced: true,
				...replaced.content,
				containersStopped: replaced.stopped,
				durationMs: Date.now() - t0,
				warnings: replaced.warnings,
			};
		}
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
			replaced: false,
			...content,
			containersStopped: [],
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

/** Replace: the snapshot restored into a staging volume and checked, then swapped in (swapIn.ts). */
async function replaceContent(
	setup: ResticSetup,
	snapshot: Snapshot,
	targetVolume: string,
	options: ResticRestoreOptions,
): Promise<{ content: SnapshotContent; stopped: string[]; warnings: string[] }> {
	const image = options.helperImage;
	const replaced = await swapInThroughStaging(setup.docker, {
		image,
		targetVolume,
		stopTimeoutS: options.stopTimeoutS,
		fillStaging: (staging) => restoreSnapshotInto(setup, snapshot, staging, image),
		checkCopy: (helper, path, content) => compareTree(helper, path, content, 'write volume'),
	});
	return { content: replaced.staged, stopped: replaced.stopped, warnings: replaced.warnings };
}
