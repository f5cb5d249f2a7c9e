import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { auditContainers } from '../audit';
import { inspectAll, listContainers } from '../containers';
import { DEFAULT_POLICY, parsePolicy } from '../policy';
import { readSelection, selectionProperties, withGuardDocker } from './common';

export const option = {
	name: 'Audit Limits',
	value: 'auditLimits',
	description:
		'Compare memory, CPU, pids limits, restart policy and health check of each container with a policy',
	action: 'Audit container limits',
};

export const description: INodeProperties[] = [
	...selectionProperties(['auditLimits']),
	{
		displayName: 'Policy',
		name: 'policy',
		type: 'string',
		typeOptions: { rows: 10 },
		default: DEFAULT_POLICY,
		description:
			'YAML or JSON list; the first entry whose match fits the container name (or compose "project/service") applies. Keys: match, memory, memoryReservation, cpus, pidsLimit ("required" or a maximum), restartPolicy (allowed list), healthcheck (true), allowOomKillDisable, severity.',
		displayOptions: { show: { operation: ['auditLimits'] } },
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async (i) => {
		// a bad policy fails before any Docker call
		const policy = parsePolicy(String(this.getNodeParameter('policy', i, DEFAULT_POLICY)));
		const selection = readSelection(this, i);
		return await withGuardDocker(this, i, async ({ docker, target }) =>
			auditContainers(
				await inspectAll(docker, target, await listContainers(docker, target, selection)),
				policy,
			),
		);
	});
}
