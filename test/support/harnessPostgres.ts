/** The harness's PostgreSQL as the fields of the pack's PostgreSQL credentials (admin and State Store). */
import type { PostgresConnection } from '../../nodes/shared/postgres';
import { services } from '../harness/services';

type HarnessLogin = {
	host: string;
	port: number;
	database: string;
	user: string;
	password: string;
	ssl: PostgresConnection['ssl'];
};

/** `extra` overrides a field or adds one (e.g. the State Store's table). */
export function harnessPostgres<T extends object>(extra: T): HarnessLogin & T {
	const { postgres } = services();
	return {
		host: postgres.host,
		port: postgres.port,
		database: postgres.database,
		user: postgres.user,
		password: postgres.password,
		ssl: 'disable',
		...extra,
	} as HarnessLogin & T;
}
