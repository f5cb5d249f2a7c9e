// Over 350 lines: claims and compare-and-set values share one table and commit in one transaction; the SQL, the lock order and the timeouts are kept in one place so they cannot drift.
/**
 * The state store every n8n process shares (queue mode: a main and several workers): one PostgreSQL
 * table, rows keyed by workflow id + node name + state key. Two kinds of row:
 * - `finding:<check|target|stateKey>`: a finding's last status and change key, claimed under a row
 *   lock so that of overlapping runs seeing one transition exactly one reports `changed`, and an
 *   observation older than the stored one is ignored (a slow run cannot flip the row back);
 * - `value:<name>`: a JSON value (cursors, samples) with a version, written by compare-and-set.
 * A run's values and claims commit together (commit), so a failed run leaves neither.
 * One connection per node execution (open → use → close in finally); every statement in a
 * transaction (where lock waits happen) is bounded by the server's statement_timeout, set per
 * transaction so PgBouncer's transaction pooling works, and every statement by the client's timeout.
 */
import type { Client, QueryResultRow } from 'pg';

import { errorMessage, InfraOpsError, TimeoutError } from './errors';
import { isTransition, type FindingStatus, type PreviousState } from './findings';
import {
	connectPostgres,
	describePostgresTarget,
	explainPostgresError,
	type PostgresConnection,
} from './postgres';

export interface StateStoreConnection extends PostgresConnection {
	/** `name` or `schema.name`, created on first use. */
	table: string;
}

/** Whose rows: a workflow's node (as n8n's node static data is). */
export interface StateScope {
	workflowId: string;
	node: string;
}

/** One finding to claim: its state key (findingStateKey) and what this run observed. */
export interface Observation {
	key: string;
	status: FindingStatus;
	changeKey?: string;
}

export interface StoredValue<T = unknown> {
	value: T | undefined;
	/** 0: no row yet. */
	version: number;
}

/** Decides a claim from the locked row's state (undefined: never seen) and the observation's index. */
export type ClaimRule = (before: PreviousState | undefined, index: number) => boolean;

/** A value a run computed (`mine`) from what it read (`base`), and how to merge it onto a newer one. */
export interface ValueWrite {
	name: string;
	base: StoredValue;
	mine: unknown;
	merge: (current: unknown, mine: unknown, base: unknown) => unknown;
}

/** Another run wrote a value since this one read it: roll back, merge, try again. */
class CasConflict extends Error {}

/** A preview's end: its transaction is rolled back on purpose. */
class Preview extends Error {}

export const DEFAULT_STATE_TABLE = 'infra_ops_state';
export const STATE_TIMEOUT_MS = 15_000;
/** Optimistic rounds before update() and commit() take the row lock. */
const CAS_ATTEMPTS = 5;
/** Deadlock or serialization failure: PostgreSQL rolled back one side; running it again is safe. */
const RETRYABLE = new Set(['40P01', '40001']);
const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const STATE_COLUMNS = [
	'workflow_id',
	'node',
	'state_key',
	'status',
	'change_key',
	'observed_at',
	'value',
	'version',
	'updated_at',
];

/** The table name quoted for SQL, or an error saying what a valid one looks like. */
export function quoteTableName(name: string): string {
	const parts = name.trim().split('.');
	if (parts.length > 2 || !parts.every((p) => IDENT.test(p)))
		throw new InfraOpsError(
			`State Store table name "${name}" is not a plain table name`,
			'Use letters, digits and underscores (not starting with a digit, at most 63 characters: PostgreSQL cuts longer names), optionally schema.table, e.g. infra_ops_state',
		);
	// lowercase, as PostgreSQL folds the same name typed unquoted (CREATE TABLE Infra_Ops_State …)
	return parts.map((p) => `"${p.toLowerCase()}"`).join('.');
}

export class PostgresStateStore {
	private constructor(
		private readonly client: Client,
		private readonly table: string,
		private readonly target: string,
		private readonly timeoutMs: number,
		private readonly conn: StateStoreConnection,
	) {}

