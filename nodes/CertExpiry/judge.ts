// Over 350 lines: judgeChain is one verdict over one chain (expiry, name, trust, key, signature, protocol); every helper here serves only it.
/** Judges a served or stored certificate chain: expiry against thresholds that scale with the
 * certificate's lifetime, host name, trust, key and signature strength, protocol version. */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';

import type { FindingStatus } from '../shared/findings';
import { worstStatus } from '../shared/findings';
import { parsePemCertificates } from './pem';

const DAY_MS = 86_400_000;

export interface Thresholds {
	/** `lifetime`: warning at ≤ min(21 days, lifetime/3), critical at ≤ min(7 days, lifetime/6). */
	mode: 'lifetime' | 'fixed';
	warningDays?: number;
	criticalDays?: number;
}

export interface Problem {
	code: string;
	status: Exclude<FindingStatus, 'ok'>;
	message: string;
}

export interface ChainInput {
	chain: X509Certificate[];
	/** Checked against the leaf's SANs (an IP address against IP SANs only); omit to skip (e.g. a PEM file with no host). */
	hostname?: string;
	/** More names the certificate must cover (an ACME order's SANs); each uncovered one is its own problem. */
	alsoNames?: string[];
	protocol?: string | null;
	/** Result of the handshake's chain verification; omit when no handshake was made. */
	trust?: { authorized: boolean; error?: string };
	/** Extra trusted CAs (PEM) beside the system roots, to tell trusted roots from served ones. */
	customCa?: string;
	thresholds: Thresholds;
	now: Date;
	/** What the live endpoint serves, for a stored certificate (acme.json): a newer stored one not yet served is a problem. */
	served?: { fingerprint256: string; notAfter: Date };
}

export interface Assessment {
	status: FindingStatus;
	summary: string;
	problems: Problem[];
	details: CertificateDetails;
}

export interface CertificateDetails {
	subject: string;
	issuer: string;
	sans: string[];
	serialNumber: string;
	fingerprint256: string;
	notBefore: string;
	notAfter: string;
	daysLeft: number;
	lifetimeDays: number;
	key: string;
	signatureAlgorithm?: string;
	protocol?: string;
	/** The certificate of the served chain (trusted roots excluded) that expires first. */
	chainEarliestExpiry?: { subject: string; notAfter: string; daysLeft: number };
	chainLength: number;
	/** OpenSSL's verification result code, when the chain did not verify. */
	trustError?: string;
	/** Whether the chain leads to a CA of the configured trust store (system roots + Custom CA):
	 * from the handshake for a live endpoint, by walking the chain's signatures for a stored one. */
	issuerTrusted: boolean;
}

const day = (date: Date) => date.toISOString().slice(0, 10);
const round1 = (n: number) => Math.round(n * 10) / 10;

export function describeKey(cert: X509Certificate): string {
	const key = cert.publicKey;
	const details = key.asymmetricKeyDetails ?? {};
	switch (key.asymmetricKeyType) {
		case 'rsa':
		case 'rsa-pss':
			return `RSA ${details.modulusLength ?? '?'}`;
		case 'ec':
			return `EC ${details.namedCurve ?? '?'}`;
		default:
			return (key.asymmetricKeyType ?? 'unknown').toUpperCase();
	}
}

const EC_BITS: Record<string, number> = {
	prime256v1: 256,
	'P-256': 256,
	secp384r1: 384,
	'P-384': 384,
	secp521r1: 521,
	'P-521': 521,
	secp224r1: 224,
	secp192k1: 192,
	prime192v1: 192,
	secp256k1: 256,
};

