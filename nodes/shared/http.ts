/** HTTP(S) for the JSON APIs (Proxmox VE, Traefik, Vault, n8n): timeouts, custom CA, certificate
 * fingerprint pinning and self-signed servers, checked before any header (and token) is sent. */
import { request as httpPlainRequest, type IncomingHttpHeaders } from 'node:http';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

import { describeConnectError, InfraOpsError, TimeoutError, withTimeout } from './errors';

export type TlsTrust =
	/** `savedAsSelfSigned`: the credential still carries the switch that versions before the TLS modes had. */
	| { mode: 'system'; savedAsSelfSigned?: boolean }
	| { mode: 'ca'; ca: string }
	/** SHA-256 of the server certificate, hex with or without colons (as `pvenode cert info` prints). */
	| { mode: 'fingerprint'; fingerprint: string }
	| { mode: 'insecure' };

export interface HttpRequest {
	method?: string;
	url: string;
	headers?: Record<string, string>;
	/** An object is sent as JSON. */
	body?: string | Buffer | object;
	timeoutMs?: number;
	tls?: TlsTrust;
	/** Bodies larger than this are refused instead of buffered. */
	maxBytes?: number;
	/** Ends the request (and its socket) when aborted. */
	signal?: AbortSignal;
	/** An overall deadline for the whole exchange: `timeoutMs` only ends an idle socket, not a server
	 * that drips bytes. `what` names the request in the timeout error. */
	deadline?: { ms: number; what: string };
}

