/** PostgreSQL admin connections (pg, pure JS) with TLS modes and timeouts. */
import { isIP } from 'node:net';
import type { Client } from 'pg';

import { describeConnectError, InfraOpsError, TimeoutError } from './errors';
import { loadPg } from './lazy';

export interface PostgresConnection {
	host: string;
	port: number;
	database: string;
	user: string;
	password: string;
	/** disable; require (encrypted, not verified); verify-full (CA and host name checked). */
	ssl: 'disable' | 'require' | 'verify-full';
	ca?: string;
}

const CONNECT_TIMEOUT_MS = 10_000;
const STATEMENT_TIMEOUT_MS = 60_000;

export function describePostgresTarget(conn: PostgresConnection): string {
	return `PostgreSQL ${conn.user}@${conn.host}:${conn.port}/${conn.database}`;
}

/**
 * `statementTimeoutMs`: the server cancels a statement (a lock wait included) after this long.
 * `perTransaction`: the caller sets it in each transaction (SET LOCAL) instead of at login, which
 * PgBouncer refuses ("unsupported startup parameter") and a transaction pool would not keep anyway.
 */
export async function connectPostgres(
	conn: PostgresConnection,
	options: { statementTimeoutMs?: number; perTransaction?: boolean } = {},
): Promise<Client> {
	const statementTimeout = options.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS;
	const { Client } = loadPg();
	const client = new Client({
		host: conn.host,
		port: conn.port,
		database: conn.database,
		user: conn.user,
		password: conn.password,
		ssl:
			conn.ssl === 'disable'
				? false
				: conn.ssl === 'require'
					? { rejectUnauthorized: false }
					: {
							rejectUnauthorized: true,
							ca: conn.ca || undefined,
							servername: isIP(conn.host) ? undefined : conn.host,
						},
		connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
		statement_timeout: options.perTransaction ? undefined : statementTimeout,
		// the client's own bound, for a server that stops answering: later than the server's, whose error says more
		query_timeout: statementTimeout + CONNECT_TIMEOUT_MS,
		application_name: 'n8n-nodes-infra-ops',
	});
	// a server that drops the connection later must not crash n8n through an unhandled 'error'
	client.on('error', () => undefined);
	try {
		await client.connect();
		return client;
	} catch (error) {
		await client.end().catch(() => undefined);
		throw explainPostgresError(conn, error);
	}
}

const TLS_VERIFY_CODES = new Set([
	'ERR_TLS_CERT_ALTNAME_INVALID',
	'SELF_SIGNED_CERT_IN_CHAIN',
	'DEPTH_ZERO_SELF_SIGNED_CERT',
	'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
	'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
	'CERT_SIGNATURE_FAILURE',
	'CERT_HAS_EXPIRED',
]);

const POSTGRES_TLS_HINT =
	'Paste the CA that signed the server certificate into the credential\'s "CA Certificate" and set Host to a name the certificate lists. "Require" or "Disable" skip this check, and then anyone on the path can capture the superuser login';

export function explainPostgresError(conn: PostgresConnection, error: unknown): InfraOpsError {
	const target = describePostgresTarget(conn);
	const code = (error as { code?: string }).code;
	const message = (error as Error).message ?? String(error);
	if (code === '28P01' || code === '28000') {
		return new InfraOpsError(
			`${target}: authentication failed`,
			'Check the user and password, and pg_hba.conf for this client address',
			{ cause: error },
		);
	}
	if (code === '3D000')
		return new InfraOpsError(`${target}: database "${conn.database}" does not exist`, undefined, {
			cause: error,
		});
	if (/does not support SSL/i.test(message)) {
		return new InfraOpsError(
			`${target}: the server does not accept TLS`,
			'Set SSL to "disable", or enable ssl on the server',
			{ cause: error },
		);
	}
	if (code && TLS_VERIFY_CODES.has(code)) {
		const what =
			code === 'ERR_TLS_CERT_ALTNAME_INVALID'
				? `its certificate does not name "${conn.host}"`
				: 'its certificate is not signed by a trusted CA';
		return new InfraOpsError(
			`${target}: TLS verification failed, ${what} (${message})`,
			POSTGRES_TLS_HINT,
			{ cause: error },
		);
	}
	// no SQLSTATE: the client's own timer ("statement_timeout" in a server's message is not one)
	if (!code && /timeout/i.test(message)) {
		return new TimeoutError(`${target}: no answer within ${CONNECT_TIMEOUT_MS} ms`, undefined, {
			cause: error,
		});
	}
	if (code && /^[0-9A-Z]{5}$/.test(code))
		return new InfraOpsError(`${target}: ${message} (SQLSTATE ${code})`, undefined, {
			cause: error,
		});
	return describeConnectError(target, error);
}

export async function withPostgres<T>(
	conn: PostgresConnection,
	fn: (client: Client) => Promise<T>,
): Promise<T> {
	const client = await connectPostgres(conn);
	try {
		return await fn(client);
	} finally {
		await client.end().catch(() => undefined);
	}
}
