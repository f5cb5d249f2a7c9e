/** The connection fields of the PostgreSQL credentials (Admin for Secret Rotate / Host Audit, and the
 * State Store), read back by postgresConnectionFrom in connections.ts. Each credential says in its own
 * words what the login is for and what a clear-text link exposes. */
import type { INodeProperties } from 'n8n-workflow';

export interface PostgresFieldTexts {
	userDefault: string;
	userDescription: string;
	sslDescription: string;
	/** Shown when SSL is Disable. */
	sslDisabledNotice: string;
}

export function postgresCredentialFields(texts: PostgresFieldTexts): INodeProperties[] {
	return [
		{ displayName: 'Host', name: 'host', type: 'string', default: 'localhost', required: true },
		{ displayName: 'Port', name: 'port', type: 'number', default: 5432 },
		{ displayName: 'Database', name: 'database', type: 'string', default: 'postgres' },
		{
			displayName: 'User',
			name: 'user',
			type: 'string',
			default: texts.userDefault,
			description: texts.userDescription,
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
			description: texts.sslDescription,
		},
		{
			displayName: texts.sslDisabledNotice,
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
