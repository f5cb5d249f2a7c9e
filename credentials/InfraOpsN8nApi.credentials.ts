import type {
	IAuthenticateGeneric,
	ICredentialTestRequest,
	ICredentialType,
	Icon,
	INodeProperties,
} from 'n8n-workflow';

export class InfraOpsN8nApi implements ICredentialType {
	name = 'infraOpsN8nApi';

	displayName = 'n8n API (Infra Ops)';

	icon: Icon = { light: 'file:icons/n8n.svg', dark: 'file:icons/n8n.dark.svg' };

	documentationUrl =
		'https://github.com/infra-ops/n8n-nodes-infra-ops/blob/main/docs/deploy.md#n8n-api-key-and-hashicorp-vault';

	properties: INodeProperties[] = [
		{
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			default: 'http://localhost:5678',
			required: true,
			description: 'The n8n instance, without /api/v1',
		},
		{
			displayName: 'API Key',
			name: 'apiKey',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description: 'Settings → n8n API → Create an API key (scopes: credential:update at least)',
		},
	];

	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: { headers: { 'X-N8N-API-KEY': '={{$credentials.apiKey}}' } },
	};

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{$credentials.baseUrl.replace(/\\/+$/, "")}}/api/v1',
			url: '/workflows',
			qs: { limit: 1 },
		},
	};
}
