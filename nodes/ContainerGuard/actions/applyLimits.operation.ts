import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { InfraOpsError } from '../../shared/errors';
import { itemsFrom } from '../../shared/items';

export const option = {
	name: 'Apply Limits',
	value: 'applyLimits',
	description:
		'Change memory, CPU and pids limits of a running container and print the compose snippet that keeps them',
	action: 'Apply Limits',
};

export const description: INodeProperties[] = [];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async () => {
		throw new InfraOpsError('Apply Limits is not built yet');
	});
}
