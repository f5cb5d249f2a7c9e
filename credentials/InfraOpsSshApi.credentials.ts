import type { ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

export class InfraOpsSshApi implements ICredentialType {
	name = 'infraOpsSshApi';

	displayName = 'SSH Host (Infra Ops)';

	icon: Icon = { light: 'file:icons/ssh.svg', dark: 'file:icons/ssh.dark.svg' };

	documentationUrl =
		'https://github.com/infra-ops/n8n-nodes-infra-ops/blob/main/docs/deploy.md#ssh-hosts';

	properties: INodeProperties[] = [
		{ displayName: 'Host', name: 'host', type: 'string', default: '', required: true },
		{ displayName: 'Port', name: 'port', type: 'number', default: 22 },
		{ displayName: 'User', name: 'username', type: 'string', default: '', required: true },
		{
			displayName: 'Authentication',
			name: 'authentication',
			type: 'options',
			options: [
				{ name: 'Private Key', value: 'privateKey' },
				{ name: 'Password', value: 'password' },
			],
			default: 'privateKey',
		},
		{
			displayName: 'Private Key',
			name: 'privateKey',
			type: 'string',
			typeOptions: { rows: 4, password: true },
			default: '',
			placeholder: '-----BEGIN OPENSSH PRIVATE KEY-----',
			displayOptions: { show: { authentication: ['privateKey'] } },
		},
		{
			displayName: 'Passphrase',
			name: 'passphrase',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description: 'Passphrase of the private key, if it has one',
			displayOptions: { show: { authentication: ['privateKey'] } },
		},
		{
			displayName: 'Password',
			name: 'password',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			displayOptions: { show: { authentication: ['password'] } },
		},
		{
			displayName: 'Host Key Fingerprint',
			name: 'hostKeyFingerprint',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'SHA256:...',
			description:
				'Expected SHA-256 fingerprint of the host key (several may be separated by commas); any other key is refused, never prompted. Get it on the host with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`.',
		},
	];
}
