/** The TLS fields of the HTTP API credentials (Proxmox VE, Traefik, Vault), read back by tlsTrustFromCredential in http.ts. */
import type { INodeProperties } from 'n8n-workflow';

export interface TlsFieldTexts {
	default: 'system' | 'ca';
	/** Where this server's certificate usually comes from, for the System CAs option. */
	systemCas: string;
	customCa: string;
	/** What anyone on the path gains with Allow Self-Signed. */
	insecure: string;
	description?: string;
	caDescription?: string;
	fingerprintDescription: string;
}

export function tlsCredentialFields(texts: TlsFieldTexts): INodeProperties[] {
	return [
		{
			displayName: 'TLS',
			name: 'tls',
			type: 'options',
			options: [
				{ name: 'System CAs', value: 'system', description: texts.systemCas },
				{ name: 'Custom CA', value: 'ca', description: texts.customCa },
				{
					name: 'Pin Fingerprint',
					value: 'fingerprint',
					description: 'Accept only the certificate with this SHA-256 fingerprint',
				},
				{ name: 'Allow Self-Signed', value: 'insecure', description: texts.insecure },
			],
			default: texts.default,
			...(texts.description ? { description: texts.description } : {}),
		},
		{
			displayName: 'CA Certificate',
			name: 'ca',
			type: 'string',
			typeOptions: { rows: 4 },
			default: '',
			placeholder: '-----BEGIN CERTIFICATE-----',
			...(texts.caDescription ? { description: texts.caDescription } : {}),
			displayOptions: { show: { tls: ['ca'] } },
		},
		{
			displayName: 'Certificate Fingerprint (SHA-256)',
			name: 'fingerprint',
			type: 'string',
			default: '',
			placeholder: 'AB:CD:...',
			description: texts.fingerprintDescription,
			displayOptions: { show: { tls: ['fingerprint'] } },
		},
	];
}
