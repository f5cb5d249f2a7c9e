import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import * as checkAcmeJson from './checkAcmeJson.operation';
import * as checkEndpoints from './checkEndpoints.operation';
import * as checkPem from './checkPem.operation';

const operations = { checkEndpoints, checkAcmeJson, checkPem };

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const operation = this.getNodeParameter('operation', 0) as keyof typeof operations;
	const handler = operations[operation];
	if (!handler)
		throw new NodeOperationError(this.getNode(), `The operation "${operation}" is not known`);
	return [await handler.execute.call(this)];
}

export const operationProperties = [
	...checkEndpoints.description,
	...checkAcmeJson.description,
	...checkPem.description,
];
