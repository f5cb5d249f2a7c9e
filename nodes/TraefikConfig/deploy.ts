/**
 * Deploys one dynamic file over SSH: validate with the rest of the folder (an invalid file is never
 * written), keep the previous version outside the watched folder, replace atomically (temp file with
 * a non-config extension + rename, so Traefik's watcher never reads half a file), then, with API
 * access, wait until Traefik serves what the file says, and put the previous version back if not.
 * A run is four phases: plan (deployPlan.ts) → write (here) → verify-or-rollback (deployVerify.ts)
 * → summarize (here). No n8n import.
 */
import { posix } from 'node:path';

import { InfraOpsError } from '../shared/errors';
import type { SshSession } from '../shared/ssh';
import {
	checkFileName,
	checkFolder,
	keepPrevious,
	listBackups,
	MAX_FILE_BYTES,
	putBack,
	type Folder,
} from './deployFolder';
import { LOCK_MARGIN_MS, withFolderLock } from './deployLock';
import {
	planDeploy,
	rejectChangeSet,
	type DeployOutcome,
	type DeployPlan,
	type FileChange,
} from './deployPlan';
import {
	rollBackUnserved,
	verifyWritten,
	type Verification,
	type VerifyOptions,
} from './deployVerify';
import {
	checkGitOps,
	gitOpsRefusal,
	readGitOpsState,
	writeGitOpsState,
	type GitOpsCheck,
} from './gitopsState';

// the deploy API the actions and tests know, wherever each part now lives
export { checkFileName, checkFolder, listBackups, readFolder, type Folder } from './deployFolder';
export { redactDiff, type DeployOutcome, type FileChange } from './deployPlan';
export { verifyLoaded, type Verification, type VerifyOptions } from './deployVerify';

export interface DeployOptions {
	behindProxy?: boolean;
	verify?: VerifyOptions;
	dryRun?: boolean;
	now?: Date;
	label?: string;
	/** How long to wait for another deploy to the same folder (a push during a scheduled run). */
	lockWaitMs?: number;
	/** Who deploys, shown to a run that finds the folder locked (e.g. "n8n execution 42"). */
	lockOwner?: string;
	/** Where the files come from in git: a replayed delivery or an older commit is refused. */
	gitops?: GitOpsCheck;
}

/**
 * Deploys a set of files as one change: validated together with the rest of the folder, written
 * only if all are valid, verified together, and all put back if Traefik does not serve them.
 */
export async function deployFiles(
	session: SshSession,
	folderIn: Folder,
	changesIn: FileChange[],
	options: DeployOptions = {},
): Promise<DeployOutcome[]> {
	const folder = checkFolder(folderIn);
	// checked before anything is written: verification runs only after the write
	const timeoutMs = options.verify?.timeoutMs;
	if (
		timeoutMs !== undefined &&
		(!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > 3_600_000)
	) {
		throw new InfraOpsError(
			`The verification timeout ${String(timeoutMs)} ms is not between 1 ms and 1 hour`,
			'Set "Verify Timeout (Seconds)" to a number of seconds, e.g. 30',
		);
	}
	const gitops = checkGitOps(options.gitops);
	if (options.dryRun) {
		const refusal = gitops
			? await gitOpsRefusal(session, await readGitOpsState(session, folder.backupDir), gitops)
			: undefined;
		return refusal
			? refusedOutcomes(folder, changesIn, refusal)
			: await deployUnlocked(session, folder, changesIn, options);
	}
	// Every file may wait the whole timeout (4 side by side), then again for its restored version
	const rounds = Math.ceil(Math.max(1, changesIn.length) / 4);
	const leaseMs = 2 * rounds * (timeoutMs ?? 0) + LOCK_MARGIN_MS;
	const lock = {
		waitMs: options.lockWaitMs ?? 120_000,
		leaseMs,
		owner: options.lockOwner,
		target: folder.dynamicDir,
	};
	return await withFolderLock(session, folder.backupDir, lock, async () => {
		if (!gitops) return await deployUnlocked(session, folder, changesIn, options);
		const state = await readGitOpsState(session, folder.backupDir);
		const refusal = await gitOpsRefusal(session, state, gitops);
		if (gitops.deliveryId && !state.deliveries.some((d) => d.id === gitops.deliveryId)) {
			// recorded before anything is written: a run that dies midway still makes its delivery a replay
			state.deliveries.push({ id: gitops.deliveryId, at: new Date().toISOString() });
			await writeGitOpsState(session, folder.backupDir, state);
		}
		if (refusal) return refusedOutcomes(folder, changesIn, refusal);
		const outcomes = await deployUnlocked(session, folder, changesIn, options);
		if (
			gitops.commit &&
			outcomes.every(
				(o) => o.status === 'ok' && (o.action === 'written' || o.action === 'unchanged'),
			)
		) {
			state.deployedCommit = gitops.commit;
			state.deployedAt = new Date().toISOString();
			await writeGitOpsState(session, folder.backupDir, state);
		}
		return outcomes;
	});
}

function refusedOutcomes(folder: Folder, changes: FileChange[], refusal: string): DeployOutcome[] {
	return changes.map((c) => {
		const file = c.fileName.trim();
		return {
			file,
			path: posix.join(folder.dynamicDir, file),
			status: 'warning',
			action: 'refused',
			summary: `${file} not deployed: ${refusal}`,
			diff: '',
			problems: [],
		};
	});
}

