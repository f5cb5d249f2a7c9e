/** What each credential test does, as plain functions: connect for real, return a short success
 * message, or throw an InfraOpsError saying what failed. The n8n adapter is credentialTests.ts. */
import { identityToRecipient, parseRecipients } from './ageKeys';
import {
	backupEncryptionFrom,
	dockerConnectionFrom,
	n8nApiConnectionFrom,
	postgresConnectionFrom,
	proxmoxConnectionFrom,
	s3ConnectionFrom,
	sshConnectionFrom,
	stateStoreConnectionFrom,
	traefikConnectionFrom,
	vaultConnectionFrom,
	type HttpApiConnection,
} from './connections';
import { pingDocker, withDocker } from './docker';
import { InfraOpsError } from './errors';
import { httpRequest } from './http';
import { withPostgres } from './postgres';
import { checkBucket, describeS3Target } from './s3';
import { withSsh } from './ssh';
import { checkStateStore } from './stateStore';

type Data = Record<string, unknown>;

export async function checkDockerCredential(data: Data): Promise<string> {
	return await withDocker(dockerConnectionFrom(data), async (client) => {
		const info = await pingDocker(client);
		return `Docker ${info.version} (API ${info.apiVersion}, ${info.os}/${info.arch}) at ${client.target}`;
	});
}

export async function checkSshCredential(data: Data): Promise<string> {
	const conn = sshConnectionFrom(data);
	return await withSsh(conn, async (session) => {
		const result = await session.exec('echo infra-ops-ok', { timeoutMs: 15_000 });
		if (result.code !== 0 || !result.stdout.includes('infra-ops-ok')) {
			throw new InfraOpsError(
				`${session.target}: logged in, but running a command failed (exit ${result.code}): ${result.stderr.trim().slice(0, 200)}`,
			);
		}
		return `Logged in to ${session.target}; host key matches`;
	});
}

export async function checkS3Credential(data: Data): Promise<string> {
	const conn = s3ConnectionFrom(data);
	await checkBucket(conn);
	return `Bucket reachable: ${describeS3Target(conn)}`;
}

export async function checkPostgresCredential(data: Data): Promise<string> {
	return await withPostgres(postgresConnectionFrom(data), async (client) => {
		const { rows } = await client.query<{ version: string }>(
			"select current_setting('server_version') as version",
		);
		return `Connected to PostgreSQL ${rows[0]?.version}`;
	});
}

export async function checkStateStoreCredential(data: Data): Promise<string> {
	return await checkStateStore(stateStoreConnectionFrom(data));
}

export function checkBackupEncryptionCredential(data: Data): string {
	const keys = backupEncryptionFrom(data);
	const recipients = parseRecipients(keys.recipients);
	if (recipients.length === 0 && !keys.passphrase) {
		throw new InfraOpsError(
			'Set at least one recipient (age1…) or a passphrase',
			'Run `age-keygen -o backup.key` and paste its public key',
		);
	}
	if (keys.identity) {
		const own = identityToRecipient(keys.identity);
		if (recipients.length > 0 && !recipients.some((r) => r.recipient === own.recipient)) {
			throw new InfraOpsError(
				`The identity's public key ${own.recipient} is not among the recipients`,
				'Backups written to these recipients could not be restored with this identity: add its public key to the recipients, or paste the matching identity',
			);
		}
	}
	const parts = [`${recipients.length} recipient(s)`];
	if (keys.identity) parts.push('identity matches');
	if (keys.passphrase) parts.push('passphrase set');
	return parts.join(', ');
}

async function getJson(conn: HttpApiConnection, path: string, what: string): Promise<unknown> {
	const response = await httpRequest({
		url: conn.baseUrl + path,
		headers: conn.headers,
		tls: conn.tls,
		timeoutMs: 15_000,
	});
	if (response.status === 401 || response.status === 403) {
		throw new InfraOpsError(
			`${what} at ${conn.baseUrl} refused the credentials (HTTP ${response.status})`,
			'Check the token or password, and its permissions',
		);
	}
	if (response.status !== 200) {
		throw new InfraOpsError(
			`${what} at ${conn.baseUrl}${path} answered HTTP ${response.status}: ${response.text().slice(0, 200)}`,
		);
	}
	return response.json();
}

export async function checkProxmoxCredential(data: Data): Promise<string> {
	const conn = proxmoxConnectionFrom(data);
	const body = (await getJson(conn, '/api2/json/version', 'Proxmox VE')) as {
		data?: { version?: string; release?: string };
	};
	return `Proxmox VE ${body.data?.version ?? '?'} at ${conn.baseUrl}`;
}

export async function checkTraefikCredential(data: Data): Promise<string> {
	const conn = traefikConnectionFrom(data);
	const body = (await getJson(conn, '/api/version', 'Traefik API')) as { Version?: string };
	return `Traefik ${body.Version ?? '?'} at ${conn.baseUrl}`;
}

export async function checkVaultCredential(data: Data): Promise<string> {
	const conn = vaultConnectionFrom(data);
	const body = (await getJson(conn, '/v1/auth/token/lookup-self', 'Vault')) as {
		data?: { display_name?: string; policies?: string[] };
	};
	return `Vault token ${body.data?.display_name ?? ''} with policies ${(body.data?.policies ?? []).join(', ')}`.trim();
}

export async function checkN8nApiCredential(data: Data): Promise<string> {
	const conn = n8nApiConnectionFrom(data);
	await getJson(conn, '/workflows?limit=1', 'n8n API');
	return `n8n API reachable at ${conn.baseUrl}`;
}
