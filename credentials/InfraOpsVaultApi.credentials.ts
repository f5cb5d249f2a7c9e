import type { IAuthenticateGeneric, ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

import { tlsCredentialFields } from '../nodes/shared/tlsCredentialFields';

export class InfraOpsVaultApi implements ICredentialType {
	name = 'infraOpsVaultApi';

	displayName = 'HashiCorp Vault (Infra Ops)';

	icon: Icon = { light: 'file:icons/vault.svg', dark: 'file:icons/vault.dark.svg' };

	documentationUrl =
		'https://github.com/infra-ops/n8n-nodes-infra-ops/blob/main/docs/deploy.md#n8n-api-key-and-hashicorp-vault';

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
		...tlsCredentialFields({
			default: 'system',
			systemCas: 'The certificate is issued by a public CA',
			customCa: 'Trust the private CA that signed the server certificate',
			insecure:
				'Accept any certificate (not recommended: anyone on the path can pose as the server and read the token)',
			description:
				'How the server certificate is checked before the token is sent; with http:// URLs nothing is checked',
			caDescription:
				"PEM of the CA that signed Vault's listener certificate (the tls_cert_file's issuer)",
			fingerprintDescription:
				'As `openssl x509 -noout -fingerprint -sha256 -in <tls_cert_file>` prints it',
		}),
	];

	// No request test here: n8n would run it with its own client, which cannot check a custom CA or a
	// pin, and send the token to whoever answers. The nodes name a test (testedBy) that checks them first.
	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: {
			headers: {
				'X-Vault-Token': '={{$credentials.token}}',
				'X-Vault-Namespace': '={{$credentials.namespace}}',
			},
		},
	};
}
