/**
 * Check URLs: one line per service URL, an optional expected status and a text the body must contain.
 *
 * Line syntax (blank lines and lines starting with `#` are skipped):
 *   URL [STATUS] ["TEXT" | WORD]
 * - URL: http:// or https://, as the service is reached (no redirect is followed: a 302 is the answer).
 * - STATUS: `200`, a class `2xx`, a range `200-299`, or several joined by `|` (`200|401`).
 *   Without one, any 2xx or 3xx answer is up.
 * - TEXT: in double quotes (may hold spaces), or one bare word; the body must contain it, case-sensitive.
 * e.g. `https://chat.example.com 200 "Open WebUI"`, `http://qdrant:6333/healthz 2xx`, `http://n8n:5678`.
 */
import { errorMessage, InfraOpsError } from '../shared/errors';
import type { NewFinding } from '../shared/findings';
import { httpRequest, type TlsTrust } from '../shared/http';
import { mapConcurrent } from '../shared/concurrency';
import { redactSecrets } from '../shared/secretShapes';

export interface StatusRange {
	from: number;
	to: number;
}

export interface UrlSpec {
	url: string;
	/** Accepted statuses; empty means 200-399. */
	expect: StatusRange[];
	/** As the operator wrote it, for messages. */
	expectText?: string;
	contains?: string;
}

export interface UrlCheckOptions {
	timeoutMs: number;
	/** Slower answers (that are otherwise right) are a warning; 0 turns it off. */
	slowMs?: number;
	tls?: TlsTrust;
	concurrency?: number;
}

export type TlsProblem =
	| 'expired'
	| 'not-yet-valid'
	| 'self-signed'
	| 'wrong-host'
	| 'untrusted'
	| 'wrong-purpose'
	| 'handshake-failed';

