/**
 * Replacing the content of a live volume, for both engines: what will go in is first put into a
 * staging volume (by the caller, and checked there), copied into a hidden folder of the target while
 * its users still run and checked again, and only then swapped in by renames with the users stopped.
 * Any failure before the swap leaves the target's content as it was. No n8n import.
 */
import { randomBytes } from 'node:crypto';
import type Dockerode from 'dockerode';

import { InfraOpsError } from '../shared/errors';
import {
	createHelper,
	readVolumeArchive,
	removeQuietly,
	startContainers,
	stopContainers,
	volumeUsers,
} from './dockerVolumes';
import { inStep, StepError } from './errors';
import { runScript, STAGING_LABEL } from './stage';
import { putTree } from './tarPut';

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

/** The backed-up volume root's owner and mode, which the swapped-in root takes. */
export interface VolumeRoot {
	mode: number;
	uid: string | number;
	gid: string | number;
}

export interface SwapInOptions<T extends { root?: VolumeRoot }> {
	image: string;
	targetVolume: string;
	stopTimeoutS?: number;
	/** Puts the new content into the (empty) staging volume and checks it there. */
	fillStaging(staging: string): Promise<T>;
	/** Checks the copy in the target's hidden folder (mounted in `helper` at `path`); throws if it differs. */
	checkCopy(helper: Dockerode.Container, path: string, staged: T): Promise<void>;
}

/**
 * Removes the staging volumes a crashed run (n8n killed mid-restore) left of this target: the caller
 * holds the volume's lock, so nothing else uses them, and nothing else would ever remove them.
 */
export async function removeStaleStaging(
	docker: Dockerode,
	targetVolume: string,
): Promise<string[]> {
	const warnings: string[] = [];
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
	return warnings;
}

export async function swapInThroughStaging<T extends { root?: VolumeRoot }>(
	docker: Dockerode,
	options: SwapInOptions<T>,
): Promise<{ staged: T; stopped: string[]; warnings: string[] }> {
	const { image, targetVolume } = options;
	const hex = () => randomBytes(4).toString('hex');
	const staging = `infra-ops-staging-${hex()}`;
	const incoming = `.infra-ops-incoming-${hex()}`;
	const previous = `.infra-ops-previous-${hex()}`;
	const users = await volumeUsers(docker, targetVolume);
	const warnings = await removeStaleStaging(docker, targetVolume);
	const stopped: string[] = [];
	let copyHelper: Dockerode.Container | undefined;
	let sourceHelper: Dockerode.Container | undefined;
	let incomingMade = false;
	/** Swapped, or left for the operator to sort out by hand: the hidden folder is not ours to delete then. */
	let keepIncoming = false;
	let failure: unknown;
	try {
		await docker.createVolume({ Name: staging, Labels: { [STAGING_LABEL]: targetVolume } });
		const staged = await options.fillStaging(staging);

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
		await options.checkCopy(copyHelper, `/dst/${incoming}`, staged);
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
		const root = staged.root;
		const swap = await inStep('swap volume content', () =>
			runScript(docker, image, [`${targetVolume}:/dst`], SWAP_SCRIPT, [
				incoming,
				previous,
				...(root ? [`${root.uid}:${root.gid}`, root.mode.toString(8)] : []),
			]),
		);
		if (swap.code === 20)
			warnings.push(
				`the old content could not be removed: it is in ${previous} inside ${targetVolume}`,
			);
		else if (swap.code === 21)
			warnings.push(
				`the volume root keeps its owner and mode: setting ${root?.uid}:${root?.gid} ${root?.mode.toString(8)} failed`,
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
		return { staged, stopped, warnings };
	} catch (error) {
		failure = error;
		throw error;
	} finally {
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
