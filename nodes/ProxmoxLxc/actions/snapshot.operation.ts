import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { createSnapshot, deleteSnapshot, listSnapshots, rollbackSnapshot } from '../lxc';
import { target, pveClientOf } from './common';

export const description: INodeProperties[] = [
	{
		displayName: 'Snapshot Action',
		name: 'snapshotAction',
		type: 'options',
		options: [
			{ name: 'Create', value: 'create' },
			{ name: 'Delete', value: 'delete' },
			{ name: 'List', value: 'list' },
			{ name: 'Rollback', value: 'rollback' },
		],
		default: 'create',
		displayOptions: { show: { operation: ['snapshot'] } },
	},
	{
		displayName: 'Snapshot Name',
		name: 'snapname',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'before_upgrade',
		description: '2-40 letters, digits, - and _, starting with a letter',
		displayOptions: {
			show: { operation: ['snapshot'], snapshotAction: ['create', 'delete', 'rollback'] },
		},
	},
	{
		displayName: 'Description',
		name: 'snapDescription',
		type: 'string',
		default: '',
		displayOptions: { show: { operation: ['snapshot'], snapshotAction: ['create'] } },
	},
	{
		displayName: 'Start After Rollback',
		name: 'startAfterRollback',
		type: 'boolean',
		default: false,
		description: 'Whether to start the container after the rollback',
		displayOptions: { show: { operation: ['snapshot'], snapshotAction: ['rollback'] } },
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	const pve = pveClientOf(this);
	return await itemsFrom(this, async (i) => {
		const client = await pve();
		const { node, vmid } = target(this, i);
		const action = this.getNodeParameter('snapshotAction', i) as string;
		if (action === 'list')
			return {
				json: (await listSnapshots(client, node, vmid)).map((s) => ({
					vmid,
					node,
					...s,
				})) as unknown as IDataObject[],
			};
		const name = this.getNodeParameter('snapname', i) as string;
		const task =
			action === 'create'
				? await createSnapshot(
						client,
						node,
						vmid,
						name,
						this.getNodeParameter('snapDescription', i, '') as string,
					)
				: action === 'rollback'
					? await rollbackSnapshot(
							client,
							node,
							vmid,
							name,
							this.getNodeParameter('startAfterRollback', i, false) as boolean,
						)
					: await deleteSnapshot(client, node, vmid, name);
		return { json: { vmid, node, snapshot: name, action, task } as unknown as IDataObject };
	});
}
