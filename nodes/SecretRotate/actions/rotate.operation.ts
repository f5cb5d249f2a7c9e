import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import {
	dockerConnectionFrom,
	n8nApiConnectionFrom,
	postgresConnectionFrom,
	sshConnectionFrom,
	vaultConnectionFrom,
} from '../../shared/connections';
import { InfraOpsError } from '../../shared/errors';
import { itemsFrom } from '../../shared/items';
import { splitList } from '../../shared/lists';
import { lockOwnerOf, lockWaitMs } from '../../shared/nodeLocks';
import { generateSecret } from '../generate';
import { rotate, type RotationTarget } from '../rotation';
import { ContainersTarget } from '../targets/containers';
import { EnvFileTarget } from '../targets/envFile';
import { N8nCredentialTarget } from '../targets/n8nCredential';
import { SshAuthorizedKeyTarget } from '../targets/sshAuthorizedKey';
import { SwarmSecretTarget } from '../targets/swarmSecret';
import { VaultKvTarget } from '../targets/vaultKv';
import { PostgresRoleTarget } from '../targets/postgresRole';
import { readSecretSpec } from './common';

const showKind = (kind: string) => ({ show: { operation: ['rotate'], targetKinds: [kind] } });

export const description: INodeProperties[] = [
	{
		displayName:
			'One run generates the secret in memory and applies it to every target: create (check, back up) → set all → test all → finish. If any set or test fails, every target is rolled back and the old secret keeps working; only an n8n credential failing its own test after its update cannot be, and is reported critical with the old secret kept. Output items never hold the secret.',
		name: 'rotateNotice',
		type: 'notice',
		default: '',
		displayOptions: { show: { operation: ['rotate'] } },
	},
	{
		displayName: 'Lock Wait (Seconds)',
		name: 'lockWaitS',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 60,
		description:
			'Each .env file, authorized_keys file, PostgreSQL role and swarm secret is locked for the run. How long to wait when another run holds one; then the run reports a warning ("locked by execution …") and changes nothing.',
		displayOptions: { show: { operation: ['rotate'] } },
	},
	{
		displayName: 'Targets',
		name: 'targetKinds',
		type: 'multiOptions',
		options: [
			{
				name: '.Env Files (SSH)',
				value: 'envFile',
				description: 'Set KEY=VALUE in .env files, keeping comments and quoting',
			},
			{
				name: 'Dependent Containers (Docker)',
				value: 'containers',
				description: 'Recreate (or restart) containers after the change and wait until healthy',
			},
			{
				name: 'Docker Swarm Secret',
				value: 'swarmSecret',
				description: 'New versioned secret, services switched to it, old one removed',
			},
			{
				name: 'N8n Credential',
				value: 'n8nCredential',
				description: 'Update a field of an n8n credential through the n8n API (set last)',
			},
			{
				name: 'PostgreSQL Roles',
				value: 'postgresRole',
				description: 'ALTER ROLE with a SCRAM-SHA-256 verifier, on one or more servers',
			},
			{
				name: 'SSH Authorized Key',
				value: 'sshAuthorizedKey',
				description: 'Add the new public key, log in with it, remove the old one',
			},
			{
				name: 'Vault KV V2',
				value: 'vaultKv',
				description: 'Write a new version with check-and-set',
			},
		],
		default: [],
		required: true,
		description:
			'Where the new secret goes. Set in this order: Vault, PostgreSQL, .env files, swarm secret, SSH key; then the containers restart; the n8n credential comes last, once all others passed their test.',
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
		description:
			"One host:port per line, all reached with the PostgreSQL credential's user and password. Empty: the credential's host only.",
		displayOptions: showKind('postgresRole'),
	},
	{
		displayName: 'Test Login Database',
		name: 'pgLoginDatabase',
		type: 'string',
		default: '',
		description: "Database the test login opens with the new password; empty uses the credential's",
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
		description:
			'Variables set to the new secret in each file (comma-separated); every duplicate line of a key is set',
		displayOptions: showKind('envFile'),
	},
	{
		displayName: 'Add If Missing',
		name: 'envAddIfMissing',
		type: 'boolean',
		default: false,
		description:
			'Whether to append KEY=VALUE to a file that lacks the key; off, a missing key fails the create step and nothing changes',
		displayOptions: showKind('envFile'),
	},
	{
		displayName: 'Keep Backup',
		name: 'envBackup',
		type: 'boolean',
		default: true,
		description:
			'Whether to keep a copy of the old file beside it (mode 0600), named <file>.infra-ops-bak-<time>',
		displayOptions: showKind('envFile'),
	},
	{
		displayName: 'Authorized Keys Path',
		name: 'authorizedKeysPath',
		type: 'string',
		default: '.ssh/authorized_keys',
		description: "Relative paths start in the user's home folder",
		displayOptions: showKind('sshAuthorizedKey'),
	},
	{
		displayName: 'SSH Hosts',
		name: 'sshHosts',
		type: 'string',
		typeOptions: { rows: 2 },
		default: '',
		placeholder: 'docker-host-1\ndocker-host-2:2222',
		description:
			"Hosts that accept the key being rotated, one host[:port] per line, all logged in to with the SSH credential (its fingerprint field may list every host's key). Empty: the credential's host only.",
		displayOptions: showKind('sshAuthorizedKey'),
	},
	{
		displayName: 'Vault Mount',
		name: 'vaultMount',
		type: 'string',
		default: 'secret',
		displayOptions: showKind('vaultKv'),
	},
	{
		displayName: 'Vault Path',
		name: 'vaultPath',
		type: 'string',
		default: '',
		placeholder: 'stack/postgres',
		displayOptions: showKind('vaultKv'),
	},
	{
		displayName: 'Vault Field',
		name: 'vaultField',
		type: 'string',
		default: 'password',
		description: "The key inside the secret's data; the other keys are kept",
		displayOptions: showKind('vaultKv'),
	},
	{
		displayName: 'Swarm Secret Name',
		name: 'swarmSecretName',
		type: 'string',
		default: '',
		placeholder: 'postgres_password',
		description:
			'Base name; new versions are named <name>_v<time>, mounted under the same file name',
		displayOptions: showKind('swarmSecret'),
	},
	{
		displayName: 'Swarm Services',
		name: 'swarmServices',
		type: 'string',
		default: '',
		description: 'Services using the secret (comma-separated)',
		displayOptions: showKind('swarmSecret'),
	},
	{
		displayName: 'Containers',
		name: 'containerNames',
		type: 'string',
		default: '',
		placeholder: 'supabase-db, langfuse-web',
		description:
			'Containers restarted after the change (comma-separated), then waited on until running and healthy. A restart keeps the environment; values from .env need the container recreated (docker compose up -d).',
		displayOptions: showKind('containers'),
	},
	{
		displayName: 'Container Action',
		name: 'containerAction',
		type: 'options',
		options: [
			{
				name: 'Recreate With the New Secret',
				value: 'recreate',
				description:
					'New container, same configuration, environment updated (as docker compose up -d would after the .env change); the old one is kept stopped until finish, for the rollback',
			},
			{
				name: 'Restart',
				value: 'restart',
				description:
					'Same container, same environment: for services that read the secret from a file',
			},
		],
		default: 'recreate',
		displayOptions: showKind('containers'),
	},
	{
		displayName: 'Environment Keys',
		name: 'containerEnvKeys',
		type: 'string',
		default: 'POSTGRES_PASSWORD',
		description:
			'Variables that get the new secret (comma-separated). The old value, taken from the first of them a container has (or else from the .env file rotated in the same run), is also replaced inside other variables (e.g. DATABASE_URL). A container where nothing would change stops the rotation before anything changes.',
		displayOptions: {
			show: { operation: ['rotate'], targetKinds: ['containers'], containerAction: ['recreate'] },
		},
	},
	{
		displayName: 'Health Timeout (Seconds)',
		name: 'healthTimeout',
		type: 'number',
		default: 120,
		description: 'How long containers and swarm services get to come back',
		displayOptions: { show: { operation: ['rotate'], targetKinds: ['containers', 'swarmSecret'] } },
	},
	{
		displayName: 'N8n Credential IDs',
		name: 'n8nCredentialIds',
		type: 'string',
		default: '',
		description:
			"Credentials to update (comma-separated IDs: the last part of the credential's URL)",
		displayOptions: showKind('n8nCredential'),
	},
	{
		displayName: 'N8n Credential Field',
		name: 'n8nCredentialField',
		type: 'string',
		default: 'password',
		description:
			'Field set to the new secret: password for a Postgres credential, privateKey for an SSH one',
		displayOptions: showKind('n8nCredential'),
	},
	{
		displayName: 'Run N8n Credential Test',
		name: 'n8nCredentialTest',
		type: 'boolean',
		default: true,
		description: "Whether to run n8n's own test of each credential after the update",
		displayOptions: showKind('n8nCredential'),
	},
];

