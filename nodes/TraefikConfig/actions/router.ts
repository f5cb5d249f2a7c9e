import type { INodeProperties } from 'n8n-workflow';

import { makeRouter } from '../../shared/router';
import * as attachMiddlewares from './attachMiddlewares.operation';
import * as buildMiddleware from './buildMiddleware.operation';
import { deployProperties, folderProperties } from './common';
import * as deploy from './deploy.operation';
import * as fetchGitFiles from './fetchGitFiles.operation';
import * as getStatus from './getStatus.operation';
import * as rollback from './rollback.operation';
import * as validate from './validate.operation';
import * as verifyWebhookSignature from './verifyWebhookSignature.operation';

export const router = makeRouter({
	buildMiddleware,
	attachMiddlewares,
	validate,
	deploy,
	getStatus,
	rollback,
	fetchGitFiles,
	verifyWebhookSignature,
});

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
