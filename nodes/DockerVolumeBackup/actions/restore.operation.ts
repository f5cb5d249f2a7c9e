import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { restoreVolume } from '../engine';
import { bytesText, decryptKey, findingItems, helperImageOption, openDocker, stopTimeoutOption, storageTarget } from './common';

const show = { show: { operation: ['restore'] } };

export const description: INodeProperties[] = [
	{ displayName: 'Volume', name: 'volume', type: 'string', required: true, default: '', description: 'The volume whose backups to restore from (its folder under the prefix)', displayOptions: show },
	{ displayName: 'Backup Key', name: 'backupKey', type: 'string', default: '', description: 'Object key of the backup; empty restores the latest complete one', displayOptions: show },
	{ displayName: 'Target Volume', name: 'targetVolume', type: 'string', default: '', description: 'Empty restores into the same volume; a new name is created with the backed-up labels', displayOptions: show },
	{ displayName: 'Replace', name: 'replace', type: 'boolean', default: false, description: 'Whether to empty a non-empty target volume first (otherwise the restore refuses)', displayOptions: show },
	{ ...helperImageOption, displayOptions: show },
	{ ...stopTimeoutOption, displayOptions: show },
];

export async function execute(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData[]> {
	const target = await storageTarget(this, itemIndex);
	try {
		const key = await decryptKey(this);
		const docker = await openDocker(this);
		try {
			const result = await restoreVolume(docker.docker, target, {
				volume: this.getNodeParameter('volume', itemIndex) as string,
				key: (this.getNodeParameter('backupKey', itemIndex, '') as string) || undefined,
				targetVolume: (this.getNodeParameter('targetVolume', itemIndex, '') as string) || undefined,
				replace: this.getNodeParameter('replace', itemIndex, false) as boolean,
				helperImage: (this.getNodeParameter('helperImage', itemIndex, '') as string) || undefined,
				decryptKey: key,
				stopTimeoutS: this.getNodeParameter('stopTimeoutS', itemIndex, 30) as number,
			});
			return findingItems(
				this,
				[
					{
						check: 'volume-restore',
						target: result.targetVolume,
						status: result.warnings.length ? 'warning' : 'ok',
						summary: `Restored ${result.key} into ${result.targetVolume}: ${result.entries} entries, ${bytesText(result.fileBytes)}${result.warnings.length ? ` (${result.warnings.join('; ')})` : ''}`,
						...result,
					},
				],
				itemIndex,
			);
		} finally {
			docker.close();
		}
	} finally {
		target.close();
	}
}
