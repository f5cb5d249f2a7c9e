import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { InfraOpsError } from '../../shared/errors';
import { itemsFrom } from '../../shared/items';

export const option = {
	name: 'Health',
	value: 'health',
	description:
		'Report state, health checks, restarts and OOM kills of each container, alerting on transitions only',
	action: 'Health',
};

export const description: INodeProperties[] = [];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async () => {
		throw new InfraOpsError('Health is not built yet');
	});
}
