import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { inspectAll, listContainers } from '../containers';
import { assessHealth, mergeHealth, STORE_KEY } from '../health';
import { readSelection, selectionProperties, withGuardDocker } from './common';

export const option = {
	name: 'Health',
	value: 'health',
	description:
		'Report state, health check, restarts and OOM kills of each container, marking transitions as changed',
	action: 'Check container health',
};

const show = { show: { operation: ['health'] } };

export const description: INodeProperties[] = [
	...selectionProperties(['health']),
	{
		displayName: 'Flapping Above (Restarts)',
		name: 'flapRestarts',
		type: 'number',
		default: 3,
		typeOptions: { minValue: 0 },
		description: 'A container restarted more often than this within the window is flapping',
		displayOptions: show,
	},
	{
		displayName: 'Window (Minutes)',
		name: 'windowMinutes',
		type: 'number',
		default: 30,
		typeOptions: { minValue: 1 },
		description: 'How far back restarts count for flapping (restart samples of earlier runs)',
		displayOptions: show,
	},
	{
		displayName: 'Forget Removed After (Hours)',
		name: 'forgetHours',
		type: 'number',
		default: 24,
		typeOptions: { minValue: 0 },
		description:
			'A container that disappeared is reported as gone on every run until then, and forgotten after',
		displayOptions: show,
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	// restart samples and last-seen containers sit in the node's state store beside the `changed` state
	return await itemsFrom(
		this,
		async (i, store) =>
			await withGuardDocker(this, i, async ({ docker, target }) => {
				const selection = readSelection(this, i);
				const containers = await inspectAll(
					docker,
					target,
					await listContainers(docker, target, selection),
				);
				return assessHealth(containers, store, {
					flapRestarts: Number(this.getNodeParameter('flapRestarts', i, 3)),
					windowMinutes: Number(this.getNodeParameter('windowMinutes', i, 30)),
					forgetHours: Number(this.getNodeParameter('forgetHours', i, 24)),
					scope: `${target} ${JSON.stringify(selection)}`,
					now: new Date(),
					expectedNames: selection.names,
				});
			}),
		{ values: { [STORE_KEY]: mergeHealth } },
	);
}
