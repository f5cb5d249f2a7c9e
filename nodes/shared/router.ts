/** The one router factory: each node lists its operations; the router dispatches on `operation`. */
import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { refuseQueueModeWithoutStore } from './nodeState';

export interface Operation {
	execute(this: IExecuteFunctions): Promise<INodeExecutionData[]>;
}

export function makeRouter(
	operations: Record<string, Operation>,
): (this: IExecuteFunctions) => Promise<INodeExecutionData[][]> {
	return async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const operation = this.getNodeParameter('operation', 0) as string;
		const handler = Object.prototype.hasOwnProperty.call(operations, operation)
			? operations[operation]
			: undefined;
		if (!handler) {
			throw new NodeOperationError(this.getNode(), `The operation "${operation}" is not known`, {
				description: `Choose one of: ${Object.keys(operations).join(', ')}`,
			});
		}
		refuseQueueModeWithoutStore(this);
		return [await handler.execute.call(this)];
	};
}
