import type {
	IAuthenticateGeneric,
	ICredentialTestRequest,
	ICredentialType,
	Icon,
	INodeProperties,
} from 'n8n-workflow';

/** A Trivy server (`trivy server --token …`) that holds the vulnerability DB for client/server scans. */
export class InfraOpsTrivyServerApi implements ICredentialType {
	name = 'infraOpsTrivyServerApi';

	displayName = 'Trivy Server (Infra Ops)';

	icon: Icon = { light: 'file:icons/trivy.svg', dark: 'file:icons/trivy.dark.svg' };

	documentationUrl =
		'https://github.com/infra-ops/n8n-nodes-infra-ops/blob/main/README.md#trivy-scan';

	properties: INodeProperties[] = [
		{
			displayName: 'URL',
			name: 'url',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'http://trivy-server:4954',
			description:
				"Where `trivy server` listens, as the scanning Trivy (in Docker, over SSH or on the n8n host) reaches it. No user name or password in it: it is on Trivy's command line; use Token.",
		},
		{
			displayName: 'Token',
			name: 'token',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description:
				"The server's --token; given to Trivy in its environment (TRIVY_TOKEN), never on its command line",
		},
	];

	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: {
			headers: { 'Trivy-Token': '={{$credentials.token}}' },
		},
	};

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{$credentials.url.replace(/\\/+$/, "")}}',
			url: '/healthz',
		},
	};
}
