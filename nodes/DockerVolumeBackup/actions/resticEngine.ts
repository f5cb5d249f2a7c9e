/**
 * The Restic Repository engine of each operation: parameters in, resticOps.ts call, findings out.
 * One file for the five (hence over ~350 lines): each is the Restic branch of the archive engine's own
 * operation file (which routes here, so the operation's parameters stay in one place); the domain work
 * is in resticOps.ts and resticRestore.ts.
 */
import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { s3ConnectionFrom, sshConnectionFrom } from '../../shared/connections';
import { knownHostsLine } from '../../shared/ssh';
import { errorMessage, InfraOpsError } from '../../shared/errors';
import type { NewFinding } from '../../shared/findings';
import { itemsFrom } from '../../shared/items';
import { splitList } from '../../shared/lists';
import { lockWaitMs } from '../../shared/nodeLocks';
import { selectVolumes, type VolumeInfo } from '../dockerVolumes';
import { StepError } from '../errors';
import {
	DEFAULT_RESTIC_IMAGE,
	ensureResticImage,
	ResticError,
	resticRepository,
	sftpRepository,
	type ResticSetup,
} from '../restic';
import {
	resticBackupVolume,
	resticForget,
	resticVerify,
	type ResticBackupResult,
} from '../resticOps';
import { resticBackupHostPaths } from '../resticHost';
import { resticRestoreVolume, resticSnapshots } from '../resticRestore';
import { hooks, volumeSelector } from './backup.operation';
import { bytesText, openDocker, openSshSession } from './common';
import { resticOnly } from './engine';
import { LockedError, lockedFinding, withVolumeLock } from './lock';

const forOps = (ops: string[]) => ({ show: { operation: ops, ...resticOnly } });

export const description: INodeProperties[] = [
	{
		displayName: 'Restic Image',
		name: 'resticImage',
		type: 'string',
		default: DEFAULT_RESTIC_IMAGE,
		description:
			'Image of the helper container restic runs in (its binary at /usr/bin/restic); pulled only when the Docker host lacks it. Pin a version.',
		displayOptions: forOps(['backup', 'restore', 'list', 'prune', 'verify']),
	},
	{
		displayName: 'Restic Network',
		name: 'resticNetwork',
		type: 'string',
		default: '',
		placeholder: 'bridge',
		description:
			"Docker network of restic's helper container, which must reach the S3 endpoint; empty: the engine's default",
		displayOptions: forOps(['backup', 'restore', 'list', 'prune', 'verify']),
	},
	{
		displayName: 'Restic Timeout (Minutes)',
		name: 'resticTimeoutMin',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 360,
		description: 'Per restic command; a run still going then is stopped and reported as an error',
		displayOptions: forOps(['backup', 'restore', 'list', 'prune', 'verify']),
	},
	{
		displayName: 'Snapshot ID',
		name: 'snapshotId',
		type: 'string',
		default: '',
		description: "Empty restores the volume's latest snapshot",
		displayOptions: forOps(['restore']),
	},
	{
		displayName: 'Read Data (%)',
		name: 'readDataPercent',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 100 },
		default: 5,
		description:
			'Share of the pack files restic check downloads and verifies (--read-data-subset); 0 checks the structure only',
		displayOptions: forOps(['verify']),
	},
	{
		displayName: 'Drill Time Limit (Minutes)',
		name: 'verifyTimeLimitMin',
		type: 'number',
		typeOptions: { minValue: 0.1, numberPrecision: 2 },
		default: 10,
		description:
			'Bound on the repository check, and then on each volume: restic 0.14 retries a pack missing from the bucket for many minutes, so a run still going then is stopped and the volume reported critical',
		displayOptions: forOps(['verify']),
	},
	{
		displayName: 'Helper Image for Reading Volumes',
		name: 'readerImage',
		type: 'string',
		default: '',
		description:
			'Image of the helper containers that read a restored volume back for the comparison and, for Replace, copy and swap the content (needs /bin/sh, mkdir and mv, e.g. busybox); empty: the Restic Image',
		displayOptions: forOps(['restore', 'verify']),
	},
];

