import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { postgresConnectionFrom } from '../../shared/connections';
import { InfraOpsError } from '../../shared/errors';
import { itemsFrom } from '../../shared/items';
import { splitList } from '../../shared/lists';
import { auditReplication } from '../replication';

const show = { show: { operation: ['auditReplication'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Expected Replicas',
		name: 'expectedReplicas',
		type: 'string',
		default: '',
		placeholder: 'replica1, 10.0.20.6',
		description:
			'Replicas that must be connected to the primary: their application_name or client address (one per line or comma). One that is missing is critical.',
		displayOptions: show,
	},
	{
		displayName: 'Replica Addresses',
		name: 'replicaAddresses',
		type: 'string',
		default: '',
		placeholder: 'pg-replica.lan:5432',
		description:
			'Replicas to read directly (host or host:port), with the same credential: a streaming replica is a copy of the primary, with the same roles and passwords. Adds the replay delay the replica itself sees.',
		displayOptions: show,
	},
	{
		displayName: 'Max Lag (MiB)',
		name: 'maxLagMib',
		type: 'number',
		default: 64,
		typeOptions: { minValue: 0, numberPrecision: 3 },
		description: 'A replica further behind than this many MiB of WAL is critical (0: no limit)',
		displayOptions: show,
	},
	{
		displayName: 'Max Lag (Seconds)',
		name: 'maxLagSeconds',
		type: 'number',
		default: 300,
		typeOptions: { minValue: 0 },
		description: 'A replica replaying more than this many seconds behind is critical (0: no limit)',
		displayOptions: show,
	},
];

function limit(ctx: IExecuteFunctions, name: string, i: number, fallback: number): number {
	const value = Number(ctx.getNodeParameter(name, i, fallback));
	if (!Number.isFinite(value) || value < 0)
		throw new InfraOpsError(`${name} must be a number of 0 or more, not "${String(value)}"`);
	return value;
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(
		this,
		async (i) =>
			await auditReplication(
				postgresConnectionFrom(await this.getCredentials('infraOpsPostgresApi', i)),
				{
					expected: splitList(this.getNodeParameter('expectedReplicas', i, '')),
					replicas: splitList(this.getNodeParameter('replicaAddresses', i, '')),
					maxLagBytes: Math.round(limit(this, 'maxLagMib', i, 64) * 1024 * 1024),
					maxLagSeconds: limit(this, 'maxLagSeconds', i, 300),
				},
			),
	);
}
