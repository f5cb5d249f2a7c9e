import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { listContainers } from '../lxc';
import { pveClientOf } from './common';

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
	const pve = pveClientOf(this);
	return await itemsFrom(this, async (i) => {
		const client = await pve();
		const node = (this.getNodeParameter('listNode', i, '') as string).trim();
		return {
			json: (await listContainers(client, { node: node || undefined })) as unknown as IDataObject[],
		};
	});
}
