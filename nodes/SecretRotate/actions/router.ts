import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { secretProperties } from './common';
import * as generate from './generate.operation';
import * as rotate from './rotate.operation';

const operations = { generate, rotate };

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const operation = this.getNodeParameter('operation', 0) as keyof typeof operations;
	const handler = operations[operation];
	if (!handler)
		throw new NodeOperationError(this.getNode(), `The operation "${operation}" is not known`);
	return [await handler.execute.call(this)];
}

export const operationProperties = [
	...rotate.description,
	...secretProperties,
	...generate.description,
];