async function setupFor(
	ctx: IExecuteFunctions,
	itemIndex: number,
): Promise<{ setup: ResticSetup; close(): void }> {
	const cred = await ctx.getCredentials('infraOpsResticRepositoryApi').catch(() => {
		throw new InfraOpsError(
			'The Restic Repository engine needs a Restic Repository credential',
			'Attach one to the node (its password and the path in the S3 bucket)',
		);
	});
	const fields = {
		path: String(cred.path ?? ''),
		password: String(cred.password ?? ''),
		caPem: String(cred.caPem ?? ''),
	};
	let repo;
	if (cred.repositoryType === 'sftp') {
		const data = await ctx.getCredentials('infraOpsSshApi').catch(() => {
			throw new InfraOpsError(
				'An sftp restic repository needs the SSH credential of its host',
				'Attach an SSH (Infra Ops) credential with a private key to the node',
			);
		});
		const ssh = sshConnectionFrom(data);
		repo = sftpRepository(ssh, await knownHostsLine(ssh), fields);
	} else {
		repo = resticRepository(s3ConnectionFrom(await ctx.getCredentials('infraOpsS3Api')), fields);
	}
	const docker = await openDocker(ctx);
	const setup: ResticSetup = {
		docker: docker.docker,
		repo,
		image: (ctx.getNodeParameter('resticImage', itemIndex, '') as string) || DEFAULT_RESTIC_IMAGE,
		networkMode: (ctx.getNodeParameter('resticNetwork', itemIndex, '') as string) || undefined,
		timeoutMs: Number(ctx.getNodeParameter('resticTimeoutMin', itemIndex, 360)) * 60_000,
		lockWaitMs: lockWaitMs(ctx, itemIndex),
	};
	// pulled only when the Docker host lacks it, before any operation starts
	await ensureResticImage(setup).catch((error: unknown) => {
		docker.close();
		return Promise.reject(error);
	});
	return { setup, close: () => docker.close() };
}

function readerImage(ctx: IExecuteFunctions, itemIndex: number, setup: ResticSetup): string {
	return (ctx.getNodeParameter('readerImage', itemIndex, '') as string) || setup.image;
}

function lockedByRestic(check: string, target: string, error: ResticError): NewFinding {
	return {
		check,
		target,
		status: 'warning',
		summary: `${error.message}: ${target} not processed; nothing was changed`,
		volume: target,
		hint: error.hint,
	};
}

/** restic's lock error, also when a step wraps it. */
function lockError(error: unknown): ResticError | undefined {
	const inner = error instanceof StepError ? error.cause : error;
	return inner instanceof ResticError && inner.kind === 'locked' ? inner : undefined;
}

/** The warning for a repository locked by another run, or undefined for any other failure. */
function lockedFindingOf(check: string, target: string, error: unknown): NewFinding | undefined {
	const locked = lockError(error);
	return locked && lockedByRestic(check, target, locked);
}

function failed(check: string, target: string, what: string, error: unknown): NewFinding {
	const locked = lockError(error);
	if (locked) return lockedByRestic(check, target, locked);
	const step = error instanceof StepError ? error : undefined;
	return {
		check,
		target,
		status: 'error',
		summary: `${what} of ${target} failed: ${errorMessage(error)}`,
		volume: target,
		failedStep: step?.step,
		hint: error instanceof InfraOpsError ? error.hint : undefined,
	};
}

function backupFinding(r: ResticBackupResult): NewFinding {
	return {
		check: 'volume-backup',
		target: r.volume,
		status: r.warnings.length ? 'warning' : 'ok',
		summary: `Backed up ${r.volume} with restic: ${r.filesNew} new, ${r.filesChanged} changed, ${r.filesUnmodified} unmodified files, ${bytesText(r.dataAdded)} added to the repository, snapshot ${r.snapshotId} in ${(r.durationMs / 1000).toFixed(1)} s${r.warnings.length ? ` (${r.warnings.join('; ')})` : ''}`,
		engine: 'restic',
		...r,
	} as NewFinding;
}

