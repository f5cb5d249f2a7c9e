import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { splitList } from '../../shared/lists';
import {
	auditContainerPrivileges,
	auditNetworks,
	DEFAULT_TIER_MAP,
	parseTierMap,
	TIER_LABEL,
} from '../containers';
import { openDocker } from './common';

const show = { show: { operation: ['auditContainers'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Docker Host Name',
		name: 'dockerLabel',
		type: 'string',
		default: 'docker',
		description: 'The Docker host’s name in findings (targets are <name>/<container>)',
		displayOptions: show,
	},
	{
		displayName: 'Controls',
		name: 'containerControls',
		type: 'multiOptions',
		options: [
			{ name: 'Least Privilege', value: 'privilege' },
			{ name: 'Network Isolation', value: 'networks' },
		],
		default: ['privilege', 'networks'],
		displayOptions: show,
	},
	{
		displayName: 'Tier Map (JSON)',
		name: 'tierMap',
		type: 'string',
		typeOptions: { rows: 6 },
		default: JSON.stringify(DEFAULT_TIER_MAP, null, 2),
		description: `Tier → container or compose service names, for containers without a "${TIER_LABEL}" label. The edge tier and the data tier must not meet on a network.`,
		displayOptions: show,
	},
	{
		displayName: 'Ignore Containers',
		name: 'ignoreContainers',
		type: 'string',
		default: '',
		placeholder: 'traefik, docker-socket-proxy',
		description:
			'Containers whose privileges are accepted (e.g. the socket proxy); still shown on networks',
		displayOptions: show,
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async (i) => {
		const controls = this.getNodeParameter('containerControls', i, []) as string[];
		const tierMap = parseTierMap(this.getNodeParameter('tierMap', i, '{}') as string);
		const target = (this.getNodeParameter('dockerLabel', i, '') as string).trim() || 'docker';
		const client = await openDocker(this, i);
		try {
			return [
				...(controls.includes('privilege')
					? await auditContainerPrivileges(client.docker, {
							target,
							ignore: splitList(this.getNodeParameter('ignoreContainers', i, '')),
						})
					: []),
				...(controls.includes('networks')
					? await auditNetworks(client.docker, { target, tierMap })
					: []),
			];
		} finally {
			client.close();
		}
	});
}
