/** What the operations share: the PVE client from the credential and the node/VMID parameters. */
import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import { proxmoxConnectionFrom } from '../../shared/connections';
import { checkNodeName, checkVmid } from '../lxc';
import { PveClient } from '../transport/pveClient';

/**
 * The PVE client, made on first use inside an item's work (a credential mistake is then an error item
 * under continueOnFail too) and kept for the next items once made.
 */
export function pveClientOf(ctx: IExecuteFunctions): () => Promise<PveClient> {
	let client: PveClient | undefined;
	return async () =>
		(client ??= new PveClient(
			proxmoxConnectionFrom(await ctx.getCredentials('infraOpsProxmoxApi')),
		));
}

export function nodeProperty(operations: string[]): INodeProperties {
	return {
		displayName: 'Node',
		name: 'node',
		type: 'string',
		default: 'pve',
		required: true,
		description: 'The PVE cluster node the container is on (as the PVE tree shows it)',
		displayOptions: { show: { operation: operations } },
	};
}

export function vmidProperty(operations: string[]): INodeProperties {
	return {
		displayName: 'VMID',
		name: 'vmid',
		type: 'number',
		default: 100,
		required: true,
		typeOptions: { minValue: 100 },
		description: 'ID of the container',
		displayOptions: { show: { operation: operations } },
	};
}

export function target(ctx: IExecuteFunctions, i: number): { node: string; vmid: number } {
	return {
		node: checkNodeName(ctx.getNodeParameter('node', i)),
		vmid: checkVmid(ctx.getNodeParameter('vmid', i)),
	};
}
