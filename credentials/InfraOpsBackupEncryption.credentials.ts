import type { ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

export class InfraOpsBackupEncryption implements ICredentialType {
	name = 'infraOpsBackupEncryption';

	displayName = 'Backup Encryption (Infra Ops)';

	icon: Icon = { light: 'file:icons/age.svg', dark: 'file:icons/age.dark.svg' };

	documentationUrl =
		'https://github.com/infra-ops/n8n-nodes-infra-ops/blob/main/docs/deploy.md#backup-encryption-keys';

	properties: INodeProperties[] = [
		{
			displayName: 'Recipients',
			name: 'recipients',
			type: 'string',
			typeOptions: { rows: 3 },
			default: '',
			placeholder: 'age1...',
			description:
				'Age public keys, one per line, from `age-keygen`. They are enough to write backups; keep the private key off the n8n host.',
		},
		{
			displayName: 'Identity (Private Key)',
			name: 'secretKey',
			type: 'string',
			typeOptions: { rows: 2, password: true },
			default: '',
			placeholder: 'AGE-SECRET-KEY-1...',
			description:
				'Only needed to restore or verify backups. Leave empty on an n8n that only backs up.',
		},
		{
			displayName: 'Passphrase',
			name: 'passphrase',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description: 'Encrypt with a passphrase (age -p) instead of, or when no, recipients are set',
		},
		{
			displayName: 'Manifest Signing Secret',
			name: 'manifestSigningSecret',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			placeholder: 'openssl rand -hex 32',
			description:
				'Signs each backup manifest (HMAC) so Prune, List, Verify and Restore can tell backups this n8n wrote from objects planted in the bucket. Empty: a key derived from the identity, else the passphrase. A credential with only recipients cannot sign: put the same long random secret in the credential Backup uses and in the one Prune, Verify and Restore use. It never leaves n8n.',
		},
	];
}
