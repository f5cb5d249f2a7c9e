/**
 * Restore of volume backups (host paths: restoreHost.ts). Destructive steps come last: the backup is read,
 * decrypted, hash-checked and written into a staging volume (and its tree read back) before the
 * live volume is touched; then it is copied into a hidden folder of the live volume and checked
 * again while the users still run (swapIn.ts, shared with the restic engine); only the final swap, a
 * handful of renames, runs with them stopped.
 * No n8n import.
 */
import type Dockerode from 'dockerode';

import { InfraOpsError } from '../shared/errors';
import type { AgeDecryptKey } from './age';
import { createHelper, pickHelperImage, removeQuietly, volumeUsers } from './dockerVolumes';
import { inStep, StepError } from './errors';
import { isSafeName } from './manifest';
import { requireDecryptKey } from './pipeline';
import {
	readTree,
	restoreStream,
	throwIfFailed,
	treeProblems,
	volumeIsEmpty,
	type StreamRestore,
} from './stage';
import type { StorageTarget } from './store';
import { swapInThroughStaging } from './swapIn';
import { rootFolderTar } from './tarPut';
import { resolveBackup, type TrustOptions } from './trust';

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

	const replaced = await swapInThroughStaging(docker, {
		image,
		targetVolume,
		stopTimeoutS: options.stopTimeoutS,
		async fillStaging(staging) {
			const helper = await createHelper(docker, image, [`${staging}:/dst`]);
			try {
				const staged = await restoreStream(
					target,
					key,
					manifest,
					options.decryptKey,
					helper,
					'/dst',
				);
				throwIfFailed(staged);
				return staged;
			} finally {
				await removeQuietly(helper);
			}
		},
		async checkCopy(helper, path) {
			const copied = await inStep('write volume', () => readTree(helper, path));
			const problems = treeProblems(manifest, copied);
			if (problems.length)
				throw new StepError(
					'write volume',
					new InfraOpsError(
						`the copy into ${targetVolume} does not match the backup: ${problems.join('; ')}`,
					),
				);
		},
	});
	warnings.push(...replaced.warnings);
	return done(replaced.staged, false, !empty, replaced.stopped);
}