/** `host`, `host:port`, `[v6]:port`. */
export function parseHostPort(entry: string, defaultPort: number): { host: string; port: number } {
	const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry) ?? /^([^:]+)(?::(\d+))?$/.exec(entry);
	if (!m)
		throw new InfraOpsError(
			`"${entry}" is not host or host:port`,
			'Write one server per line, e.g. supabase-db:5432',
		);
	const port = m[2] ? Number(m[2]) : defaultPort;
	if (!(port > 0 && port < 65536))
		throw new InfraOpsError(`Port ${m[2]} of "${entry}" is out of range`);
	return { host: m[1], port };
}

async function buildTargets(context: IExecuteFunctions, i: number): Promise<RotationTarget[]> {
	const kinds = context.getNodeParameter('targetKinds', i, []) as string[];
	if (kinds.length === 0)
		throw new InfraOpsError('No target is selected', 'Pick at least one entry in "Targets"');
	const targets: RotationTarget[] = [];
	const envFiles: EnvFileTarget[] = [];
	if (kinds.includes('postgresRole')) {
		const admin = postgresConnectionFrom(await context.getCredentials('infraOpsPostgresApi', i));
		const roles = splitList(context.getNodeParameter('pgRoles', i, ''));
		const servers = splitList(context.getNodeParameter('pgServers', i, ''));
		const loginDatabase =
			(context.getNodeParameter('pgLoginDatabase', i, '') as string) || undefined;
		const endpoints = servers.length
			? servers.map((s) => parseHostPort(s, 5432))
			: [{ host: admin.host, port: admin.port }];
		for (const endpoint of endpoints)
			targets.push(
				new PostgresRoleTarget({ admin: { ...admin, ...endpoint }, roles, loginDatabase }),
			);
	}
	if (kinds.includes('envFile')) {
		const ssh = sshConnectionFrom(await context.getCredentials('infraOpsSshApi', i));
		const paths = splitList(context.getNodeParameter('envPaths', i, ''));
		if (paths.length === 0)
			throw new InfraOpsError(
				'No .env file is named',
				'Fill in ".Env Files" with one absolute path per line',
			);
		const keys = splitList(context.getNodeParameter('envKeys', i, ''));
		const addIfMissing = context.getNodeParameter('envAddIfMissing', i, false) as boolean;
		const backup = context.getNodeParameter('envBackup', i, true) as boolean;
		const now = new Date();
		for (const path of paths) {
			const target = new EnvFileTarget({ ssh, path, keys, addIfMissing, backup, now });
			envFiles.push(target);
			targets.push(target);
		}
	}
	if (kinds.includes('sshAuthorizedKey')) {
		const ssh = sshConnectionFrom(await context.getCredentials('infraOpsSshApi', i));
		const path =
			(
				context.getNodeParameter('authorizedKeysPath', i, '.ssh/authorized_keys') as string
			).trim() || '.ssh/authorized_keys';
		const hosts = splitList(context.getNodeParameter('sshHosts', i, ''));
		const endpoints = hosts.length
			? hosts.map((h) => parseHostPort(h, ssh.port))
			: [{ host: ssh.host, port: ssh.port }];
		for (const endpoint of endpoints)
			targets.push(
				new SshAuthorizedKeyTarget({ ssh: { ...ssh, ...endpoint }, authorizedKeysPath: path }),
			);
	}
	if (kinds.includes('vaultKv')) {
		const api = vaultConnectionFrom(await context.getCredentials('infraOpsVaultApi', i));
		targets.push(
			new VaultKvTarget({
				api,
				mount: context.getNodeParameter('vaultMount', i, 'secret') as string,
				path: context.getNodeParameter('vaultPath', i, '') as string,
				field: context.getNodeParameter('vaultField', i, 'password') as string,
			}),
		);
	}
	const healthTimeoutMs = Number(context.getNodeParameter('healthTimeout', i, 120)) * 1000;
	// a zero or unreadable timeout would fail the test step at once and roll back a rotation that worked
	if ((kinds.includes('containers') || kinds.includes('swarmSecret')) && !(healthTimeoutMs > 0)) {
		throw new InfraOpsError(
			`Health timeout "${context.getNodeParameter('healthTimeout', i, 120)}" is not a positive number of seconds`,
			'Set "Health Timeout (Seconds)", e.g. 120',
		);
	}
	if (kinds.includes('swarmSecret')) {
		const docker = dockerConnectionFrom(await context.getCredentials('infraOpsDockerApi', i));
		targets.push(
			new SwarmSecretTarget({
				docker,
				secretName: (context.getNodeParameter('swarmSecretName', i, '') as string).trim(),
				services: splitList(context.getNodeParameter('swarmServices', i, '')),
				rolloutTimeoutMs: healthTimeoutMs,
			}),
		);
	}
	if (kinds.includes('containers')) {
		const docker = dockerConnectionFrom(await context.getCredentials('infraOpsDockerApi', i));
		const action = context.getNodeParameter('containerAction', i, 'recreate') as
			| 'restart'
			| 'recreate';
		const envKeys =
			action === 'recreate' ? splitList(context.getNodeParameter('containerEnvKeys', i, '')) : [];
		// env-file targets run their create before the containers', so their old value is known by then
		const currentValue = () => envFiles.map((t) => t.currentValue()).find((v) => v);
		targets.push(
			new ContainersTarget({
				docker,
				names: splitList(context.getNodeParameter('containerNames', i, '')),
				healthTimeoutMs,
				action,
				envKeys,
				currentValue,
			}),
		);
	}
	if (kinds.includes('n8nCredential')) {
		const api = n8nApiConnectionFrom(await context.getCredentials('infraOpsN8nApi', i));
		const field = (context.getNodeParameter('n8nCredentialField', i, 'password') as string).trim();
		const test = context.getNodeParameter('n8nCredentialTest', i, true) as boolean;
		const ids = splitList(context.getNodeParameter('n8nCredentialIds', i, ''));
		if (ids.length === 0)
			throw new InfraOpsError(
				'No n8n credential ID is given',
				'Open the credential in n8n: its ID is the last part of the URL',
			);
		for (const credentialId of ids)
			targets.push(new N8nCredentialTarget({ api, credentialId, field, test }));
	}
	const order = [
		'vault-kv',
		'postgres-role',
		'env-file',
		'swarm-secret',
		'ssh-authorized-key',
		'containers',
		'n8n-credential',
	];
	return targets.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async (i) => {
		const targets = await buildTargets(this, i);
		const secret = generateSecret(readSecretSpec(this, i));
		const outcome = await rotate(
			targets,
			secret,
			{
				info: (message) => this.logger.info(message),
				warn: (message) => this.logger.warn(message),
			},
			{ owner: lockOwnerOf(this), waitMs: lockWaitMs(this, i) },
		);
		return outcome.findings;
	});
}
