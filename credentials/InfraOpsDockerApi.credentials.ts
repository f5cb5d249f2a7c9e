import type { ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

export class InfraOpsDockerApi implements ICredentialType {
	name = 'infraOpsDockerApi';

	displayName = 'Docker Engine (Infra Ops)';

	icon: Icon = { light: 'file:icons/docker.svg', dark: 'file:icons/docker.dark.svg' };

	documentationUrl =
		'https://github.com/infra-ops/n8n-nodes-infra-ops/blob/main/docs/deploy.md#docker-engine';

	properties: INodeProperties[] = [
		{
			displayName: 'Connection',
			name: 'connection',
			type: 'options',
			options: [
				{
					name: 'Unix Socket',
					value: 'socket',
					description: 'The socket mounted into the n8n container, ideally a docker-socket-proxy',
				},
				{
					name: 'TCP',
					value: 'tcp',
					description:
						'A TCP endpoint, with TLS client certificates (port 2376) or a socket proxy on a private network',
				},
				{
					name: 'SSH',
					value: 'ssh',
					description: 'Docker over SSH: runs `docker system dial-stdio` on the host',
				},
			],
			default: 'socket',
		},
		{
			displayName: 'Socket Path',
			name: 'socketPath',
			type: 'string',
			default: '/var/run/docker.sock',
			displayOptions: { show: { connection: ['socket'] } },
		},
		{
			displayName: 'Host',
			name: 'host',
			type: 'string',
			default: '',
			placeholder: 'docker-socket-proxy',
			displayOptions: { show: { connection: ['tcp', 'ssh'] } },
		},
		{
			displayName: 'Port',
			name: 'port',
			type: 'number',
			default: 2376,
			displayOptions: { show: { connection: ['tcp'] } },
		},
		{
			displayName: 'TLS',
			name: 'tls',
			type: 'boolean',
			default: true,
			description:
				'Whether to connect with TLS client certificates; turn off only for a socket proxy on a private network',
			displayOptions: { show: { connection: ['tcp'] } },
		},
		{
			displayName: 'CA Certificate',
			name: 'ca',
			type: 'string',
			typeOptions: { rows: 4 },
			default: '',
			placeholder: '-----BEGIN CERTIFICATE-----',
			displayOptions: { show: { connection: ['tcp'], tls: [true] } },
		},
		{
			displayName: 'Client Certificate',
			name: 'clientCert',
			type: 'string',
			typeOptions: { rows: 4, password: true },
			default: '',
			displayOptions: { show: { connection: ['tcp'], tls: [true] } },
		},
		{
			displayName: 'Client Key',
			name: 'clientPrivateKey',
			type: 'string',
			typeOptions: { rows: 4, password: true },
			default: '',
			displayOptions: { show: { connection: ['tcp'], tls: [true] } },
		},
		{
			displayName: 'SSH Port',
			name: 'sshPort',
			type: 'number',
			default: 22,
			displayOptions: { show: { connection: ['ssh'] } },
		},
		{
			displayName: 'SSH User',
			name: 'sshUser',
			type: 'string',
			default: '',
			description: 'A user allowed to use Docker on the host (member of the docker group)',
			displayOptions: { show: { connection: ['ssh'] } },
		},
		{
			displayName: 'SSH Private Key',
			name: 'sshPrivateKey',
			type: 'string',
			typeOptions: { rows: 4, password: true },
			default: '',
			displayOptions: { show: { connection: ['ssh'] } },
		},
		{
			displayName: 'SSH Key Passphrase',
			name: 'sshPassphrase',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			displayOptions: { show: { connection: ['ssh'] } },
		},
		{
			displayName: 'Host Key Fingerprint',
			name: 'hostKeyFingerprint',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'SHA256:...',
			description:
				'Expected SHA-256 fingerprint of the host key; any other key is refused. Get it on the host with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`.',
			displayOptions: { show: { connection: ['ssh'] } },
		},
	];
}
