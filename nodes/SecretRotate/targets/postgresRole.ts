/** PostgreSQL roles: ALTER ROLE with a client-side SCRAM-SHA-256 verifier; rollback restores the
 * verifier pg_authid held before, so the old password works again without anyone knowing it. */
import type { Client } from 'pg';

import { InfraOpsError } from '../../shared/errors';
import { PostgresRoleLock, type LeaseLock } from '../../shared/locks';
import {
	connectPostgres,
	describePostgresTarget,
	explainPostgresError,
	type PostgresConnection,
} from '../../shared/postgres';
import type { GeneratedSecret } from '../generate';
import { RollbackLeftAlone, type RotationTarget } from '../rotation';
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
	/** The verifier this run's set wrote: a rollback only replaces that one. */
	setVerifier?: string;
}

export function passwordOf(secret: GeneratedSecret, what: string): string {
	if (secret.kind === 'sshKey') {
		throw new InfraOpsError(
			`${what} needs a password or token, not an SSH key pair`,
			'Set "Secret Type" to Password or Token',
		);
	}
	return secret.value;
}

export class PostgresRoleTarget implements RotationTarget {
	readonly kind = 'postgres-role';
	readonly phase = 'restorable' as const;
	readonly target: string;
	private client?: Client;
	/** Holds the advisory locks for the run; separate, so a failing statement on the admin session cannot drop them. */
	private lockClient?: Client;
	private states: RoleState[] = [];

	constructor(private readonly options: PostgresRoleOptions) {
		if (options.roles.length === 0)
			throw new InfraOpsError(
				'No PostgreSQL role to rotate is named',
				'Fill in "Roles", e.g. postgres',
			);
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
		if (missing.length)
			throw new InfraOpsError(
				`${who}: no role named ${missing.join(', ')}`,
				'Check the role names (\\du in psql)',
			);
		this.states = this.options.roles.map((name) => {
			const row = rows.find((r) => r.rolname === name)!;
			return { name, oldVerifier: row.rolpassword, canLogin: row.rolcanlogin };
		});
		const kinds = this.states.map(
			(s) =>
				`${s.name} (${s.oldVerifier === null ? 'no password' : s.oldVerifier.startsWith('SCRAM-SHA-256$') ? 'SCRAM' : 'md5'})`,
		);
		return `old verifiers kept for rollback: ${kinds.join(', ')}`;
	}

	/** One advisory lock per role, on a connection of its own held until the run ends. */
	async locks(): Promise<LeaseLock[]> {
		this.lockClient ??= await connectPostgres(this.options.admin);
		const server = `${this.options.admin.host}:${this.options.admin.port}`;
		return this.options.roles.map((role) => new PostgresRoleLock(this.lockClient!, server, role));
	}

	async set(secret: GeneratedSecret): Promise<string> {
		const client = this.requireClient();
		const password = passwordOf(secret, 'A PostgreSQL role');
		for (const state of this.states) {
			if ((await this.currentVerifier(client, state.name)) !== state.oldVerifier) {
				throw new InfraOpsError(
					`the password of ${state.name} changed since the rotation started`,
					'Something else rotates this role: run the rotation again',
				);
			}
			// a fresh salt per role, so equal passwords do not show as equal verifiers
			const verifier = scramSha256Verifier(password);
			state.setVerifier = verifier;
			await this.alter(client, state.name, verifier);
		}
		return `ALTER ROLE with a SCRAM-SHA-256 verifier for ${this.states.map((s) => s.name).join(', ')}`;
	}

	async test(secret: GeneratedSecret): Promise<string> {
		const password = passwordOf(secret, 'A PostgreSQL role');
		const client = this.requireClient();
		const checked: string[] = [];
		for (const state of this.states) {
			const { rows } = await client.query<{ rolpassword: string | null }>(
				'select rolpassword from pg_authid where rolname = $1',
				[state.name],
			);
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
		const restored: string[] = [];
		const leftAlone: string[] = [];
		for (const state of this.states) {
			if (state.setVerifier === undefined) continue;
			// only the verifier this run set is replaced: a newer one is another writer's password
			if ((await this.currentVerifier(client, state.name)) !== state.setVerifier) {
				leftAlone.push(state.name);
				continue;
			}
			await this.alter(client, state.name, state.oldVerifier);
			restored.push(state.name);
		}
		const done = restored.length
			? `old verifiers restored for ${restored.join(', ')}`
			: 'no verifier of this run to restore';
		if (leftAlone.length)
			throw new RollbackLeftAlone(
				`${done}; ${leftAlone.join(', ')} changed by someone else after this run set it: left alone`,
			);
		return done;
	}

	async close(): Promise<void> {
		await this.client?.end().catch(() => undefined);
		this.client = undefined;
		await this.lockClient?.end().catch(() => undefined);
		this.lockClient = undefined;
	}

	private async currentVerifier(client: Client, role: string): Promise<string | null | undefined> {
		const { rows } = await client.query<{ rolpassword: string | null }>(
			'select rolpassword from pg_authid where rolname = $1',
			[role],
		);
		return rows[0]?.rolpassword;
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