async function deployUnlocked(
	session: SshSession,
	folder: Folder,
	changesIn: FileChange[],
	options: DeployOptions,
): Promise<DeployOutcome[]> {
	const label = options.label ?? 'deploy';
	const plan = await planDeploy(session, folder, changesIn, options.behindProxy);
	if (plan.stop.length > 0) return rejectChangeSet(plan);
	const { changes, olds, outcomes } = plan;
	const toWrite = changes.filter((c) => olds.get(c.fileName) !== c.content);
	for (const o of outcomes) {
		if (o.action === 'unchanged') o.summary = `${o.file} is already up to date on the Traefik host`;
	}
	if (options.dryRun || toWrite.length === 0) {
		for (const o of outcomes) {
			if (o.action !== 'unchanged') {
				o.action = 'dryRun';
				o.summary = `${o.file} is valid; dry run, nothing written`;
			}
		}
		return outcomes;
	}
	const written = await writeChanges(session, folder, plan, toWrite, options.now ?? new Date());
	const verifications = await verifyWritten(options.verify, toWrite);
	const failed = [...verifications.entries()].filter(([, v]) => v && !v.ok);
	if (failed.length > 0)
		return await rollBackUnserved(session, folder, plan, written, verifications, failed, {
			verify: options.verify,
			label,
		});
	return summarize(plan, written, verifications, Boolean(options.verify), label);
}

/** The write phase: each file's previous version kept, then the file replaced; a failure puts back what was written. */
async function writeChanges(
	session: SshSession,
	folder: Folder,
	plan: DeployPlan,
	toWrite: FileChange[],
	now: Date,
): Promise<string[]> {
	const { olds, outcomes } = plan;
	const written: string[] = [];
	try {
		// Files that define middlewares or services go first, so a router never points at nothing in between
		const ordered = [...toWrite].sort(
			(a, b) => Number(/\brouters:/.test(a.content)) - Number(/\brouters:/.test(b.content)),
		);
		for (const c of ordered) {
			const old = olds.get(c.fileName);
			const outcome = outcomes.find((o) => o.file === c.fileName)!;
			if (old !== undefined)
				outcome.backup = await keepPrevious(session, folder, c.fileName, old, now);
			await session.writeFileAtomic(outcome.path, c.content);
			written.push(c.fileName);
		}
	} catch (error) {
		await putBack(session, folder, written, olds);
		throw error;
	}
	return written;
}

function summarize(
	plan: DeployPlan,
	written: string[],
	verifications: Map<string, Verification | undefined>,
	verifying: boolean,
	label: string,
): DeployOutcome[] {
	for (const o of plan.outcomes) {
		if (!written.includes(o.file)) continue;
		const v = verifications.get(o.file);
		o.verification = v;
		const verified = v
			? `, served by Traefik after ${(v.waitedMs / 1000).toFixed(1)} s`
			: verifying
				? ''
				: ', not verified (no Traefik API credential)';
		o.summary = `${o.file} ${label === 'deploy' ? 'deployed' : 'restored'}${o.backup ? ` (previous version kept as ${posix.basename(o.backup)})` : ' (new file)'}${verified}`;
	}
	return plan.outcomes;
}

/** Restores a kept version (the newest that differs from the current file, unless one is named) with the same checks as a deploy. */
export async function rollbackFile(
	session: SshSession,
	folderIn: Folder,
	fileNameIn: string,
	options: {
		version?: string;
		behindProxy?: boolean;
		verify?: VerifyOptions;
		now?: Date;
		lockOwner?: string;
	} = {},
): Promise<DeployOutcome & { restoredFrom: string }> {
	const folder = checkFolder(folderIn);
	const fileName = checkFileName(fileNameIn);
	const backups = await listBackups(session, folder.backupDir, fileName);
	if (backups.length === 0)
		throw new InfraOpsError(
			`No kept version of ${fileName} in ${folder.backupDir}`,
			'Versions are kept by Deploy; check the backup folder setting',
		);
	const currentStat = await session.stat(posix.join(folder.dynamicDir, fileName));
	const current = currentStat
		? (await session.readFile(posix.join(folder.dynamicDir, fileName), MAX_FILE_BYTES)).toString(
				'utf8',
			)
		: undefined;
	let chosen: string | undefined;
	let text: string | undefined;
	if (options.version && options.version !== 'latest') {
		chosen = backups.find(
			(b) => b === options.version || b === `${fileName}.${options.version}.bak`,
		);
		if (!chosen)
			throw new InfraOpsError(
				`No kept version "${options.version}" of ${fileName}`,
				`Kept versions: ${backups.slice(0, 10).join(', ')}`,
			);
		text = (await session.readFile(posix.join(folder.backupDir, chosen), MAX_FILE_BYTES)).toString(
			'utf8',
		);
	} else {
		for (const b of backups) {
			const candidate = (
				await session.readFile(posix.join(folder.backupDir, b), MAX_FILE_BYTES)
			).toString('utf8');
			if (candidate !== current) {
				chosen = b;
				text = candidate;
				break;
			}
		}
		if (!chosen || text === undefined)
			throw new InfraOpsError(
				`Every kept version of ${fileName} equals the current file`,
				'Nothing to roll back to',
			);
	}
	const [outcome] = await deployFiles(session, folder, [{ fileName, content: text! }], {
		behindProxy: options.behindProxy,
		verify: options.verify,
		now: options.now,
		label: 'rollback',
		lockOwner: options.lockOwner,
	});
	return { ...outcome, restoredFrom: chosen };
}
