import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { auditSegmentation, parseTierMap } from '../segmentation';
import { pveClientOf } from './common';

const show = { show: { operation: ['auditSegmentation'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Tier Map (JSON)',
		name: 'tierMap',
		type: 'string',
		typeOptions: { rows: 8 },
		default:
			'{\n  "tiers": { "management": 10, "application": 20, "data": 30, "external": 40 },\n  "containers": {}\n}',
		description:
			'Tier → VLAN id, and container name → tier for containers that carry no tier tag. A tag named like a tier (e.g. "data") wins over the name.',
		displayOptions: show,
	},
	{
		displayName: 'Only Node',
		name: 'auditNode',
		type: 'string',
		default: '',
		description: 'Audit the containers of this node only; empty audits the whole cluster',
		displayOptions: show,
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	const pve = pveClientOf(this);
	return await itemsFrom(this, async (i) => {
		const client = await pve();
		const map = parseTierMap(this.getNodeParameter('tierMap', i) as string);
		const node = (this.getNodeParameter('auditNode', i, '') as string).trim();
		return await auditSegmentation(client, map, { node: node || undefined });
	});
}
