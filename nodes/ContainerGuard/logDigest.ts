/**
 * What Error Logs shares between its sources (dockerLogs.ts, lokiLogs.ts): the error pattern,
 * timestamps, message normalisation, the digest and its finding, and the cursors. The "since" cursor of each source lives in the store the
 * caller passes (the workflow's static data), never in process memory, so a run reports only lines
 * the previous run did not, on whichever worker it runs.
 */
import { errorMessage, InfraOpsError } from '../shared/errors';
import type { NewFinding } from '../shared/findings';
import { redactSecrets } from '../shared/secretShapes';

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

export const CURSORS_KEY = 'infraOpsLogCursors';
/** Per Docker logs read and per Loki query. */
export const LOG_TIMEOUT_MS = 30_000;

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
		// log lines carry what applications print: passwords, tokens, keys never reach the digest
		const text = redactSecrets(line.text.slice(0, 2_000));
		const key = normaliseMessage(text);
		const group = groups.get(key);
		if (group) {
			group.count++;
			if (line.ns < group.first) group.first = line.ns;
			if (line.ns > group.last) group.last = line.ns;
		} else {
			groups.set(key, {
				example: text.trim().slice(0, 500),
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
export function digestFinding(
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

export function cursorsOf(store: Record<string, unknown>, scope: string): Record<string, string> {
	const all = (store[CURSORS_KEY] ??= {}) as Record<string, Record<string, string>>;
	return (all[scope] ??= {});
}

type Cursors = Record<string, Record<string, string>>;

/**
 * How two overlapping runs' cursors combine (the shared State Store's merge): per source the later
 * cursor wins, so no run re-reads what another already reported; a cursor this run dropped (its
 * container is gone) stays dropped unless another run moved it meanwhile.
 */
export function mergeCursors(current: unknown, mine: unknown, base: unknown): Cursors {
	const now = structuredClone((current ?? {}) as Cursors);
	const before = (base ?? {}) as Cursors;
	for (const [scope, cursors] of Object.entries((mine ?? {}) as Cursors)) {
		const merged = (now[scope] ??= {});
		for (const [id, cursor] of Object.entries(cursors))
			if (merged[id] === undefined || BigInt(cursor) > BigInt(merged[id])) merged[id] = cursor;
		for (const id of Object.keys(before[scope] ?? {}))
			if (!(id in cursors) && merged[id] === before[scope][id]) delete merged[id];
	}
	return now;
}
