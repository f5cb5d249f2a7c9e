import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { errorFields } from '../../shared/errors';
import { toNodeError } from '../../shared/nodeErrors';
import { auditSegmentation, parseTierMap } from '../segmentation';
import type { PveClient } from '../transport/pveClient';
import { findingItems, type ItemFindings, pveClient } from './common';

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
	const items = this.getInputData();
	const results: ItemFindings[] = [];
	// created inside the try: a credential mistake is then an error item under continueOnFail too
	let client: PveClient | undefined;
	for (let i = 0; i < items.length; i++) {
		try {
			client ??= await pveClient(this);
			const map = parseTierMap(this.getNodeParameter('tierMap', i) as string);
			const node = (this.getNodeParameter('auditNode', i, '') as string).trim();
			results.push({
				itemIndex: i,
				findings: await auditSegmentation(client, map, { node: node || undefined }),
			});
		} catch (error) {
			if (!this.continueOnFail()) throw toNodeError(this.getNode(), error, i);
			results.push({ itemIndex: i, ...errorFields(error) });
		}
	}
	return findingItems(this, results);
}
