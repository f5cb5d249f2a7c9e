/** Who a lock names as its holder: the n8n execution, workflow and node running the operation. */
import type { IExecuteFunctions } from 'n8n-workflow';

import type { LockOwner } from './locks';

export function lockOwnerOf(ctx: IExecuteFunctions): LockOwner {
	return {
		executionId: String(ctx.getExecutionId() ?? ''),
		workflowId: String(ctx.getWorkflow().id ?? ''),
		node: ctx.getNode().name,
	};
}

/** The "Lock Wait (Seconds)" parameter in ms; 0 means: do not wait, report the holder at once. */
export function lockWaitMs(ctx: IExecuteFunctions, itemIndex: number, fallbackS = 60): number {
	const value = Number(ctx.getNodeParameter('lockWaitS', itemIndex, fallbackS));
	return Number.isFinite(value) && value >= 0 ? value * 1000 : fallbackS * 1000;
}
