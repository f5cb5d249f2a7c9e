/** Connects (optionally via STARTTLS), completes a TLS handshake without rejecting anything, and
 * returns what the server presented, so an invalid certificate still reports its dates. */
import { X509Certificate } from 'node:crypto';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import {
	connect as tlsConnect,
	createSecureContext,
	rootCertificates,
	type DetailedPeerCertificate,
	type SecureContext,
	type TLSSocket,
} from 'node:tls';

import { describeConnectError, InfraOpsError, TimeoutError } from '../shared/errors';
import { negotiateStartTls, type StartTlsProtocol } from './startTls';

export interface ProbeOptions {
	host: string;
	port: number;
	/** SNI to send; default the host (none for IP addresses). */
	servername?: string;
	/** Connect here instead of resolving `host` (e.g. a load balancer's address). */
	connectTo?: string;
	family?: 0 | 4 | 6;
	startTls: StartTlsProtocol;
	timeoutMs: number;
	/** Extra trusted CA certificates (PEM), added to the system roots. */
	ca?: string;
}

export interface ProbeResult {
	/** Served certificates, leaf first, as sent (or as verified, when the chain verified). */
	chain: X509Certificate[];
	protocol: string | null;
	cipher?: string;
	authorized: boolean;
	authorizationError?: string;
	/** The address actually connected to. */
	address?: string;
}

function chainOf(socket: TLSSocket): X509Certificate[] {
	const chain: X509Certificate[] = [];
	const seen = new Set<string>();
	let current: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
	while (current?.raw && !seen.has(current.fingerprint256)) {
		seen.add(current.fingerprint256);
		chain.push(new X509Certificate(current.raw));
		current = current.issuerCertificate;
	}
	return chain;
}

// Building a context with ~150 roots costs milliseconds; one per trust setting serves every probe
const contexts = new Map<string, SecureContext>();

function secureContextFor(ca: string | undefined): SecureContext {
	const key = ca ?? '';
	let context = contexts.get(key);
	if (!context) {
		context = createSecureContext({
			ca: ca ? [...rootCertificates, ca] : undefined,
			// accept what weak servers offer, so they are judged instead of unreachable
			minVersion: 'TLSv1',
			ciphers: 'DEFAULT:@SECLEVEL=0',
		});
		if (contexts.size > 32) contexts.clear();
		contexts.set(key, context);
	}
	return context;
}

export async function probeTls(options: ProbeOptions): Promise<ProbeResult> {
	const { host, port, timeoutMs } = options;
	const where = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
	const raw: Socket = netConnect({
		host: options.connectTo || host,
		port,
		family: options.family || undefined,
	});
	let secure: TLSSocket | undefined;
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(
			() => reject(new TimeoutError(`No TLS handshake with ${where} within ${timeoutMs} ms`)),
			timeoutMs,
		);
	});
	const attempt = (async () => {
		await new Promise<void>((resolve, reject) => {
			raw.once('connect', resolve);
			raw.once('error', (error) => reject(describeConnectError(where, error)));
		});
		try {
			await negotiateStartTls(raw, options.startTls);
		} catch (error) {
			throw error instanceof InfraOpsError ? error : describeConnectError(where, error);
		}
		const servername = options.servername || (isIP(host) ? undefined : host);
		secure = await new Promise<TLSSocket>((resolve, reject) => {
			const socket = tlsConnect({
				socket: raw,
				// the name the identity check uses: without it Node checks "localhost", so an IP target
				// got ERR_TLS_CERT_ALTNAME_INVALID even with the right IP SAN (an IP matches IP SANs only)
				host: options.servername || host,
				servername,
				rejectUnauthorized: false,
				secureContext: secureContextFor(options.ca),
			});
			socket.once('secureConnect', () => resolve(socket));
			socket.once('error', (error) => reject(describeConnectError(where, error)));
		});
		return {
			chain: chainOf(secure),
			protocol: secure.getProtocol(),
			cipher: secure.getCipher()?.name,
			authorized: secure.authorized,
			authorizationError: secure.authorizationError ? String(secure.authorizationError) : undefined,
			address: raw.remoteAddress,
		};
	})();
	try {
		return await Promise.race([attempt, timeout]);
	} finally {
		clearTimeout(timer);
		attempt.catch(() => undefined);
		secure?.destroy();
		raw.destroy();
	}
}
