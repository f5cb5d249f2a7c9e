/**
 * A local HTTP server answering as HashiCorp Vault's KV secrets engine v2 documents its API
 * (https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2): read, create/update with
 * check-and-set, delete the latest version (soft: read then answers 404 with its metadata), delete
 * metadata; token in X-Vault-Token. Vault itself cannot run here (no binary,
 * no registry access); this follows the documented request and response bodies and status codes.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface VaultKvServer {
	url: string;
	token: string;
	/** Versions per `<mount>/<path>`, oldest first, for assertions. */
	versions: Map<
		string,
		Array<{ data: Record<string, unknown>; created_time: string; deletion_time?: string }>
	>;
	/** Every request's method, path and body as received (to assert nothing unexpected was sent). */
	requests: Array<{ method: string; path: string; body: string }>;
	close(): Promise<void>;
}

export async function startVaultKv(
	options: { mount?: string; token?: string } = {},
): Promise<VaultKvServer> {
	const mount = options.mount ?? 'secret';
	const token = options.token ?? `hvs.${randomUUID()}`;
	const versions: VaultKvServer['versions'] = new Map();
	const requests: VaultKvServer['requests'] = [];
	const envelope = (data: unknown) => ({
		request_id: randomUUID(),
		lease_id: '',
		renewable: false,
		lease_duration: 0,
		data,
		wrap_info: null,
		warnings: null,
		auth: null,
		mount_type: 'kv',
	});
	const server: Server = createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (c: Buffer) => chunks.push(c));
		req.on('end', () => {
			const body = Buffer.concat(chunks).toString('utf8');
			const url = new URL(req.url ?? '/', 'http://vault');
			requests.push({ method: req.method ?? 'GET', path: url.pathname, body });
			const send = (status: number, json?: unknown) => {
				res.writeHead(status, json === undefined ? {} : { 'content-type': 'application/json' });
				res.end(json === undefined ? undefined : JSON.stringify(json));
			};
			if (req.headers['x-vault-token'] !== token)
				return send(403, { errors: ['permission denied'] });
			const m = new RegExp(`^/v1/${mount}/(data|metadata)/(.+)$`).exec(url.pathname);
			if (!m) return send(404, { errors: [] });
			const key = `${mount}/${m[2]}`;
			const list = versions.get(key) ?? [];
			const metadata = (version: number) => ({
				created_time: list[version - 1].created_time,
				custom_metadata: null,
				deletion_time: list[version - 1].deletion_time ?? '',
				destroyed: false,
				version,
			});
			if (m[1] === 'metadata' && req.method === 'DELETE') {
				versions.delete(key);
				return send(204);
			}
			if (m[1] !== 'data') return send(405, { errors: ['unsupported operation'] });
			if (req.method === 'GET') {
				if (list.length === 0) return send(404, { errors: [] });
				const version = Number(url.searchParams.get('version') || list.length);
				if (!list[version - 1]) return send(404, { errors: [] });
				// a soft-deleted version: 404, with its metadata and null data in the body
				if (list[version - 1].deletion_time)
					return send(404, envelope({ data: null, metadata: metadata(version) }));
				return send(200, envelope({ data: list[version - 1].data, metadata: metadata(version) }));
			}
			if (req.method === 'DELETE') {
				// "Delete Latest Version of Secret": a soft delete, the version still counts for check-and-set
				if (list.length > 0) list[list.length - 1].deletion_time = new Date().toISOString();
				return send(204);
			}
			if (req.method === 'POST' || req.method === 'PUT') {
				let parsed: { data?: Record<string, unknown>; options?: { cas?: number } };
				try {
					parsed = JSON.parse(body);
				} catch {
					return send(400, { errors: ['failed to parse JSON input'] });
				}
				if (!parsed.data || typeof parsed.data !== 'object')
					return send(400, { errors: ['no data provided'] });
				const cas = parsed.options?.cas;
				if (cas !== undefined && cas !== list.length)
					return send(400, {
						errors: ['check-and-set parameter did not match the current version'],
					});
				list.push({ data: parsed.data, created_time: new Date().toISOString() });
				versions.set(key, list);
				return send(200, envelope(metadata(list.length)));
			}
			send(405, { errors: ['unsupported operation'] });
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	return {
		url: `http://127.0.0.1:${port}`,
		token,
		versions,
		requests,
		close: () => new Promise<void>((resolve) => server.close(() => resolve())),
	};
}
