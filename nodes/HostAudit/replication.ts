/**
 * PostgreSQL streaming replication, read-only: the primary's pg_stat_replication (state and LSNs of
 * each connected replica, lag in bytes and seconds) and, for each replica address given, the
 * replica's own view (received vs replayed WAL, age of the last replayed transaction, paused).
 * Replicas are reached with the primary's credential: a physical replica is a copy of the primary's
 * cluster, so the same roles and passwords log in there.
 */
import type { Client } from 'pg';

import { mapConcurrent } from '../shared/concurrency';
import { errorMessage, InfraOpsError } from '../shared/errors';
import type { FindingStatus, NewFinding } from '../shared/findings';
import { withPostgres, type PostgresConnection } from '../shared/postgres';

export interface ReplicationOptions {
	/** application_name or client address of each replica that must be connected. */
	expected: string[];
	/** `host[:port]` of replicas to connect to with the same credential. */
	replicas: string[];
	maxLagBytes: number;
	maxLagSeconds: number;
}

interface SenderRow {
	application_name: string | null;
	client_addr: string | null;
	state: string | null;
	sync_state: string | null;
	sent_lsn: string | null;
	write_lsn: string | null;
	flush_lsn: string | null;
	replay_lsn: string | null;
	primary_lsn: string;
	replay_lag_bytes: number | null;
	replay_lag_seconds: number | null;
}

interface ReplicaRow {
	in_recovery: boolean;
	receive_lsn: string | null;
	replay_lsn: string | null;
	replay_age_seconds: number | null;
	paused: boolean | null;
	receiver_status: string | null;
}

const PRIMARY_SQL = `
SELECT application_name, host(client_addr) AS client_addr, state, sync_state,
       sent_lsn::text, write_lsn::text, flush_lsn::text, replay_lsn::text,
       pg_current_wal_lsn()::text AS primary_lsn,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 AS replay_lag_bytes,
       EXTRACT(EPOCH FROM replay_lag)::float8 AS replay_lag_seconds
  FROM pg_stat_replication
 ORDER BY application_name, client_addr`;

const REPLICA_SQL = `
SELECT true AS in_recovery,
       pg_last_wal_receive_lsn()::text AS receive_lsn,
       pg_last_wal_replay_lsn()::text AS replay_lsn,
       EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 AS replay_age_seconds,
       pg_is_wal_replay_paused() AS paused,
       (SELECT status FROM pg_stat_wal_receiver LIMIT 1) AS receiver_status`;

