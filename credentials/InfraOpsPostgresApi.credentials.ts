import type { ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

export class InfraOpsPostgresApi implements ICredentialType {
	name = 'infraOpsPostgresApi';

	displayName = 'PostgreSQL Admin (Infra Ops)';

	icon: Icon = { light: 'file:icons/postgres.svg', dark: 'file:icons/postgres.dark.svg' };

	documentationUrl =
		'https://github.com/infra-ops/n8n-nodes-infra-ops/blob/main/docs/deploy.md#postgresql-admin';

	properties: INodeProperties[] = [
		{ displayName: 'Host', name: 'host', type: 'string', default: 'localhost', required: true },
		{ displayName: 'Port', name: 'port', type: 'number', default: 5432 },
		{ displayName: 'Database', name: 'database', type: 'string', default: 'postgres' },
		{
			displayName: 'User',
			name: 'user',
			type: 'string',
			default: 'postgres',
			description:
				'A superuser (in the stack: postgres): Secret Rotate reads the old verifier from pg_authid, which only a superuser may, so a failed rotation can put it back',
		},
		{
			displayName: 'Password',
			name: 'password',
			type: 'string',
			typeOptions: { password: true },
			default: '',
		},
		{
			displayName: 'SSL',
			name: 'ssl',
			type: 'options',
			options: [
				{
					name: 'Verify Full (CA and Host Name)',
					value: 'verify-full',
					description: 'Encrypted, and the server proves it is the host named above',
				},
				{
					name: 'Require (Encrypted, Not Verified)',
					value: 'require',
					description: 'Encrypted, but anyone between n8n and the server can pose as it',
				},
				{ name: 'Disable', value: 'disable', description: 'Plain text on the network' },
			],
			default: 'verify-full',
			description:
				'Secret Rotate logs in as a superuser and reads password verifiers from pg_authid: keep Verify Full. Choose Disable only for a server on a private link (localhost, an internal Docker network): the login and every verifier then cross that link in clear text.',
		},
		{
			displayName:
				'With SSL disabled, the superuser login and the password verifiers Secret Rotate reads cross the network in clear text: use it only on an internal Docker network or localhost',
			name: 'sslDisabledNotice',
			type: 'notice',
			default: '',
			displayOptions: { show: { ssl: ['disable'] } },
		},
		{
			displayName: 'CA Certificate',
			name: 'ca',
			type: 'string',
			typeOptions: { rows: 4 },
			default: '',
			placeholder: '-----BEGIN CERTIFICATE-----',
			description:
				'PEM of the CA that signed the server certificate (for a self-made one: its root.crt); empty uses the system roots',
			displayOptions: { show: { ssl: ['verify-full'] } },
		},
	];
}