	/** Connects and makes sure the table exists (creating it once, safe when workers race). */
	static async open(
		conn: StateStoreConnection,
		options: { timeoutMs?: number } = {},
	): Promise<PostgresStateStore> {
		const table = quoteTableName(conn.table || DEFAULT_STATE_TABLE);
		const timeoutMs = options.timeoutMs ?? STATE_TIMEOUT_MS;
		const client = await connectPostgres(conn, {
			statementTimeoutMs: timeoutMs,
			perTransaction: true,
		});
		const store = new PostgresStateStore(
			client,
			table,
			`${describePostgresTarget(conn)} table ${table}`,
			timeoutMs,
			conn,
		);
		try {
			await store.ensureTable();
			return store;
		} catch (error) {
			await store.close();
			throw error;
		}
	}

	describe(): string {
		return this.target;
	}

	async close(): Promise<void> {
		await this.client.end().catch(() => undefined);
	}

	private async ensureTable(): Promise<void> {
		const exists = await this.query<{ found: boolean }>(
			'select to_regclass($1) is not null as found',
			[this.table],
		);
		if (exists.rows[0]?.found) return await this.checkShape();
		// concurrent CREATE TABLE IF NOT EXISTS can still fail on pg_type's unique index: one creator at a time
		await this.transaction(async () => {
			await this.query('select pg_advisory_xact_lock(hashtext($1))', [
				`n8n-nodes-infra-ops:${this.table}`,
			]);
			await this.query(
				`create table if not exists ${this.table} (
					workflow_id text not null,
					node text not null,
					state_key text not null,
					status text,
					change_key text,
					observed_at timestamptz,
					value jsonb,
					version bigint not null default 0,
					updated_at timestamptz not null default now(),
					primary key (workflow_id, node, state_key)
				)`,
			);
		});
	}

	/**
	 * A table of this name made by someone else (another application, a hand-made copy without the
	 * key) is refused: without the unique key every claim would insert a row and every run alert.
	 */
	private async checkShape(): Promise<void> {
		const { rows } = await this.query<{ kind: string; missing: string[]; keyed: boolean }>(
			`select c.relkind as kind,
				array(select unnest($2::text[]) except select attname::text from pg_attribute
				      where attrelid = c.oid and attnum > 0 and not attisdropped) as missing,
				exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisunique
				        and i.indpred is null and i.indnkeyatts = 3
				        and (select array_agg(a.attname::text order by a.attname) from pg_attribute a
				             where a.attrelid = c.oid and a.attnum = any(i.indkey))
				            = array['node', 'state_key', 'workflow_id']) as keyed
			 from pg_class c where c.oid = to_regclass($1)`,
			[this.table, STATE_COLUMNS],
		);
		const shape = rows[0];
		if (!shape) return;
		const problems = [
			...(['r', 'p'].includes(shape.kind) ? [] : ['it is not a table']),
			...(shape.missing.length ? [`it has no column ${shape.missing.join(', ')}`] : []),
			...(shape.keyed ? [] : ['it has no primary key on (workflow_id, node, state_key)']),
		];
		if (problems.length)
			throw new InfraOpsError(
				`${this.target} exists but is not an Infra Ops state table: ${problems.join('; ')}`,
				'It may belong to another application: choose another Table Name in the State Store credential (the pack creates it), or drop that table if it is a broken copy of the state table',
			);
	}

	/**
	 * Compares each observation with its row under a row lock and returns, in order, whether this run
	 * moved it (`rule` decides, as for static data). An observation older than the row's is ignored:
	 * changed false, the row kept. All rows of one call are locked in one transaction, in key order.
	 */
	async claim(
		scope: StateScope,
		observations: Observation[],
		observedAt: Date,
		rule: ClaimRule = (before, i) => isTransition(before, observations[i]),
	): Promise<boolean[]> {
		if (!observations.length) return [];
		return await this.retrying(async () => {
			let changed: boolean[] = [];
			await this.transaction(async () => {
				changed = await this.claimRows(scope, observations, observedAt, rule);
			});
			return changed;
		});
	}

