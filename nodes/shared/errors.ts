/** Turns low-level failures (socket, TLS, auth) into messages that say what is wrong and how to fix it.
 * No n8n import: node files wrap these in NodeOperationError. */

export class InfraOpsError extends Error {
	constructor(
		message: string,
		/** What the operator should do about it; shown as the error's description in n8n. */
		readonly hint?: string,
		options?: { cause?: unknown },
	) {
		super(message, options);
		this.name = 'InfraOpsError';
	}
}

/** No answer within the time allowed; `code` is the one Node gives its own socket timeouts. */
export class TimeoutError extends InfraOpsError {
	readonly code = 'ETIMEDOUT';

	constructor(message: string, hint?: string, options?: { cause?: unknown }) {
		super(message, hint, options);
		this.name = 'TimeoutError';
	}
}

/**
 * A last guard for messages that reach execution data, manifests and alerts: an age identity or a PEM
 * private key quoted by some library is cut out. Key parsers already word their own errors without
 * the input; this catches what a dependency may add later.
 */
export function redactKeyMaterial(text: string): string {
	return text
		.replace(/AGE-SECRET-KEY-1[^\s"'`)]*/gi, 'AGE-SECRET-KEY-1…(redacted)')
		.replace(
			/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
			'(private key redacted)',
		);
}

export function errorMessage(error: unknown): string {
	if (error instanceof Error) return redactKeyMaterial(error.message || error.name);
	return redactKeyMaterial(String(error));
}

/** What a per-item result keeps of an error under continueOnFail: the message and, when known, what to do about it. */
// a type, not an interface: n8n's IDataObject (an index signature) accepts it as item json
export type ErrorFields = { error?: string; hint?: string };

/** An error item's json under continueOnFail. */
export function errorFields(error: unknown): ErrorFields & { error: string } {
	const hint =
		error instanceof InfraOpsError
			? error.hint
			: (error as { description?: unknown } | undefined)?.description;
	const message = errorMessage(error);
	return typeof hint === 'string' && hint ? { error: message, hint } : { error: message };
}

/** The same json from a result that kept `errorFields` apart from its findings. */
export function errorItemJson(result: ErrorFields): ErrorFields & { error: string } {
	const error = result.error ?? 'unknown error';
	return result.hint ? { error, hint: result.hint } : { error };
}

const NETWORK_HINTS: Record<string, string> = {
	ECONNREFUSED: 'nothing is listening there: check the host, the port and that the service runs',
	ENOTFOUND: 'the host name does not resolve: check the spelling, or use an IP address',
	EAI_AGAIN: 'DNS lookup failed for now: check the resolver of the n8n host',
	ETIMEDOUT: 'no answer in time: a firewall may drop the packets, or the host is down',
	EHOSTUNREACH: 'no route to the host: check the address and the network between n8n and it',
	ENETUNREACH: 'the network is unreachable from the n8n host',
	ECONNRESET:
		'the peer closed the connection: check the port speaks the expected protocol (TLS or not)',
	ENOENT:
		'the socket file does not exist: check the path, and that it is mounted into the n8n container',
	EACCES: 'permission denied: the n8n user cannot use it (socket group, or a socket proxy)',
	EPIPE: 'the peer closed the connection while we were writing',
	CERT_HAS_EXPIRED: 'the server certificate has expired',
	DEPTH_ZERO_SELF_SIGNED_CERT:
		'the server certificate is self-signed: add its CA, pin its fingerprint, or allow self-signed',
	SELF_SIGNED_CERT_IN_CHAIN:
		'the chain ends in an untrusted self-signed CA: add that CA certificate',
	UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the chain is incomplete or untrusted: add the CA certificate',
	ERR_TLS_CERT_ALTNAME_INVALID:
		'the certificate does not name this host: use the name it was issued for',
};

/** `Cannot reach Docker at unix:///var/run/docker.sock: connect ENOENT … (the socket file does not exist: …)` */
export function describeConnectError(what: string, error: unknown): InfraOpsError {
	const code = (error as { code?: string } | undefined)?.code;
	const hint = code ? NETWORK_HINTS[code] : undefined;
	const text = errorMessage(error);
	return new InfraOpsError(`Cannot reach ${what}: ${text}`, hint, { cause: error });
}

/** Rejects after `ms` with a message naming the operation; the timer never keeps the process alive. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
		timer.unref?.();
	});
	try {
		return await Promise.race([promise, timeout]);
	} finally {
		clearTimeout(timer);
	}
}
