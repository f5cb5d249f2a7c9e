/**
 * Error lines since the last run and their digest: from the Docker Engine's container logs (no Loki
 * needed) or from Loki's query_range API. The "since" cursor of each source lives in the store the
 * caller passes (the workflow's static data), never in process memory, so a run reports only lines
 * the previous run did not, on whichever worker it runs.
 */
import type { IncomingMessage } from 'node:http';
import type Dockerode from 'dockerode';

import { mapConcurrent } from '../shared/concurrency';
import { describeConnectError, errorMessage, InfraOpsError, withTimeout } from '../shared/errors';
import type { NewFinding } from '../shared/findings';
import { httpRequest } from '../shared/http';
import type { ListedContainer } from './containers';

export const DEFAULT_ERROR_PATTERN =
	'level=error|level=fatal|\\bERROR\\b|\\bFATAL\\b|\\bpanic\\b|Traceback|exception';

export interface LogLine {
	/** Nanoseconds since the epoch. */
	ns: bigint;
	text: string;
}

export interface DigestOptions {
	pattern: RegExp;
	/** How many repeated messages per source the digest lists. */
	topMessages: number;
	/** New error lines at or above this are critical; below, warning. 0: never critical. */
	criticalAbove: number;
}

const CURSORS_KEY = 'infraOpsLogCursors';
const TIMEOUT_MS = 30_000;

export function compilePattern(pattern: string): RegExp {
	const source = pattern.trim() || DEFAULT_ERROR_PATTERN;
	try {
		return new RegExp(source, 'i');
	} catch (error) {
		throw new InfraOpsError(
			`Error Pattern "${source}" is not a valid regular expression: ${errorMessage(error)}`,
			`Write a JavaScript regular expression without slashes, e.g. ${DEFAULT_ERROR_PATTERN}`,
		);
	}
}

