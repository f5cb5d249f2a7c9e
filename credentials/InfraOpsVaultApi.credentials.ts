import type {
	IAuthenticateGeneric,
	ICredentialTestRequest,
	ICredentialType,
	Icon,
	INodeProperties,
} from 'n8n-workflow';

export class InfraOpsVaultApi implements ICredentialType {
	name = 'infraOpsVaultApi';

	displayName = 'HashiCorp Vault (Infra Ops)';

	icon: Icon = { light: 'file:icons/vault.svg', dark: 'file:icons/vault.dark.svg' };

	documentationUrl = 'https://github.com/infra-ops/n8n-nodes-infra-ops/blob/main/docs/deploy.md#hashicorp-vault';

	properties: INodeProperties[] = [
		{
			displayName: 'URL',
			name: 'url',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'https://vault.example.lan:8200',
		},
		{
			displayName: 'Token',
			name: 'token',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description: 'A token whose policy may read and write the KV v2 paths you rotate',
		},
		{
			displayName: 'Namespace',
			name: 'namespace',
			type: 'string',
			default: '',
			description: 'Vault Enterprise / HCP namespace; leave empty otherwise',
		},
		{
			displayName: 'Allow Self-Signed Certificate',
			name: 'allowSelfSigned',
			type: 'boolean',
			default: false,
		},
	];

	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: {
			headers: {
				'X-Vault-Token': '={{$credentials.token}}',
				'X-Vault-Namespace': '={{$credentials.namespace}}',
			},
		},
	};

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{$credentials.url.replace(/\\/+$/, "")}}',
			url: '/v1/auth/token/lookup-self',
			skipSslCertificateValidation: '={{$credentials.allowSelfSigned}}',
		},
	};
}
