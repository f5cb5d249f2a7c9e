import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { deleteContainer } from '../lxc';
import { target, pveClientOf } from './common';

const show = { show: { operation: ['delete'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Force',
		name: 'force',
		type: 'boolean',
		default: false,
		description:
			'Whether to destroy a running container too (PVE stops it first); off: a running container is refused',
		displayOptions: show,
	},
	{
		displayName: 'Purge',
		name: 'purge',
		type: 'boolean',
		default: true,
		description: 'Whether to also remove it from backup jobs, replication and HA',
		displayOptions: show,
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	const pve = pveClientOf(this);
	return await itemsFrom(this, async (i) => {
		const client = await pve();
		const { node, vmid } = target(this, i);
		const task = await deleteContainer(client, node, vmid, {
			force: this.getNodeParameter('force', i) as boolean,
			purge: this.getNodeParameter('purge', i) as boolean,
		});
		return { json: { vmid, node, deleted: true, task } as unknown as IDataObject };
	});
}
