/**
 * Restore of volume backups (host paths: restoreHost.ts). Destructive steps come last: the backup is read,
 * decrypted, hash-checked and written into a staging volume (and its tree read back) before the
 * live volume is touched; then it is copied into a hidden folder of the live volume and checked
 * again while the users still run; only the final swap, a handful of renames, runs with them stopped.
 * No n8n import.
 */
import { randomBytes } from 'node:crypto';
import type Dockerode from 'dockerode';

import { InfraOpsError } from '../shared/errors';
import type { AgeDecryptKey } from './age';
import {
	createHelper,
	pickHelperImage,
	readVolumeArchive,
	removeQuietly,
	startContainers,
	stopContainers,
	volumeUsers,
} from './dockerVolumes';
import { inStep, StepError } from './errors';
import { isSafeName } from './manifest';
import { requireDecryptKey } from './pipeline';
import {
	readTree,
	restoreStream,
	runScript,
	STAGING_LABEL,
	throwIfFailed,
	treeProblems,
	volumeIsEmpty,
	type StreamRestore,
} from './stage';
import type { StorageTarget } from './store';
import { putTree, rootFolderTar } from './tarPut';
import { resolveBackup, type TrustOptions } from './trust';

/**
 * Swaps the content of /dst for the content of /dst/$1 by renames only: the old entries go into
 * /dst/$2, the new ones up, then $2 is removed. Any failed rename moves everything back (exit 11, 12);
 * exit 13 means that did not work either and both sets are still there, under their names; exit 20:
 * swapped, but the old entries could not be deleted; 21: swapped, but the root's owner or mode not set.
 */
export const SWAP_SCRIPT = `
in="/dst/$1"; old="/dst/$2"
# moves the entries of folder $1 (but $in and $old) into $2; straight from the glob, as a listing read
# back line by line would split a name holding a newline
move() { for f in "$1"/* "$1"/.[!.]* "$1"/..?*; do if [ -e "$f" ] || [ -L "$f" ]; then case "$f" in "$in"|"$old") ;; *) mv -- "$f" "$2"/ || return 1;; esac; fi; done; }
back() {
  if [ "$1" = 2 ]; then move /dst "$in" || exit 13; fi
  move "$old" /dst || exit 13
  rmdir -- "$old"
}
[ -d "$in" ] || exit 10
mkdir -- "$old" || exit 10
move /dst "$old" || { back 1; exit 11; }
move "$in" /dst || { back 2; exit 12; }
rmdir -- "$in"
rm -rf -- "$old" || exit 20
# the volume root takes the backed-up root's owner and mode, as a PUT straight into it would
if [ -n "$3" ]; then chown -- "$3" /dst && chmod -- "$4" /dst || exit 21; fi
`;

export interface RestoreOptions extends TrustOptions {
	volume: string;
	key?: string;
	targetVolume?: string;
	replace: boolean;
	helperImage?: string;
	decryptKey?: AgeDecryptKey;
	stopTimeoutS?: number;
}

export interface RestoreResult {
	volume: string;
	targetVolume: string;
	key: string;
	created: boolean;
	replaced: boolean;
	containersStopped: string[];
	entries: number;
	fileBytes: number;
	/** Symlinks pointing outside the volume, written after the archive (Docker's PUT refuses them). */
	linksOutside: number;
	durationMs: number;
	warnings: string[];
}

/**
 * Restores a backup into a volume. A new volume is written directly and removed again on any failure.
 * An existing one is only touched once the backup sits verified in a staging volume and in a hidden
 * folder of the target: a wrong key, a damaged object or a refused entry leaves it as it was.
 */
