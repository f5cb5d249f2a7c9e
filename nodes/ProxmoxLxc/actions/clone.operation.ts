import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { cloneContainer } from '../lxc';
import { target, pveClientOf } from './common';

const show = { show: { operation: ['clone'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'New VMID',
		name: 'newid',
		type: 'number',
		default: 200,
		required: true,
		typeOptions: { minValue: 100 },
		displayOptions: show,
	},
	{
		displayName: 'Mode',
		name: 'cloneMode',
		type: 'options',
		options: [
			{ name: 'Full Clone', value: 'full', description: 'An independent copy of the disks' },
			{
				name: 'Linked Clone',
				value: 'linked',
				description: "Shares the template's base disk (the source must be a template)",
			},
		],
		default: 'full',
		displayOptions: show,
	},
	{
		displayName: 'Options',
		name: 'cloneOptions',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		displayOptions: show,
		options: [
			{ displayName: 'Description', name: 'description', type: 'string', default: '' },
			{ displayName: 'Hostname', name: 'hostname', type: 'string', default: '' },
			{
				displayName: 'Snapshot',
				name: 'snapname',
				type: 'string',
				default: '',
				description: 'Clone this snapshot instead of the current state',
			},
			{
				displayName: 'Storage',
				name: 'storage',
				type: 'string',
				default: '',
				description: 'Target storage (full clones only)',
			},
			{
				displayName: 'Target Node',
				name: 'target',
				type: 'string',
				default: '',
				description: 'Put the clone on this node',
			},
		],
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	const pve = pveClientOf(this);
	return await itemsFrom(this, async (i) => {
		const client = await pve();
		const { node, vmid } = target(this, i);
		const options = this.getNodeParameter('cloneOptions', i, {}) as {
			description?: string;
			hostname?: string;
			snapname?: string;
			storage?: string;
			target?: string;
		};
		const newid = this.getNodeParameter('newid', i) as number;
		const task = await cloneContainer(client, {
			node,
			vmid,
			newid,
			full: this.getNodeParameter('cloneMode', i) === 'full',
			...options,
		});
		return {
			json: {
				vmid: newid,
				source: vmid,
				node: options.target || node,
				task,
			} as unknown as IDataObject,
		};
	});
}