export async function backup(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async (itemIndex) => {
		const options = this.getNodeParameter('options', itemIndex, {}) as IDataObject;
		const { setup, close } = await setupFor(this, itemIndex);
		const findings: NewFinding[] = [];
		try {
			const volumes: VolumeInfo[] = await selectVolumes(
				setup.docker,
				volumeSelector(this, itemIndex),
			);
			const backupOptions = {
				stopMode: this.getNodeParameter('stopContainers', itemIndex) as 'label' | 'all' | 'never',
				stopTimeoutS: options.stopTimeoutS !== undefined ? Number(options.stopTimeoutS) : undefined,
				hooksBefore: hooks(options.hooksBefore),
				hooksAfter: hooks(options.hooksAfter),
			};
			const locking = { docker: setup.docker, ctx: this, itemIndex, helperImage: setup.image };
			for (const volume of volumes) {
				try {
					const notes: string[] = [];
					const result = await withVolumeLock(
						locking,
						volume.name,
						() => resticBackupVolume(setup, volume, backupOptions),
						notes,
					);
					result.warnings.push(...notes);
					findings.push(backupFinding(result));
				} catch (error) {
					findings.push(
						error instanceof LockedError
							? lockedFinding('volume-backup', volume.name, error, 'not backed up')
							: failed('volume-backup', volume.name, 'Backup', error),
					);
				}
			}
			if (this.getNodeParameter('hostPathsEnabled', itemIndex, false) as boolean) {
				const name = this.getNodeParameter('hostPathsName', itemIndex) as string;
				const ssh = await openSshSession(this).catch((error: unknown) => error as Error);
				if (ssh instanceof Error) findings.push(failed('volume-backup', name, 'Backup', ssh));
				else {
					try {
						const r = await resticBackupHostPaths(ssh, setup.repo, {
							name,
							paths: splitList(this.getNodeParameter('hostPaths', itemIndex) as string),
						});
						findings.push({
							check: 'volume-backup',
							target: name,
							status: r.warnings.length ? 'warning' : 'ok',
							summary: `Backed up ${name} (${r.paths.join(', ')} on ${r.host}) with restic there: ${r.filesNew} new, ${r.filesChanged} changed, ${r.filesUnmodified} unmodified files, ${bytesText(r.dataAdded)} added, snapshot ${r.snapshotId}`,
							engine: 'restic',
							volume: name,
							sourceKind: 'host-path',
							...r,
						});
					} catch (error) {
						findings.push(failed('volume-backup', name, 'Backup', error));
					} finally {
						ssh.close();
					}
				}
			}
			if (!findings.length)
				findings.push({
					check: 'volume-backup',
					target: 'restic',
					status: 'warning',
					summary: 'No volume matched the selection: nothing was backed up',
					volume: '',
				});
		} finally {
			close();
		}
		return findings;
	});
}

export async function list(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async (itemIndex) => {
		const { setup, close } = await setupFor(this, itemIndex);
		try {
			const wanted = splitList(this.getNodeParameter('volumes', itemIndex, '') as string);
			const limit = this.getNodeParameter('limit', itemIndex, 50) as number;
			const snapshots = (await resticSnapshots(setup)).filter(
				(s) => !wanted.length || wanted.includes(s.volume),
			);
			const now = Date.now();
			const volumes = wanted.length ? wanted : [...new Set(snapshots.map((s) => s.volume))];
			const json = volumes.flatMap((volume) =>
				snapshots
					.filter((s) => s.volume === volume)
					.reverse()
					.slice(0, limit)
					.map((s) => ({
						engine: 'restic',
						volume,
						snapshotId: s.id,
						shortId: s.shortId,
						createdAt: s.time,
						ageHours: Math.round((now - Date.parse(s.time)) / 360_000) / 10,
					})),
			);
			return { json };
		} finally {
			close();
		}
	});
}

export async function restore(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async (itemIndex) => {
		if (this.getNodeParameter('hostPathsEnabled', itemIndex, false) as boolean)
			throw new InfraOpsError('Host path backups are restored by the Archive engine only');
		const { setup, close } = await setupFor(this, itemIndex);
		const volume = this.getNodeParameter('volume', itemIndex) as string;
		const targetVolume =
			(this.getNodeParameter('targetVolume', itemIndex, '') as string) || undefined;
		const into = targetVolume ?? volume;
		try {
			const notes: string[] = [];
			const result = await withVolumeLock(
				{ docker: setup.docker, ctx: this, itemIndex, helperImage: setup.image },
				into,
				() =>
					resticRestoreVolume(setup, {
						volume,
						targetVolume,
						snapshotId: (this.getNodeParameter('snapshotId', itemIndex, '') as string) || undefined,
						helperImage: readerImage(this, itemIndex, setup),
						replace: this.getNodeParameter('replace', itemIndex, false) as boolean,
						stopTimeoutS: this.getNodeParameter('stopTimeoutS', itemIndex, 30) as number,
					}),
				notes,
			).catch((error: unknown) => {
				const finding =
					error instanceof LockedError
						? lockedFinding('volume-restore', into, error, 'not restored')
						: lockedFindingOf('volume-restore', into, error);
				return finding ? { locked: finding } : Promise.reject(error);
			});
			if ('locked' in result) return [result.locked];
			result.warnings.push(...notes);
			return [
				{
					check: 'volume-restore',
					target: result.targetVolume,
					status: result.warnings.length ? 'warning' : 'ok',
					summary: `Restored restic snapshot ${result.snapshotId.slice(0, 8)} (${result.snapshotTime}) of ${volume} into ${result.targetVolume}: ${result.files} files, ${bytesText(result.fileBytes)}${result.warnings.length ? ` (${result.warnings.join('; ')})` : ''}`,
					engine: 'restic',
					...result,
				},
			];
		} finally {
			close();
		}
	});
}

