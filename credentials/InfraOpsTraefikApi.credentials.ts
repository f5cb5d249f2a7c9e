import type {
	IAuthenticateGeneric,
	ICredentialTestRequest,
	ICredentialType,
	Icon,
	INodeProperties,
} from 'n8n-workflow';

export class InfraOpsTraefikApi implements ICredentialType {
	name = 'infraOpsTraefikApi';

	displayName = 'Traefik API (Infra Ops)';

	icon: Icon = { light: 'file:icons/traefik.svg', dark: 'file:icons/traefik.dark.svg' };

	documentationUrl = 'https://github.com/infra-ops/n8n-nodes-infra-ops/blob/main/docs/deploy.md#traefik-api';

	properties: INodeProperties[] = [
		{
			displayName: 'URL',
			name: 'url',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'http://traefik:8080',
			description: 'Where Traefik serves its API (the "traefik" entry point, or a router to api@internal)',
		},
		{
			displayName: 'Authentication',
			name: 'authentication',
			type: 'options',
			options: [
				{ name: 'None', value: 'none' },
				{ name: 'Basic Auth', value: 'basic' },
				{ name: 'Bearer Token', value: 'bearer' },
			],
			default: 'none',
		},
		{
			displayName: 'User',
			name: 'username',
			type: 'string',
			default: '',
			displayOptions: { show: { authentication: ['basic'] } },
		},
		{
			displayName: 'Password',
			name: 'password',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			displayOptions: { show: { authentication: ['basic'] } },
		},
		{
			displayName: 'Token',
			name: 'token',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			displayOptions: { show: { authentication: ['bearer'] } },
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
				Authorization:
					'={{ $credentials.authentication === "bearer" ? "Bearer " + $credentials.token : $credentials.authentication === "basic" ? "Basic " + ($credentials.username + ":" + $credentials.password).base64Encode() : "" }}',
			},
		},
	};

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{$credentials.url.replace(/\\/+$/, "")}}',
			url: '/api/version',
			skipSslCertificateValidation: '={{$credentials.allowSelfSigned}}',
		},
	};
}
