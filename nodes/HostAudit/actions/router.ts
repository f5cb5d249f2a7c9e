import { makeRouter } from '../../shared/router';
import * as auditBackups from './auditBackups.operation';
import * as auditContainers from './auditContainers.operation';
import * as auditHost from './auditHost.operation';
import * as auditReplication from './auditReplication.operation';

export const router = makeRouter({ auditHost, auditContainers, auditBackups, auditReplication });

export const operationProperties = [
	...auditHost.description,
	...auditContainers.description,
	...auditBackups.description,
	...auditReplication.description,
];
