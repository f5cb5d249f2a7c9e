import type { IAuthenticateGeneric, ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

import { tlsCredentialFields } from '../nodes/shared/tlsCredentialFields';

export class InfraOpsTraefikApi implements ICredentialType {
	name = 'infraOpsTraefikApi';

	displayName = 'Traefik API (Infra Ops)';

	icon: Icon = { light: 'file:icons/traefik.svg', dark: 'file:icons/traefik.dark.svg' };

	documentationUrl =
		'https://github.com/infra-ops/n8n-nodes-infra-ops/blob/main/docs/deploy.md#traefik-api';

	properties: INodeProperties[] = [
		{
			displayName: 'URL',
			name: 'url',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'http://traefik:8080',
			description:
				'Where Traefik serves its API (the "traefik" entry point, or a router to api@internal)',
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
		...tlsCredentialFields({
			default: 'system',
			systemCas: 'The certificate is issued by a public CA (e.g. ACME)',
			customCa: 'Trust the private CA that signed the server certificate',
			insecure:
				'Accept any certificate (not recommended: anyone on the path can pose as the server and read the token)',
			description:
				'How the server certificate is checked before the token is sent; with http:// URLs nothing is checked',
			caDescription: 'PEM of the CA that signed the certificate of the router in front of the API',
			fingerprintDescription:
				'As `openssl s_client -connect host:port </dev/null | openssl x509 -noout -fingerprint -sha256` prints it',
		}),
	];

	// No request test here: n8n would run it with its own client, which cannot check a custom CA or a
	// pin, and send the token to whoever answers. The nodes name a test (testedBy) that checks them first.
	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: {
			headers: {
				Authorization:
					'={{ $credentials.authentication === "bearer" ? "Bearer " + $credentials.token : $credentials.authentication === "basic" ? "Basic " + ($credentials.username + ":" + $credentials.password).base64Encode() : "" }}',
			},
		},
	};
}
