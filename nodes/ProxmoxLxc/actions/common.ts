/** What the operations share: the PVE client from the credential, node/VMID parameters, and how
 * results and findings become items paired with their input. */
import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { proxmoxConnectionFrom } from '../../shared/connections';
import { type ErrorFields, errorFields, errorItemJson } from '../../shared/errors';
import { markChanged, type NewFinding } from '../../shared/findings';
import { toNodeError } from '../../shared/nodeErrors';
import { checkNodeName, checkVmid } from '../lxc';
import { PveClient } from '../transport/pveClient';

export async function pveClient(ctx: IExecuteFunctions): Promise<PveClient> {
	return new PveClient(proxmoxConnectionFrom(await ctx.getCredentials('infraOpsProxmoxApi')));
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

/** Runs `fn` per input item; bad input or a failed call is an error item with continueOnFail. */
export async function perItem(
	ctx: IExecuteFunctions,
	fn: (itemIndex: number, client: PveClient) => Promise<IDataObject | IDataObject[]>,
): Promise<INodeExecutionData[]> {
	const items = ctx.getInputData();
	const out: INodeExecutionData[] = [];
	let client: PveClient | undefined;
	for (let i = 0; i < items.length; i++) {
		try {
			client ??= await pveClient(ctx);
			const result = await fn(i, client);
			for (const json of Array.isArray(result) ? result : [result])
				out.push({ json, pairedItem: { item: i } });
		} catch (error) {
			if (!ctx.continueOnFail()) throw toNodeError(ctx.getNode(), error, i);
			out.push({ json: errorFields(error), pairedItem: { item: i } });
		}
	}
	return out;
}

/** One input item's findings, or its error under continueOnFail. */
export interface ItemFindings extends ErrorFields {
	itemIndex: number;
	findings?: NewFinding[];
}

/** Findings of all items, `changed` marked against the previous run, each paired with its input. */
export function findingItems(
	ctx: IExecuteFunctions,
	results: ItemFindings[],
): INodeExecutionData[] {
	const all = results.flatMap((r) => r.findings ?? []);
	const marked = markChanged(all, ctx.getWorkflowStaticData('node'));
	let k = 0;
	return results.flatMap((r) =>
		r.findings
			? r.findings.map(() => ({
					json: marked[k++] as unknown as IDataObject,
					pairedItem: { item: r.itemIndex },
				}))
			: [{ json: errorItemJson(r), pairedItem: { item: r.itemIndex } }],
	);
}
