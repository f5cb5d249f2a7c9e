/**
 * The shared State Store (nodes/shared/stateStore.ts) against the harness's real PostgreSQL, and
 * through a real node run by n8n-core's WorkflowExecute (Cert Expiry → Check PEM with the "Infra Ops
 * State Store" credential attached and static data empty on every run, as queue-mode workers see it).
 * Overlap is real: separate connections (separate PostgreSQL sessions) racing on one row; the lock
 * timeout is deterministic (another session holds the row lock until the test releases it).
 */
import { fork, type ChildProcess } from 'node:child_process';
import {
	chmodSync,
	chownSync,
	mkdirSync,
	mkdtempSync,
	readdirSync,
	readFileSync,
	rmSync,
	writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import type { IDataObject } from 'n8n-workflow';
import * as ts from 'typescript';

import { CertExpiry } from '../../nodes/CertExpiry/CertExpiry.node';
import { InfraOpsError, TimeoutError } from '../../nodes/shared/errors';
import { connectPostgres } from '../../nodes/shared/postgres';
import {
	PostgresStateStore,
	quoteTableName,
	withStateStore,
	type StateScope,
	type StateStoreConnection,
} from '../../nodes/shared/stateStore';
import { systemUser } from '../harness/postgres';
import { Daemon, freePort, waitUntil } from '../harness/proc';
import { makeCertificates } from '../harness/services';
import { services } from '../harness/services';
import { harnessPostgres } from '../support/harnessPostgres';
import { runWorkflow, startThen } from '../support/workflowRunner';

let tables = 0;
/** A fresh table per test: tests never see each other's rows. */
function connection(overrides: Partial<StateStoreConnection> = {}): StateStoreConnection {
	return harnessPostgres({ table: `state_test_${process.pid}_${++tables}`, ...overrides });
}

async function adminClient(): Promise<Client> {
	const { postgres } = services();
	const client = new Client({
		host: postgres.host,
		port: postgres.port,
		database: postgres.database,
		user: postgres.user,
		password: postgres.password,
		connectionTimeoutMillis: 10_000,
	});
	await client.connect();
	return client;
}

const scope: StateScope = { workflowId: 'wf-1', node: 'Cert Expiry' };
// a fixed past moment: rows dated after the database clock order nothing (a planted future row)
const at = (minute: number) => new Date(Date.UTC(2024, 11, 4, 12, minute));
const KEY = 'cert-expiry|files.example:443';

describe('PostgreSQL state store (real server)', () => {
	it('creates its table once when 10 connections open it at the same time', async () => {
		const conn = connection();
		const stores = await Promise.all(
			Array.from({ length: 10 }, async () => await PostgresStateStore.open(conn)),
		);
		try {
			const admin = await adminClient();
			try {
				const { rows } = await admin.query<{ n: string }>(
					'select count(*) as n from pg_class where relname = $1',
					[conn.table],
				);
				expect(rows[0].n).toBe('1');
			} finally {
				await admin.end();
			}
		} finally {
			await Promise.all(stores.map(async (s) => await s.close()));
		}
	});

	it('of 10 connections claiming one transition at once, exactly one reports it changed', async () => {
		const conn = connection();
		await withStateStore(conn, async (store) => {
			expect(await store.claim(scope, [{ key: KEY, status: 'ok' }], at(0))).toEqual([false]);
		});
		const stores = await Promise.all(
			Array.from({ length: 10 }, async () => await PostgresStateStore.open(conn)),
		);
		try {
			const results = await Promise.all(
				stores.map(
					async (s) =>
						await s.claim(scope, [{ key: KEY, status: 'critical', changeKey: 'expiring' }], at(1)),
				),
			);
			expect(results.flat().filter(Boolean)).toHaveLength(1);
		} finally {
			await Promise.all(stores.map(async (s) => await s.close()));
		}
		// and of 10 first sightings at once (no row yet), exactly one too
		const fresh = await Promise.all(
			Array.from({ length: 10 }, async () => await PostgresStateStore.open(conn)),
		);
		try {
			const results = await Promise.all(
				fresh.map(
					async (s) => await s.claim(scope, [{ key: 'new|target', status: 'warning' }], at(1)),
				),
			);
			expect(results.flat().filter(Boolean)).toHaveLength(1);
		} finally {
			await Promise.all(fresh.map(async (s) => await s.close()));
		}
	});

	it('of 10 child processes claiming one transition at once, exactly one reports it changed', async () => {
		// the shared modules as plain CommonJS (what the build emits), so each child is a separate Node
		// process like an n8n worker; pg resolves from this checkout's node_modules
		const root = resolve(__dirname, '../..');
		const out = mkdtempSync(join(tmpdir(), 'state-store-children-'));
		try {
			mkdirSync(join(out, 'shared'));
			for (const file of readdirSync(join(root, 'nodes/shared')).filter((f) => f.endsWith('.ts')))
				writeFileSync(
					join(out, 'shared', file.replace(/\.ts$/, '.js')),
					ts.transpileModule(readFileSync(join(root, 'nodes/shared', file), 'utf8'), {
						compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
					}).outputText,
				);
			// ready when connected; claims on 'go' (a barrier, no timers); answers with its result
			writeFileSync(
				join(out, 'child.js'),
				`const { PostgresStateStore } = require('./shared/stateStore');
				const [conn, scope, key, at] = JSON.parse(process.argv[2]);
				PostgresStateStore.open(conn).then((store) => {
					process.on('message', async () => {
						try {
							const [changed] = await store.claim(scope, [{ key, status: 'critical' }], new Date(at));
							process.send({ changed });
						} catch (error) {
							process.send({ error: String(error && error.message) });
						} finally {
							await store.close();
						}
					});
					process.send({ ready: true });
				}, (error) => process.send({ error: String(error.message) }));`,
			);
			const conn = connection();
			await withStateStore(conn, async (store) => {
				await store.claim(scope, [{ key: KEY, status: 'ok' }], at(0));
			});
			const children: ChildProcess[] = [];
			const message = (child: ChildProcess) =>
				new Promise<{ ready?: boolean; changed?: boolean; error?: string }>((done, fail) => {
					child.once('message', (m) => done(m as { changed?: boolean }));
					child.once('exit', (code) => fail(new Error(`child exited with ${code}`)));
				});
			try {
				const args = JSON.stringify([conn, scope, KEY, at(1).toISOString()]);
				for (let n = 0; n < 10; n++)
					children.push(
						fork(join(out, 'child.js'), [args], {
							env: { ...process.env, NODE_PATH: join(root, 'node_modules') },
						}),
					);
				expect(await Promise.all(children.map(message))).toEqual(
					children.map(() => ({ ready: true })),
				);
				const answers = children.map(message);
				for (const child of children) child.send('go');
				const results = await Promise.all(answers);
				expect(results.filter((r) => r.error)).toEqual([]);
				expect(results.filter((r) => r.changed === true)).toHaveLength(1);
			} finally {
				for (const child of children) if (child.exitCode === null) child.kill();
			}
		} finally {
			rmSync(out, { recursive: true, force: true });
		}
	});

	it('alerts, stays silent, then reports the recovery over three sequential runs', async () => {
		await withStateStore(connection(), async (store) => {
			const run = async (minute: number, status: 'ok' | 'critical') =>
				(await store.claim(scope, [{ key: KEY, status }], at(minute)))[0];
			expect(await run(0, 'ok')).toBe(false); // first sighting, healthy: no news
			expect(await run(1, 'critical')).toBe(true);
			expect(await run(2, 'critical')).toBe(false);
			expect(await run(3, 'ok')).toBe(true);
		});
	});

	it('ignores an observation older than the stored one: a slow run cannot flip the row back', async () => {
		await withStateStore(connection(), async (store) => {
			expect(await store.claim(scope, [{ key: KEY, status: 'ok' }], at(0))).toEqual([false]);
			expect(await store.claim(scope, [{ key: KEY, status: 'critical' }], at(10))).toEqual([true]);
			// a run that looked at minute 5 (before the renewal broke) finishes now: no bogus recovery
			expect(await store.claim(scope, [{ key: KEY, status: 'ok' }], at(5))).toEqual([false]);
			// the row still says critical: the next real observation of critical is no news
			expect(await store.claim(scope, [{ key: KEY, status: 'critical' }], at(11))).toEqual([false]);
		});
	});

	it('loses no update when 10 connections compare-and-set one cursor 10 times each', async () => {
		const conn = connection();
		const stores = await Promise.all(
			Array.from({ length: 10 }, async () => await PostgresStateStore.open(conn)),
		);
		try {
			await Promise.all(
				stores.map(async (s) => {
					for (let n = 0; n < 10; n++)
						await s.update<{ count: number }>(scope, 'counter', (c) => ({
							count: (c?.count ?? 0) + 1,
						}));
				}),
			);
			const { value, version } = await stores[0].read<{ count: number }>(scope, 'counter');
			expect(value).toEqual({ count: 100 });
			expect(version).toBe(100);
		} finally {
			await Promise.all(stores.map(async (s) => await s.close()));
		}
		// a stale version loses
		await withStateStore(conn, async (store) => {
			expect(await store.compareAndSet(scope, 'counter', 99, { count: 0 })).toBe(false);
			expect(await store.compareAndSet(scope, 'counter', 100, { count: 0 })).toBe(true);
		});
	});

	it('a wrong password is a clear error that does not contain the password', async () => {
		const password = 'Wr0ng-Pa55word-x9';
		const error = await PostgresStateStore.open(connection({ password })).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(InfraOpsError);
		expect((error as Error).message).toMatch(/authentication failed/);
		expect((error as InfraOpsError).hint).toMatch(/user and password/);
		expect(
			JSON.stringify({ m: (error as Error).message, h: (error as InfraOpsError).hint }),
		).not.toContain(password);
	});

	it('a row held locked by another session is a clear timeout error, not a hang', async () => {
		const conn = connection();
		await withStateStore(conn, async (store) => {
			await store.claim(scope, [{ key: KEY, status: 'ok' }], at(0));
		});
		const holder = await adminClient();
		try {
			await holder.query('begin');
			await holder.query(
				`select 1 from ${quoteTableName(conn.table)} where workflow_id = $1 and node = $2 and state_key = $3 for update`,
				[scope.workflowId, scope.node, `finding:${KEY}`],
			);
			const error = await withStateStore(
				conn,
				async (store) => await store.claim(scope, [{ key: KEY, status: 'critical' }], at(1)),
				{ timeoutMs: 1_000 },
			).catch((e: unknown) => e);
			expect(error).toBeInstanceOf(TimeoutError);
			expect((error as Error).message).toMatch(/no answer within 1000 ms/);
			expect((error as InfraOpsError).hint).toMatch(/idle in transaction/);
		} finally {
			await holder.query('rollback');
			await holder.end();
		}
		// once the lock is gone the transition is still there to claim
		await withStateStore(conn, async (store) => {
			expect(await store.claim(scope, [{ key: KEY, status: 'critical' }], at(2))).toEqual([true]);
		});
	});

	it("a run's values and claims commit together: a claim that fails leaves the value unwritten; a lost compare-and-set merges", async () => {
		const conn = connection();
		const merge = (current: unknown, mine: unknown) => ({
			...(current as object),
			...(mine as object),
		});
		await withStateStore(conn, async (store) => {
			await store.claim(scope, [{ key: KEY, status: 'ok' }], at(0));
		});
		const base = { value: undefined, version: 0 };
		const holder = await adminClient();
		try {
			await holder.query('begin');
			await holder.query(
				`select 1 from ${quoteTableName(conn.table)} where state_key = $1 for update`,
				[`finding:${KEY}`],
			);
			const error = await withStateStore(
				conn,
				async (store) =>
					await store.commit(
						scope,
						[{ name: 'cursors', base, mine: { a: '5' }, merge }],
						[{ key: KEY, status: 'critical' }],
						at(1),
					),
				{ timeoutMs: 1_000 },
			).catch((e: unknown) => e);
			expect(error).toBeInstanceOf(TimeoutError);
		} finally {
			await holder.query('rollback');
			await holder.end();
		}
		await withStateStore(conn, async (store) => {
			// rolled back with the claim: the cursor did not move past what nobody was told of
			expect(await store.read(scope, 'cursors')).toEqual({ value: undefined, version: 0 });
			const commit = async (mine: object, minute: number) =>
				await store.commit(
					scope,
					[{ name: 'cursors', base, mine, merge }],
					[{ key: KEY, status: 'critical' }],
					at(minute),
				);
			expect(await commit({ a: '5' }, 1)).toEqual([true]);
			// read the same base, lost the race: merged onto what the first wrote
			expect(await commit({ b: '7' }, 2)).toEqual([false]);
			expect(await store.read(scope, 'cursors')).toEqual({ value: { a: '5', b: '7' }, version: 2 });
		});
	});

	it('refuses a table name that is not a plain identifier', async () => {
		await expect(PostgresStateStore.open(connection({ table: 'x; drop table y' }))).rejects.toThrow(
			/not a plain table name/,
		);
		expect(quoteTableName('ops.infra_ops_state')).toBe('"ops"."infra_ops_state"');
	});
});

describe('Cert Expiry → Check PEM with the State Store credential (n8n WorkflowExecute)', () => {
	const TYPE = 'n8n-nodes-infra-ops.certExpiry';
	let expiring: { pem: string; ca: string };
	let healthy: { pem: string; ca: string };

	beforeAll(async () => {
		const a = await makeCertificates({
			leaves: [{ commonName: 'files.example', days: 3, notBeforeDays: -87 }],
		});
		const b = await makeCertificates({
			leaves: [{ commonName: 'files.example', days: 89, notBeforeDays: -1 }],
		});
		expiring = { pem: a.leaf.certPem, ca: a.ca.certPem };
		healthy = { pem: b.leaf.certPem, ca: b.ca.certPem };
	});

	function check(
		cert: { pem: string; ca: string },
		conn?: StateStoreConnection,
		mode?: 'manual' | 'trigger',
	) {
		return runWorkflow({
			mode,
			workflow: startThen({
				name: 'Cert Expiry',
				type: TYPE,
				parameters: {
					operation: 'checkPem',
					pemSource: 'text',
					pem: cert.pem,
					pemOptions: { name: 'files.example', customCa: cert.ca },
				},
				...(conn
					? {
							credentials: {
								infraOpsStateStoreApi: { id: 'state', name: 'Infra Ops State Store' },
							},
						}
					: {}),
			}),
			nodeTypes: { [TYPE]: new CertExpiry() },
			credentials: conn ? { infraOpsStateStoreApi: { ...conn } } : {},
			// what a queue-mode worker starts from: no static data, ever
			staticData: {},
		});
	}

	const finding = (result: Awaited<ReturnType<typeof check>>) => {
		expect(result.error).toBeUndefined();
		return result.outputs['Cert Expiry'][0][0].json as IDataObject;
	};

	it('alerts, stays silent, then reports the renewal, with static data empty on every run', async () => {
		const conn = connection();
		const first = await check(expiring, conn);
		expect(finding(first)).toMatchObject({ status: 'critical', changed: true });
		// the shared store holds the state: n8n's static data is untouched
		expect(first.staticData).toEqual({});
		expect(finding(await check(expiring, conn))).toMatchObject({
			status: 'critical',
			changed: false,
		});
		expect(finding(await check(healthy, conn))).toMatchObject({ status: 'ok', changed: true });
		expect(finding(await check(healthy, conn))).toMatchObject({ status: 'ok', changed: false });
	});

	it('of 10 overlapping executions seeing one certificate go critical, exactly one alerts', async () => {
		const conn = connection();
		expect(finding(await check(healthy, conn))).toMatchObject({ status: 'ok', changed: false });
		const runs = await Promise.all(
			Array.from({ length: 10 }, async () => await check(expiring, conn)),
		);
		const changed = runs.map((r) => finding(r)).filter((f) => f.changed === true);
		expect(changed).toHaveLength(1);
		expect(changed[0]).toMatchObject({ status: 'critical' });
	});

	it('threat: a stored value of the wrong JSON type (tampered, another version) is started afresh, not a failure on every run', async () => {
		const conn = connection();
		expect(finding(await check(healthy, conn))).toMatchObject({ status: 'ok', changed: false });
		const admin = await adminClient();
		try {
			for (const planted of ['"garbage"', '42', '["a"]', 'null']) {
				await admin.query(
					`update ${quoteTableName(conn.table)} set value = $1::jsonb where state_key like 'value:%'`,
					[planted],
				);
				expect(finding(await check(healthy, conn))).toMatchObject({ status: 'ok' });
			}
		} finally {
			await admin.end();
		}
		expect(finding(await check(expiring, conn))).toMatchObject({
			status: 'critical',
			changed: true,
		});
	});

	it('newcomer: a run from the editor (manual) does not use up the next production alert, as static data is not saved for it', async () => {
		const conn = connection();
		expect(finding(await check(healthy, conn))).toMatchObject({ status: 'ok', changed: false });
		// "Execute step" on the node while the certificate is expiring: shown as news, not recorded
		expect(finding(await check(expiring, conn, 'manual'))).toMatchObject({
			status: 'critical',
			changed: true,
		});
		// the scheduled run still alerts, once
		expect(finding(await check(expiring, conn))).toMatchObject({
			status: 'critical',
			changed: true,
		});
		expect(finding(await check(expiring, conn))).toMatchObject({ changed: false });
		// and a manual run compares with what production recorded
		expect(finding(await check(expiring, conn, 'manual'))).toMatchObject({ changed: false });
	});

	it('a wrong State Store password fails the node clearly, without the password', async () => {
		const password = 'N0t-The-Pa55word-q7';
		const result = await check(expiring, connection({ password }));
		expect(result.error?.name).toBe('NodeOperationError');
		expect(result.error?.message).toMatch(/authentication failed/);
		expect(JSON.stringify(result.error)).not.toContain(password);
	});

	it('in queue mode without the credential the node fails and says to attach an Infra Ops State Store', async () => {
		const before = process.env.EXECUTIONS_MODE;
		process.env.EXECUTIONS_MODE = 'queue';
		try {
			const result = await check(expiring);
			expect(result.error?.name).toBe('NodeOperationError');
			expect(result.error?.message).toMatch(/queue mode.*nothing was done$/);
			expect(result.error?.description).toMatch(/Infra Ops State Store/);
			expect(result.error?.description).toMatch(/docs\/deploy\.md/);
			// with the credential, queue mode works
			const conn = connection();
			expect(finding(await check(expiring, conn))).toMatchObject({ changed: true });
		} finally {
			if (before === undefined) delete process.env.EXECUTIONS_MODE;
			else process.env.EXECUTIONS_MODE = before;
		}
	});
});

describe('State Store review: hostile tables, rows and connections (real server)', () => {
	it('threat: a row observed in the future (planted, or the database clock stepped back) does not freeze the state', async () => {
		const conn = connection();
		await withStateStore(conn, async (store) => {
			expect(await store.claim(scope, [{ key: KEY, status: 'ok' }], await store.now())).toEqual([
				false,
			]);
		});
		const admin = await adminClient();
		try {
			await admin.query(
				`update ${quoteTableName(conn.table)} set observed_at = now() + interval '1 year' where state_key = $1`,
				[`finding:${KEY}`],
			);
		} finally {
			await admin.end();
		}
		await withStateStore(conn, async (store) => {
			expect(
				await store.claim(scope, [{ key: KEY, status: 'critical' }], await store.now()),
			).toEqual([true]);
			expect(await store.claim(scope, [{ key: KEY, status: 'ok' }], await store.now())).toEqual([
				true,
			]);
		});
	});

	it('threat: a table of that name with another shape (another application, no primary key) is refused, not used', async () => {
		const admin = await adminClient();
		try {
			// same columns, no key: ON CONFLICT DO NOTHING would insert a row per run, and every run alert
			const unkeyed = connection();
			await admin.query(
				`create table ${quoteTableName(unkeyed.table)} (workflow_id text, node text, state_key text,
				 status text, change_key text, observed_at timestamptz, value jsonb,
				 version bigint not null default 0, updated_at timestamptz not null default now())`,
			);
			const error = await PostgresStateStore.open(unkeyed).catch((e: unknown) => e);
			expect(error).toBeInstanceOf(InfraOpsError);
			expect((error as Error).message).toMatch(/not an Infra Ops state table/);
			expect((error as InfraOpsError).hint).toMatch(/another Table Name/);
			const other = connection();
			await admin.query(
				`create table ${quoteTableName(other.table)} (id serial primary key, note text)`,
			);
			await admin.query(`insert into ${quoteTableName(other.table)} (note) values ('theirs')`);
			await expect(PostgresStateStore.open(other)).rejects.toThrow(/not an Infra Ops state table/);
			const { rows } = await admin.query(`select note from ${quoteTableName(other.table)}`);
			expect(rows).toEqual([{ note: 'theirs' }]);
		} finally {
			await admin.end();
		}
	});

	it('newcomer: an uppercase table name is the table psql makes of it (lowercase); 64 characters are refused saying why', async () => {
		const conn = connection();
		const upper = conn.table.toUpperCase();
		const admin = await adminClient();
		try {
			// what a DBA following the docs types: CREATE TABLE STATE_TEST_… (folded to lowercase)
			await withStateStore(conn, async () => undefined);
			await withStateStore({ ...conn, table: upper }, async (store) => {
				await store.claim(scope, [{ key: KEY, status: 'critical' }], await store.now());
			});
			const { rows } = await admin.query<{ n: string }>(
				`select count(*) as n from ${quoteTableName(conn.table)}`,
			);
			expect(rows[0].n).toBe('1');
			const quoted = await admin.query(`select 1 from pg_class where relname = $1`, [upper]);
			expect(quoted.rows).toEqual([]);
		} finally {
			await admin.end();
		}
		const long = 'a'.repeat(64);
		const error = await PostgresStateStore.open(connection({ table: long })).catch(
			(e: unknown) => e,
		);
		expect((error as InfraOpsError).hint).toMatch(/63 characters/);
	});

	it('newcomer: a user without CREATE works on a table an owner created and granted as the docs say; a read-only one gets the grant to ask for', async () => {
		const conn = connection();
		const role = `state_user_${process.pid}`;
		const password = 'R0le-Pa55-w0rd-k3';
		await withStateStore(conn, async () => undefined); // the owner (harness superuser) creates it
		const admin = await adminClient();
		try {
			await admin.query(`drop role if exists ${role}`);
			await admin.query(`create role ${role} login password '${password}'`);
			await admin.query(`revoke create on schema public from ${role}`);
			await admin.query(`grant select on ${quoteTableName(conn.table)} to ${role}`);
			const user = { ...conn, user: role, password };
			const error = await withStateStore(
				user,
				async (store) =>
					await store.claim(scope, [{ key: KEY, status: 'critical' }], await store.now()),
			).catch((e: unknown) => e);
			expect(error).toBeInstanceOf(InfraOpsError);
			expect((error as Error).message).toMatch(/permission denied/);
			expect((error as InfraOpsError).hint).toMatch(/SELECT, INSERT, UPDATE/);
			expect(
				JSON.stringify({ m: (error as Error).message, h: (error as InfraOpsError).hint }),
			).not.toContain(password);
			await admin.query(`grant select, insert, update on ${quoteTableName(conn.table)} to ${role}`);
			await withStateStore(user, async (store) => {
				expect(
					await store.claim(scope, [{ key: KEY, status: 'critical' }], await store.now()),
				).toEqual([true]);
				await store.commit(
					scope,
					[
						{
							name: 'cursors',
							base: { value: undefined, version: 0 },
							mine: { a: '1' },
							merge: (c) => c,
						},
					],
					[],
					await store.now(),
				);
			});
		} finally {
			await admin.query(`drop owned by ${role}`).catch(() => undefined);
			await admin.query(`drop role if exists ${role}`).catch(() => undefined);
			await admin.end();
		}
	});

	it('threat: a worker frozen mid-transaction (VM paused, network gone without a reset) holds the rows only until the server ends its idle transaction', async () => {
		const conn = connection();
		await withStateStore(conn, async (store) => {
			await store.claim(scope, [{ key: KEY, status: 'ok' }], await store.now());
		});
		// the frozen worker: its session locked the row inside the store's transaction and then never
		// sent another statement (its socket stays open, as a paused VM's does)
		const frozen = await PostgresStateStore.open(conn, { timeoutMs: 1_000 });
		let release = () => undefined as void;
		const hung = new Promise<void>((done) => (release = done));
		let locked = () => undefined as void;
		const holding = new Promise<void>((done) => (locked = done));
		const inside = frozen as unknown as {
			transaction(work: () => Promise<void>): Promise<void>;
			query(text: string, values: unknown[]): Promise<unknown>;
		};
		const frozenRun = inside
			.transaction(async () => {
				await inside.query(
					`select 1 from ${quoteTableName(conn.table)} where state_key = $1 for update`,
					[`finding:${KEY}`],
				);
				locked();
				await hung;
			})
			.catch((e: unknown) => e);
		try {
			await holding;
			// a run on another worker, with the default 15 s bound: gets the row once the server ends
			// the frozen session's idle transaction
			await withStateStore(conn, async (store) => {
				expect(
					await store.claim(scope, [{ key: KEY, status: 'critical' }], await store.now()),
				).toEqual([true]);
			});
		} finally {
			release();
			await frozenRun;
			await frozen.close();
		}
	}, 40_000);

	it('threat: 10 overlapping runs seeing the certificate flip ok → critical → ok alert no more than the real transitions, and the row ends at the latest observation', async () => {
		const conn = connection();
		const t0 = await withStateStore(conn, async (store) => {
			// an hour ago: every observation below is in the past of the database's clock, as real ones are
			const start = new Date((await store.now()).getTime() - 3_600_000);
			await store.claim(scope, [{ key: KEY, status: 'ok' }], start);
			return start.getTime();
		});
		const seen: ('ok' | 'critical')[] = [
			'critical',
			'ok',
			'critical',
			'critical',
			'ok',
			'critical',
			'ok',
			'ok',
			'critical',
			'critical',
		];
		const real = seen.filter((s, i) => s !== (i ? seen[i - 1] : 'ok')).length;
		for (let round = 0; round < 3; round++) {
			const stores = await Promise.all(seen.map(async () => await PostgresStateStore.open(conn)));
			try {
				// each run looked at its own moment (1 s apart, after everything stored so far) and they
				// all finish together, in whatever order the server grants the row
				const base = t0 + (round + 1) * 60_000;
				const results = await Promise.all(
					stores.map(
						async (s, i) =>
							(
								await s.claim(scope, [{ key: KEY, status: seen[i] }], new Date(base + i * 1_000))
							)[0],
					),
				);
				const alerts = results.filter(Boolean).length;
				// from critical (rounds after the first) the first sighting of critical is no transition
				expect(alerts).toBeLessThanOrEqual(round ? real - 1 : real);
				const admin = await adminClient();
				try {
					const { rows } = await admin.query(
						`select status from ${quoteTableName(conn.table)} where state_key = $1`,
						[`finding:${KEY}`],
					);
					expect(rows).toEqual([{ status: 'critical' }]);
				} finally {
					await admin.end();
				}
				// every alert is a status change of the row, which starts this round at ok (round 0) or
				// critical and ends at critical
				expect(alerts % 2).toBe(round ? 0 : 1);
			} finally {
				await Promise.all(stores.map(async (s) => await s.close()));
			}
		}
	});

	it('threat: a connection cut mid-claim (pg_terminate_backend while it waits on the row) is a clear error and leaves the row as it was', async () => {
		const conn = connection();
		await withStateStore(conn, async (store) => {
			await store.claim(scope, [{ key: KEY, status: 'ok' }], await store.now());
		});
		const holder = await adminClient();
		const admin = await adminClient();
		try {
			await holder.query('begin');
			await holder.query(
				`select 1 from ${quoteTableName(conn.table)} where state_key = $1 for update`,
				[`finding:${KEY}`],
			);
			const store = await PostgresStateStore.open(conn);
			try {
				const claiming = store
					.claim(scope, [{ key: KEY, status: 'critical' }], await store.now())
					.catch((e: unknown) => e);
				// a known point: the claim's session waits on the row lock the holder has
				for (;;) {
					const { rows } = await admin.query<{ pid: number }>(
						`select pid from pg_stat_activity
						 where application_name = 'n8n-nodes-infra-ops' and wait_event_type = 'Lock'`,
					);
					if (rows.length) {
						await admin.query('select pg_terminate_backend($1)', [rows[0].pid]);
						break;
					}
					await admin.query('select pg_sleep(0.05)');
				}
				const error = await claiming;
				expect(error).toBeInstanceOf(InfraOpsError);
				expect((error as Error).message).toMatch(
					/table "state_test_\d+_\d+": the connection was lost/,
				);
				expect((error as InfraOpsError).hint).toMatch(/nothing of this run was kept/);
				expect((error as Error).message).not.toContain(conn.password);
			} finally {
				await store.close();
			}
		} finally {
			await holder.query('rollback');
			await holder.end();
			await admin.end();
		}
		await withStateStore(conn, async (store) => {
			expect(
				await store.claim(scope, [{ key: KEY, status: 'critical' }], await store.now()),
			).toEqual([true]);
		});
	});
});

describe('State Store behind PgBouncer (real pgbouncer, transaction pooling)', () => {
	let dir: string;
	let bouncer: Daemon;
	let port: number;

	beforeAll(async () => {
		const { postgres } = services();
		dir = mkdtempSync(join(tmpdir(), 'state-pgbouncer-'));
		chmodSync(dir, 0o755);
		port = await freePort();
		// pgbouncer refuses to run as root: it runs as the postgres user, which owns its files
		writeFileSync(join(dir, 'userlist.txt'), `"${postgres.user}" "${postgres.password}"\n`);
		writeFileSync(
			join(dir, 'pgbouncer.ini'),
			`[databases]
${postgres.database} = host=${postgres.host} port=${postgres.port} dbname=${postgres.database}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = plain
auth_file = ${join(dir, 'userlist.txt')}
pool_mode = transaction
default_pool_size = 3
max_client_conn = 50
pidfile = ${join(dir, 'pgbouncer.pid')}
`,
		);
		const owner = systemUser('postgres');
		for (const f of ['', 'userlist.txt', 'pgbouncer.ini'])
			chownSync(join(dir, f), owner.uid, owner.gid);
		bouncer = new Daemon('pgbouncer', '/usr/sbin/pgbouncer', [join(dir, 'pgbouncer.ini')], {
			logFile: join(dir, 'pgbouncer.log'),
			uid: owner.uid,
			gid: owner.gid,
		});
		await waitUntil(
			'pgbouncer',
			async () => {
				const c = new Client({ ...services().postgres, port, ssl: false });
				try {
					await c.connect();
					await c.query('select 1');
					return true;
				} catch {
					return false;
				} finally {
					await c.end().catch(() => undefined);
				}
			},
			{ timeoutMs: 20_000, daemon: bouncer },
		);
	});

	afterAll(async () => {
		await bouncer?.stop();
		rmSync(dir, { recursive: true, force: true });
	});

	it('newcomer: creates its table and alerts once of 10 overlapping claims through PgBouncer in transaction mode', async () => {
		const conn = connection({ port });
		await withStateStore(conn, async (store) => {
			expect(await store.claim(scope, [{ key: KEY, status: 'ok' }], await store.now())).toEqual([
				false,
			]);
		});
		const stores = await Promise.all(
			Array.from({ length: 10 }, async () => await PostgresStateStore.open(conn)),
		);
		try {
			const at = await stores[0].now();
			const results = await Promise.all(
				stores.map(async (s) => await s.claim(scope, [{ key: KEY, status: 'critical' }], at)),
			);
			expect(results.flat().filter(Boolean)).toHaveLength(1);
		} finally {
			await Promise.all(stores.map(async (s) => await s.close()));
		}
	});

	it('newcomer: a login PgBouncer refuses is named as such, not reported as a timeout', async () => {
		// the PostgreSQL Admin credential still sets statement_timeout at login, which PgBouncer refuses
		const error = await connectPostgres({ ...connection({ port }) }).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(InfraOpsError);
		expect(error).not.toBeInstanceOf(TimeoutError);
		expect((error as Error).message).toMatch(/unsupported startup parameter: statement_timeout/);
	});

	it('threat: a row lock held past the timeout behind PgBouncer is still a clear timeout, and leaks no timeout to other sessions', async () => {
		const conn = connection({ port });
		await withStateStore(conn, async (store) => {
			await store.claim(scope, [{ key: KEY, status: 'ok' }], await store.now());
		});
		const holder = await adminClient();
		try {
			await holder.query('begin');
			await holder.query(
				`select 1 from ${quoteTableName(conn.table)} where state_key = $1 for update`,
				[`finding:${KEY}`],
			);
			const error = await withStateStore(
				conn,
				async (store) =>
					await store.claim(scope, [{ key: KEY, status: 'critical' }], await store.now()),
				{ timeoutMs: 1_000 },
			).catch((e: unknown) => e);
			expect(error).toBeInstanceOf(TimeoutError);
		} finally {
			await holder.query('rollback');
			await holder.end();
		}
		// the pooled server connections keep the server's default: another client sees no timeout set
		const other = new Client({ ...services().postgres, port, ssl: false });
		await other.connect();
		try {
			const seen = await Promise.all(
				Array.from(
					{ length: 3 },
					async () => (await other.query('show statement_timeout')).rows[0],
				),
			);
			expect(seen).toEqual(seen.map(() => ({ statement_timeout: '0' })));
		} finally {
			await other.end();
		}
	});
});
