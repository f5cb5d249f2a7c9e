/** Reads a node's Docker Engine credential; a missing one is a NodeOperationError saying which node needs it. */
import type { IExecuteFunctions } from 'n8n-workflow';

import { dockerConnectionFrom } from './connections';
import { errorMessage, InfraOpsError } from './errors';
import { toNodeError } from './nodeErrors';

export async function dockerCredential(
	ctx: IExecuteFunctions,
	itemIndex: number,
	hint: string,
): Promise<ReturnType<typeof dockerConnectionFrom>> {
	let data;
	try {
		data = await ctx.getCredentials('infraOpsDockerApi', itemIndex);
	} catch (error) {
		const missing = new InfraOpsError(`No Docker Engine credential: ${errorMessage(error)}`, hint);
		throw toNodeError(ctx.getNode(), missing, itemIndex);
	}
	return dockerConnectionFrom(data);
}
