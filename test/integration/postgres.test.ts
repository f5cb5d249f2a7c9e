/** PostgreSQL transport against a real PostgreSQL server (initdb in a temp dir) started by the harness. */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { InfraOpsPostgresApi } from '../../credentials/InfraOpsPostgresApi.credentials';
import { postgresConnectionFrom } from '../../nodes/shared/connections';
import { InfraOpsError } from '../../nodes/shared/errors';
import {
	connectPostgres,
	withPostgres,
	type PostgresConnection,
} from '../../nodes/shared/postgres';
import { startPostgres, type PostgresService } from '../harness/postgres';
import { services } from '../harness/services';
import { harnessPostgres } from '../support/harnessPostgres';

const admin = (overrides: Partial<PostgresConnection> = {}): PostgresConnection =>
	harnessPostgres(overrides);

describe('PostgreSQL transport (real server)', () => {
	it('connects and queries, with and without TLS', async () => {
		for (const ssl of ['disable', 'require'] as const) {
			const row = await withPostgres(
				admin({ ssl }),
				async (client) =>
					(
						await client.query<{ ssl: boolean }>(
							'select ssl from pg_stat_ssl where pid = pg_backend_pid()',
						)
					).rows[0],
			);
			expect(row.ssl).toBe(ssl === 'require');
		}
	});

	it('says the password is wrong, and that the database does not exist', async () => {
		await expect(connectPostgres(admin({ password: 'wrong' }))).rejects.toThrow(
			/authentication failed/,
		);
		await expect(connectPostgres(admin({ database: 'nope' }))).rejects.toThrow(
			/database "nope" does not exist/,
		);
	});

	it('refuses verify-full when the server certificate is not from the given CA', async () => {
		await expect(connectPostgres(admin({ ssl: 'verify-full', ca: undefined }))).rejects.toThrow(
			/Cannot reach PostgreSQL|certificate/,
		);
	});
});

/** Item 14.10: Secret Rotate logs in as a superuser and reads SCRAM verifiers, so the credential verifies the server by default. */
describe('PostgreSQL Admin credential: TLS verified by default (real servers)', () => {
	let root: string;
	let other: PostgresService;
	const sslOf = (conn: PostgresConnection) =>
		withPostgres(
			conn,
			async (client) =>
				(
					await client.query<{ ssl: boolean }>(
						'select ssl from pg_stat_ssl where pid = pg_backend_pid()',
					)
				).rows[0].ssl,
		);

	beforeAll(async () => {
		root = mkdtempSync(join(tmpdir(), 'pg-tls-'));
		// the postgres user runs the second cluster and must traverse its folder
		chmodSync(root, 0o755);
		// a second real cluster whose certificate, from its own CA, names a host other than the one n8n dials
		other = await startPostgres(root, { dnsNames: ['db.internal.example'], ipAddresses: [] });
	}, 120_000);

	afterAll(async () => {
		await other?.stop();
		rmSync(root, { recursive: true, force: true });
	});

	it('threat: a credential saved without an SSL choice never hands the superuser login to an unverified server (verify-full is the default)', async () => {
		const { postgres } = services();
		const field = new InfraOpsPostgresApi().properties.find((p) => p.name === 'ssl');
		expect(field?.default).toBe('verify-full');
		// data as an API-created or imported credential may hold it: no ssl field at all
		const conn = postgresConnectionFrom({
			host: postgres.host,
			port: postgres.port,
			user: postgres.user,
			password: postgres.password,
			ca: postgres.ssl.caPem,
		});
		expect(conn.ssl).toBe('verify-full');
		expect(await sslOf(conn)).toBe(true);
		// without the custom CA the system roots do not know the server's CA: refused before the login is sent
		await expect(connectPostgres({ ...conn, ca: undefined })).rejects.toThrow(
			/TLS verification failed, its certificate is not signed by a trusted CA/,
		);
	});

	it('threat: a server presenting a certificate from another CA (a man in the middle) is refused with a clear error', async () => {
		const { postgres } = services();
		const error = await connectPostgres(
			admin({ ssl: 'verify-full', ca: other.info.ssl.caPem }),
		).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(InfraOpsError);
		expect((error as InfraOpsError).message).toMatch(
			new RegExp(
				`^PostgreSQL ${postgres.user}@127\\.0\\.0\\.1:${postgres.port}/postgres: TLS verification failed, its certificate is not signed by a trusted CA`,
			),
		);
		expect((error as InfraOpsError).hint).toMatch(/CA Certificate/);
	});

	it('threat: a certificate from the trusted CA but issued for another host name is refused', async () => {
		const error = await connectPostgres({
			...other.info,
			ssl: 'verify-full',
			ca: other.info.ssl.caPem,
		}).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(InfraOpsError);
		expect((error as InfraOpsError).message).toMatch(
			/TLS verification failed, its certificate does not name "127\.0\.0\.1"/,
		);
		expect((error as InfraOpsError).message).not.toContain(other.info.password);
		// the server is up and speaks TLS: only the name check refused it
		await expect(sslOf({ ...other.info, ssl: 'require' })).resolves.toBe(true);
	});

	it('Disable, when chosen, still connects in clear text', async () => {
		expect(await sslOf(admin({ ssl: 'disable' }))).toBe(false);
		expect(postgresConnectionFrom({ host: 'db', user: 'u', ssl: 'disable' }).ssl).toBe('disable');
	});
});
