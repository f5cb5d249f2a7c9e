import { makeRouter } from '../../shared/router';
import * as backup from './backup.operation';
import { prefixProperty } from './common';
import { archiveOnly } from './engine';
import * as list from './list.operation';
import { lockWaitProperty } from './lock';
import * as prune from './prune.operation';
import * as restore from './restore.operation';
import { description as resticProperties } from './resticEngine';
import * as verify from './verify.operation';

export const router = makeRouter({ backup, restore, list, prune, verify });

export const operationProperties = [
	{ ...prefixProperty, displayOptions: { show: archiveOnly } },
	lockWaitProperty,
	...backup.description,
	...restore.description,
	...list.description,
	...prune.description,
	...verify.description,
	...resticProperties,
];