const DEFAULT_EXPECT: StatusRange[] = [{ from: 200, to: 399 }];
/** Enough for any landing page that carries the expected word; a larger body is refused (a finding says so). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

function parseStatus(token: string): StatusRange[] | undefined {
	const ranges: StatusRange[] = [];
	for (const part of token.split('|')) {
		let m: RegExpMatchArray | null;
		if ((m = /^([1-5])xx$/i.exec(part)))
			ranges.push({ from: Number(m[1]) * 100, to: Number(m[1]) * 100 + 99 });
		else if ((m = /^([1-5]\d\d)-([1-5]\d\d)$/.exec(part)) && Number(m[1]) <= Number(m[2]))
			ranges.push({ from: Number(m[1]), to: Number(m[2]) });
		else if (/^[1-5]\d\d$/.test(part)) ranges.push({ from: Number(part), to: Number(part) });
		else return undefined;
	}
	return ranges;
}

/** One line of the list; throws naming the line and what is wrong with it. */
export function parseUrlLine(line: string, lineNumber = 1): UrlSpec {
	// a line that does not parse may still hold a password (user:pass@ with a bad port, ?token=)
	const where = `Line ${lineNumber} ("${redactSecrets(line)}")`;
	const m = /^(\S+)(?:\s+(\S+))?(?:\s+(.*))?$/.exec(line.trim());
	if (!m) throw new InfraOpsError(`${where} is empty`);
	const [, rawUrl, second, rest] = m;
	let url: URL;
	try {
		url = new URL(rawUrl);
	} catch {
		throw new InfraOpsError(
			`${where}: "${redactSecrets(rawUrl)}" is not a URL`,
			'Start each line with the full URL, e.g. https://chat.example.com 200 "Open WebUI"',
		);
	}
	if (url.protocol !== 'http:' && url.protocol !== 'https:')
		throw new InfraOpsError(`${where}: only http:// and https:// URLs can be checked`);
	if (url.username || url.password)
		throw new InfraOpsError(
			// the line itself is not echoed: it holds the password
			`Line ${lineNumber}: the URL carries a user name or password`,
			'Credentials in a URL would end up in every finding and alert: check a URL that needs no login (a health endpoint)',
		);

	let expect: StatusRange[] = [];
	let expectText: string | undefined;
	let textPart = [second, rest].filter((s) => s !== undefined).join(' ');
	if (second !== undefined && !second.startsWith('"')) {
		const ranges = parseStatus(second);
		if (ranges) {
			expect = ranges;
			expectText = second;
			textPart = rest ?? '';
		} else if (/^[\dxX|-]+$/.test(second)) {
			throw new InfraOpsError(
				`${where}: "${second}" is not an HTTP status`,
				'Write the expected status as 200, 2xx, 200-299 or 200|401 (statuses 100-599)',
			);
		}
	}
	let contains: string | undefined;
	textPart = textPart.trim();
	if (textPart) {
		const quoted = /^"(.*)"$/.exec(textPart);
		if (quoted && quoted[1] !== '') contains = quoted[1];
		else if (!quoted && !/\s|"/.test(textPart)) contains = textPart;
		else
			throw new InfraOpsError(
				`${where}: cannot read "${textPart}" after the URL`,
				'Write URL [STATUS] ["TEXT"]: a status such as 200, 2xx, 200-299 or 200|401, then the text the body must contain in double quotes',
			);
	}
	return { url: url.href, expect, expectText, contains };
}

/** The whole list (a string with one line per URL, or an array of lines). */
export function parseUrlList(value: unknown): UrlSpec[] {
	const lines = Array.isArray(value) ? value.map(String) : String(value ?? '').split(/\r?\n/);
	const specs: UrlSpec[] = [];
	lines.forEach((line, i) => {
		const trimmed = line.trim();
		if (!trimmed || trimmed.startsWith('#')) return;
		specs.push(parseUrlLine(trimmed, i + 1));
	});
	if (specs.length === 0)
		throw new InfraOpsError(
			'No URL to check',
			'Give one URL per line, e.g. https://chat.example.com 200 "Open WebUI"',
		);
	return specs;
}

const TLS_CODES: Record<string, TlsProblem> = {
	CERT_HAS_EXPIRED: 'expired',
	CERT_NOT_YET_VALID: 'not-yet-valid',
	DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed',
	SELF_SIGNED_CERT_IN_CHAIN: 'self-signed',
	ERR_TLS_CERT_ALTNAME_INVALID: 'wrong-host',
	UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'untrusted',
	UNABLE_TO_GET_ISSUER_CERT: 'untrusted',
	UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'untrusted',
	CERT_UNTRUSTED: 'untrusted',
	CERT_SIGNATURE_FAILURE: 'untrusted',
	INVALID_PURPOSE: 'wrong-purpose',
	EPROTO: 'handshake-failed',
};

const TLS_WORDS: Record<TlsProblem, string> = {
	expired: 'TLS certificate expired',
	'not-yet-valid': 'TLS certificate not yet valid',
	'self-signed': 'TLS certificate self-signed (not trusted)',
	'wrong-host': 'TLS certificate issued for another host name',
	untrusted: 'TLS certificate not trusted (unknown issuer or incomplete chain)',
	'wrong-purpose': 'TLS certificate not made for a server (key usage)',
	'handshake-failed': 'TLS handshake failed',
};

function errorCode(error: unknown): string | undefined {
	for (let e = error as { code?: unknown; cause?: unknown } | undefined; e; e = e.cause as never) {
		if (typeof e.code === 'string') return e.code;
	}
	return undefined;
}

/** The TLS problem an error stands for, if it is one. */
export function tlsProblem(error: unknown): TlsProblem | undefined {
	const code = errorCode(error);
	if (!code) return undefined;
	return TLS_CODES[code] ?? (code.startsWith('ERR_SSL_') ? 'handshake-failed' : undefined);
}

function describeExpect(spec: UrlSpec): string {
	return spec.expectText ?? '2xx/3xx';
}

/** Checks one URL; never throws: every failure is a finding. */
export async function checkUrl(spec: UrlSpec, options: UrlCheckOptions): Promise<NewFinding> {
	// the URL is checked as given; findings and alerts show it with ?token=… values masked
	const target = redactSecrets(spec.url);
	const base = {
		check: 'url',
		target,
		expectedStatus: describeExpect(spec),
		...(spec.contains !== undefined ? { expectedText: spec.contains } : {}),
	};
	const started = process.hrtime.bigint();
	const elapsed = () => Math.round(Number(process.hrtime.bigint() - started) / 1e6);
	try {
		const response = await httpRequest({
			url: spec.url,
			headers: { accept: 'text/html,application/json;q=0.9,*/*;q=0.8' },
			timeoutMs: options.timeoutMs,
			tls: options.tls,
			maxBytes: MAX_BODY_BYTES,
			deadline: { ms: options.timeoutMs, what: `GET ${spec.url}` },
		});
		const latencyMs = elapsed();
		const expect = spec.expect.length ? spec.expect : DEFAULT_EXPECT;
		const statusOk = expect.some((r) => response.status >= r.from && response.status <= r.to);
		const details = { ...base, httpStatus: response.status, latencyMs };
		if (!statusOk)
			return {
				...details,
				status: 'critical',
				problem: 'status',
				summary: `${target} answered ${response.status}, expected ${describeExpect(spec)} (${latencyMs} ms)`,
			};
		if (spec.contains !== undefined && !response.text().includes(spec.contains))
			return {
				...details,
				status: 'critical',
				problem: 'content',
				summary: `${target} answered ${response.status} without "${spec.contains}" in the body (${latencyMs} ms)`,
			};
		if (options.slowMs && latencyMs > options.slowMs)
			return {
				...details,
				status: 'warning',
				problem: 'slow',
				summary: `${target} is up but slow: ${latencyMs} ms (above ${options.slowMs} ms)`,
			};
		return {
			...details,
			status: 'ok',
			summary: `${target} is up: ${response.status} in ${latencyMs} ms`,
		};
	} catch (error) {
		const latencyMs = elapsed();
		const tls = tlsProblem(error);
		const code = errorCode(error);
		const timedOut = code === 'ETIMEDOUT';
		const message = redactSecrets(errorMessage(error));
		const what = tls
			? `${TLS_WORDS[tls]}: ${message}`
			: timedOut
				? `no answer within ${options.timeoutMs} ms`
				: message;
		return {
			...base,
			status: 'critical',
			problem: tls ? 'tls' : timedOut ? 'timeout' : 'unreachable',
			...(tls ? { tlsError: tls } : {}),
			...(code ? { errorCode: code } : {}),
			latencyMs,
			summary: `${target} is down: ${what}`,
		};
	}
}

/** Every URL, at most `concurrency` at once, findings in list order. */
export async function checkUrls(specs: UrlSpec[], options: UrlCheckOptions): Promise<NewFinding[]> {
	return await mapConcurrent(
		specs,
		Math.max(1, options.concurrency ?? 10),
		async (spec) => await checkUrl(spec, options),
	);
}
