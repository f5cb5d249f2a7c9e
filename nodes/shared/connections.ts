/** Credential data (as n8n decrypts it) to the plain connection objects the transports take.
 * Field names match credentials/*.credentials.ts. */
import type { DockerConnection } from './docker';
import { InfraOpsError } from './errors';
import { tlsTrustFromCredential, type TlsTrust } from './http';
import type { PostgresConnection } from './postgres';
import type { S3Connection, S3Provider } from './s3';
import type { StateStoreConnection } from './stateStore';
import { parseFingerprints, type SshConnection } from './ssh';

type Data = Record<string, unknown>;

const str = (data: Data, key: string): string =>
	typeof data[key] === 'string' ? (data[key] as string) : '';
const num = (data: Data, key: string, fallback: number): number => {
	const value = Number(data[key]);
	return Number.isFinite(value) && value > 0 ? value : fallback;
};
const required = (data: Data, key: string, label: string, credential: string): string => {
	const value = str(data, key).trim();
	if (!value)
		throw new InfraOpsError(
			`The ${credential} credential has no ${label}`,
			`Open the credential and fill in "${label}"`,
		);
	return value;
};

export function sshConnectionFrom(data: Data): SshConnection {
	const usePassword = str(data, 'authentication') === 'password';
	return {
		host: required(data, 'host', 'Host', 'SSH'),
		port: num(data, 'port', 22),
		username: required(data, 'username', 'User', 'SSH'),
		privateKey: usePassword ? undefined : required(data, 'privateKey', 'Private Key', 'SSH'),
		passphrase: usePassword ? undefined : str(data, 'passphrase') || undefined,
		password: usePassword ? required(data, 'password', 'Password', 'SSH') : undefined,
		hostKeyFingerprints: parseFingerprints(
			required(data, 'hostKeyFingerprint', 'Host Key Fingerprint', 'SSH'),
		),
	};
}

export function dockerConnectionFrom(data: Data): DockerConnection {
	const kind = str(data, 'connection') || 'socket';
	if (kind === 'socket')
		return { kind, socketPath: str(data, 'socketPath') || '/var/run/docker.sock' };
	if (kind === 'tcp') {
		return {
			kind,
			host: required(data, 'host', 'Host', 'Docker'),
			port: num(data, 'port', 2376),
			tls: data.tls !== false,
			ca: str(data, 'ca') || undefined,
			cert: str(data, 'clientCert') || undefined,
			key: str(data, 'clientPrivateKey') || undefined,
		};
	}
	if (kind === 'ssh') {
		return {
			kind,
			ssh: {
				host: required(data, 'host', 'Host', 'Docker'),
				port: num(data, 'sshPort', 22),
				username: required(data, 'sshUser', 'SSH User', 'Docker'),
				privateKey: required(data, 'sshPrivateKey', 'SSH Private Key', 'Docker'),
				passphrase: str(data, 'sshPassphrase') || undefined,
				hostKeyFingerprints: parseFingerprints(
					required(data, 'hostKeyFingerprint', 'Host Key Fingerprint', 'Docker'),
				),
			},
		};
	}
	throw new InfraOpsError(`Unknown Docker connection kind "${kind}"`);
}

export function s3ConnectionFrom(data: Data): S3Connection {
	return {
		provider: (str(data, 'provider') || 'aws') as S3Provider,
		bucket: required(data, 'bucket', 'Bucket', 'S3'),
		accessKeyId: required(data, 'accessKeyId', 'Access Key ID', 'S3'),
		secretAccessKey: required(data, 'secretAccessKey', 'Secret Access Key', 'S3'),
		region: str(data, 'region') || undefined,
		endpoint: str(data, 'endpoint') || undefined,
		accountId: str(data, 'accountId') || undefined,
		forcePathStyle: typeof data.forcePathStyle === 'boolean' ? data.forcePathStyle : undefined,
	};
}

