/** Error lines from Loki's `/loki/api/v1/query_range`, grouped per container label. */
import { InfraOpsError } from '../shared/errors';
import type { NewFinding } from '../shared/findings';
import { httpRequest } from '../shared/http';
import { redactSecrets } from '../shared/secretShapes';
import {
	cursorsOf,
	cutAtCursor,
	digestFinding,
	digestLines,
	LOG_TIMEOUT_MS,
	type DigestOptions,
	type LogLine,
} from './logDigest';

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
			`Loki URL "${redactSecrets(options.url)}" is not a URL`,
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
		timeoutMs: LOG_TIMEOUT_MS,
		deadline: { ms: LOG_TIMEOUT_MS, what: `Loki at ${base.origin}` },
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
