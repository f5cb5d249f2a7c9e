/** PostgreSQL transport against a real PostgreSQL server (initdb in a temp dir) started by the harness. */
import { connectPostgres, withPostgres, type PostgresConnection } from '../../nodes/shared/postgres';
import { services } from '../harness/services';

const admin = (overrides: Partial<PostgresConnection> = {}): PostgresConnection => {
	const { postgres } = services();
	return { host: postgres.host, port: postgres.port, database: postgres.database, user: postgres.user, password: postgres.password, ssl: 'disable', ...overrides };
};

describe('PostgreSQL transport (real server)', () => {
	it('connects and queries, with and without TLS', async () => {
		for (const ssl of ['disable', 'require'] as const) {
			const row = await withPostgres(admin({ ssl }), async (client) => (await client.query<{ ssl: boolean }>('select ssl from pg_stat_ssl where pid = pg_backend_pid()')).rows[0]);
			expect(row.ssl).toBe(ssl === 'require');
		}
	});

	it('says the password is wrong, and that the database does not exist', async () => {
		await expect(connectPostgres(admin({ password: 'wrong' }))).rejects.toThrow(/authentication failed/);
		await expect(connectPostgres(admin({ database: 'nope' }))).rejects.toThrow(/database "nope" does not exist/);
	});

	it('refuses verify-full when the server certificate is not from the given CA', async () => {
		await expect(connectPostgres(admin({ ssl: 'verify-full', ca: undefined }))).rejects.toThrow(/Cannot reach PostgreSQL|certificate/);
	});
});
