import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { listContainers } from '../lxc';
import { perItem } from './common';

export const description: INodeProperties[] = [
	{
		displayName: 'Only Node',
		name: 'listNode',
		type: 'string',
		default: '',
		placeholder: 'pve',
		description: 'List the containers of this node only; empty lists the whole cluster',
		displayOptions: { show: { operation: ['list'] } },
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await perItem(this, async (i, client) => {
		const node = (this.getNodeParameter('listNode', i, '') as string).trim();
		return (await listContainers(client, { node: node || undefined })) as unknown as IDataObject[];
	});
}
