/** Whether a password logs in: the proof that a rotation took (or was rolled back) on a real PostgreSQL. */
import { Client } from 'pg';

import type { PostgresInfo } from '../harness/services';

/** Resolves to true when `user`/`password` can log in to `database`; false on a refused login only. */
export async function canLogin(
	server: Pick<PostgresInfo, 'host' | 'port'>,
	user: string,
	password: string,
	database = 'postgres',
): Promise<boolean> {
	const client = new Client({
		host: server.host,
		port: server.port,
		user,
		password,
		database,
		ssl: { rejectUnauthorized: false },
		connectionTimeoutMillis: 5_000,
	});
	try {
		await client.connect();
		await client.query('select 1');
		return true;
	} catch (error) {
		if (['28P01', '3D000', '42501'].includes((error as { code?: string }).code ?? '')) return false;
		throw error;
	} finally {
		await client.end().catch(() => undefined);
	}
}
