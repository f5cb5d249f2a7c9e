/** PostgreSQL roles: ALTER ROLE with a client-side SCRAM-SHA-256 verifier; rollback restores the
 * verifier pg_authid held before, so the old password works again without anyone knowing it. */
import type { Client } from 'pg';

import { InfraOpsError } from '../../shared/errors';
import { connectPostgres, describePostgresTarget, explainPostgresError, type PostgresConnection } from '../../shared/postgres';
import type { GeneratedSecret } from '../generate';
import type { RotationTarget } from '../rotation';
import { scramSha256Verifier, verifierMatches } from '../scram';

export interface PostgresRoleOptions {
	/** The admin connection (superuser: reading pg_authid is what makes the rollback possible). */
	admin: PostgresConnection;
	roles: string[];
	/** Database the test login connects to; default the admin connection's. */
	loginDatabase?: string;
}

interface RoleState {
	name: string;
	oldVerifier: string | null;
	canLogin: boolean;
}

export function passwordOf(secret: GeneratedSecret, what: string): string {
	if (secret.kind === 'sshKey') {
		throw new InfraOpsError(`${what} needs a password or token, not an SSH key pair`, 'Set "Secret Type" to Password or Token');
	}
	return secret.value;
}

export class PostgresRoleTarget implements RotationTarget {
	readonly kind = 'postgres-role';
	readonly phase = 'restorable' as const;
	readonly target: string;
	private client?: Client;
	private states: RoleState[] = [];

	constructor(private readonly options: PostgresRoleOptions) {
		if (options.roles.length === 0) throw new InfraOpsError('No PostgreSQL role to rotate is named', 'Fill in "Roles", e.g. postgres');
		const { admin } = options;
		this.target = `postgres://${admin.host}:${admin.port} role ${options.roles.join(', ')}`;
	}

	async create(secret: GeneratedSecret): Promise<string> {
		passwordOf(secret, 'A PostgreSQL role');
		this.client = await connectPostgres(this.options.admin);
		const who = describePostgresTarget(this.options.admin);
		let rows: Array<{ rolname: string; rolpassword: string | null; rolcanlogin: boolean }>;
		try {
			({ rows } = await this.client.query(
				'select rolname, rolpassword, rolcanlogin from pg_authid where rolname = any($1::text[])',
				[this.options.roles],
			));
		} catch (error) {
			if ((error as { code?: string }).code === '42501') {
				throw new InfraOpsError(
					`${who}: cannot read pg_authid, so the old password could not be restored on failure`,
					'Use a superuser in the PostgreSQL credential (in the stack: postgres)',
				);
			}
			throw explainPostgresError(this.options.admin, error);
		}
		const missing = this.options.roles.filter((r) => !rows.some((row) => row.rolname === r));
		if (missing.length) throw new InfraOpsError(`${who}: no role named ${missing.join(', ')}`, 'Check the role names (\\du in psql)');
		this.states = this.options.roles.map((name) => {
			const row = rows.find((r) => r.rolname === name)!;
			return { name, oldVerifier: row.rolpassword, canLogin: row.rolcanlogin };
		});
		const kinds = this.states.map((s) => `${s.name} (${s.oldVerifier === null ? 'no password' : s.oldVerifier.startsWith('SCRAM-SHA-256$') ? 'SCRAM' : 'md5'})`);
		return `old verifiers kept for rollback: ${kinds.join(', ')}`;
	}

	async set(secret: GeneratedSecret): Promise<string> {
		const client = this.requireClient();
		const password = passwordOf(secret, 'A PostgreSQL role');
		for (const state of this.states) {
			// a fresh salt per role, so equal passwords do not show as equal verifiers
			await this.alter(client, state.name, scramSha256Verifier(password));
		}
		return `ALTER ROLE with a SCRAM-SHA-256 verifier for ${this.states.map((s) => s.name).join(', ')}`;
	}

	async test(secret: GeneratedSecret): Promise<string> {
		const password = passwordOf(secret, 'A PostgreSQL role');
		const client = this.requireClient();
		const checked: string[] = [];
		for (const state of this.states) {
			const { rows } = await client.query<{ rolpassword: string | null }>('select rolpassword from pg_authid where rolname = $1', [state.name]);
			if (!rows[0]?.rolpassword || !verifierMatches(rows[0].rolpassword, password)) {
				throw new InfraOpsError(`pg_authid of ${state.name} does not hold the new verifier`);
			}
			if (!state.canLogin) {
				checked.push(`${state.name} (NOLOGIN: verifier checked)`);
				continue;
			}
			const login: PostgresConnection = {
				...this.options.admin,
				user: state.name,
				password,
				database: this.options.loginDatabase || this.options.admin.database,
			};
			const session = await connectPostgres(login);
			try {
				await session.query('select 1');
			} finally {
				await session.end().catch(() => undefined);
			}
			checked.push(`${state.name} logged in`);
		}
		return `new password works: ${checked.join(', ')}`;
	}

	async finish(): Promise<string> {
		return 'nothing to retire: the old verifier is gone';
	}

	async rollback(): Promise<string> {
		// the admin session opened in create is still authenticated, even if its own role was rotated
		const client = this.requireClient();
		for (const state of this.states) await this.alter(client, state.name, state.oldVerifier);
		return `old verifiers restored for ${this.states.map((s) => s.name).join(', ')}`;
	}

	async close(): Promise<void> {
		await this.client?.end().catch(() => undefined);
		this.client = undefined;
	}

	private async alter(client: Client, role: string, verifier: string | null): Promise<void> {
		const sql = `ALTER ROLE ${client.escapeIdentifier(role)} PASSWORD ${verifier === null ? 'NULL' : client.escapeLiteral(verifier)}`;
		try {
			await client.query(sql);
		} catch (error) {
			throw explainPostgresError(this.options.admin, error);
		}
	}

	private requireClient(): Client {
		if (!this.client) throw new InfraOpsError(`${this.target}: not connected (create did not run)`);
		return this.client;
	}
}
