/**
 * A recorded-response Traefik API for tests and e2e scenarios (Traefik itself cannot run here).
 * It serves the bodies of Traefik's own API handler tests (../shared/reference/traefik/api/, read
 * at start, never copied), and adds the routers and middlewares of a watched folder the way
 * Traefik's file provider loads them: all .yml/.yaml files together, and while any file fails to
 * parse the previous configuration stays served (Traefik drops the whole update). A router whose
 * service or middleware is missing is disabled with Traefik's error text. Per scenario, routers can
 * be forced into an error (`failRouters`) to drive a rollback, and the API can require auth.
 */
import * as fs from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { parse } from 'yaml';

import { MIDDLEWARE_TYPES } from '../../nodes/TraefikConfig/schema';
import { describeWithReference, referenceMissing, referencePath } from './reference';

export const REFERENCE_API_DIR = referencePath('traefik', 'api');
/** The project's own small API responses, written from Traefik's documented /api/http/* shapes: what the
 * e2e scenarios serve, so they run without the reference folder. */
export const FIXTURE_API_DIR = path.resolve(__dirname, '../fixtures/traefik-api');

export function referenceAvailable(): boolean {
	return !referenceMissing('traefik', 'api', 'routers.json');
}

/** describe for the tests that replay Traefik's recorded responses (see support/reference.ts). */
export const describeWithTraefikReference = describeWithReference('traefik', 'api', 'routers.json');

type Entry = Record<string, unknown> & { name: string };
interface LoadedConfig {
	http?: {
		routers?: Record<string, Record<string, unknown>>;
		services?: Record<string, Record<string, unknown>>;
		middlewares?: Record<string, Record<string, unknown>>;
	};
}
type Counts = Record<string, { total: number; errors: number; warnings: number }>;

export interface ReplayOptions {
	/** Whose responses to serve besides the watched folder's: Traefik's recorded ones (../shared/reference,
	 * the default) or the project's fixture (test/fixtures/traefik-api). */
	base?: 'recorded' | 'fixture';
	/** Local path of the folder Traefik would watch (the harness's sshd writes to local disk). */
	watchDir?: string;
	/** Router names (without @file) that Traefik reports as disabled with an error, as if a backend rejected them. */
	failRouters?: Set<string>;
	/** Basic auth the API requires (as behind a router with a basicAuth middleware). */
	basicAuth?: { username: string; password: string };
	/** Delay between a file change and the configuration being served (Traefik's providersThrottleDuration). */
	loadDelayMs?: number;
	/** Stop picking up changes (a watcher that missed the event): the last served configuration stays. */
	frozen?: boolean;
	/** Called before a request is answered: a deterministic point while a deploy waits for verification. */
	onRequest?: (path: string) => void;
}

export interface TraefikReplay {
	url: string;
	options: ReplayOptions;
	/** Paths requested, for assertions. */
	requests: string[];
	close(): Promise<void>;
}

function readJson<T>(dir: string, name: string): T {
	return JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as T;
}

interface FileSnapshot {
	routers: Entry[];
	middlewares: Entry[];
	services: Entry[];
	/** Newest mtime of the files in it. */
	mtimeMs: number;
}

const qualify = (name: string) => (name.includes('@') ? name : `${name}@file`);

function loadFolder(
	dir: string,
	failRouters: Set<string>,
	recorded: { middlewares: Entry[]; services: Entry[] },
): FileSnapshot | undefined {
	let mtimeMs = 0;
	const configs: LoadedConfig[] = [];
	for (const name of fs.readdirSync(dir).sort()) {
		if (!/\.ya?ml$/i.test(name)) continue;
		const full = path.join(dir, name);
		const stat = fs.statSync(full);
		if (!stat.isFile()) continue;
		mtimeMs = Math.max(mtimeMs, stat.mtimeMs);
		const text = fs.readFileSync(full, 'utf8');
		// Go templating runs first; an unterminated action fails the file
		if (/\{\{(?![^\n]*\}\})/.test(text)) return undefined;
		try {
			configs.push((parse(text) as LoadedConfig | null) ?? {});
		} catch {
			return undefined;
		}
	}
	const routers: Entry[] = [];
	const middlewares: Entry[] = [];
	const services: Entry[] = [];
	for (const config of configs) {
		for (const [name, m] of Object.entries(config.http?.middlewares ?? {})) {
			const key = Object.keys(m ?? {})[0] ?? 'unknown';
			if (middlewares.some((e) => e.name === `${name}@file`)) continue;
			// Traefik matches the file's key case-insensitively and its API serves the option's JSON name
			const type = MIDDLEWARE_TYPES.find((t) => t.toLowerCase() === key.toLowerCase()) ?? key;
			middlewares.push({
				[type]: m?.[key],
				name: `${name}@file`,
				provider: 'file',
				status: 'enabled',
				type: type.toLowerCase(),
				usedBy: [],
			});
		}
		for (const [name, s] of Object.entries(config.http?.services ?? {})) {
			if (services.some((e) => e.name === `${name}@file`)) continue;
			services.push({
				...s,
				name: `${name}@file`,
				provider: 'file',
				status: 'enabled',
				type: Object.keys(s ?? {})[0]?.toLowerCase() ?? 'unknown',
				usedBy: [],
			});
		}
	}
	const known = (list: Entry[], extra: Entry[], ref: string) =>
		[...list, ...extra].some((e) => e.name === qualify(ref)) || ref.endsWith('@internal');
	for (const config of configs) {
		for (const [name, r] of Object.entries(config.http?.routers ?? {})) {
			if (routers.some((e) => e.name === `${name}@file`)) continue;
			const errors: string[] = [];
			const service = String(r.service ?? '');
			if (!known(services, recorded.services, service))
				errors.push(`the service "${qualify(service)}" does not exist`);
			for (const m of (r.middlewares as string[] | undefined) ?? []) {
				if (!known(middlewares, recorded.middlewares, m))
					errors.push(`middleware "${qualify(m)}" does not exist`);
			}
			if (failRouters.has(name))
				errors.push(`error while building router ${name}@file: backend rejected the configuration`);
			// As Traefik's router manager leaves the runtime router the API serves (pkg/server/router
			// buildHTTPHandler): middlewares and service qualified with the provider. The recorded
			// testdata skip that step, so their names stay as written.
			routers.push({
				...r,
				name: `${name}@file`,
				provider: 'file',
				middlewares: ((r.middlewares as string[] | undefined) ?? []).map(qualify),
				service: qualify(service),
				status: errors.length ? 'disabled' : 'enabled',
				...(errors.length ? { error: errors } : {}),
				using: (r.entryPoints as string[] | undefined) ?? ['web', 'websecure'],
			});
			for (const m of (r.middlewares as string[] | undefined) ?? []) {
				const entry = middlewares.find((e) => e.name === qualify(m));
				if (entry) (entry.usedBy as string[]).push(`${name}@file`);
			}
		}
	}
	return { routers, middlewares, services, mtimeMs };
}