	/**
	 * What claim would return, with nothing written (the transaction is rolled back): for a run from
	 * the editor, whose static data n8n does not save either, so testing a node does not use up the
	 * alert of the next production run.
	 */
	async preview(
		scope: StateScope,
		observations: Observation[],
		observedAt: Date,
		rule: ClaimRule,
	): Promise<boolean[]> {
		if (!observations.length) return [];
		let changed: boolean[] = [];
		await this.transaction(async () => {
			changed = await this.claimRows(scope, observations, observedAt, rule);
			throw new Preview();
		}).catch((error: unknown) => {
			if (!(error instanceof Preview)) throw error;
		});
		return changed;
	}

	/**
	 * A run's end in one transaction: its values written by compare-and-set, then its findings claimed
	 * (claim), so a run that fails half way leaves neither (a cursor moved past lines nobody was told
	 * of, a CVE set that already knows the CVE whose alert was lost). A value another run wrote since
	 * `base` is merged onto what is stored and tried again, up to CAS_ATTEMPTS times, then written
	 * under its row lock.
	 */
	async commit(
		scope: StateScope,
		values: ValueWrite[],
		observations: Observation[],
		observedAt: Date,
		rule: ClaimRule = (before, i) => isTransition(before, observations[i]),
	): Promise<boolean[]> {
		const writes = [...values].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
		let plan = writes.map((w) => ({ version: w.base.version, value: w.mine }));
		for (let attempt = 1; ; attempt++) {
			const locked = attempt > CAS_ATTEMPTS;
			const result = await this.retrying(async () => {
				let changed: boolean[] | undefined;
				await this.transaction(async () => {
					for (const [k, w] of writes.entries()) {
						if (locked)
							await this.lockedUpdate(scope, w.name, (c) => w.merge(c, w.mine, w.base.value));
						else if (!(await this.compareAndSet(scope, w.name, plan[k].version, plan[k].value)))
							throw new CasConflict();
					}
					changed = await this.claimRows(scope, observations, observedAt, rule);
				}).catch((error: unknown) => {
					if (!(error instanceof CasConflict)) throw error;
				});
				return changed;
			});
			if (result) return result;
			plan = [];
			for (const w of writes) {
				const current = await this.read(scope, w.name);
				plan.push({
					version: current.version,
					value: w.merge(current.value, w.mine, w.base.value),
				});
			}
		}
	}

	private async claimRows(
		scope: StateScope,
		observations: Observation[],
		observedAt: Date,
		rule: ClaimRule,
	): Promise<boolean[]> {
		if (!observations.length) return [];
		const keys = [...new Set(observations.map((o) => `finding:${o.key}`))].sort();
		const changed: boolean[] = [];
		// a row per key first (status null: never seen), so FOR UPDATE has something to lock
		await this.query(
			`insert into ${this.table} (workflow_id, node, state_key)
				 select $1, $2, k from unnest($3::text[]) with ordinality as u(k, n) order by n
				 on conflict do nothing`,
			[scope.workflowId, scope.node, keys],
		);
		const { rows } = await this.query<{
			state_key: string;
			status: FindingStatus | null;
			change_key: string | null;
			observed_at: Date | null;
			future: boolean | null;
		}>(
			`select state_key, status, change_key, observed_at,
				   observed_at > clock_timestamp() as future from ${this.table}
				 where workflow_id = $1 and node = $2 and state_key = any($3::text[])
				 order by state_key collate "C" for update`,
			[scope.workflowId, scope.node, keys],
		);
		const current = new Map<string, PreviousState | undefined>();
		const observedTimes = new Map<string, number>();
		for (const row of rows) {
			current.set(
				row.state_key,
				row.status
					? {
							status: row.status,
							changeKey: row.change_key ?? undefined,
							at: row.observed_at?.toISOString() ?? '',
						}
					: undefined,
			);
			// a time ahead of the database's clock (a planted row, the clock stepped back) orders nothing:
			// honoured, it would ignore every observation until then
			if (row.observed_at && !row.future)
				observedTimes.set(row.state_key, row.observed_at.getTime());
		}
		const writes = new Map<string, Observation>();
		observations.forEach((o, i) => {
			const key = `finding:${o.key}`;
			const storedAt = observedTimes.get(key);
			if (storedAt !== undefined && storedAt > observedAt.getTime()) {
				changed[i] = false; // a newer run already recorded what it saw
				return;
			}
			const before = current.get(key);
			changed[i] = rule(before, i);
			const next = { status: o.status, changeKey: o.changeKey, at: observedAt.toISOString() };
			// a later observation of the same key in this call compares with this one
			current.set(key, next);
			writes.set(key, o);
		});
		if (writes.size)
			await this.query(
				`update ${this.table} t set status = u.status, change_key = u.change_key,
					   observed_at = $6, updated_at = now()
					 from unnest($3::text[], $4::text[], $5::text[]) as u(k, status, change_key)
					 where t.workflow_id = $1 and t.node = $2 and t.state_key = u.k`,
				[
					scope.workflowId,
					scope.node,
					[...writes.keys()],
					[...writes.values()].map((o) => o.status),
					[...writes.values()].map((o) => o.changeKey ?? null),
					observedAt,
				],
			);
		return changed;
	}

