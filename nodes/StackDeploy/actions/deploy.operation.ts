import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { deployCommit } from '../stackDeploy';
import { onHost, targetOf } from './common';

const show = { show: { operation: ['deploy'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Branch',
		name: 'branch',
		type: 'string',
		default: 'main',
		required: true,
		description: 'Only commits on this branch of the remote are deployed',
		displayOptions: show,
	},
	{
		displayName: 'Commit',
		name: 'commit',
		type: 'string',
		default: '',
		placeholder: "={{ $('Verify Push Signature').first().json.commit }}",
		description:
			'The pushed commit (40 hexadecimal characters); empty deploys the head of the branch',
		displayOptions: show,
	},
	{
		displayName: 'Delivery ID',
		name: 'deliveryId',
		type: 'string',
		default: '',
		description:
			"The webhook delivery's id; a delivery seen before is refused (a replay), remembered on the host",
		displayOptions: show,
	},
	{
		displayName: 'Allow Older Commit',
		name: 'allowOlderCommit',
		type: 'boolean',
		default: false,
		description:
			'Whether a commit older than the checked-out one (its ancestor) may be deployed; off refuses it, so an old push re-sent under a new delivery id cannot roll the stack back',
		displayOptions: show,
	},
	{
		displayName: 'Remote',
		name: 'remote',
		type: 'string',
		default: 'origin',
		displayOptions: show,
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async (i) => [
		await onHost(
			this,
			i,
			async (session) =>
				await deployCommit(session, {
					...targetOf(this, i),
					branch: this.getNodeParameter('branch', i) as string,
					commit: this.getNodeParameter('commit', i, '') as string,
					deliveryId: this.getNodeParameter('deliveryId', i, '') as string,
					allowOlderCommit: this.getNodeParameter('allowOlderCommit', i, false) as boolean,
					remote: this.getNodeParameter('remote', i, 'origin') as string,
				}),
		),
	]);
}
