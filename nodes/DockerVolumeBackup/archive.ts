/**
 * The archive phase: where a backup's tar stream comes from. A volume is read through a helper
 * container, its users stopped first as asked and the "before" commands run; host paths are read with
 * `tar` over SSH. The stream is consumed by the process and copy phases while this phase is still
 * open, so what it set up (stopped containers, the helper) it hands back as cleanups, which the run
 * calls once when the archive is stored, whatever failed. No n8n import.
 */
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';

import { InfraOpsError } from '../shared/errors';
import type { SshSession } from '../shared/ssh';
import type { BackupOptions } from './backup';
import {
	createHelper,
	pickHelperImage,
	readVolumeArchive,
	removeQuietly,
	runHook,
	startContainers,
	stopContainers,
	volumeUsers,
	type VolumeInfo,
	type VolumeUser,
} from './dockerVolumes';
import { inStep } from './errors';
import { isSafeName } from './manifest';

/** A problem a cleanup could not fix, named as the step it belongs to. */
export interface CleanupProblem {
	step: string;
	message: string;
	hint?: string;
}

/** Undoes what a phase set up; registered as soon as there is something to undo. */
export type Cleanup = () => Promise<CleanupProblem | undefined>;

export interface ArchiveSource {
	tar: Readable;
	/** Settles when the program writing the stream exited (tar over SSH); a failure there fails the backup. */
	exited?: Promise<void>;
	/** Containers stopped for the backup; the cleanups start them again. */
	stopped: string[];
	/** Running users of the volume left running (a live backup). */
	live: string[];
}

export type ArchiveOptions = Pick<
	BackupOptions,
	'stopMode' | 'helperImage' | 'stopTimeoutS' | 'hooksBefore'
>;

/**
 * Stops the volume's users as asked and runs the "before" commands; the cleanup that starts them
 * again is registered first. `beforeStop` runs once the users (and those to stop) are known and nothing is stopped yet
 * (the place for checks that must fail before anything is touched). Shared by both engines.
 */
export async function quiesceVolume(
	docker: Dockerode,
	volume: VolumeInfo,
	options: ArchiveOptions,
	timings: Record<string, number>,
	cleanups: Cleanup[],
	beforeStop?: (users: VolumeUser[], toStop: VolumeUser[]) => Promise<void>,
): Promise<{ stopped: string[]; live: string[] }> {
	const stopped: string[] = [];
	cleanups.push(async () => {
		if (!stopped.length) return undefined;
		const failures = await startContainers(docker, stopped);
		return failures.length
			? {
					step: 'restart containers',
					message: `restart failed: ${failures.join('; ')}`,
					hint: 'Start them by hand: docker start <name>',
				}
			: undefined;
	});
	const users = await inStep('inspect users', () => volumeUsers(docker, volume.name), timings);
	const toStop = users.filter(
		(u) =>
			u.running && (options.stopMode === 'all' || (options.stopMode === 'label' && u.stopLabel)),
	);
	const live = users.filter((u) => u.running && !toStop.includes(u)).map((u) => u.name);
	if (beforeStop) await beforeStop(users, toStop);
	await inStep(
		'stop containers',
		() => stopContainers(docker, toStop, options.stopTimeoutS ?? 30, stopped),
		timings,
	);
	for (const hook of options.hooksBefore.filter((h) => !h.volume || h.volume === volume.name)) {
		await inStep(`command before (${hook.container})`, () => runHook(docker, hook), timings);
	}
	return { stopped, live };
}

export async function openVolumeArchive(
	docker: Dockerode,
	volume: VolumeInfo,
	options: ArchiveOptions,
	timings: Record<string, number>,
	cleanups: Cleanup[],
): Promise<ArchiveSource> {
	let image = '';
	const { stopped, live } = await quiesceVolume(
		docker,
		volume,
		options,
		timings,
		cleanups,
		async (users) => {
			image = await inStep(
				'pick helper image',
				() => pickHelperImage(docker, options.helperImage, users),
				timings,
			);
		},
	);
	const helper = await inStep(
		'create helper container',
		() => createHelper(docker, image, [`${volume.name}:/src:ro`]),
		timings,
	);
	cleanups.push(async () => {
		await removeQuietly(helper);
		return undefined;
	});
	const tar = await inStep('read archive', () => readVolumeArchive(helper, '/src'), timings);
	return { tar, stopped, live };
}

export interface HostPathSource {
	name: string;
	paths: string[];
}

/** The paths to read, or an error saying why the set cannot be backed up; checked before anything runs. */
export function checkHostPaths(source: HostPathSource): string[] {
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
	return paths;
}

export async function openHostPathArchive(
	ssh: SshSession,
	paths: string[],
	timings: Record<string, number>,
): Promise<ArchiveSource> {
	const rel = paths.map((p) => `'${p.replace(/^\/+/, '')}'`).join(' ');
	const { stdout, exit } = await inStep(
		'read host paths',
		() => ssh.execStream(`tar -cf - --numeric-owner -C / -- ${rel}`),
		timings,
	);
	return { tar: stdout, exited: exit, stopped: [], live: [] };
}
