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
				}),
		),
	]);
}
