import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { splitList } from '../../shared/lists';
import { auditBackups } from '../backups';
import { openStore, optionalSigningKey } from './common';

const show = { show: { operation: ['auditBackups'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Key Prefix',
		name: 'prefix',
		type: 'string',
		default: 'docker-volumes',
		description: 'The Key Prefix Docker Volume Backup writes to',
		displayOptions: show,
	},
	{
		displayName: 'Volumes',
		name: 'volumes',
		type: 'string',
		default: '',
		description: 'One per line or comma; empty checks every volume folder under the prefix',
		displayOptions: show,
	},
	{
		displayName: 'Max Age (Hours)',
		name: 'maxAgeHours',
		type: 'number',
		default: 26,
		description: 'The latest backup may be at most this old (a daily schedule plus slack)',
		displayOptions: show,
	},
	{
		displayName: 'Allow Unsigned Backups',
		name: 'allowUnsigned',
		type: 'boolean',
		default: false,
		description:
			'Whether an unsigned manifest may count as the latest backup although the Backup Encryption credential holds a signing key. Off: only backups this n8n signed count, so a planted object never passes for a fresh backup.',
		displayOptions: show,
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async (i) => {
		const store = await openStore(this, i, this.getNodeParameter('prefix', i, '') as string);
		try {
			return await auditBackups(store, {
				volumes: splitList(this.getNodeParameter('volumes', i, '')),
				maxAgeHours: this.getNodeParameter('maxAgeHours', i, 26) as number,
				signingKey: await optionalSigningKey(this, i),
				allowUnsigned: this.getNodeParameter('allowUnsigned', i, false) as boolean,
			});
		} finally {
			store.close();
		}
	});
}
