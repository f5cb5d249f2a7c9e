import type { IAuthenticateGeneric, ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

import { tlsCredentialFields } from '../nodes/shared/tlsCredentialFields';

export class InfraOpsProxmoxApi implements ICredentialType {
	name = 'infraOpsProxmoxApi';

	displayName = 'Proxmox VE API (Infra Ops)';

	icon: Icon = { light: 'file:icons/proxmox.svg', dark: 'file:icons/proxmox.dark.svg' };

	documentationUrl =
		'https://github.com/infra-ops/n8n-nodes-infra-ops/blob/main/docs/deploy.md#proxmox-ve-api-token';

	properties: INodeProperties[] = [
		{
			displayName: 'URL',
			name: 'url',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'https://pve.example.lan:8006',
		},
		{
			displayName: 'API Token ID',
			name: 'tokenId',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'automation@pve!n8n',
			description: 'USER@REALM!TOKENID, as Datacenter → Permissions → API Tokens shows it',
		},
		{
			displayName: 'API Token Secret',
			name: 'tokenSecret',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
		},
		...tlsCredentialFields({
			default: 'ca',
			systemCas: 'The certificate is issued by a public CA (e.g. ACME on the node)',
			customCa: 'Trust the cluster CA (/etc/pve/pve-root-ca.pem)',
			insecure: 'Accept any certificate (not recommended)',
			fingerprintDescription: 'As `pvenode cert info` prints it',
		}),
	];

	// No request test here: n8n would run it with its own client, which cannot check a custom CA or a
	// pin, and send the token to whoever answers. The nodes name a test (testedBy) that checks them first.
	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: {
			headers: {
				Authorization: '=PVEAPIToken={{$credentials.tokenId}}={{$credentials.tokenSecret}}',
			},
		},
	};
}
