import { makeRouter } from '../../shared/router';
import * as checkAcmeJson from './checkAcmeJson.operation';
import * as checkEndpoints from './checkEndpoints.operation';
import * as checkPem from './checkPem.operation';

export const router = makeRouter({ checkEndpoints, checkAcmeJson, checkPem });

export const operationProperties = [
	...checkEndpoints.description,
	...checkAcmeJson.description,
	...checkPem.description,
];
