import type { ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

export class InfraOpsS3Api implements ICredentialType {
	name = 'infraOpsS3Api';

	displayName = 'S3-Compatible Storage (Infra Ops)';

	icon: Icon = { light: 'file:icons/s3.svg', dark: 'file:icons/s3.dark.svg' };

	documentationUrl =
		'https://github.com/infra-ops/n8n-nodes-infra-ops/blob/main/docs/deploy.md#s3-compatible-storage';

	properties: INodeProperties[] = [
		{
			displayName: 'Provider',
			name: 'provider',
			type: 'options',
			options: [
				{ name: 'Amazon S3', value: 'aws' },
				{ name: 'Backblaze B2', value: 'b2' },
				{ name: 'Cloudflare R2', value: 'r2' },
				{ name: 'MinIO', value: 'minio' },
				{ name: 'Other S3-Compatible', value: 'other' },
				{ name: 'Wasabi', value: 'wasabi' },
			],
			default: 'aws',
		},
		{
			displayName: 'Cloudflare Account ID',
			name: 'accountId',
			type: 'string',
			default: '',
			displayOptions: { show: { provider: ['r2'] } },
		},
		{
			displayName: 'Region',
			name: 'region',
			type: 'string',
			default: '',
			placeholder: 'us-east-1 (B2: us-west-004)',
			displayOptions: { show: { provider: ['aws', 'b2', 'wasabi', 'minio', 'other'] } },
		},
		{
			displayName: 'Endpoint',
			name: 'endpoint',
			type: 'string',
			default: '',
			placeholder: 'http://minio:9000',
			description:
				'Required for MinIO and other providers; leave empty to use the preset of the others',
		},
		{
			displayName: 'Bucket',
			name: 'bucket',
			type: 'string',
			default: '',
			required: true,
		},
		{
			displayName: 'Access Key ID',
			name: 'accessKeyId',
			type: 'string',
			default: '',
			required: true,
		},
		{
			displayName: 'Secret Access Key',
			name: 'secretAccessKey',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
		},
		{
			displayName: 'Force Path Style',
			name: 'forcePathStyle',
			type: 'boolean',
			default: true,
			description:
				'Whether to address the bucket as endpoint/bucket instead of bucket.endpoint (MinIO always does)',
			displayOptions: { show: { provider: ['other'] } },
		},
	];
}
