/** Backup and Restore hold the volume's lock (a never-started container named infra-ops-lock-<volume>)
 * for the whole operation, so two runs (the schedule and "Run now") never work on one volume at once. */
import type Dockerode from 'dockerode';
import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import type { NewFinding } from '../../shared/findings';
import { acquireLocks, DockerLock, LockedError } from '../../shared/locks';
import { lockOwnerOf, lockWaitMs } from '../../shared/nodeLocks';

export const lockWaitProperty: INodeProperties = {
	displayName: 'Lock Wait (Seconds)',
	name: 'lockWaitS',
	type: 'number',
	typeOptions: { minValue: 0 },
	default: 60,
	description:
		'How long to wait when another run holds the volume\'s lock; then the volume is reported as a warning ("locked by execution …") and left untouched',
	displayOptions: { show: { operation: ['backup', 'restore'] } },
};

export interface VolumeLocking {
	docker: Dockerode;
	ctx: IExecuteFunctions;
	itemIndex: number;
	helperImage?: string;
}

/** Runs `fn` holding the lock of `volume`; a LockedError means it never ran. Lock notes go to `notes`. */
export async function withVolumeLock<T>(
	locking: VolumeLocking,
	volume: string,
	fn: () => Promise<T>,
	notes: string[] = [],
): Promise<T> {
	const held = await acquireLocks(
		[new DockerLock(locking.docker, volume, locking.helperImage)],
		lockOwnerOf(locking.ctx),
		{
			waitMs: lockWaitMs(locking.ctx, locking.itemIndex),
		},
	);
	try {
		return await fn();
	} finally {
		notes.push(...(await held.release()));
	}
}

/** The result, or the LockedError that kept `fn` from running; any other failure stays a rejection. */
export async function orLocked<T>(promise: Promise<T>): Promise<T | LockedError> {
	return await promise.catch((error: unknown) =>
		error instanceof LockedError ? error : Promise.reject(error),
	);
}

export function lockedFinding(
	check: string,
	volume: string,
	error: LockedError,
	what: string,
): NewFinding {
	return {
		check,
		target: volume,
		status: 'warning',
		summary: `${error.message}: ${volume} ${what}; nothing was changed`,
		volume,
		lockedBy: error.holder ? { ...error.holder, token: undefined } : undefined,
		lock: error.lockKey,
		hint: error.hint,
	};
}

export { LockedError };
