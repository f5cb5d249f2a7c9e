import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { parseDesiredState } from '../desiredState';
import { applyContainers, applyFinding, planContainers, planFinding } from '../ensure';
import { pveClientOf } from './common';

const show = { show: { operation: ['ensure'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Mode',
		name: 'ensureMode',
		type: 'options',
		options: [
			{
				name: 'Plan',
				value: 'plan',
				description: 'Compare only: one finding per container (in sync, drift, missing)',
			},
			{
				name: 'Apply',
				value: 'apply',
				description: 'Create what is missing and update drifted keys (with the config digest)',
			},
		],
		default: 'plan',
		displayOptions: show,
	},
	{
		displayName: 'Desired State',
		name: 'desiredState',
		type: 'string',
		typeOptions: { rows: 12 },
		default: '',
		required: true,
		placeholder:
			'containers:\n  - vmid: 101\n    hostname: traefik\n    cores: 2\n    memory: 1024\n    net:\n      net0: { bridge: vmbr0, ip: 10.0.40.5/24, gw: 10.0.40.1, tag: 40, firewall: true }',
		description:
			'JSON or YAML: containers (vmid, node, hostname, cores, memory, swap, rootfs, features, onboot, tags, net, state, template, ...)',
		displayOptions: show,
	},
	{
		displayName: 'Default Node',
		name: 'defaultNode',
		type: 'string',
		default: 'pve',
		description: 'Node for containers that name none',
		displayOptions: show,
	},
	{
		displayName: 'Allow Delete',
		name: 'allowDelete',
		type: 'boolean',
		default: false,
		description:
			'Whether Apply may destroy containers marked state: absent and remove interfaces/mount points missing from the desired state. Off: those are only reported.',
		displayOptions: { show: { operation: ['ensure'], ensureMode: ['apply'] } },
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	const pve = pveClientOf(this);
	return await itemsFrom(this, async (i) => {
		const client = await pve();
		const desired = parseDesiredState(this.getNodeParameter('desiredState', i) as string, {
			defaultNode: (this.getNodeParameter('defaultNode', i, '') as string) || undefined,
		});
		const mode = this.getNodeParameter('ensureMode', i) as string;
		if (mode === 'apply') {
			const allowDelete = this.getNodeParameter('allowDelete', i, false) as boolean;
			const outcomes = await applyContainers(client, desired, { allowDelete });
			return outcomes.map(applyFinding);
		}
		const plans = await planContainers(client, desired);
		return plans.map((p, k) => planFinding(p, desired[k]));
	});
}
