import type { ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

/**
 * A restic repository in the bucket of the node's S3 credential (same endpoint, keys and path style),
 * or on the host of its SSH credential (sftp), so keys live in one credential. The password and keys
 * reach restic only as files put into its container before it starts, never in its environment or
 * command line.
 */
export class InfraOpsResticRepositoryApi implements ICredentialType {
	name = 'infraOpsResticRepositoryApi';

	displayName = 'Restic Repository (Infra Ops)';

	icon: Icon = { light: 'file:icons/restic.svg', dark: 'file:icons/restic.dark.svg' };

	documentationUrl =
		'https://github.com/infra-ops/n8n-nodes-infra-ops/blob/main/README.md#engines-archive-or-restic-repository';

	properties: INodeProperties[] = [
		{
			displayName: 'Repository Type',
			name: 'repositoryType',
			type: 'options',
			options: [
				{
					name: 'S3 (Bucket of the S3 Credential)',
					value: 's3',
					description: "Endpoint, bucket and keys come from the node's S3 credential",
				},
				{
					name: 'SFTP (Host of the SSH Credential)',
					value: 'sftp',
					description:
						"A folder on the host of the node's SSH credential (private key without passphrase); the helper image needs an ssh client, as restic/restic has",
				},
			],
			default: 's3',
		},
		{
			displayName: 'Path',
			name: 'path',
			type: 'string',
			default: 'restic',
			required: true,
			description:
				'Folder of the repository inside the bucket, or on the SSH host (absolute, or relative to the home folder); one repository holds every volume (deduplicated across them)',
		},
		{
			displayName: 'Password',
			name: 'password',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description:
				'Encrypts the repository. Without it nothing can be restored: keep a copy outside n8n.',
		},
		{
			displayName: 'CA Certificate',
			name: 'caPem',
			type: 'string',
			typeOptions: { rows: 3 },
			default: '',
			placeholder: '-----BEGIN CERTIFICATE-----',
			displayOptions: { show: { repositoryType: ['s3'] } },
			description:
				"PEM of the CA that signed the S3 endpoint's certificate, for a self-hosted MinIO with its own CA; empty: the system CAs",
		},
	];
}
