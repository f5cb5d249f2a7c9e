import { makeRouter } from '../../shared/router';
import * as auditSegmentation from './auditSegmentation.operation';
import * as clone from './clone.operation';
import * as create from './create.operation';
import * as deleteOp from './delete.operation';
import * as ensure from './ensure.operation';
import * as get from './get.operation';
import * as list from './list.operation';
import * as power from './power.operation';
import * as snapshot from './snapshot.operation';
import * as updateConfig from './updateConfig.operation';

export const router = makeRouter({
	auditSegmentation,
	list,
	get,
	create,
	clone,
	updateConfig,
	power,
	snapshot,
	delete: deleteOp,
	ensure,
});

export const operationProperties = [
	...get.targetProperties,
	...list.description,
	...create.description,
	...clone.description,
	...updateConfig.description,
	...power.description,
	...snapshot.description,
	...deleteOp.description,
	...ensure.description,
	...auditSegmentation.description,
];
