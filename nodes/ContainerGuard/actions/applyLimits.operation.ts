import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { InfraOpsError } from '../../shared/errors';
import { itemsFrom } from '../../shared/items';
import { applyLimits, type SwapChoice } from '../apply';
import { inspectOne } from '../containers';
import { parseBytes, parseCpus } from '../sizes';
import { withGuardDocker } from './common';

export const option = {
	name: 'Apply Limits',
	value: 'applyLimits',
	description:
		'Change memory, CPU and pids limits of a container live and output the compose snippet that keeps them',
	action: 'Apply container limits',
};

const show = { show: { operation: ['applyLimits'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Container',
		name: 'container',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'web-1',
		description: 'Name or ID of the container (e.g. {{ $JSON.target }} after Audit Limits)',
		displayOptions: show,
	},
	{
		displayName: 'Memory',
		name: 'memory',
		type: 'string',
		default: '',
		placeholder: '512m',
		description:
			'New memory limit (e.g. 512m, 1g); empty: unchanged. Refused when below what the container uses now.',
		displayOptions: show,
	},
	{
		displayName: 'Memory Reservation',
		name: 'memoryReservation',
		type: 'string',
		default: '',
		placeholder: '256m',
		description: 'Soft limit the kernel reclaims down to under pressure; empty: unchanged',
		displayOptions: show,
	},
	{
		displayName: 'CPUs',
		name: 'cpus',
		type: 'string',
		default: '',
		placeholder: '0.5',
		description: 'CPU limit in cores (e.g. 0.5, 2); empty: unchanged',
		displayOptions: show,
	},
	{
		displayName: 'Pids Limit',
		name: 'pidsLimit',
		type: 'string',
		default: '',
		placeholder: '256',
		description: 'Most processes and threads at once; empty: unchanged',
		displayOptions: show,
	},
	{
		displayName: 'Swap With a New Memory Limit',
		name: 'swap',
		type: 'options',
		default: 'none',
		description:
			'Docker needs memory+swap to move with the memory limit; this sets it explicitly whenever Memory is given',
		options: [
			{ name: 'No Swap (Memory+Swap = Memory)', value: 'none' },
			{ name: 'As Much Swap as Memory (Docker Run Default)', value: 'double' },
			{ name: 'Unlimited Swap', value: 'unlimited' },
		],
		displayOptions: show,
	},
];

function optional<T>(value: unknown, parse: (v: unknown) => T): T | undefined {
	return String(value ?? '').trim() === '' ? undefined : parse(String(value).trim());
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async (i) => {
		const param = (name: string) => this.getNodeParameter(name, i, '');
		const change = {
			memory: optional(param('memory'), (v) => parseBytes(v, 'Memory')),
			memoryReservation: optional(param('memoryReservation'), (v) =>
				parseBytes(v, 'Memory Reservation'),
			),
			nanoCpus: optional(param('cpus'), (v) => parseCpus(v, 'CPUs')),
			pidsLimit: optional(param('pidsLimit'), (v) => {
				const n = Number(v);
				if (!Number.isInteger(n) || n <= 0)
					throw new InfraOpsError(`Pids Limit: "${String(v)}" is not a positive whole number`);
				return n;
			}),
			swap: (this.getNodeParameter('swap', i, 'none') as SwapChoice) ?? 'none',
		};
		if (change.memory !== undefined && change.memory < 6 * 1024 * 1024)
			throw new InfraOpsError(
				`Memory: ${String(param('memory'))} is below 6 MiB, the least Docker accepts`,
				'Write a unit: 512m, not 512',
			);
		const container = String(param('container'));
		return await withGuardDocker(this, i, async ({ docker, target }) => ({
			json: {
				...(await applyLimits(docker, target, await inspectOne(docker, target, container), change)),
			},
		}));
	});
}