export function postgresConnectionFrom(data: Data): PostgresConnection {
	// n8n fills a missing field with its default when it loads a credential; this path (data from elsewhere) does the same
	const ssl = str(data, 'ssl') || 'verify-full';
	if (!['disable', 'require', 'verify-full'].includes(ssl))
		throw new InfraOpsError(`Unknown SSL mode "${ssl}"`);
	return {
		host: required(data, 'host', 'Host', 'PostgreSQL'),
		port: num(data, 'port', 5432),
		database: str(data, 'database') || 'postgres',
		user: required(data, 'user', 'User', 'PostgreSQL'),
		password: str(data, 'password'),
		ssl: ssl as PostgresConnection['ssl'],
		ca: str(data, 'ca') || undefined,
	};
}

export function stateStoreConnectionFrom(data: Data): StateStoreConnection {
	return {
		...postgresConnectionFrom(data),
		table: str(data, 'table').trim() || 'infra_ops_state',
	};
}

export interface HttpApiConnection {
	baseUrl: string;
	headers: Record<string, string>;
	tls: TlsTrust;
}

const baseUrl = (value: string) => value.trim().replace(/\/+$/, '');

export function proxmoxConnectionFrom(data: Data): HttpApiConnection {
	const tokenId = required(data, 'tokenId', 'API Token ID', 'Proxmox VE');
	if (!/^[^@!\s]+@[^@!\s]+![^@!\s]+$/.test(tokenId)) {
		throw new InfraOpsError(
			`Proxmox API token ID "${tokenId}" is not of the form USER@REALM!TOKENID`,
			'For example automation@pve!n8n',
		);
	}
	return {
		baseUrl: baseUrl(required(data, 'url', 'URL', 'Proxmox VE')),
		headers: {
			authorization: `PVEAPIToken=${tokenId}=${required(data, 'tokenSecret', 'API Token Secret', 'Proxmox VE')}`,
		},
		tls: tlsTrustFromCredential(data, 'Proxmox VE'),
	};
}

export function traefikConnectionFrom(data: Data): HttpApiConnection {
	const auth = str(data, 'authentication') || 'none';
	const headers: Record<string, string> = {};
	if (auth === 'basic') {
		headers.authorization =
			'Basic ' +
			Buffer.from(`${str(data, 'username')}:${str(data, 'password')}`).toString('base64');
	} else if (auth === 'bearer') {
		headers.authorization = `Bearer ${required(data, 'token', 'Token', 'Traefik API')}`;
	}
	return {
		baseUrl: baseUrl(required(data, 'url', 'URL', 'Traefik API')),
		headers,
		tls: tlsTrustFromCredential(data, 'Traefik API'),
	};
}

export function vaultConnectionFrom(data: Data): HttpApiConnection {
	const headers: Record<string, string> = {
		'x-vault-token': required(data, 'token', 'Token', 'Vault'),
	};
	if (str(data, 'namespace')) headers['x-vault-namespace'] = str(data, 'namespace');
	return {
		baseUrl: baseUrl(required(data, 'url', 'URL', 'Vault')),
		headers,
		tls: tlsTrustFromCredential(data, 'Vault'),
	};
}

export function n8nApiConnectionFrom(data: Data): HttpApiConnection {
	return {
		baseUrl:
			baseUrl(required(data, 'baseUrl', 'Base URL', 'n8n API')).replace(/\/api\/v1$/, '') +
			'/api/v1',
		headers: { 'x-n8n-api-key': required(data, 'apiKey', 'API Key', 'n8n API') },
		tls: { mode: 'system' },
	};
}

export interface BackupEncryptionKeys {
	recipients: string;
	identity?: string;
	passphrase?: string;
	signingSecret?: string;
}

export function backupEncryptionFrom(data: Data): BackupEncryptionKeys {
	return {
		recipients: str(data, 'recipients'),
		identity: str(data, 'secretKey') || undefined,
		passphrase: str(data, 'passphrase') || undefined,
		signingSecret: str(data, 'manifestSigningSecret') || undefined,
	};
}
