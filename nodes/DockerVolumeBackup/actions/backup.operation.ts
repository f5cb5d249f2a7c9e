import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { splitList } from '../../shared/lists';
import { errorMessage, InfraOpsError } from '../../shared/errors';
import { StepError } from '../errors';
import type { NewFinding } from '../../shared/findings';
import type { SshSession } from '../../shared/ssh';
import { selectVolumes, type ExecHook, type VolumeSelector } from '../dockerVolumes';
import {
	backupHostPaths,
	backupVolume,
	type BackupOptions,
	type BackupResult,
	type StopMode,
} from '../backup';
import type { CompressionChoice } from '../compression';
import { LockedError, lockedFinding, withVolumeLock } from './lock';
import { archiveOnly, isRestic } from './engine';
import * as restic from './resticEngine';
import {
	bytesText,
	encryptionSetting,
	helperImageOption,
	openDocker,
	openSshSession,
	signingKey,
	stopTimeoutOption,
	storageTarget,
} from './common';

const show = { show: { operation: ['backup'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Select Volumes By',
		name: 'selectBy',
		type: 'options',
		displayOptions: show,
		options: [
			{ name: 'Names', value: 'names' },
			{
				name: 'Prefix',
				value: 'prefix',
				description: 'E.g. localai_ for a compose project called localai',
			},
			{ name: 'Regular Expression', value: 'regex' },
			{ name: 'Label', value: 'label', description: 'Volumes with a label key, or key=value' },
		],
		default: 'prefix',
	},
	{
		displayName: 'Volume Names',
		name: 'volumeNames',
		type: 'string',
		default: '',
		placeholder: 'localai_n8n_storage, localai_qdrant_storage',
		description: 'Comma or newline separated',
		displayOptions: { show: { operation: ['backup'], selectBy: ['names'] } },
	},
	{
		displayName: 'Volume Prefix',
		name: 'volumePrefix',
		type: 'string',
		default: 'localai_',
		displayOptions: { show: { operation: ['backup'], selectBy: ['prefix'] } },
	},
	{
		displayName: 'Volume Pattern',
		name: 'volumeRegex',
		type: 'string',
		default: '',
		placeholder: '^localai_(n8n|qdrant)',
		displayOptions: { show: { operation: ['backup'], selectBy: ['regex'] } },
	},
	{
		displayName: 'Volume Label',
		name: 'volumeLabel',
		type: 'string',
		default: 'infra-ops.backup=true',
		displayOptions: { show: { operation: ['backup'], selectBy: ['label'] } },
	},
	{
		displayName: 'Encryption',
		name: 'encryption',
		type: 'options',
		displayOptions: { show: { ...show.show, ...archiveOnly } },
		options: [
			{
				name: 'Age Recipients (Public Keys)',
				value: 'recipients',
				description: 'Only the public key is needed to back up',
			},
			{ name: 'Age Passphrase', value: 'passphrase' },
			{
				name: 'None',
				value: 'none',
				description: 'Not recommended: the archive is stored in clear',
			},
		],
		default: 'recipients',
	},
	{
		displayName: 'Compression',
		name: 'compression',
		type: 'options',
		displayOptions: { show: { ...show.show, ...archiveOnly } },
		options: [
			{ name: 'Auto (Zstd, or Gzip on Older Node.js)', value: 'auto' },
			{ name: 'Zstd', value: 'zstd' },
			{ name: 'Gzip', value: 'gzip' },
			{ name: 'None', value: 'none' },
		],
		default: 'auto',
	},
	{
		displayName: 'Stop Containers',
		name: 'stopContainers',
		type: 'options',
		displayOptions: show,
		options: [
			{
				name: 'Labelled Only',
				value: 'label',
				description: 'Stop running users labelled infra-ops.backup.stop=true',
			},
			{ name: 'All Users of the Volume', value: 'all' },
			{
				name: 'Never (Live Backup)',
				value: 'never',
				description: 'A running user gives a warning',
			},
		],
		default: 'label',
		description: 'Containers stopped for the backup are restarted afterwards, also when it fails',
	},
	{
		displayName: 'Back Up Host Paths Over SSH',
		name: 'hostPathsEnabled',
		type: 'boolean',
		default: false,
		displayOptions: show,
		description:
			'Whether to also back up folders/files of the host, e.g. the Traefik config and .env (Restic engine: with restic installed on that host)',
	},
	{
		displayName: 'Host Paths Backup Name',
		name: 'hostPathsName',
		type: 'string',
		default: 'traefik-stack',
		displayOptions: { show: { operation: ['backup'], hostPathsEnabled: [true] } },
	},
	{
		displayName: 'Host Paths',
		name: 'hostPaths',
		type: 'string',
		default: '/opt/traefik-stack',
		description: 'Absolute paths, comma or newline separated',
		displayOptions: { show: { operation: ['backup'], hostPathsEnabled: [true] } },
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: show,
		options: [
			{
				displayName: 'Commands After',
				name: 'hooksAfter',
				type: 'fixedCollection',
				typeOptions: { multipleValues: true },
				default: {},
				options: [{ displayName: 'Command', name: 'hook', values: hookFields() }],
			},
			{
				displayName: 'Commands Before',
				name: 'hooksBefore',
				type: 'fixedCollection',
				typeOptions: { multipleValues: true },
				default: {},
				description:
					'Run in a running container after stopping users and before reading the volume, e.g. a database dump; a non-zero exit fails the backup',
				options: [{ displayName: 'Command', name: 'hook', values: hookFields() }],
			},
			{
				displayName: 'Compression Level',
				name: 'compressionLevel',
				type: 'number',
				default: 3,
				description: 'Zstd 1-19 (default 3), gzip 1-9',
			},
			helperImageOption,
			{
				displayName: 'Part Size (MiB)',
				name: 'partSizeMiB',
				type: 'number',
				default: 8,
				description:
					'Size of the first S3 multipart parts; it doubles every 2,000 parts (S3 allows 10,000), so 8 MiB reaches 484 GiB per backup. Memory use is about three parts of the current size.',
			},
			stopTimeoutOption,
		],
	},
];

function hookFields(): INodeProperties[] {
	return [
		{ displayName: 'Container', name: 'container', type: 'string', default: '' },
		{
			displayName: 'Command',
			name: 'command',
			type: 'string',
			default: '',
			placeholder: 'pg_dump -U postgres -f /var/lib/postgresql/data/dump.sql',
		},
		{
			displayName: 'Only for Volume',
			name: 'volume',
			type: 'string',
			default: '',
			description: 'Empty: before/after every volume',
		},
	];
}

export function hooks(value: unknown): ExecHook[] {
	const list = ((value as { hook?: IDataObject[] } | undefined)?.hook ?? []) as IDataObject[];
	return list
		.map((h) => ({
			container: String(h.container ?? '').trim(),
			command: String(h.command ?? ''),
			volume: String(h.volume ?? '').trim() || undefined,
		}))
		.filter((h) => h.container && h.command.trim());
}

function finding(result: BackupResult): NewFinding {
	const m = result.manifest;
	const status = result.warnings.length ? 'warning' : 'ok';
	return {
		check: 'volume-backup',
		target: result.volume,
		status,
		summary: `Backed up ${result.volume}: ${m.tar.files} files, ${bytesText(m.tar.fileBytes)} → ${bytesText(m.stored.bytes)} stored in ${(m.durationsMs.total / 1000).toFixed(1)} s${sparseNote(result.sparse)}${result.warnings.length ? ` (${result.warnings.join('; ')})` : ''}`,
		volume: result.volume,
		sourceKind: m.sourceKind,
		key: result.key,
		sizeBytes: m.stored.bytes,
		tarBytes: m.tar.bytes,
		files: m.tar.files,
		durationMs: m.durationsMs.total,
		compression: m.compression,
		encryption: m.encryption.kind,
		containersStopped: m.containersStopped,
		warnings: result.warnings,
		...(result.sparse && (result.sparse.sparseEntries || result.sparse.zeroFilledFiles)
			? { sparse: { ...result.sparse } }
			: {}),
	};
}

/** Not a warning: nothing is lost, but holes cost their full size to read and come back allocated. */
function sparseNote(sparse: BackupResult['sparse']): string {
	if (!sparse) return '';
	const notes: string[] = [];
	if (sparse.sparseEntries)
		notes.push(
			`${sparse.sparseEntries} sparse file(s), ${bytesText(sparse.sparseApparentBytes)} apparent, ${bytesText(sparse.sparseStoredBytes)} stored`,
		);
	if (sparse.zeroFilledFiles) {
		notes.push(
			`${sparse.zeroFilledFiles} file(s) of ${bytesText(sparse.zeroFilledApparentBytes)} holding ${bytesText(sparse.zeroFilledZeroBytes)} of zero blocks (sparse files' holes arrive as zeros: read in full, restored fully allocated)`,
		);
	}
	return notes.length ? `; ${notes.join('; ')}` : '';
}

function failure(volume: string, error: unknown): NewFinding {
	const step = error instanceof StepError ? error : undefined;
	return {
		check: 'volume-backup',
		target: volume,
		status: 'error',
		summary: `Backup of ${volume} failed: ${errorMessage(error)}`,
		volume,
		failedStep: step?.step ?? 'backup',
		hint: error instanceof InfraOpsError ? error.hint : undefined,
		multipartUploadId: step?.uploadId,
		multipartUploadAborted: step?.uploadAborted,
	};
}

export function volumeSelector(ctx: IExecuteFunctions, itemIndex: number): VolumeSelector {
	const selectBy = ctx.getNodeParameter('selectBy', itemIndex) as VolumeSelector['mode'];
	return {
		mode: selectBy,
		names:
			selectBy === 'names'
				? splitList(ctx.getNodeParameter('volumeNames', itemIndex, '') as string)
				: undefined,
		prefix:
			selectBy === 'prefix'
				? (ctx.getNodeParameter('volumePrefix', itemIndex, '') as string)
				: undefined,
		regex:
			selectBy === 'regex'
				? (ctx.getNodeParameter('volumeRegex', itemIndex, '') as string)
				: undefined,
		label:
			selectBy === 'label'
				? (ctx.getNodeParameter('volumeLabel', itemIndex, '') as string)
				: undefined,
	};
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	if (isRestic(this)) return await restic.backup.call(this);
	return await itemsFrom(this, async (i) => await executeItem.call(this, i));
}

async function executeItem(this: IExecuteFunctions, itemIndex: number): Promise<NewFinding[]> {
	const selector = volumeSelector(this, itemIndex);
	const options = this.getNodeParameter('options', itemIndex, {}) as IDataObject;
	const signing = await signingKey(this);
	// a broken identity must not quietly turn signing off: Prune would then count planted backups
	if (signing.problem)
		throw new InfraOpsError(
			`Cannot sign manifests: ${signing.problem}`,
			'Fix the identity in the Backup Encryption credential, or set a Manifest Signing Secret',
		);
	const backupOptions: BackupOptions = {
		signingKey: signing.key,
		compression: this.getNodeParameter('compression', itemIndex) as CompressionChoice,
		compressionLevel:
			options.compressionLevel !== undefined ? Number(options.compressionLevel) : undefined,
		encryption: await encryptionSetting(
			this,
			this.getNodeParameter('encryption', itemIndex) as string,
		),
		stopMode: this.getNodeParameter('stopContainers', itemIndex) as StopMode,
		helperImage: (options.helperImage as string) || undefined,
		stopTimeoutS: options.stopTimeoutS !== undefined ? Number(options.stopTimeoutS) : undefined,
		hooksBefore: hooks(options.hooksBefore),
		hooksAfter: hooks(options.hooksAfter),
		upload: options.partSizeMiB
			? { partSizeBytes: Math.max(5, Number(options.partSizeMiB)) * 1024 * 1024 }
			: undefined,
	};
	const hostPathsEnabled = this.getNodeParameter('hostPathsEnabled', itemIndex, false) as boolean;
	const target = await storageTarget(this, itemIndex);
	const docker = await openDocker(this).catch((error) => {
		target.close();
		throw error;
	});
	const findings: NewFinding[] = [];
	let ssh: SshSession | undefined;
	try {
		const volumes = await selectVolumes(docker.docker, selector);
		const locking = {
			docker: docker.docker,
			ctx: this,
			itemIndex,
			helperImage: backupOptions.helperImage,
		};
		for (const volume of volumes) {
			try {
				const lockNotes: string[] = [];
				const result = await withVolumeLock(
					locking,
					volume.name,
					() => backupVolume(docker.docker, target, volume, backupOptions),
					lockNotes,
				);
				// a lock lost mid-run (its lease ran out and another run took it) makes the backup doubtful
				result.warnings.push(...lockNotes);
				findings.push(finding(result));
			} catch (error) {
				findings.push(
					error instanceof LockedError
						? lockedFinding('volume-backup', volume.name, error, 'not backed up')
						: failure(volume.name, error),
				);
			}
		}
		if (hostPathsEnabled) {
			const name = this.getNodeParameter('hostPathsName', itemIndex) as string;
			try {
				ssh = await openSshSession(this);
				findings.push(
					finding(
						await backupHostPaths(
							ssh,
							target,
							{ name, paths: splitList(this.getNodeParameter('hostPaths', itemIndex) as string) },
							backupOptions,
						),
					),
				);
			} catch (error) {
				findings.push(failure(name, error));
			}
		}
		if (!findings.length) {
			findings.push({
				check: 'volume-backup',
				target: JSON.stringify(selector),
				status: 'warning',
				summary: 'No volume matched the selection: nothing was backed up',
				volume: '',
			});
		}
	} finally {
		ssh?.close();
		docker.close();
		target.close();
	}
	return findings;
}
