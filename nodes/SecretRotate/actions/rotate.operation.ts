import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { postgresConnectionFrom, sshConnectionFrom } from '../../shared/connections';
import { errorMessage, InfraOpsError } from '../../shared/errors';
import { toNodeError } from '../../shared/nodeErrors';
import { generateSecret } from '../generate';
import { rotate, type RotationTarget } from '../rotation';
import { EnvFileTarget } from '../targets/envFile';
import { PostgresRoleTarget } from '../targets/postgresRole';
import { readSecretSpec, splitList, toItems, type ItemResult } from './common';

const showKind = (kind: string) => ({ show: { operation: ['rotate'], targetKinds: [kind] } });

export const description: INodeProperties[] = [
	{
		displayName:
			'One run generates the secret in memory and applies it to every target: create (check, back up) → set all → test all → finish. If any set or test fails, every target is rolled back and the old secret keeps working. Output items never hold the secret.',
		name: 'rotateNotice',
		type: 'notice',
		default: '',
		displayOptions: { show: { operation: ['rotate'] } },
	},
	{
		displayName: 'Targets',
		name: 'targetKinds',
		type: 'multiOptions',
		options: [
			{ name: '.Env Files (SSH)', value: 'envFile', description: 'Set KEY=VALUE in .env files, keeping comments and quoting' },
			{ name: 'PostgreSQL Roles', value: 'postgresRole', description: 'ALTER ROLE with a SCRAM-SHA-256 verifier, on one or more servers' },
		],
		default: [],
		required: true,
		description: 'Where the new secret goes. They are set in this order: PostgreSQL, .env files.',
		displayOptions: { show: { operation: ['rotate'] } },
	},
	{
		displayName: 'Roles',
		name: 'pgRoles',
		type: 'string',
		default: 'postgres',
		description: 'Roles whose password becomes the new secret (comma-separated)',
		displayOptions: showKind('postgresRole'),
	},
	{
		displayName: 'Servers',
		name: 'pgServers',
		type: 'string',
		typeOptions: { rows: 2 },
		default: '',
		placeholder: 'supabase-db:5432\nlangfuse-postgres:5432',
		description: 'One host:port per line, all reached with the PostgreSQL credential\'s user and password. Empty: the credential\'s host only.',
		displayOptions: showKind('postgresRole'),
	},
	{
		displayName: 'Test Login Database',
		name: 'pgLoginDatabase',
		type: 'string',
		default: '',
		description: 'Database the test login opens with the new password; empty uses the credential\'s',
		displayOptions: showKind('postgresRole'),
	},
	{
		displayName: '.Env Files',
		name: 'envPaths',
		type: 'string',
		typeOptions: { rows: 2 },
		default: '',
		placeholder: '/opt/supabase/docker/.env\n/opt/langfuse/.env',
		description: 'Absolute paths on the SSH host, one per line',
		displayOptions: showKind('envFile'),
	},
	{
		displayName: 'Keys',
		name: 'envKeys',
		type: 'string',
		default: 'POSTGRES_PASSWORD',
		description: 'Variables set to the new secret in each file (comma-separated); every duplicate line of a key is set',
		displayOptions: showKind('envFile'),
	},
	{
		displayName: 'Add If Missing',
		name: 'envAddIfMissing',
		type: 'boolean',
		default: false,
		description: 'Whether to append KEY=VALUE to a file that lacks the key; off, a missing key fails the create step and nothing changes',
		displayOptions: showKind('envFile'),
	},
	{
		displayName: 'Keep Backup',
		name: 'envBackup',
		type: 'boolean',
		default: true,
		description: 'Whether to keep a copy of the old file beside it (mode 0600), named <file>.infra-ops-bak-<time>',
		displayOptions: showKind('envFile'),
	},
];

/** `host`, `host:port`, `[v6]:port`. */
export function parseHostPort(entry: string, defaultPort: number): { host: string; port: number } {
	const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry) ?? /^([^:]+)(?::(\d+))?$/.exec(entry);
	if (!m) throw new InfraOpsError(`"${entry}" is not host or host:port`, 'Write one server per line, e.g. supabase-db:5432');
	const port = m[2] ? Number(m[2]) : defaultPort;
	if (!(port > 0 && port < 65536)) throw new InfraOpsError(`Port ${m[2]} of "${entry}" is out of range`);
	return { host: m[1], port };
}

async function buildTargets(context: IExecuteFunctions, i: number): Promise<RotationTarget[]> {
	const kinds = context.getNodeParameter('targetKinds', i, []) as string[];
	if (kinds.length === 0) throw new InfraOpsError('No target is selected', 'Pick at least one entry in "Targets"');
	const targets: RotationTarget[] = [];
	if (kinds.includes('postgresRole')) {
		const admin = postgresConnectionFrom(await context.getCredentials('infraOpsPostgresApi', i));
		const roles = splitList(context.getNodeParameter('pgRoles', i, ''));
		const servers = splitList(context.getNodeParameter('pgServers', i, ''));
		const loginDatabase = (context.getNodeParameter('pgLoginDatabase', i, '') as string) || undefined;
		const endpoints = servers.length ? servers.map((s) => parseHostPort(s, 5432)) : [{ host: admin.host, port: admin.port }];
		for (const endpoint of endpoints) targets.push(new PostgresRoleTarget({ admin: { ...admin, ...endpoint }, roles, loginDatabase }));
	}
	if (kinds.includes('envFile')) {
		const ssh = sshConnectionFrom(await context.getCredentials('infraOpsSshApi', i));
		const paths = splitList(context.getNodeParameter('envPaths', i, ''));
		if (paths.length === 0) throw new InfraOpsError('No .env file is named', 'Fill in ".Env Files" with one absolute path per line');
		const keys = splitList(context.getNodeParameter('envKeys', i, ''));
		const addIfMissing = context.getNodeParameter('envAddIfMissing', i, false) as boolean;
		const backup = context.getNodeParameter('envBackup', i, true) as boolean;
		const now = new Date();
		for (const path of paths) targets.push(new EnvFileTarget({ ssh, path, keys, addIfMissing, backup, now }));
	}
	return targets;
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	const items = this.getInputData();
	const results: ItemResult[] = [];
	for (let i = 0; i < items.length; i++) {
		try {
			const targets = await buildTargets(this, i);
			const secret = generateSecret(readSecretSpec(this, i));
			const outcome = await rotate(targets, secret, {
				info: (message) => this.logger.info(message),
				warn: (message) => this.logger.warn(message),
			});
			results.push({ itemIndex: i, findings: outcome.findings });
		} catch (error) {
			if (!this.continueOnFail()) throw toNodeError(this.getNode(), error, i);
			results.push({ itemIndex: i, error: errorMessage(error) });
		}
	}
	return toItems(this, results);
}