/** `16/B374D848` → bytes. */
export function parseLsn(lsn: string | null | undefined): bigint | undefined {
	const m = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(lsn ?? '');
	return m ? (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`) : undefined;
}

export function formatBytes(bytes: number): string {
	if (bytes < 1024) return `${bytes} B`;
	const units = ['KiB', 'MiB', 'GiB', 'TiB'];
	let v = bytes / 1024;
	let u = 0;
	while (v >= 1024 && u < units.length - 1) {
		v /= 1024;
		u++;
	}
	return `${v.toFixed(1)} ${units[u]}`;
}

function over(
	bytes: number | null | undefined,
	seconds: number | null | undefined,
	o: ReplicationOptions,
): string[] {
	const why: string[] = [];
	if (bytes != null && o.maxLagBytes > 0 && bytes > o.maxLagBytes)
		why.push(`${formatBytes(bytes)} behind (limit ${formatBytes(o.maxLagBytes)})`);
	if (seconds != null && o.maxLagSeconds > 0 && seconds > o.maxLagSeconds)
		why.push(`${Math.round(seconds)} s behind (limit ${o.maxLagSeconds} s)`);
	return why;
}

async function readPrimary(
	client: Client,
	target: string,
): Promise<{ rows: SenderRow[]; lsn: string }> {
	const recovery = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
	if (recovery.rows[0]?.r)
		throw new InfraOpsError(
			`${target} is in recovery: it is a replica, not the primary`,
			'Point the PostgreSQL credential at the primary; list replicas under Replica Addresses',
		);
	const { rows } = await client.query<SenderRow>(PRIMARY_SQL);
	if (rows.some((r) => r.state === null))
		throw new InfraOpsError(
			`${target}: the credential's role may not read pg_stat_replication's details (state and LSNs are hidden)`,
			'Use a superuser, or GRANT pg_monitor TO <role>',
		);
	const lsn = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
	return { rows, lsn: lsn.rows[0].lsn };
}

function matches(row: SenderRow, entry: string): boolean {
	const e = entry.toLowerCase();
	return (
		(row.application_name ?? '').toLowerCase() === e ||
		(row.client_addr ?? '').replace(/\/\d+$/, '').toLowerCase() === e.replace(/\/\d+$/, '')
	);
}

function senderFinding(
	primary: string,
	name: string,
	row: SenderRow,
	o: ReplicationOptions,
): NewFinding {
	const bytes = row.replay_lag_bytes;
	const seconds = row.replay_lag_seconds;
	const why = over(bytes, seconds, o);
	const status: FindingStatus = why.length
		? 'critical'
		: row.state !== 'streaming'
			? 'warning'
			: 'ok';
	const who = `${row.application_name || '?'} (${row.client_addr ?? 'local socket'})`;
	const lag = `replay ${formatBytes(Math.max(0, bytes ?? 0))} behind${
		seconds != null ? `, replay lag ${seconds.toFixed(1)} s` : ''
	}`;
	return {
		check: 'replication',
		target: `${primary}/${name}`,
		status,
		summary: why.length
			? `Replica ${who} lags the primary: ${why.join(', ')}`
			: `Replica ${who} is ${row.state}${status === 'warning' ? ' (not streaming yet)' : ''}, ${lag}`,
		replica: name,
		applicationName: row.application_name,
		clientAddr: row.client_addr,
		state: row.state,
		syncState: row.sync_state,
		primaryLsn: row.primary_lsn,
		sentLsn: row.sent_lsn,
		writeLsn: row.write_lsn,
		flushLsn: row.flush_lsn,
		replayLsn: row.replay_lsn,
		lagBytes: bytes,
		lagSeconds: seconds,
		// lagging → gone (both critical) is news too
		changeKey: why.length ? 'lagging' : (row.state ?? ''),
	};
}

function parseAddress(address: string, fallbackPort: number): { host: string; port: number } {
	const m = /^(\[[^\]]+\]|[^:\s]+)(?::(\d{1,5}))?$/.exec(address.trim());
	if (!m)
		throw new InfraOpsError(
			`Replica address "${address}" is not a host or host:port`,
			'Write it as 10.0.20.6 or pg-replica.lan:5432',
		);
	return { host: m[1].replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : fallbackPort };
}

async function replicaFinding(
	conn: PostgresConnection,
	address: string,
	primaryLsn: bigint | undefined,
	o: ReplicationOptions,
): Promise<NewFinding> {
	const { host, port } = parseAddress(address, conn.port);
	const target = `${host}:${port}`;
	const base = { check: 'replication-replica', target };
	let row: ReplicaRow;
	try {
		row = await withPostgres({ ...conn, host, port }, async (client) => {
			const recovery = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
			if (!recovery.rows[0]?.r)
				return {
					in_recovery: false,
					receive_lsn: null,
					replay_lsn: null,
					replay_age_seconds: null,
					paused: null,
					receiver_status: null,
				};
			return (await client.query<ReplicaRow>(REPLICA_SQL)).rows[0];
		});
	} catch (error) {
		return {
			...base,
			status: 'error',
			summary: `Cannot read replica ${target}: ${errorMessage(error)}`,
		};
	}
	if (!row.in_recovery)
		return {
			...base,
			status: 'critical',
			summary: `${target} is not in recovery: it was promoted or is not a replica`,
			inRecovery: false,
			changeKey: 'promoted',
		};
	const receive = parseLsn(row.receive_lsn);
	const replay = parseLsn(row.replay_lsn);
	// behind the primary's current WAL when known (covers a receiver that stopped), else behind what it received
	const ahead = primaryLsn ?? receive;
	const bytes = ahead !== undefined && replay !== undefined ? Number(ahead - replay) : null;
	// the age of the last replayed transaction only means lag while WAL waits to be replayed; caught up on an idle primary it just grows
	const seconds = bytes !== null && bytes <= 0 ? 0 : row.replay_age_seconds;
	const why = over(bytes, seconds, o);
	const notes = [
		row.paused ? 'replay is paused' : '',
		row.receiver_status !== 'streaming'
			? `WAL receiver is ${row.receiver_status ?? 'not running'}`
			: '',
	].filter(Boolean);
	const status: FindingStatus = why.length ? 'critical' : notes.length ? 'warning' : 'ok';
	const lag = `${formatBytes(Math.max(0, bytes ?? 0))} behind${
		seconds != null ? `, last replayed transaction ${seconds.toFixed(1)} s ago` : ''
	}`;
	return {
		...base,
		status,
		summary: `Replica ${target}: ${why.length ? `lags: ${why.join(', ')}` : lag}${
			notes.length ? ` (${notes.join(', ')})` : ''
		}`,
		inRecovery: true,
		receiveLsn: row.receive_lsn,
		replayLsn: row.replay_lsn,
		lagBytes: bytes,
		lagSeconds: seconds,
		replayPaused: row.paused,
		receiverStatus: row.receiver_status,
		changeKey: why.length ? 'lagging' : notes.join(', '),
	};
}

/**
 * One finding per replica the primary streams to (named by the expected entry it matches, else its
 * application_name or address), one critical finding per expected replica that is absent, and one
 * per replica address read directly.
 */
export async function auditReplication(
	conn: PostgresConnection,
	o: ReplicationOptions,
): Promise<NewFinding[]> {
	const primary = `${conn.host}:${conn.port}`;
	const { rows, lsn } = await withPostgres(
		conn,
		async (client) => await readPrimary(client, primary),
	);
	const findings: NewFinding[] = [];
	const claimed = new Set<SenderRow>();
	for (const entry of o.expected) {
		const row = rows.find((r) => !claimed.has(r) && matches(r, entry));
		if (row) {
			claimed.add(row);
			findings.push(senderFinding(primary, entry, row, o));
		} else
			findings.push({
				check: 'replication',
				target: `${primary}/${entry}`,
				status: 'critical',
				summary: `Expected replica ${entry} is not connected to the primary ${primary} (absent from pg_stat_replication)`,
				replica: entry,
				state: 'absent',
				changeKey: 'absent',
			});
	}
	for (const row of rows)
		if (!claimed.has(row))
			findings.push(
				senderFinding(primary, row.application_name || row.client_addr || 'local', row, o),
			);
	if (!rows.length && !o.expected.length)
		findings.push({
			check: 'replication',
			target: `${primary}/replicas`,
			status: 'warning',
			summary: `No replica is connected to ${primary}`,
			state: 'absent',
		});
	const primaryLsn = parseLsn(lsn);
	findings.push(
		...(await mapConcurrent(o.replicas, 4, (address) =>
			replicaFinding(conn, address, primaryLsn, o),
		)),
	);
	return findings;
}
