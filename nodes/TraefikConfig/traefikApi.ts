/** Traefik's read-only API: overview, routers/services/middlewares, and waiting until a deployed
 * file's routers and middlewares are loaded as written (not the previous version still live). */
import type { HttpApiConnection } from '../shared/connections';
import { InfraOpsError } from '../shared/errors';
import { httpRequest } from '../shared/http';

export interface ApiEntry {
	name: string;
	provider?: string;
	status?: string;
	error?: string[];
	type?: string;
	rule?: string;
	service?: string;
	middlewares?: string[];
	[key: string]: unknown;
}

export interface Overview {
	http?: Record<string, { total: number; warnings: number; errors: number }>;
	tcp?: Record<string, { total: number; warnings: number; errors: number }>;
	udp?: Record<string, { total: number; warnings: number; errors: number }>;
	features?: Record<string, unknown>;
	providers?: string[];
}

const REQUEST_TIMEOUT_MS = 10_000;

/** The URL as messages show it: a user:password typed into it stays out. */
function displayUrl(url: string): string {
	return url.replace(/(\/\/)[^/@\s]*@/, '$1');
}

export class TraefikApi {
	private readonly where: string;

	constructor(readonly conn: HttpApiConnection) {
		this.where = displayUrl(conn.baseUrl);
	}

	private async get<T>(path: string): Promise<{ status: number; body?: T; nextPage?: string }> {
		const res = await httpRequest({
			url: this.conn.baseUrl + path,
			headers: this.conn.headers,
			tls: this.conn.tls,
			timeoutMs: REQUEST_TIMEOUT_MS,
		});
		if (res.status === 404) return { status: 404 };
		if (res.status === 401 || res.status === 403) {
			throw new InfraOpsError(
				`Traefik API at ${this.where} refused the credential (HTTP ${res.status})`,
				'Check the user/password or token of the Traefik API credential',
			);
		}
		if (res.status !== 200)
			throw new InfraOpsError(
				`Traefik API GET ${path} answered HTTP ${res.status}: ${res.text().slice(0, 200)}`,
			);
		try {
			const next = res.headers['x-next-page'];
			return {
				status: 200,
				body: res.json<T>(),
				nextPage: typeof next === 'string' ? next : undefined,
			};
		} catch {
			throw new InfraOpsError(
				`Traefik API GET ${path} did not answer JSON`,
				"Check the URL points at Traefik's API (e.g. http://traefik:8080), not at a router in front of it",
			);
		}
	}

	async overview(): Promise<Overview> {
		const res = await this.get<Overview>('/api/overview');
		if (!res.body)
			throw new InfraOpsError(
				`Traefik API at ${this.where} has no /api/overview`,
				'Enable the API (api: {} in the static configuration) and point the credential at its entry point',
			);
		return res.body;
	}

	/** Every entry of a list, following Traefik's X-Next-Page pagination. */
	async list(
		kind: 'http/routers' | 'http/services' | 'http/middlewares' | 'tcp/routers' | 'tcp/services',
	): Promise<ApiEntry[]> {
		const out: ApiEntry[] = [];
		let page = '1';
		for (let guard = 0; guard < 100; guard++) {
			const res = await this.get<ApiEntry[]>(`/api/${kind}?per_page=100&page=${page}`);
			out.push(...(res.body ?? []));
			if (!res.nextPage || res.nextPage === page || res.nextPage === '1') break;
			page = res.nextPage;
		}
		return out;
	}

	async entry(
		kind: 'http/routers' | 'http/middlewares' | 'http/services',
		name: string,
	): Promise<ApiEntry | undefined> {
		const res = await this.get<ApiEntry>(`/api/${kind}/${encodeURIComponent(name)}`);
		return res.body;
	}
}

export interface ExpectedFile {
	routers: Record<string, { rule?: string; middlewares: string[]; service?: string }>;
	middlewares: Record<string, Record<string, unknown>>;
}