	/** The database server's clock: one clock for every worker. */
	async now(): Promise<Date> {
		const { rows } = await this.query<{ now: Date }>('select clock_timestamp() as now');
		return rows[0].now;
	}

	/** A value and its version (0 when there is none yet). */
	async read<T>(scope: StateScope, name: string): Promise<StoredValue<T>> {
		const { rows } = await this.query<{ value: T | null; version: string }>(
			`select value, version from ${this.table}
			 where workflow_id = $1 and node = $2 and state_key = $3`,
			[scope.workflowId, scope.node, `value:${name}`],
		);
		const row = rows[0];
		return row
			? { value: row.value ?? undefined, version: Number(row.version) }
			: { value: undefined, version: 0 };
	}

	/** Writes `value` if the row is still at `version` (0: absent); false when another run got there first. */
	async compareAndSet(
		scope: StateScope,
		name: string,
		version: number,
		value: unknown,
	): Promise<boolean> {
		const params = [scope.workflowId, scope.node, `value:${name}`, JSON.stringify(value ?? null)];
		const { rowCount } =
			version === 0
				? await this.query(
						`insert into ${this.table} as t (workflow_id, node, state_key, value, version)
						 values ($1, $2, $3, $4::jsonb, 1)
						 on conflict (workflow_id, node, state_key) do update
						   set value = excluded.value, version = 1, updated_at = now() where t.version = 0`,
						params,
					)
				: await this.query(
						`update ${this.table} set value = $4::jsonb, version = version + 1, updated_at = now()
						 where workflow_id = $1 and node = $2 and state_key = $3 and version = $5`,
						[...params, version],
					);
		return rowCount === 1;
	}

	/**
	 * Read, compute, compare-and-set; on a lost race read again and recompute, up to CAS_ATTEMPTS
	 * times, then once more under the row lock (so a run among many busy writers still finishes).
	 * `next` must be a pure function of the current value: it may run more than once.
	 */
	async update<T>(
		scope: StateScope,
		name: string,
		next: (current: T | undefined) => T,
	): Promise<T> {
		for (let attempt = 1; attempt <= CAS_ATTEMPTS; attempt++) {
			const { value, version } = await this.read<T>(scope, name);
			const updated = next(value);
			if (await this.compareAndSet(scope, name, version, updated)) return updated;
		}
		let updated: T | undefined;
		await this.transaction(async () => {
			updated = await this.lockedUpdate(scope, name, next);
		});
		return updated as T;
	}

	/** Read-compute-write under the row lock, inside the caller's transaction. */
	private async lockedUpdate<T>(
		scope: StateScope,
		name: string,
		next: (current: T | undefined) => T,
	): Promise<T> {
		const key = [scope.workflowId, scope.node, `value:${name}`];
		await this.query(
			`insert into ${this.table} (workflow_id, node, state_key) values ($1, $2, $3)
			 on conflict do nothing`,
			key,
		);
		const { rows } = await this.query<{ value: T | null }>(
			`select value from ${this.table}
			 where workflow_id = $1 and node = $2 and state_key = $3 for update`,
			key,
		);
		const updated = next(rows[0]?.value ?? undefined);
		await this.query(
			`update ${this.table} set value = $4::jsonb, version = version + 1, updated_at = now()
			 where workflow_id = $1 and node = $2 and state_key = $3`,
			[...key, JSON.stringify(updated ?? null)],
		);
		return updated;
	}

