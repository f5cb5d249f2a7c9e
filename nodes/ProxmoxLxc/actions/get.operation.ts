import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { getContainer } from '../lxc';
import { nodeProperty, perItem, target, vmidProperty } from './common';

export const description: INodeProperties[] = [];

export const targetProperties: INodeProperties[] = [
	nodeProperty(['get', 'create', 'updateConfig', 'power', 'snapshot', 'delete', 'clone']),
	vmidProperty(['get', 'create', 'updateConfig', 'power', 'snapshot', 'delete', 'clone']),
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await perItem(this, async (i, client) => {
		const { node, vmid } = target(this, i);
		const details = await getContainer(client, node, vmid);
		return { ...details, hostname: details.config.hostname ?? null } as unknown as IDataObject;
	});
}
