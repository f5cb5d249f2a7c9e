import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { getContainer } from '../lxc';
import { nodeProperty, target, vmidProperty, pveClientOf } from './common';

export const description: INodeProperties[] = [];

export const targetProperties: INodeProperties[] = [
	nodeProperty(['get', 'create', 'updateConfig', 'power', 'snapshot', 'delete', 'clone']),
	vmidProperty(['get', 'create', 'updateConfig', 'power', 'snapshot', 'delete', 'clone']),
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	const pve = pveClientOf(this);
	return await itemsFrom(this, async (i) => {
		const client = await pve();
		const { node, vmid } = target(this, i);
		const details = await getContainer(client, node, vmid);
		return {
			json: { ...details, hostname: details.config.hostname ?? null } as unknown as IDataObject,
		};
	});
}
