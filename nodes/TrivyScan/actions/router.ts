import { makeRouter } from '../../shared/router';
import { policyProperties, runnerProperties } from './common';
import * as parseReport from './parseReport.operation';
import * as scanImages from './scanImages.operation';
import * as scanRunningContainers from './scanRunningContainers.operation';

export const router = makeRouter({ scanImages, scanRunningContainers, parseReport });

export const operationProperties = [
	...scanImages.description,
	...scanRunningContainers.description,
	...parseReport.description,
	...runnerProperties,
	...policyProperties,
];
