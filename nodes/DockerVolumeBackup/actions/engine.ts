/** The node's engine: one archive object per run (default), or a restic repository. */
import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';

export const engineProperty: INodeProperties = {
	displayName: 'Engine',
	name: 'engine',
	type: 'options',
	options: [
		{
			name: 'Archive',
			value: 'archive',
			description:
				'One .tar.zst.age object per backup, readable with standard tools; every run uploads the whole volume',
		},
		{
			name: 'Restic Repository',
			value: 'restic',
			description:
				'Incremental and deduplicated: an unchanged volume costs seconds, not a full upload (restic runs in a helper container)',
		},
	],
	default: 'archive',
	description: "An expression (e.g. a workflow's Settings field) is read once, from the first item",
};

export function isRestic(ctx: IExecuteFunctions): boolean {
	return ctx.getNodeParameter('engine', 0, 'archive') === 'restic';
}

/** displayOptions for a parameter of one engine only. */
export const archiveOnly = { engine: ['archive'] };
export const resticOnly = { engine: ['restic'] };
