import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { power, type PowerAction } from '../lxc';
import { target, pveClientOf } from './common';

const show = { show: { operation: ['power'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Action',
		name: 'powerAction',
		type: 'options',
		options: [
			{ name: 'Start', value: 'start' },
			{
				name: 'Shutdown',
				value: 'shutdown',
				description: 'Ask the container to shut down cleanly',
			},
			{ name: 'Stop', value: 'stop', description: 'Stop at once, like pulling the plug' },
			{ name: 'Reboot', value: 'reboot' },
		],
		default: 'start',
		displayOptions: show,
	},
	{
		displayName: 'Options',
		name: 'powerOptions',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		displayOptions: show,
		options: [
			{
				displayName: 'Shutdown Timeout (Seconds)',
				name: 'shutdownTimeout',
				type: 'number',
				default: 60,
			},
			{
				displayName: 'Force Stop After Timeout',
				name: 'forceStop',
				type: 'boolean',
				default: false,
				description: 'Whether to stop the container if it has not shut down in time',
			},
			{
				displayName: 'Wait For State (Seconds)',
				name: 'waitSeconds',
				type: 'number',
				default: 60,
				description: 'How long to wait for the container to report the new state after the task',
			},
		],
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	const pve = pveClientOf(this);
	return await itemsFrom(this, async (i) => {
		const client = await pve();
		const { node, vmid } = target(this, i);
		const action = this.getNodeParameter('powerAction', i) as PowerAction;
		const options = this.getNodeParameter('powerOptions', i, {}) as {
			shutdownTimeout?: number;
			forceStop?: boolean;
			waitSeconds?: number;
		};
		const result = await power(client, node, vmid, action, {
			shutdownTimeoutS: action === 'shutdown' ? (options.shutdownTimeout ?? 60) : undefined,
			forceStop: action === 'shutdown' ? options.forceStop : undefined,
			waitMs: (options.waitSeconds ?? 60) * 1000,
		});
		return { json: result as unknown as IDataObject };
	});
}
