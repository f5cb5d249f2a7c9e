/**
 * A real streaming replica of the harness's PostgreSQL: `pg_basebackup -R` (run as the postgres user
 * with runuser) copies the primary into a second cluster on another loopback port, which then streams
 * from it. It can be stopped and started again (a replica that goes away and comes back).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Client } from 'pg';

import { postgresBinDir, systemUser } from './postgres';
import { Daemon, freePort, run, waitUntil } from './proc';
import type { PostgresInfo } from './services';

export interface PgReplica {
	host: string;
	port: number;
	/** The replica's cluster_name, which its WAL receiver sends as application_name. */
	name: string;
	start(): Promise<void>;
	stop(): Promise<void>;
	/** A superuser session on the replica (same login as the primary: it is a copy). */
	query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
}

export async function queryPostgres<T>(
	server: Pick<PostgresInfo, 'host' | 'port' | 'user' | 'password' | 'database'>,
	sql: string,
): Promise<T[]> {
	const client = new Client({
		host: server.host,
		port: server.port,
		user: server.user,
		password: server.password,
		database: server.database,
		ssl: false,
		connectionTimeoutMillis: 10_000,
	});
	await client.connect();
	try {
		return (await client.query(sql)).rows as T[];
	} finally {
		await client.end().catch(() => undefined);
	}
}

export async function startReplica(
	primary: PostgresInfo,
	root: string,
	name: string,
): Promise<PgReplica> {
	const bin = postgresBinDir();
	const owner = systemUser('postgres');
	const dir = path.join(root, `pg-${name}`);
	const dataDir = path.join(dir, 'data');
	fs.mkdirSync(dir, { mode: 0o700 });
	fs.chownSync(dir, owner.uid, owner.gid);
	await run(
		'runuser',
		[
			'-u',
			'postgres',
			'--',
			path.join(bin, 'pg_basebackup'),
			'-h',
			primary.host,
			'-p',
			String(primary.port),
			'-U',
			primary.user,
			'-D',
			dataDir,
			'-R',
			'-X',
			'stream',
			'-c',
			'fast',
			'--no-sync',
		],
		{
			env: { ...process.env, PGPASSWORD: primary.password, HOME: dir },
			cwd: dir,
			timeoutMs: 120_000,
		},
	);
	const port = await freePort();
	const args = [
		'-D',
		dataDir,
		...Object.entries({
			listen_addresses: '127.0.0.1',
			port: String(port),
			unix_socket_directories: dir,
			cluster_name: name,
			hot_standby: 'on',
			// server.crt / server.key came with the base backup (the primary's, for localhost and 127.0.0.1)
			ssl: 'on',
			fsync: 'off',
		}).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
	];
	let daemon: Daemon | undefined;
	let starts = 0;
	const info = { ...primary, port };
	const replica: PgReplica = {
		host: '127.0.0.1',
		port,
		name,
		async start() {
			daemon = new Daemon(`postgres replica ${name}`, path.join(bin, 'postgres'), args, {
				uid: owner.uid,
				gid: owner.gid,
				cwd: dir,
				env: { ...process.env, HOME: dir, LC_ALL: 'C.UTF-8' },
				logFile: path.join(root, `postgres-${name}.${starts++}.log`),
			});
			await waitUntil(
				`replica ${name} to accept connections`,
				async () => (await queryPostgres(info, 'SELECT 1')).length === 1,
				{ timeoutMs: 60_000, daemon, intervalMs: 200 },
			);
		},
		async stop() {
			await daemon?.stop('SIGINT', 15_000);
		},
		query: async <T>(sql: string) => await queryPostgres<T>(info, sql),
	};
	await replica.start();
	return replica;
}
