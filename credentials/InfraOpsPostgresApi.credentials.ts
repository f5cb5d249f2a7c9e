import type { ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

export class InfraOpsPostgresApi implements ICredentialType {
	name = 'infraOpsPostgresApi';

	displayName = 'PostgreSQL Admin (Infra Ops)';

	icon: Icon = { light: 'file:icons/postgres.svg', dark: 'file:icons/postgres.dark.svg' };

	documentationUrl = 'https://github.com/infra-ops/n8n-nodes-infra-ops/blob/main/docs/deploy.md#postgresql-admin';

	properties: INodeProperties[] = [
		{ displayName: 'Host', name: 'host', type: 'string', default: 'localhost', required: true },
		{ displayName: 'Port', name: 'port', type: 'number', default: 5432 },
		{ displayName: 'Database', name: 'database', type: 'string', default: 'postgres' },
		{
			displayName: 'User',
			name: 'user',
			type: 'string',
			default: 'postgres',
			description: 'A superuser (in the stack: postgres): Secret Rotate reads the old verifier from pg_authid, which only a superuser may, so a failed rotation can put it back',
		},
		{ displayName: 'Password', name: 'password', type: 'string', typeOptions: { password: true }, default: '' },
		{
			displayName: 'SSL',
			name: 'ssl',
			type: 'options',
			options: [
				{ name: 'Disable', value: 'disable' },
				{ name: 'Require (Encrypted, Not Verified)', value: 'require' },
				{ name: 'Verify Full (CA and Host Name)', value: 'verify-full' },
			],
			default: 'disable',
		},
		{
			displayName: 'CA Certificate',
			name: 'ca',
			type: 'string',
			typeOptions: { rows: 4 },
			default: '',
			description: 'PEM of the CA that signed the server certificate; empty uses the system roots',
			displayOptions: { show: { ssl: ['verify-full'] } },
		},
	];
}