/** `2026-12-04T16:00:00.123456789Z` (any fraction length, or an offset) → ns since the epoch. */
export function timestampToNs(ts: string): bigint | undefined {
	const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
	if (!m) return undefined;
	const seconds = Date.parse(`${m[1]}${m[3]}`);
	if (Number.isNaN(seconds)) return undefined;
	return BigInt(seconds) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

export function nsToIso(ns: bigint): string {
	return new Date(Number(ns / 1_000_000n)).toISOString();
}

/** Docker's `since` takes seconds with a fraction: `<s>.<ns>`. */
function nsToDockerSince(ns: bigint): string {
	return `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
}

/**
 * The payload of Docker's log stream: raw for a TTY container, else frames of an 8-byte header
 * (stream type, 3 zero bytes, big-endian length) and that many bytes. A frame cut off at the byte
 * bound is dropped whole.
 */
export function demultiplex(buffer: Buffer, tty: boolean): string {
	if (tty) return buffer.toString('utf8');
	const parts: Buffer[] = [];
	let offset = 0;
	while (offset + 8 <= buffer.length) {
		const size = buffer.readUInt32BE(offset + 4);
		if (offset + 8 + size > buffer.length) break;
		parts.push(buffer.subarray(offset + 8, offset + 8 + size));
		offset += 8 + size;
	}
	return Buffer.concat(parts).toString('utf8');
}

/** Lines of `docker logs --timestamps` output; a last line without its newline was cut and is left for the next run. */
export function parseTimestampedLines(text: string): LogLine[] {
	const lines: LogLine[] = [];
	const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
	for (const raw of complete.split('\n')) {
		const line = raw.replace(/\r$/, '');
		const space = line.indexOf(' ');
		const ns = space > 0 ? timestampToNs(line.slice(0, space)) : undefined;
		if (ns !== undefined) lines.push({ ns, text: line.slice(space + 1) });
	}
	return lines;
}

/** The message with what varies between repeats masked: timestamps, UUIDs, hex ids, IPs, numbers. */
export function normaliseMessage(text: string): string {
	return text
		.replace(/\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?/g, '<time>')
		.replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>')
		.replace(/\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b/g, '<ip>')
		.replace(/\b(?:0x)?[0-9a-f]{8,}\b/gi, (m) => (/\d/.test(m) ? '<id>' : m))
		.replace(/\d+(?:\.\d+)?/g, '<n>')
		.replace(/\s+/g, ' ')
		.trim()
		.slice(0, 300);
}

export interface RepeatedMessage {
	message: string;
	example: string;
	count: number;
	first: string;
	last: string;
}

export interface SourceDigest {
	errorLines: number;
	linesRead: number;
	top: RepeatedMessage[];
	first?: string;
	last?: string;
}

export function digestLines(lines: LogLine[], options: DigestOptions): SourceDigest {
	const groups = new Map<string, { example: string; count: number; first: bigint; last: bigint }>();
	let errorLines = 0;
	let first: bigint | undefined;
	let last: bigint | undefined;
	for (const line of lines) {
		if (!options.pattern.test(line.text)) continue;
		errorLines++;
		if (first === undefined || line.ns < first) first = line.ns;
		if (last === undefined || line.ns > last) last = line.ns;
		const key = normaliseMessage(line.text);
		const group = groups.get(key);
		if (group) {
			group.count++;
			if (line.ns < group.first) group.first = line.ns;
			if (line.ns > group.last) group.last = line.ns;
		} else {
			groups.set(key, {
				example: line.text.trim().slice(0, 500),
				count: 1,
				first: line.ns,
				last: line.ns,
			});
		}
	}
	const top = [...groups.entries()]
		.sort((a, b) => b[1].count - a[1].count || (a[1].first < b[1].first ? -1 : 1))
		.slice(0, Math.max(1, options.topMessages))
		.map(([message, g]) => ({
			message,
			example: g.example,
			count: g.count,
			first: nsToIso(g.first),
			last: nsToIso(g.last),
		}));
	return {
		errorLines,
		linesRead: lines.length,
		top,
		first: first === undefined ? undefined : nsToIso(first),
		last: last === undefined ? undefined : nsToIso(last),
	};
}

/** A finding for a source with new error lines; none when nothing new (so nothing is sent). */
function digestFinding(
	check: string,
	target: string,
	digest: SourceDigest,
	cursor: bigint,
	options: DigestOptions,
	extra: Record<string, unknown>,
): NewFinding | undefined {
	if (!digest.errorLines) return undefined;
	const critical = options.criticalAbove > 0 && digest.errorLines >= options.criticalAbove;
	const head = digest.top[0];
	return {
		check,
		target,
		status: critical ? 'critical' : 'warning',
		summary: `${digest.errorLines} new error line${digest.errorLines === 1 ? '' : 's'} in ${target}${
			head ? `; most repeated (${head.count}×): ${head.example.slice(0, 200)}` : ''
		}`,
		errorLines: digest.errorLines,
		linesRead: digest.linesRead,
		firstAt: digest.first,
		lastAt: digest.last,
		topMessages: digest.top,
		...extra,
		// every run's new lines are news: the cursor makes each digest differ from the last
		changeKey: String(cursor),
	};
}

/**
 * Lines to report now and the cursor after them. When the read was cut short (byte bound, entry
 * limit), lines sharing the last timestamp may continue unread, so those are left for the next run
 * (cursor one nanosecond before them) unless they are all there is.
 */
export function cutAtCursor<L extends LogLine>(
	lines: L[],
	truncated: boolean,
	fallback: bigint,
): { lines: L[]; cursor: bigint } {
	if (!lines.length) return { lines, cursor: fallback };
	const last = lines.reduce((max, l) => (l.ns > max ? l.ns : max), lines[0].ns);
	if (!truncated) return { lines, cursor: last };
	const before = lines.filter((l) => l.ns < last);
	return before.length ? { lines: before, cursor: last - 1n } : { lines, cursor: last };
}

function cursorsOf(store: Record<string, unknown>, scope: string): Record<string, string> {
	const all = (store[CURSORS_KEY] ??= {}) as Record<string, Record<string, string>>;
	return (all[scope] ??= {});
}

// ---------------------------------------------------------------------------------------------
// Docker

export interface DockerLogOptions extends DigestOptions {
	/** Where a container without a cursor starts reading (first run, new container). */
	lookbackMinutes: number;
	/** Bytes read per container and run; the rest is read by the next run. */
	maxBytes: number;
	concurrency: number;
	/** Cursor scope: the Docker target and selection, so two nodes in one workflow do not share. */
	scope: string;
	/** Name prefix of targets (`<host>/<container>`). */
	host: string;
	now: Date;
}

async function readLogBytes(
	docker: Dockerode,
	id: string,
	since: string,
	until: string,
	maxBytes: number,
): Promise<{ buffer: Buffer; truncated: boolean }> {
	const stream = await new Promise<IncomingMessage>((resolve, reject) =>
		docker.modem.dial(
			{
				path: `/containers/${id}/logs?`,
				method: 'GET',
				options: { since, until, timestamps: true, stdout: true, stderr: true, follow: false },
				isStream: true,
				statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
			},
			(error: unknown, response: unknown) =>
				error ? reject(error as Error) : resolve(response as IncomingMessage),
		),
	);
	const chunks: Buffer[] = [];
	let size = 0;
	let truncated = false;
	await new Promise<void>((resolve, reject) => {
		stream.on('data', (chunk: Buffer) => {
			if (truncated) return;
			chunks.push(chunk);
			size += chunk.length;
			if (size >= maxBytes) {
				truncated = true;
				stream.destroy();
				resolve();
			}
		});
		stream.on('end', resolve);
		stream.on('close', resolve);
		stream.on('error', (error) => (truncated ? resolve() : reject(error)));
	});
	const buffer = Buffer.concat(chunks);
	return { buffer: buffer.subarray(0, maxBytes), truncated };
}

/**
 * One finding per container with new error lines since its cursor (or the lookback), a finding
 * `error` for a container whose logs cannot be read, and the cursors moved to the last line read.
 */
export async function dockerErrorDigest(
	docker: Dockerode,
	containers: (ListedContainer & { tty: boolean })[],
	store: Record<string, unknown>,
	options: DockerLogOptions,
): Promise<NewFinding[]> {
	const cursors = cursorsOf(store, `docker ${options.scope}`);
	const nowNs = BigInt(options.now.getTime()) * 1_000_000n;
	const lookbackNs = nowNs - BigInt(Math.round(options.lookbackMinutes * 60_000)) * 1_000_000n;
	const results = await mapConcurrent(containers, Math.max(1, options.concurrency), async (c) => {
		const target = `${options.host}/${c.name}`;
		const previous = cursors[c.id] ? BigInt(cursors[c.id]) : undefined;
		const since = previous ?? lookbackNs;
		try {
			const { buffer, truncated } = await withTimeout(
				readLogBytes(
					docker,
					c.id,
					nsToDockerSince(since),
					nsToDockerSince(nowNs),
					options.maxBytes,
				),
				TIMEOUT_MS,
				`reading the logs of ${c.name}`,
			);
			// `since` is inclusive at the second's fraction Docker keeps: drop what the cursor covers
			const read = parseTimestampedLines(demultiplex(buffer, c.tty)).filter(
				(l) => previous === undefined || l.ns > previous,
			);
			const { lines, cursor } = cutAtCursor(read, truncated, previous ?? since);
			return {
				id: c.id,
				cursor,
				finding: digestFinding('log-errors', target, digestLines(lines, options), cursor, options, {
					container: c.name,
					source: 'docker',
					truncated,
				}),
			};
		} catch (error) {
			const status = (error as { statusCode?: number }).statusCode;
			const reason =
				status === 403
					? 'Docker refused the logs call (403)'
					: error instanceof InfraOpsError
						? error.message
						: describeConnectError('container logs', error).message;
			return {
				id: c.id,
				cursor: previous,
				finding: {
					check: 'log-errors',
					target,
					status: 'error' as const,
					summary: `Cannot read the logs of ${c.name}: ${reason}`,
					hint:
						status === 403
							? 'A docker-socket-proxy in front of the socket must allow CONTAINERS (GET /containers/{id}/logs)'
							: undefined,
					container: c.name,
					source: 'docker',
				},
			};
		}
	});
	// containers that are gone drop their cursor; the store does not grow with every container ever run
	const next: Record<string, string> = {};
	for (const r of results) if (r.cursor !== undefined) next[r.id] = String(r.cursor);
	for (const key of Object.keys(cursors)) delete cursors[key];
	Object.assign(cursors, next);
	return results.flatMap((r) => (r.finding ? [r.finding] : []));
}

// ---------------------------------------------------------------------------------------------
// Loki

export interface LokiOptions extends DigestOptions {
	url: string;
	/** LogQL stream selector (optionally with filters), e.g. `{job="docker"}`. */
	query: string;
	/** The stream label that names the container in findings. */
	containerLabel: string;
	lookbackMinutes: number;
	/** Entries per query (Loki's `limit`); what is left is read by the next run. */
	limit: number;
	headers: Record<string, string>;
	now: Date;
}

interface LokiStreamsResponse {
	status?: string;
	data?: {
		resultType?: string;
		result?: { stream?: Record<string, string>; values?: [string, string][] }[];
	};
}

/**
 * Error lines per container from Loki's `/loki/api/v1/query_range` (direction forward, from the
 * cursor to now). One cursor per URL and query: with direction forward and a limit, the entries
 * returned are the oldest ones, so the newest timestamp among them is where the next run starts.
 */
export async function lokiErrorDigest(
	store: Record<string, unknown>,
	options: LokiOptions,
): Promise<NewFinding[]> {
	let base: URL;
	try {
		base = new URL(options.url);
	} catch {
		throw new InfraOpsError(
			`Loki URL "${options.url}" is not a URL`,
			'Write it as http://loki:3100',
		);
	}
	const query = options.query.trim();
	if (!/^\{.*\}/.test(query))
		throw new InfraOpsError(
			`Loki query "${query}" does not start with a stream selector`,
			'Write a LogQL selector such as {job="docker"} or {container=~".+"}',
		);
	const cursors = cursorsOf(store, `loki ${base.origin}${base.pathname}`);
	const nowNs = BigInt(options.now.getTime()) * 1_000_000n;
	const previous = cursors[query] ? BigInt(cursors[query]) : undefined;
	const start =
		previous !== undefined
			? previous + 1n
			: nowNs - BigInt(Math.round(options.lookbackMinutes * 60_000)) * 1_000_000n;
	const url = new URL(`${base.pathname.replace(/\/$/, '')}/loki/api/v1/query_range`, base);
	url.search = new URLSearchParams({
		query,
		start: String(start),
		end: String(nowNs),
		limit: String(options.limit),
		direction: 'forward',
	}).toString();
	const response = await httpRequest({
		url: url.toString(),
		headers: options.headers,
		timeoutMs: TIMEOUT_MS,
	});
	if (response.status !== 200)
		throw new InfraOpsError(
			`Loki at ${base.origin} answered ${response.status}: ${response.text().slice(0, 300)}`,
			response.status === 401 || response.status === 403
				? 'Check the Loki credentials (header) and the tenant (X-Scope-OrgID)'
				: 'Check the LogQL query and the Loki URL',
		);
	const body = response.json<LokiStreamsResponse>();
	if (body.status !== 'success' || body.data?.resultType !== 'streams')
		throw new InfraOpsError(
			`Loki at ${base.origin} did not answer with log streams (status ${String(body.status)}, resultType ${String(body.data?.resultType)})`,
			'The query must be a log query (a selector with line filters), not a metric query',
		);
	const read: (LogLine & { name: string })[] = [];
	for (const stream of body.data.result ?? []) {
		const labels = stream.stream ?? {};
		const name =
			labels[options.containerLabel] ??
			Object.entries(labels)
				.map(([k, v]) => `${k}=${v}`)
				.join(',');
		for (const [ts, text] of stream.values ?? []) {
			if (!/^\d+$/.test(ts)) continue;
			const ns = BigInt(ts);
			if (previous !== undefined && ns <= previous) continue;
			read.push({ ns, text, name });
		}
	}
	const truncated = read.length >= options.limit;
	const { lines: kept, cursor } = cutAtCursor(read, truncated, previous ?? start - 1n);
	if (kept.length) cursors[query] = String(cursor);
	const byContainer = new Map<string, LogLine[]>();
	for (const line of kept) {
		const list = byContainer.get(line.name) ?? [];
		list.push(line);
		byContainer.set(line.name, list);
	}
	const newest = kept.length ? cursor : undefined;
	const findings: NewFinding[] = [];
	for (const [name, lines] of [...byContainer.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
		lines.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
		const finding = digestFinding(
			'log-errors',
			`loki/${name}`,
			digestLines(lines, options),
			newest ?? 0n,
			options,
			{ container: name, source: 'loki', truncated },
		);
		if (finding) findings.push(finding);
	}
	return findings;
}
