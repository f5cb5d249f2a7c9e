import { makeRouter } from '../../shared/router';
import { secretProperties } from './common';
import * as generate from './generate.operation';
import * as rotate from './rotate.operation';

export const router = makeRouter({ generate, rotate });

export const operationProperties = [
	...rotate.description,
	...secretProperties,
	...generate.description,
];
