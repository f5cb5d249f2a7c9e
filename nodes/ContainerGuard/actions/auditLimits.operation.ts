import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { InfraOpsError } from '../../shared/errors';
import { itemsFrom } from '../../shared/items';

export const option = {
	name: 'Audit Limits',
	value: 'auditLimits',
	description:
		'Compare memory, CPU, pids, restart policy and health check of each container with a policy',
	action: 'Audit Limits',
};

export const description: INodeProperties[] = [];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async () => {
		throw new InfraOpsError('Audit Limits is not built yet');
	});
}