export async function restoreVolume(
	docker: Dockerode,
	target: StorageTarget,
	options: RestoreOptions,
): Promise<RestoreResult> {
	const t0 = Date.now();
	const { key, manifest, notes } = await resolveBackup(
		target,
		options.volume,
		options.key,
		options,
	);
	if (manifest.sourceKind !== 'volume')
		throw new InfraOpsError(
			`${key} is a host path backup`,
			'Turn on Host Path Backup and give a folder on the SSH host to unpack into',
		);
	const targetVolume = options.targetVolume?.trim() || options.volume;
	if (!isSafeName(targetVolume))
		throw new InfraOpsError(`"${targetVolume}" is not a valid volume name`);
	requireDecryptKey(manifest, options.decryptKey);
	const warnings: string[] = [...notes];
	let existing: Dockerode.VolumeInspectInfo | undefined;
	try {
		existing = await docker.getVolume(targetVolume).inspect();
	} catch {
		existing = undefined;
	}
	const users = existing ? await volumeUsers(docker, targetVolume) : [];
	const image = await pickHelperImage(docker, options.helperImage, users);
	const done = (
		r: StreamRestore,
		created: boolean,
		replaced: boolean,
		stopped: string[],
	): RestoreResult => ({
		volume: manifest.volume,
		targetVolume,
		key,
		created,
		replaced,
		containersStopped: stopped,
		entries: r.entries,
		fileBytes: r.fileBytes,
		linksOutside: r.linksOutside,
		durationMs: Date.now() - t0,
		warnings,
	});

	if (!existing) {
		await docker.createVolume({
			Name: targetVolume,
			Labels: manifest.labels ?? {},
			Driver: manifest.driver || 'local',
		});
		let helper: Dockerode.Container | undefined;
		try {
			helper = await createHelper(docker, image, [`${targetVolume}:/dst`]);
			const r = await restoreStream(target, key, manifest, options.decryptKey, helper, '/dst');
			throwIfFailed(r);
			// the volume root as backed up (a database's is 0700, owned by its user), as Replace sets it
			if (r.root)
				await inStep('write volume', () =>
					helper!.putArchive(rootFolderTar('dst', r.root!), { path: '/' }),
				);
			return done(r, true, false, []);
		} catch (error) {
			await removeQuietly(helper);
			// a half-written new volume would make the retry fail with "not empty"
			const removed = await docker
				.getVolume(targetVolume)
				.remove()
				.then(
					() => true,
					() => false,
				);
			if (!removed && error instanceof Error)
				error.message += ` (the new volume ${targetVolume} is left half-written: docker volume rm ${targetVolume} before a retry)`;
			throw error;
		} finally {
			await removeQuietly(helper);
		}
	}

	const wanted = manifest.labels ?? {};
	const have = existing.Labels ?? {};
	if (Object.keys(wanted).some((k) => have[k] !== wanted[k]))
		warnings.push('existing volume keeps its own labels (Docker cannot relabel a volume)');
	const empty = await volumeIsEmpty(docker, image, targetVolume);
	if (!empty && !options.replace)
		throw new InfraOpsError(
			`Volume "${targetVolume}" is not empty`,
			'Turn on Replace to replace its content, or restore into a new volume name',
		);

	// the caller holds this volume's lock, so a staging volume of it is a crashed run's (n8n killed
	// mid-restore): a full copy of some backup that nothing else would ever remove
	const stale = await docker
		.listVolumes({ filters: { label: [`${STAGING_LABEL}=${targetVolume}`] } })
		.catch(() => undefined);
	for (const v of stale?.Volumes ?? []) {
		const removed = await docker
			.getVolume(v.Name)
			.remove()
			.then(
				() => true,
				() => false,
			);
		warnings.push(
			removed
				? `removed ${v.Name}, the staging volume of an interrupted restore`
				: `${v.Name}, the staging volume of an interrupted restore, could not be removed`,
		);
	}

	const staging = `infra-ops-staging-${randomBytes(4).toString('hex')}`;
	const incoming = `.infra-ops-incoming-${randomBytes(4).toString('hex')}`;
	const previous = `.infra-ops-previous-${randomBytes(4).toString('hex')}`;
	const stopped: string[] = [];
	let stagingHelper: Dockerode.Container | undefined;
	let copyHelper: Dockerode.Container | undefined;
	let sourceHelper: Dockerode.Container | undefined;
	let incomingMade = false;
	/** Swapped, or left for the operator to sort out by hand: the hidden folder is not ours to delete then. */
	let keepIncoming = false;
	let failure: unknown;
	try {
		await docker.createVolume({ Name: staging, Labels: { [STAGING_LABEL]: targetVolume } });
		stagingHelper = await createHelper(docker, image, [`${staging}:/dst`]);
		const staged = await restoreStream(
			target,
			key,
			manifest,
			options.decryptKey,
			stagingHelper,
			'/dst',
		);
		throwIfFailed(staged);
		await removeQuietly(stagingHelper);
		stagingHelper = undefined;

		// staging → a hidden folder of the target, while its users still run; checked again there
		// reading and writing through two helpers: Docker holds a container's lock for as long as an
		// archive GET streams, so a PUT into the same container waits for a GET that waits for it
		// (any volume larger than the buffers in between hung until the API time-out)
		sourceHelper = await createHelper(docker, image, [`${staging}:/src:ro`]);
		copyHelper = await createHelper(docker, image, [`${targetVolume}:/dst`]);
		const mkdir = await inStep('write volume', () =>
			runScript(docker, image, [`${targetVolume}:/dst`], 'mkdir -m 0700 -- "/dst/$1"', [incoming]),
		);
		if (mkdir.code !== 0)
			throw new StepError(
				'write volume',
				new InfraOpsError(
					`cannot create a folder in ${targetVolume}: ${mkdir.output || `exit ${mkdir.code}`}`,
				),
			);
		incomingMade = true;
		const source = await readVolumeArchive(sourceHelper, '/src');
		const copy = putTree(copyHelper, `/dst/${incoming}`, source);
		await inStep('write volume', () => copy.done);
		const copied = await inStep('write volume', () => readTree(copyHelper!, `/dst/${incoming}`));
		const problems = treeProblems(manifest, copied);
		if (problems.length)
			throw new StepError(
				'write volume',
				new InfraOpsError(
					`the copy into ${targetVolume} does not match the backup: ${problems.join('; ')}`,
				),
			);
		await removeQuietly(copyHelper);
		copyHelper = undefined;
		await removeQuietly(sourceHelper);
		sourceHelper = undefined;

		await inStep('stop containers', () =>
			stopContainers(
				docker,
				users.filter((u) => u.running),
				options.stopTimeoutS ?? 30,
				stopped,
			),
		);
		const swap = await inStep('swap volume content', () =>
			runScript(docker, image, [`${targetVolume}:/dst`], SWAP_SCRIPT, [
				incoming,
				previous,
				...(staged.root
					? [`${staged.root.uid}:${staged.root.gid}`, staged.root.mode.toString(8)]
					: []),
			]),
		);
		if (swap.code === 20)
			warnings.push(
				`the old content could not be removed: it is in ${previous} inside ${targetVolume}`,
			);
		else if (swap.code === 21)
			warnings.push(
				`the volume root keeps its owner and mode: setting ${staged.root?.uid}:${staged.root?.gid} ${staged.root?.mode.toString(8)} failed`,
			);
		else if (swap.code !== 0) {
			keepIncoming = swap.code === 13;
			const state =
				swap.code === 13
					? `the old content is in ${previous} and the restored one in ${incoming} inside the volume: move them by hand`
					: swap.code === 10
						? 'nothing was moved'
						: 'every entry was moved back: the volume holds its old content';
			throw new StepError(
				'swap volume content',
				new InfraOpsError(
					`the swap script exited with ${swap.code}${swap.output ? ` (${swap.output.slice(-300)})` : ''}; ${state}`,
				),
			);
		}
		keepIncoming = true;
		return done(staged, false, !empty, stopped);
	} catch (error) {
		failure = error;
		throw error;
	} finally {
		await removeQuietly(stagingHelper);
		await removeQuietly(copyHelper);
		await removeQuietly(sourceHelper);
		const after: string[] = [];
		if (incomingMade && !keepIncoming) {
			const cleaned = await runScript(
				docker,
				image,
				[`${targetVolume}:/dst`],
				'rm -rf -- "/dst/$1"',
				[incoming],
			).catch(() => ({ code: -1, output: '' }));
			if (cleaned.code !== 0)
				after.push(`could not remove the folder ${incoming} inside ${targetVolume}`);
		}
		await docker
			.getVolume(staging)
			.remove()
			.catch(() => undefined);
		const failures = await startContainers(docker, stopped);
		if (failures.length) after.push(`restart failed: ${failures.join('; ')}`);
		// on failure these would be lost with the warnings: they go into the error instead
		if (failure instanceof Error && after.length) failure.message += `; ${after.join('; ')}`;
		else warnings.push(...after);
	}
}
