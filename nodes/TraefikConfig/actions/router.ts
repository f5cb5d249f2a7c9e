import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import * as attachMiddlewares from './attachMiddlewares.operation';
import * as buildMiddleware from './buildMiddleware.operation';
import { deployProperties, folderProperties } from './common';
import * as deploy from './deploy.operation';
import * as fetchGitFiles from './fetchGitFiles.operation';
import * as getStatus from './getStatus.operation';
import * as rollback from './rollback.operation';
import * as validate from './validate.operation';
import * as verifyWebhookSignature from './verifyWebhookSignature.operation';

const operations = {
	buildMiddleware,
	attachMiddlewares,
	validate,
	deploy,
	getStatus,
	rollback,
	fetchGitFiles,
	verifyWebhookSignature,
};

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const operation = this.getNodeParameter('operation', 0) as keyof typeof operations;
	const handler = operations[operation];
	if (!handler)
		throw new NodeOperationError(this.getNode(), `The operation "${operation}" is not known`);
	return [await handler.execute.call(this)];
}

export const operationProperties: INodeProperties[] = [
	...folderProperties(['attachMiddlewares', 'validate', 'deploy', 'rollback']),
	...buildMiddleware.description,
	...attachMiddlewares.description,
	...validate.description,
	...deploy.description,
	...rollback.description,
	...deployProperties(['deploy', 'rollback']),
	...getStatus.description,
	...fetchGitFiles.description,
	...verifyWebhookSignature.description,
];
