/** Adapts domain errors to n8n: a NodeOperationError whose description carries the fix. */
import { NodeOperationError, type INode } from 'n8n-workflow';

import { errorMessage, InfraOpsError } from './errors';

export function toNodeError(node: INode, error: unknown, itemIndex?: number): NodeOperationError {
	if (error instanceof NodeOperationError) return error;
	return new NodeOperationError(node, errorMessage(error), {
		itemIndex,
		description: error instanceof InfraOpsError ? error.hint : undefined,
	});
}
