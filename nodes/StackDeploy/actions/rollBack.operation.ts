import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { rollBack } from '../stackDeploy';
import { onHost, targetOf } from './common';

export const description: INodeProperties[] = [
	{
		displayName: 'Commit',
		name: 'rollBackCommit',
		type: 'string',
		default: '',
		description:
			'Empty goes back to the commit the last Deploy replaced (remembered on the host); or a full commit id the clone has',
		displayOptions: { show: { operation: ['rollBack'] } },
	},
	{
		displayName: 'Only If At Commit',
		name: 'onlyIfAt',
		type: 'string',
		default: '',
		description:
			'Roll back only while the folder is still at this commit (the one the failed deploy checked out), so a newer deploy since then is not undone; empty rolls back whatever is checked out',
		displayOptions: { show: { operation: ['rollBack'] } },
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async (i) => [
		await onHost(
			this,
			i,
			async (session) =>
				await rollBack(session, {
					...targetOf(this, i),
					commit: this.getNodeParameter('rollBackCommit', i, '') as string,
					onlyIfAt: this.getNodeParameter('onlyIfAt', i, '') as string,
				}),
		),
	]);
}