export async function prune(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async (itemIndex) => {
		const input = this.getInputData()[itemIndex]?.json ?? {};
		if (
			(this.getNodeParameter('skipFailed', itemIndex, true) as boolean) &&
			input.check === 'volume-backup' &&
			input.status === 'error'
		)
			return [];
		const { setup, close } = await setupFor(this, itemIndex);
		const findings: NewFinding[] = [];
		try {
			let volumes = splitList(this.getNodeParameter('volumes', itemIndex, '') as string);
			if (!volumes.length)
				volumes = [...new Set((await resticSnapshots(setup)).map((s) => s.volume))];
			const policy = {
				keepLast: this.getNodeParameter('keepLast', itemIndex, 7) as number,
				keepDaily: this.getNodeParameter('keepDaily', itemIndex, 7) as number,
				keepWeekly: this.getNodeParameter('keepWeekly', itemIndex, 4) as number,
				keepMonthly: this.getNodeParameter('keepMonthly', itemIndex, 6) as number,
			};
			const dryRun = this.getNodeParameter('dryRun', itemIndex, false) as boolean;
			for (const volume of volumes) {
				try {
					const r = await resticForget(setup, volume, policy, dryRun);
					findings.push({
						check: 'volume-prune',
						target: volume,
						status: 'ok',
						summary: `${dryRun ? 'Would forget' : 'Forgot'} ${r.removed.length} restic snapshot(s) of ${volume}, kept ${r.kept.length}${r.pruned ? '; unreferenced data pruned' : ''}`,
						engine: 'restic',
						...r,
					});
				} catch (error) {
					findings.push(failed('volume-prune', volume, 'Prune', error));
				}
			}
		} finally {
			close();
		}
		return findings;
	});
}

export async function verify(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async (itemIndex) => {
		const { setup, close } = await setupFor(this, itemIndex);
		try {
			let volumes = splitList(this.getNodeParameter('volumes', itemIndex, '') as string);
			if (!volumes.length)
				volumes = [...new Set((await resticSnapshots(setup)).map((s) => s.volume))];
			const outcome = await resticVerify(setup, volumes, {
				readDataPercent: this.getNodeParameter('readDataPercent', itemIndex, 5) as number,
				scratchRestore: this.getNodeParameter('scratchRestore', itemIndex, false) as boolean,
				helperImage: readerImage(this, itemIndex, setup),
				timeLimitMs: Number(this.getNodeParameter('verifyTimeLimitMin', itemIndex, 10)) * 60_000,
			}).catch((error: unknown) => {
				const finding = lockedFindingOf('volume-verify', setup.repo.url, error);
				return finding ? { locked: finding } : Promise.reject(error);
			});
			if ('locked' in outcome) return [outcome.locked];
			return outcome.volumes.map(
				(r): NewFinding => ({
					check: 'volume-verify',
					target: r.volume,
					status: r.problems.length ? 'critical' : 'ok',
					summary: r.problems.length
						? `Restic verification of ${r.volume} failed: ${r.problems.join('; ')}`
						: `restic check passed (${r.readDataPercent} % of the data read)${r.scratch ? `; snapshot ${r.snapshotId?.slice(0, 8)} restored into a scratch volume: ${r.scratch.files} files, ${bytesText(r.scratch.fileBytes)}, as listed` : ''}`,
					engine: 'restic',
					...r,
				}),
			);
		} finally {
			close();
		}
	});
}
