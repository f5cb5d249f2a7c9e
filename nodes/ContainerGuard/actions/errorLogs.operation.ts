import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { InfraOpsError } from '../../shared/errors';
import { itemsFrom } from '../../shared/items';
import { inspectAll, listContainers } from '../containers';
import { dockerErrorDigest } from '../dockerLogs';
import {
	compilePattern,
	CURSORS_KEY,
	DEFAULT_ERROR_PATTERN,
	mergeCursors,
	type DigestOptions,
} from '../logDigest';
import { lokiErrorDigest } from '../lokiLogs';
import { readSelection, selectionProperties, withGuardDocker } from './common';

export const option = {
	name: 'Error Logs',
	value: 'errorLogs',
	description:
		'Digest the error lines each container logged since the last run (Docker logs or Loki): counts and the top repeated messages',
	action: 'Digest container error logs',
};

const show = { show: { operation: ['errorLogs'] } };
const showDocker = { show: { operation: ['errorLogs'], logSource: ['docker'] } };
const showLoki = { show: { operation: ['errorLogs'], logSource: ['loki'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Log Source',
		name: 'logSource',
		type: 'options',
		options: [
			{
				name: 'Docker Logs',
				value: 'docker',
				description: 'The Docker Engine’s container logs (no log stack needed)',
			},
			{ name: 'Loki', value: 'loki', description: 'Loki’s query_range API' },
		],
		default: 'docker',
		displayOptions: show,
	},
	...selectionProperties(['errorLogs']).map((p) => ({ ...p, displayOptions: showDocker })),
	{
		displayName: 'Docker Host Name',
		name: 'logHost',
		type: 'string',
		default: 'docker',
		description: 'The Docker host’s name in findings (targets are <name>/<container>)',
		displayOptions: showDocker,
	},
	{
		displayName: 'Max KiB per Container',
		name: 'maxKib',
		type: 'number',
		default: 2048,
		typeOptions: { minValue: 1 },
		description:
			'Log bytes read per container and run; a container that logged more is read on by the next run',
		displayOptions: showDocker,
	},
	{
		displayName: 'Loki URL',
		name: 'lokiUrl',
		type: 'string',
		default: '',
		placeholder: 'http://loki:3100',
		displayOptions: showLoki,
	},
	{
		displayName: 'LogQL Selector',
		name: 'lokiQuery',
		type: 'string',
		default: '{container=~".+"}',
		description: 'The streams to read; line filters may follow the selector',
		displayOptions: showLoki,
	},
	{
		displayName: 'Container Label',
		name: 'lokiContainerLabel',
		type: 'string',
		default: 'container',
		description: 'The stream label that names the container',
		displayOptions: showLoki,
	},
	{
		displayName: 'Tenant (X-Scope-OrgID)',
		name: 'lokiTenant',
		type: 'string',
		default: '',
		description: 'Only for a multi-tenant Loki',
		displayOptions: showLoki,
	},
	{
		displayName: 'Max Entries per Run',
		name: 'lokiLimit',
		type: 'number',
		default: 5000,
		typeOptions: { minValue: 1 },
		description: 'Loki’s limit; what is left is read by the next run',
		displayOptions: showLoki,
	},
	{
		displayName: 'Error Pattern',
		name: 'errorPattern',
		type: 'string',
		default: DEFAULT_ERROR_PATTERN,
		description: 'A regular expression (case-insensitive) that marks a line as an error',
		displayOptions: show,
	},
	{
		displayName: 'First Run Looks Back (Minutes)',
		name: 'lookbackMinutes',
		type: 'number',
		default: 60,
		typeOptions: { minValue: 1 },
		description:
			'Where a container without a cursor (first run, new container) starts; later runs start where the last ended',
		displayOptions: show,
	},
	{
		displayName: 'Top Messages',
		name: 'topMessages',
		type: 'number',
		default: 5,
		typeOptions: { minValue: 1 },
		description: 'How many repeated messages per container the digest lists',
		displayOptions: show,
	},
	{
		displayName: 'Critical at (Lines)',
		name: 'criticalAbove',
		type: 'number',
		default: 0,
		typeOptions: { minValue: 0 },
		description:
			'A container with at least this many new error lines is critical, else warning (0: never critical)',
		displayOptions: show,
	},
];

function positive(ctx: IExecuteFunctions, name: string, i: number, fallback: number): number {
	const value = Number(ctx.getNodeParameter(name, i, fallback));
	if (!Number.isFinite(value) || value < 0)
		throw new InfraOpsError(`${name} must be a number of 0 or more, not "${String(value)}"`);
	return value;
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	// the since-cursors sit beside the `changed` state, in this node's state store
	return await itemsFrom(
		this,
		async (i, store) => {
			const digest: DigestOptions = {
				pattern: compilePattern(String(this.getNodeParameter('errorPattern', i, ''))),
				topMessages: positive(this, 'topMessages', i, 5),
				criticalAbove: positive(this, 'criticalAbove', i, 0),
			};
			const lookbackMinutes = positive(this, 'lookbackMinutes', i, 60);
			const now = new Date();
			if (this.getNodeParameter('logSource', i, 'docker') === 'loki') {
				const url = String(this.getNodeParameter('lokiUrl', i, '')).trim();
				if (!url)
					throw new InfraOpsError(
						'Log Source is Loki but Loki URL is empty',
						'Set Loki URL (e.g. http://loki:3100) or choose Docker Logs',
					);
				const tenant = String(this.getNodeParameter('lokiTenant', i, '')).trim();
				return await lokiErrorDigest(store, {
					...digest,
					url,
					query: String(this.getNodeParameter('lokiQuery', i, '')),
					containerLabel:
						String(this.getNodeParameter('lokiContainerLabel', i, '')).trim() || 'container',
					limit: Math.max(1, positive(this, 'lokiLimit', i, 5000)),
					headers: tenant ? { 'X-Scope-OrgID': tenant } : {},
					lookbackMinutes,
					now,
				});
			}
			return await withGuardDocker(this, i, async ({ docker, target }) => {
				const selection = readSelection(this, i);
				const listed = await listContainers(docker, target, selection);
				const inspected = await inspectAll(docker, target, listed);
				return await dockerErrorDigest(
					docker,
					inspected.map(({ listed: c, info }) => ({ ...c, tty: info.Config?.Tty === true })),
					store,
					{
						...digest,
						lookbackMinutes,
						maxBytes: Math.max(1, positive(this, 'maxKib', i, 2048)) * 1024,
						concurrency: 4,
						scope: `${target} ${JSON.stringify(selection)}`,
						host: String(this.getNodeParameter('logHost', i, '')).trim() || 'docker',
						now,
					},
				);
			});
		},
		{ values: { [CURSORS_KEY]: mergeCursors } },
	);
}