export interface LoadCheck {
	name: string;
	/** `api`: the API itself could not be asked. */
	kind: 'router' | 'middleware' | 'api';
	ok: boolean;
	reason?: string;
}

/**
 * A middleware reference as Traefik's API shows it for a file-provider router: Traefik's router
 * manager rewrites the runtime router's middlewares to qualified names (`x` → `x@file`) while it
 * builds the handler, and the API serves that runtime state.
 */
const qualified = (name: string) => (name.includes('@') ? name : `${name}@file`);

/** Why an entry as Traefik serves it is not the one the file defines; undefined when it is. */
function routerMismatch(
	entry: ApiEntry | undefined,
	want: ExpectedFile['routers'][string],
): string | undefined {
	if (!entry) return 'not loaded';
	if (entry.error?.length) return `errors: ${entry.error.join('; ')}`;
	if (entry.status && entry.status !== 'enabled') return `status ${entry.status}`;
	if (want.rule !== undefined && entry.rule !== want.rule)
		return `still has the rule ${JSON.stringify(entry.rule)} (the new file is not live)`;
	const live = entry.middlewares ?? [];
	if (JSON.stringify(live.map(qualified)) !== JSON.stringify(want.middlewares.map(qualified)))
		return `still has middlewares [${live.join(', ')}] (the new file is not live)`;
	return undefined;
}

function middlewareMismatch(
	entry: ApiEntry | undefined,
	want: Record<string, unknown>,
): string | undefined {
	if (!entry) return 'not loaded';
	if (entry.error?.length) return `errors: ${entry.error.join('; ')}`;
	if (entry.status && entry.status !== 'enabled') return `status ${entry.status}`;
	const type = Object.keys(want)[0];
	if (type && !(type in entry)) return `is not a ${type} middleware yet (the new file is not live)`;
	const rateLimit = want.rateLimit as { average?: unknown; burst?: unknown } | undefined;
	const liveRate = entry.rateLimit as { average?: unknown; burst?: unknown } | undefined;
	if (
		rateLimit &&
		liveRate &&
		(Number(rateLimit.average) !== Number(liveRate.average) ||
			(rateLimit.burst !== undefined && Number(rateLimit.burst) !== Number(liveRate.burst)))
	) {
		return `still limits to ${String(liveRate.average)} (burst ${String(liveRate.burst)}) (the new file is not live)`;
	}
	return undefined;
}

/**
 * Polls until every router and middleware of the file is served as written, enabled and without
 * errors, or the timeout passes. Returns the last check of each.
 */
export async function waitUntilLoaded(
	api: TraefikApi,
	expected: ExpectedFile,
	options: { timeoutMs: number; intervalMs?: number },
): Promise<{ ok: boolean; checks: LoadCheck[]; waitedMs: number }> {
	// a NaN timeout (e.g. "30s" from an expression) would poll forever with the folder lock held
	if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) {
		throw new InfraOpsError(
			`The verification timeout ${String(options.timeoutMs)} ms is not a positive number`,
			'Set "Verify Timeout (Seconds)" to a number of seconds, e.g. 30',
		);
	}
	const started = Date.now();
	const interval = options.intervalMs ?? 1000;
	for (;;) {
		const checks: LoadCheck[] = [];
		for (const [name, want] of Object.entries(expected.routers)) {
			const reason = routerMismatch(await api.entry('http/routers', `${name}@file`), want);
			checks.push({ name: `${name}@file`, kind: 'router', ok: !reason, reason });
		}
		for (const [name, want] of Object.entries(expected.middlewares)) {
			const reason = middlewareMismatch(await api.entry('http/middlewares', `${name}@file`), want);
			checks.push({ name: `${name}@file`, kind: 'middleware', ok: !reason, reason });
		}
		const waitedMs = Date.now() - started;
		const ok = checks.every((c) => c.ok);
		if (ok || waitedMs >= options.timeoutMs) return { ok, checks, waitedMs };
		await new Promise((resolve) =>
			setTimeout(resolve, Math.min(interval, Math.max(0, options.timeoutMs - waitedMs))),
		);
	}
}