function keyProblem(cert: X509Certificate, which: string): Problem | undefined {
	const key = cert.publicKey;
	const details = key.asymmetricKeyDetails ?? {};
	if (
		(key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') &&
		(details.modulusLength ?? 0) < 2048
	) {
		return {
			code: 'weak-key',
			status: 'critical',
			message: `${which} has a weak RSA key (${details.modulusLength} bits, needs 2048+)`,
		};
	}
	if (key.asymmetricKeyType === 'ec') {
		const bits = EC_BITS[details.namedCurve ?? ''];
		if (bits !== undefined && bits < 256)
			return {
				code: 'weak-key',
				status: 'critical',
				message: `${which} has a weak EC key (${details.namedCurve}, needs 256+ bits)`,
			};
	}
	return undefined;
}

function signatureProblem(cert: X509Certificate, which: string): Problem | undefined {
	// X509Certificate.signatureAlgorithm arrived in Node 23; older Node can't tell, so no finding
	const algorithm = (cert as X509Certificate & { signatureAlgorithm?: string }).signatureAlgorithm;
	if (algorithm && /md5|md2|sha1(?!\d)|sha-1\b|sha1With|WithSHA1/i.test(algorithm)) {
		return {
			code: 'weak-signature',
			status: 'critical',
			message: `${which} is signed with ${algorithm} (browsers reject SHA-1 and MD5)`,
		};
	}
	return undefined;
}

/** Status for `left` time with a certificate lifetime of `lifetime`, both in ms. */
export function expiryStatus(
	leftMs: number,
	lifetimeMs: number,
	thresholds: Thresholds,
): FindingStatus {
	if (leftMs <= 0) return 'critical';
	if (thresholds.mode === 'fixed') {
		const critical = (thresholds.criticalDays ?? 7) * DAY_MS;
		const warning = (thresholds.warningDays ?? 21) * DAY_MS;
		if (leftMs <= critical) return 'critical';
		return leftMs <= warning ? 'warning' : 'ok';
	}
	if (leftMs <= Math.min(7 * DAY_MS, lifetimeMs / 6)) return 'critical';
	return leftMs <= Math.min(21 * DAY_MS, lifetimeMs / 3) ? 'warning' : 'ok';
}

function fingerprintsOf(pems: readonly string[]): Set<string> {
	const out = new Set<string>();
	for (const pem of pems) {
		try {
			out.add(new X509Certificate(pem).fingerprint256);
		} catch {
			// a root the runtime can't parse is not one we could match anyway
		}
	}
	return out;
}

// read once: fingerprints tell trusted roots apart inside a served chain
let systemRoots: Set<string> | undefined;

function isTrustedRoot(cert: X509Certificate, customCa?: string): boolean {
	systemRoots ??= fingerprintsOf(rootCertificates);
	if (systemRoots.has(cert.fingerprint256)) return true;
	if (!customCa) return false;
	try {
		return parsePemCertificates(customCa, 'the custom CA').some(
			(ca) => ca.fingerprint256 === cert.fingerprint256,
		);
	} catch {
		// an unusable custom CA trusts nothing; the handshake's own verification reports the consequence
		return false;
	}
}

const TRUST_MESSAGES: Record<string, [string, string]> = {
	DEPTH_ZERO_SELF_SIGNED_CERT: ['self-signed', 'Certificate is self-signed'],
	SELF_SIGNED_CERT_IN_CHAIN: ['untrusted-root', 'Chain ends in a root CA that is not trusted'],
	UNABLE_TO_GET_ISSUER_CERT_LOCALLY: [
		'untrusted-issuer',
		'Issuer is not trusted (unknown CA, or the server omits an intermediate)',
	],
	UNABLE_TO_GET_ISSUER_CERT: ['untrusted-issuer', 'Issuer certificate is unknown'],
	UNABLE_TO_VERIFY_LEAF_SIGNATURE: [
		'chain-incomplete',
		'Chain does not verify: the server does not send the intermediate certificate, or its issuer is unknown',
	],
	CERT_SIGNATURE_FAILURE: ['bad-signature', 'Certificate signature does not verify'],
	CERT_REVOKED: ['revoked', 'Certificate is revoked'],
	INVALID_CA: ['invalid-ca', 'A certificate in the chain is not a valid CA'],
	INVALID_PURPOSE: [
		'invalid-purpose',
		'Certificate is not meant for TLS servers (key usage or extended key usage)',
	],
};

// dates and host name are judged on their own, with better messages: these say nothing about the issuer
const NOT_TRUST_ERRORS = ['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID'];

const issuerName = (cert: X509Certificate) =>
	/(?:^|\n)CN=([^\n]+)/.exec(cert.issuer)?.[1] ?? cert.issuer.replace(/\n/g, ', ');

/** IP addresses match IP SANs only (as browsers do); a requested wildcard name (an ACME order for
 * `*.example.com`) matches the same wildcard SAN, which checkHost can't express. */
function covers(leaf: X509Certificate, name: string): boolean {
	if (isIP(name)) return leaf.checkIP(name) !== undefined;
	if (leaf.checkHost(name) !== undefined) return true;
	const wanted = `DNS:${name.toLowerCase()}`;
	return (leaf.subjectAltName ?? '').split(/,\s*/).some((san) => san.toLowerCase() === wanted);
}

let systemRootCertificates: X509Certificate[] | undefined;

function trustAnchors(customCa?: string): X509Certificate[] {
	systemRootCertificates ??= rootCertificates.flatMap((pem) => {
		try {
			return [new X509Certificate(pem)];
		} catch {
			return [];
		}
	});
	if (!customCa) return systemRootCertificates;
	try {
		return [...systemRootCertificates, ...parsePemCertificates(customCa, 'the custom CA')];
	} catch {
		return systemRootCertificates;
	}
}

const signedBy = (cert: X509Certificate, issuer: X509Certificate) =>
	cert.checkIssued(issuer) && cert.verify(issuer.publicKey);

/** Offline path building for a stored chain: leaf → the chain's own intermediates → a trust anchor,
 * each step checked by signature. Dates are judged elsewhere. */
function chainLeadsToTrust(chain: X509Certificate[], customCa?: string): boolean {
	const anchors = trustAnchors(customCa);
	const isAnchor = (cert: X509Certificate) =>
		anchors.some((a) => a.fingerprint256 === cert.fingerprint256);
	let current = chain[0];
	const used = new Set<string>([current.fingerprint256]);
	for (let depth = 0; depth < 10; depth++) {
		if (isAnchor(current) || anchors.some((a) => signedBy(current, a))) return true;
		const next = chain.find((c) => !used.has(c.fingerprint256) && signedBy(current, c));
		if (!next) return false;
		used.add(next.fingerprint256);
		current = next;
	}
	return false;
}

export function judgeChain(input: ChainInput): Assessment {
	const [leaf] = input.chain;
	if (!leaf) throw new Error('judgeChain needs at least one certificate');
	const now = input.now.getTime();
	const notBefore = leaf.validFromDate.getTime();
	const notAfter = leaf.validToDate.getTime();
	const lifetime = notAfter - notBefore;
	const left = notAfter - now;
	const problems: Problem[] = [];

	if (now < notBefore) {
		problems.push({
			code: 'not-yet-valid',
			status: 'critical',
			message: `Certificate is not valid before ${day(leaf.validFromDate)}`,
		});
	}
	if (left <= 0) {
		problems.push({
			code: 'expired',
			status: 'critical',
			message: `Certificate expired ${Math.ceil(-left / DAY_MS)} day(s) ago (${day(leaf.validToDate)})`,
		});
	} else {
		const status = expiryStatus(left, lifetime, input.thresholds);
		if (status !== 'ok') {
			problems.push({
				code: 'expiring',
				status: status as Problem['status'],
				message: `Certificate expires in ${round1(left / DAY_MS)} days (${day(leaf.validToDate)})`,
			});
		}
	}

	const names = [
		...new Set([input.hostname, ...(input.alsoNames ?? [])].filter((n): n is string => !!n)),
	];
	for (const name of names) {
		if (!covers(leaf, name))
			problems.push({
				code: 'hostname-mismatch',
				status: 'critical',
				message: `Certificate does not cover ${name}`,
			});
	}

	const selfSigned = leaf.checkIssued(leaf) && leaf.verify(leaf.publicKey);
	const issuerTrusted = input.trust
		? input.trust.authorized || NOT_TRUST_ERRORS.includes(input.trust.error ?? '')
		: chainLeadsToTrust(input.chain, input.customCa);
	if (selfSigned && !(input.trust?.authorized ?? false) && !isTrustedRoot(leaf, input.customCa)) {
		problems.push({
			code: 'self-signed',
			status: 'critical',
			message: 'Certificate is self-signed',
		});
	} else if (!input.trust && !issuerTrusted) {
		// a stored certificate: warning, not critical, because the file alone can't show what clients
		// are given (a live check of the endpoint judges the served chain, and that is critical)
		problems.push({
			code: 'untrusted-issuer',
			status: 'warning',
			message: `Issuer ${issuerName(leaf)} is not trusted by the configured trust store (system roots + Custom CA Certificate): clients reject this certificate unless they trust that CA`,
		});
	} else if (input.trust && !input.trust.authorized && input.trust.error) {
		const known = TRUST_MESSAGES[input.trust.error];
		// dates and host name are judged on their own above, with better messages
		if (!NOT_TRUST_ERRORS.includes(input.trust.error)) {
			problems.push({
				code: known?.[0] ?? 'untrusted',
				status: 'critical',
				message: known?.[1] ?? `Chain does not verify (${input.trust.error})`,
			});
		}
	}

	const weak = [keyProblem(leaf, 'Certificate'), signatureProblem(leaf, 'Certificate')];
	input.chain.slice(1).forEach((cert) => {
		if (!isTrustedRoot(cert, input.customCa))
			weak.push(
				signatureProblem(
					cert,
					`Intermediate ${cert.subject.split('\n').find((l) => l.startsWith('CN=')) ?? ''}`.trim(),
				),
			);
	});
	problems.push(...weak.filter((p): p is Problem => p !== undefined));

	if (input.protocol && /^(SSLv\d|TLSv1(\.1)?)$/.test(input.protocol)) {
		problems.push({
			code: 'old-protocol',
			status: 'warning',
			message: `Server negotiated ${input.protocol} (needs TLS 1.2 or later)`,
		});
	}

	// an intermediate that expires before the leaf breaks the site just the same
	const served = input.chain.filter((cert, i) => i === 0 || !isTrustedRoot(cert, input.customCa));
	const earliest = served.reduce((a, b) => (b.validToDate < a.validToDate ? b : a));
	if (earliest !== leaf && earliest.validToDate.getTime() < notAfter) {
		const leftI = earliest.validToDate.getTime() - now;
		const status = expiryStatus(
			leftI,
			earliest.validToDate.getTime() - earliest.validFromDate.getTime(),
			input.thresholds,
		);
		if (status !== 'ok') {
			problems.push({
				code: 'chain-expiring',
				status: status as Problem['status'],
				message:
					leftI <= 0
						? `Intermediate certificate expired on ${day(earliest.validToDate)}`
						: `Intermediate certificate expires in ${round1(leftI / DAY_MS)} days (${day(earliest.validToDate)})`,
			});
		}
	}

	if (
		input.served &&
		input.served.fingerprint256 !== leaf.fingerprint256 &&
		input.served.notAfter < leaf.validToDate
	) {
		problems.push({
			code: 'renewal-not-served',
			status: 'warning',
			message: `A renewed certificate (until ${day(leaf.validToDate)}) is stored but the endpoint still serves the old one (until ${day(input.served.notAfter)}): check Traefik's logs and TLS store, or restart it`,
		});
	}

	const status = worstStatus(problems.map((p) => p.status));
	const issuerCn = issuerName(leaf);
	const ordered = [...problems].sort((a, b) =>
		a.status === b.status ? 0 : worstStatus([a.status, b.status]) === a.status ? -1 : 1,
	);
	const summary =
		ordered.length === 0
			? `Certificate valid for ${round1(left / DAY_MS)} more days (until ${day(leaf.validToDate)}), issued by ${issuerCn}`
			: ordered[0].message +
				(ordered.length > 1
					? `; also: ${ordered
							.slice(1)
							.map((p) => p.message)
							.join('; ')}`
					: '');

	return {
		status,
		summary,
		problems,
		details: {
			subject: leaf.subject.replace(/\n/g, ', '),
			issuer: leaf.issuer.replace(/\n/g, ', '),
			sans: (leaf.subjectAltName ?? '').split(/,\s*/).filter(Boolean),
			serialNumber: leaf.serialNumber,
			fingerprint256: leaf.fingerprint256,
			notBefore: leaf.validFromDate.toISOString(),
			notAfter: leaf.validToDate.toISOString(),
			daysLeft: round1(left / DAY_MS),
			lifetimeDays: round1(lifetime / DAY_MS),
			key: describeKey(leaf),
			signatureAlgorithm: (leaf as X509Certificate & { signatureAlgorithm?: string })
				.signatureAlgorithm,
			protocol: input.protocol ?? undefined,
			chainEarliestExpiry:
				earliest !== leaf
					? {
							subject: earliest.subject.replace(/\n/g, ', '),
							notAfter: earliest.validToDate.toISOString(),
							daysLeft: round1((earliest.validToDate.getTime() - now) / DAY_MS),
						}
					: undefined,
			chainLength: input.chain.length,
			trustError: input.trust?.authorized === false ? input.trust.error : undefined,
			issuerTrusted,
		},
	};
}

/**
 * The change key of a certificate finding: its problems, plus the latest expiry ever seen for the
 * target, so a renewal counts as a change once while a CDN that flips between two certificates
 * does not (the latest expiry only moves forward).
 */
export const LATEST_EXPIRY_KEY = 'infraOpsCertLatestExpiry';

/** Overlapping runs' latest expiries combine by keeping the later per target (the shared State Store's merge). */
export function mergeLatestExpiry(current: unknown, mine: unknown): Record<string, string> {
	const now = { ...((current ?? {}) as Record<string, string>) };
	for (const [target, notAfter] of Object.entries((mine ?? {}) as Record<string, string>))
		if (!now[target] || now[target] < notAfter) now[target] = notAfter;
	return now;
}

export function certificateChangeKey(
	store: Record<string, unknown>,
	target: string,
	assessment: Assessment,
): string {
	const latest = ((store[LATEST_EXPIRY_KEY] as Record<string, string> | undefined) ??= {});
	const notAfter = assessment.details.notAfter;
	if (!latest[target] || latest[target] < notAfter) latest[target] = notAfter;
	store[LATEST_EXPIRY_KEY] = latest;
	return `${assessment.problems
		.map((p) => p.code)
		.sort()
		.join(',')}|${latest[target]}`;
}
