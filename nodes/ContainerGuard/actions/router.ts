/**
 * The operations of Container Guard, one module each: a module exports `option` (its entry in the
 * Operation list), `description` (its parameters) and `execute`. Adding an operation is one import
 * and one line in `modules`.
 */
import type { INodeProperties, INodePropertyOptions } from 'n8n-workflow';

import { makeRouter, type Operation } from '../../shared/router';
import * as applyLimits from './applyLimits.operation';
import * as auditLimits from './auditLimits.operation';
import * as checkUrls from './checkUrls.operation';
import * as errorLogs from './errorLogs.operation';
import * as health from './health.operation';
import * as usage from './usage.operation';

interface OperationModule extends Operation {
	option: INodePropertyOptions & { value: string };
	description: INodeProperties[];
}

const modules: OperationModule[] = [health, auditLimits, applyLimits, checkUrls, usage, errorLogs];

export const operationOptions: INodePropertyOptions[] = modules
	.map((m) => m.option)
	.sort((a, b) => a.name.localeCompare(b.name));

export const operationProperties: INodeProperties[] = modules.flatMap((m) => m.description);

export const router = makeRouter(Object.fromEntries(modules.map((m) => [m.option.value, m])));