export interface HttpResponse {
	status: number;
	/** The reason phrase; some APIs (Proxmox VE) put their error message there. */
	statusMessage?: string;
	headers: IncomingHttpHeaders;
	body: Buffer;
	text(): string;
	json<T = unknown>(): T;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;

export function normaliseCertFingerprint(value: string): string {
	const hex = value
		.replace(/^sha256[:=]?/i, '')
		.replace(/[:\s]/g, '')
		.toUpperCase();
	if (!/^[0-9A-F]{64}$/.test(hex)) {
		throw new InfraOpsError(
			`"${value}" is not a SHA-256 certificate fingerprint`,
			'Expected 64 hex digits, with or without colons (e.g. from `pvenode cert info` or `openssl x509 -noout -fingerprint -sha256`)',
		);
	}
	return hex.match(/../g)!.join(':');
}

/** The TLS choice of an HTTP API credential (Proxmox VE, Traefik, Vault): fields `tls` (system | ca |
 * fingerprint | insecure), `ca` and `fingerprint`, one reading for all of them. */
export function tlsTrustFromCredential(
	data: Record<string, unknown>,
	credential: string,
	fallback: TlsTrust['mode'] = 'system',
): TlsTrust {
	const field = (key: string, label: string): string => {
		const value = typeof data[key] === 'string' ? (data[key] as string).trim() : '';
		if (!value)
			throw new InfraOpsError(
				`The ${credential} credential has no ${label}`,
				`Open the credential and fill in "${label}", or choose another TLS mode`,
			);
		return value;
	};
	const mode = typeof data.tls === 'string' && data.tls ? data.tls : fallback;
	switch (mode) {
		case 'system':
			// never honoured silently: a credential saved with the old switch gets a hint when verification fails
			return data.allowSelfSigned === true ? { mode, savedAsSelfSigned: true } : { mode };
		case 'ca':
			return { mode, ca: field('ca', 'CA Certificate') };
		case 'fingerprint':
			// checked here, so a typo is named before any connection is tried
			return {
				mode,
				fingerprint: normaliseCertFingerprint(
					field('fingerprint', 'Certificate Fingerprint (SHA-256)'),
				),
			};
		case 'insecure':
			return { mode };
		default:
			throw new InfraOpsError(
				`The ${credential} credential has an unknown TLS mode "${mode}"`,
				'Choose System CAs, Custom CA, Pin Fingerprint or Allow Self-Signed',
			);
	}
}

async function openTls(url: URL, trust: TlsTrust, timeoutMs: number): Promise<TLSSocket> {
	const port = Number(url.port || 443);
	const host = url.hostname.replace(/^\[|\]$/g, '');
	const pin =
		trust.mode === 'fingerprint' ? normaliseCertFingerprint(trust.fingerprint) : undefined;
	return await new Promise<TLSSocket>((resolve, reject) => {
		const socket = tlsConnect({
			host,
			port,
			servername: /^[\d.]+$|:/.test(host) ? undefined : host,
			ca: trust.mode === 'ca' ? trust.ca : undefined,
			rejectUnauthorized: trust.mode === 'system' || trust.mode === 'ca',
			ALPNProtocols: ['http/1.1'],
		});
		const timer = setTimeout(() => {
			socket.destroy();
			reject(new TimeoutError(`TLS handshake with ${url.host} timed out after ${timeoutMs} ms`));
		}, timeoutMs);
		socket.once('secureConnect', () => {
			clearTimeout(timer);
			if (pin) {
				const presented = socket.getPeerCertificate().fingerprint256;
				if (presented !== pin) {
					socket.destroy();
					return reject(
						new InfraOpsError(
							`Certificate of ${url.host} has fingerprint ${presented}, not the pinned ${pin}: refusing to send the request`,
							'If the server certificate was renewed, read its new fingerprint on the server and update the credential',
						),
					);
				}
			}
			resolve(socket);
		});
		socket.once('error', (error) => {
			clearTimeout(timer);
			const described = describeConnectError(url.host, error);
			if (
				trust.mode === 'system' &&
				trust.savedAsSelfSigned &&
				/CERT|SELF_SIGNED|UNABLE_TO/.test(String((error as { code?: string }).code))
			) {
				reject(
					new InfraOpsError(
						described.message,
						'This credential was saved with "Allow Self-Signed", which the TLS setting replaced. Open the credential and choose Custom CA (paste your CA certificate), Pin Fingerprint, or Allow Self-Signed',
						{ cause: error },
					),
				);
				return;
			}
			reject(described);
		});
	});
}

export async function httpRequest(req: HttpRequest): Promise<HttpResponse> {
	if (!req.deadline) return await exchange(req);
	// the abort closes the socket at once, so a caller's concurrency slot starts clean
	const abort = new AbortController();
	const signal = req.signal ? AbortSignal.any([req.signal, abort.signal]) : abort.signal;
	try {
		return await withTimeout(exchange({ ...req, signal }), req.deadline.ms, req.deadline.what);
	} finally {
		abort.abort();
	}
}

async function exchange(req: HttpRequest): Promise<HttpResponse> {
	let url: URL;
	try {
		url = new URL(req.url);
	} catch {
		throw new InfraOpsError(`"${req.url}" is not a valid URL`, 'Use the form https://host:port');
	}
	const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
	const maxBytes = req.maxBytes ?? DEFAULT_MAX_BYTES;
	const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
	let body: string | Buffer | undefined;
	if (req.body !== undefined) {
		if (typeof req.body === 'string' || Buffer.isBuffer(req.body)) body = req.body;
		else {
			body = JSON.stringify(req.body);
			headers['content-type'] ??= 'application/json';
		}
		headers['content-length'] = String(Buffer.byteLength(body));
	}
	const secure = url.protocol === 'https:';
	if (!secure && url.protocol !== 'http:')
		throw new InfraOpsError(`Unsupported URL scheme in ${req.url}`);
	const socket = secure ? await openTls(url, req.tls ?? { mode: 'system' }, timeoutMs) : undefined;

	return await new Promise<HttpResponse>((resolve, reject) => {
		// For https the already verified TLS socket is handed to the plain http client (no agent, so
		// createConnection is used and nothing opens a second, unchecked connection)
		const request = httpPlainRequest(
			{
				method: req.method ?? 'GET',
				hostname: url.hostname,
				port: url.port || (secure ? 443 : 80),
				path: url.pathname + url.search,
				headers: { host: url.host, ...headers },
				agent: socket ? undefined : false,
				createConnection: socket ? () => socket : undefined,
				signal: req.signal,
			},
			(response) => {
				const chunks: Buffer[] = [];
				let size = 0;
				response.on('data', (chunk: Buffer) => {
					size += chunk.length;
					if (size > maxBytes) {
						request.destroy(
							new InfraOpsError(`Response from ${url.host} is larger than ${maxBytes} bytes`),
						);
						return;
					}
					chunks.push(chunk);
				});
				response.on('end', () => {
					const buffer = Buffer.concat(chunks);
					resolve({
						status: response.statusCode ?? 0,
						statusMessage: response.statusMessage,
						headers: response.headers,
						body: buffer,
						text: () => buffer.toString('utf8'),
						json: <T>() => {
							try {
								return JSON.parse(buffer.toString('utf8')) as T;
							} catch {
								throw new InfraOpsError(
									`${url.host} answered ${req.method ?? 'GET'} ${url.pathname} with something that is not JSON: ${buffer.toString('utf8').slice(0, 200)}`,
								);
							}
						},
					});
				});
				response.on('error', reject);
			},
		);
		request.setTimeout(timeoutMs, () =>
			request.destroy(
				new TimeoutError(
					`${req.method ?? 'GET'} ${url.origin}${url.pathname} timed out after ${timeoutMs} ms`,
				),
			),
		);
		request.on('error', (error) =>
			reject(error instanceof InfraOpsError ? error : describeConnectError(url.host, error)),
		);
		request.end(body);
	});
}