export async function startTraefikReplay(options: ReplayOptions = {}): Promise<TraefikReplay> {
	const dir = options.base === 'fixture' ? FIXTURE_API_DIR : REFERENCE_API_DIR;
	const recorded = {
		routers: readJson<Entry[]>(dir, 'routers.json'),
		middlewares: readJson<Entry[]>(dir, 'middlewares.json'),
		services: readJson<Entry[]>(dir, 'services.json'),
		overview: readJson<{ http: Counts }>(dir, 'overview-dynamic.json'),
		routerBar: readJson<Entry>(dir, 'router-bar.json'),
	};
	const requests: string[] = [];
	let served: FileSnapshot = { routers: [], middlewares: [], services: [], mtimeMs: 0 };
	let pending: FileSnapshot | undefined;
	let pendingSince = 0;

	const snapshot = (): FileSnapshot => {
		if (!options.watchDir || (options.frozen && served.mtimeMs > 0)) return served;
		const next = loadFolder(options.watchDir, options.failRouters ?? new Set(), recorded);
		if (!next) return served; // a broken file: the previous configuration stays live
		if (JSON.stringify(next) === JSON.stringify(served)) return served;
		const delay = options.loadDelayMs ?? 0;
		if (!pending || JSON.stringify(pending) !== JSON.stringify(next)) {
			pending = next;
			pendingSince = Date.now();
		}
		if (Date.now() - pendingSince >= delay) {
			served = next;
			pending = undefined;
		}
		return served;
	};

	const send = (
		res: ServerResponse,
		status: number,
		body: unknown,
		headers: Record<string, string> = {},
	) => {
		res.writeHead(status, { 'content-type': 'application/json', ...headers });
		res.end(typeof body === 'string' ? body : JSON.stringify(body));
	};

	const handle = (req: IncomingMessage, res: ServerResponse) => {
		const url = new URL(req.url ?? '/', 'http://replay');
		requests.push(url.pathname);
		options.onRequest?.(url.pathname);
		if (options.basicAuth) {
			const expected =
				'Basic ' +
				Buffer.from(`${options.basicAuth.username}:${options.basicAuth.password}`).toString(
					'base64',
				);
			if (req.headers.authorization !== expected)
				return send(res, 401, '401 Unauthorized\n', {
					'content-type': 'text/plain',
					'www-authenticate': 'Basic realm="traefik"',
				});
		}
		const snap = snapshot();
		const lists: Record<string, Entry[]> = {
			'http/routers': [...recorded.routers, ...snap.routers],
			'http/middlewares': [...recorded.middlewares, ...snap.middlewares],
			'http/services': [...recorded.services, ...snap.services],
			'tcp/routers': [],
			'tcp/services': [],
		};
		if (url.pathname === '/api/version')
			return send(res, 200, { Version: '3.3.0-recorded-replay', Codename: 'replay' });
		if (url.pathname === '/api/overview') {
			const overview = JSON.parse(JSON.stringify(recorded.overview)) as { http: Counts };
			for (const [kind, list] of [
				['routers', snap.routers],
				['middlewares', snap.middlewares],
				['services', snap.services],
			] as const) {
				overview.http[kind].total += list.length;
				overview.http[kind].errors += list.filter((e) => e.status === 'disabled').length;
			}
			return send(res, 200, overview);
		}
		const m = /^\/api\/((?:http|tcp)\/(?:routers|middlewares|services))(?:\/(.+))?$/.exec(
			url.pathname,
		);
		if (!m) return send(res, 404, '404 page not found\n', { 'content-type': 'text/plain' });
		const list = lists[m[1]];
		if (m[2]) {
			const name = decodeURIComponent(m[2]);
			if (m[1] === 'http/routers' && name === recorded.routerBar.name)
				return send(res, 200, recorded.routerBar);
			const entry = list.find((e) => e.name === name);
			return entry
				? send(res, 200, entry)
				: send(res, 404, { message: `${m[1].split('/')[1].replace(/s$/, '')} not found` });
		}
		const perPage = Number(url.searchParams.get('per_page') ?? 100);
		const page = Number(url.searchParams.get('page') ?? 1);
		const slice = list.slice((page - 1) * perPage, page * perPage);
		const next = page * perPage < list.length ? String(page + 1) : '1';
		return send(res, 200, slice, { 'x-next-page': next });
	};

	const server = createServer(handle);
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	return {
		url: `http://127.0.0.1:${port}`,
		options,
		requests,
		close: () => new Promise<void>((resolve) => server.close(() => resolve())),
	};
}
