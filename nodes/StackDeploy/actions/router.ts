import { makeRouter } from '../../shared/router';
import { targetProperties } from './common';
import * as deploy from './deploy.operation';
import * as rollBack from './rollBack.operation';

export const router = makeRouter({ deploy, rollBack });

export const operationProperties = [
	...targetProperties,
	...deploy.description,
	...rollBack.description,
];
