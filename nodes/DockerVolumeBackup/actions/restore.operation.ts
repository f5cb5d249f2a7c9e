import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import type { NewFinding } from '../../shared/findings';
import { restoreVolume } from '../restore';
import { restoreHostPaths } from '../restoreHost';
import { LockedError, lockedFinding, orLocked, withVolumeLock } from './lock';
import {
	allowUnencryptedOption,
	allowUnsignedOption,
	bytesText,
	decryptKey,
	helperImageOption,
	openDocker,
	openSshSession,
	signingKey,
	stopTimeoutOption,
	storageTarget,
} from './common';
import { archiveOnly, isRestic } from './engine';
import * as restic from './resticEngine';

const show = { show: { operation: ['restore'] } };
const intoVolume = { show: { operation: ['restore'], hostPathsEnabled: [false] } };
const intoHostFolder = { show: { operation: ['restore'], hostPathsEnabled: [true] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Volume',
		name: 'volume',
		type: 'string',
		required: true,
		default: '',
		description:
			'The volume (or host path backup name, e.g. traefik-stack) whose backups to restore from: its folder under the prefix',
		displayOptions: show,
	},
	{
		displayName: 'Backup Key',
		name: 'backupKey',
		type: 'string',
		default: '',
		description: 'Object key of the backup; empty restores the latest complete one',
		displayOptions: { show: { ...show.show, ...archiveOnly } },
	},
	{
		displayName: 'Host Path Backup',
		name: 'hostPathsEnabled',
		type: 'boolean',
		default: false,
		description:
			'Whether this is a backup of host paths (made over SSH); it is unpacked into a folder on the SSH host',
		displayOptions: show,
	},
	{
		displayName: 'Restore Into Folder',
		name: 'hostFolder',
		type: 'string',
		required: true,
		default: '',
		placeholder: '/root/restore/traefik-stack',
		description:
			'A new or empty folder on the SSH host. Files land under it with their original paths (e.g. <folder>/opt/traefik-stack/...); live files are never overwritten.',
		displayOptions: intoHostFolder,
	},
	{
		displayName: 'Keep Setuid/Setgid Bits',
		name: 'keepSetid',
		type: 'boolean',
		default: false,
		description:
			'Whether restored files keep their setuid/setgid bits. Off: the bits are cleared (and the files listed) before the folder appears, as tar --no-same-permissions would.',
		displayOptions: intoHostFolder,
	},
	{
		displayName: 'Target Volume',
		name: 'targetVolume',
		type: 'string',
		default: '',
		description:
			'Empty restores into the same volume; a new name is created with the backed-up labels',
		displayOptions: intoVolume,
	},
	{
		displayName: 'Replace',
		name: 'replace',
		type: 'boolean',
		default: false,
		description:
			'Whether to replace the content of a non-empty target volume (otherwise the restore refuses). The backup is checked in a staging volume first; the live content is swapped only after that.',
		displayOptions: intoVolume,
	},
	{ ...allowUnencryptedOption, displayOptions: show },
	{ ...allowUnsignedOption, displayOptions: show },
	{ ...helperImageOption, displayOptions: intoVolume },
	{ ...stopTimeoutOption, displayOptions: intoVolume },
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	if (isRestic(this)) return await restic.restore.call(this);
	return await itemsFrom(this, async (i) => await executeItem.call(this, i));
}

async function executeItem(this: IExecuteFunctions, itemIndex: number): Promise<NewFinding[]> {
	const target = await storageTarget(this, itemIndex);
	try {
		const key = await decryptKey(this);
		const name = this.getNodeParameter('volume', itemIndex) as string;
		const backupKey = (this.getNodeParameter('backupKey', itemIndex, '') as string) || undefined;
		const allowUnencrypted = this.getNodeParameter('allowUnencrypted', itemIndex, false) as boolean;
		const trust = {
			allowUnencrypted,
			allowUnsigned: this.getNodeParameter('allowUnsigned', itemIndex, false) as boolean,
			signingKey: (await signingKey(this)).key,
		};
		if (this.getNodeParameter('hostPathsEnabled', itemIndex, false) as boolean) {
			const ssh = await openSshSession(this);
			try {
				const result = await restoreHostPaths(ssh, target, {
					name,
					key: backupKey,
					folder: this.getNodeParameter('hostFolder', itemIndex) as string,
					decryptKey: key,
					...trust,
					keepSetid: this.getNodeParameter('keepSetid', itemIndex, false) as boolean,
				});
				return [
					{
						check: 'volume-restore',
						target: `${result.host}:${result.folder}`,
						status: result.warnings.length ? 'warning' : 'ok',
						summary: `Restored ${result.key} into ${result.folder} on ${result.host}: ${result.entries} entries, ${bytesText(result.fileBytes)} (original paths: ${result.paths.join(', ')})${result.warnings.length ? `; ${result.warnings.join('; ')}` : ''}`,
						...result,
					},
				];
			} finally {
				ssh.close();
			}
		}
		const docker = await openDocker(this);
		try {
			const targetVolume =
				(this.getNodeParameter('targetVolume', itemIndex, '') as string) || undefined;
			const helperImage =
				(this.getNodeParameter('helperImage', itemIndex, '') as string) || undefined;
			const into = targetVolume ?? name;
			const lockNotes: string[] = [];
			const result = await orLocked(
				withVolumeLock(
					{ docker: docker.docker, ctx: this, itemIndex, helperImage },
					into,
					() =>
						restoreVolume(docker.docker, target, {
							volume: name,
							key: backupKey,
							targetVolume,
							replace: this.getNodeParameter('replace', itemIndex, false) as boolean,
							helperImage,
							decryptKey: key,
							...trust,
							stopTimeoutS: this.getNodeParameter('stopTimeoutS', itemIndex, 30) as number,
						}),
					lockNotes,
				),
			);
			if (result instanceof LockedError)
				return [lockedFinding('volume-restore', into, result, 'not restored')];
			result.warnings.push(...lockNotes);
			return [
				{
					check: 'volume-restore',
					target: result.targetVolume,
					status: result.warnings.length ? 'warning' : 'ok',
					summary: `Restored ${result.key} into ${result.targetVolume}: ${result.entries} entries, ${bytesText(result.fileBytes)}${result.warnings.length ? ` (${result.warnings.join('; ')})` : ''}`,
					...result,
				},
			];
		} finally {
			docker.close();
		}
	} finally {
		target.close();
	}
}