	private async transaction(work: () => Promise<void>): Promise<void> {
		await this.query('begin');
		try {
			// per transaction, not at login: PgBouncer's transaction pooling hands each transaction any
			// server connection, and refuses statement_timeout as a login parameter. The idle bound ends
			// the transaction of a worker frozen in it (paused VM, network gone without a reset), which
			// would otherwise hold its rows until TCP keepalive notices, hours later
			await this.query(
				`select set_config('statement_timeout', $1, true),
					set_config('idle_in_transaction_session_timeout', $1, true)`,
				[String(this.timeoutMs)],
			);
			await work();
			await this.query('commit');
		} catch (error) {
			await this.client.query('rollback').catch(() => undefined);
			throw error;
		}
	}

	private async retrying<T>(work: () => Promise<T>): Promise<T> {
		for (let attempt = 1; ; attempt++) {
			try {
				return await work();
			} catch (error) {
				const code = (error as { cause?: { code?: string } }).cause?.code;
				if (attempt >= 3 || !code || !RETRYABLE.has(code)) throw error;
			}
		}
	}

	private async query<R extends object = Record<string, unknown>>(
		text: string,
		values: unknown[] = [],
	): Promise<{ rows: R[]; rowCount: number | null }> {
		try {
			return await this.client.query<R & QueryResultRow>(text, values);
		} catch (error) {
			throw this.explain(error);
		}
	}

	private explain(error: unknown): InfraOpsError {
		const code = (error as { code?: string }).code;
		const message = errorMessage(error);
		if (code === '57014' || code === '55P03' || /query read timeout/i.test(message))
			return new TimeoutError(
				`${this.target}: no answer within ${this.timeoutMs} ms (a state row may be locked by another run of this workflow that hangs)`,
				'Check for a stuck session on the state table (pg_stat_activity, state "idle in transaction") and end it; runs that overlap normally wait only milliseconds',
				{ cause: error },
			);
		if (
			(code && /^(08|57P0)/.test(code)) ||
			/Connection terminated|ECONNRESET|EPIPE/i.test(message)
		)
			return new InfraOpsError(
				`${this.target}: the connection was lost mid-run (${message})`,
				'The database restarted, failed over, or ended this session (pg_terminate_backend, a pooler, a firewall idle cut); its transaction rolled back, so nothing of this run was kept: run it again',
				{ cause: error },
			);
		if (code === '42501')
			return new InfraOpsError(
				`${this.target}: permission denied (${message})`,
				`Let the State Store user create the table (GRANT CREATE ON SCHEMA … TO ${this.conn.user}) or create it once as an owner and grant SELECT, INSERT, UPDATE on it`,
				{ cause: error },
			);
		return explainPostgresError(this.conn, error);
	}
}

/** The credential test: connects, creates the table if missing, and proves a write round-trips. */
export async function checkStateStore(conn: StateStoreConnection): Promise<string> {
	return await withStateStore(conn, async (store) => {
		const scope = { workflowId: '-', node: 'credential test' };
		const at = new Date().toISOString();
		await store.update(scope, 'probe', () => at);
		const back = await store.read<string>(scope, 'probe');
		if (back.value !== at)
			throw new InfraOpsError(
				`${store.describe()}: a value written was not read back`,
				'Check that nothing else writes this table (another program, a trigger)',
			);
		return `Connected; ${store.describe()} is ready for shared state`;
	});
}

/** Opens the store, runs `work`, closes it whatever happens. */
export async function withStateStore<T>(
	conn: StateStoreConnection,
	work: (store: PostgresStateStore) => Promise<T>,
	options: { timeoutMs?: number } = {},
): Promise<T> {
	const store = await PostgresStateStore.open(conn, options);
	try {
		return await work(store);
	} finally {
		await store.close();
	}
}
