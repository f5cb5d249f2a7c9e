import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { policyProperties, runnerProperties } from './common';
import * as parseReport from './parseReport.operation';
import * as scanImages from './scanImages.operation';
import * as scanRunningContainers from './scanRunningContainers.operation';

const operations = { scanImages, scanRunningContainers, parseReport };

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const operation = this.getNodeParameter('operation', 0) as keyof typeof operations;
	const handler = operations[operation];
	if (!handler)
		throw new NodeOperationError(this.getNode(), `The operation "${operation}" is not known`);
	return [await handler.execute.call(this)];
}

export const operationProperties = [
	...scanImages.description,
	...scanRunningContainers.description,
	...parseReport.description,
	...runnerProperties,
	...policyProperties,
];
