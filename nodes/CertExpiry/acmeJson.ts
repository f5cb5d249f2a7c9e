/** Traefik's ACME storage (acme.json) in every layout seen in the wild: v2/v3 (one object per
 * resolver), Traefik 1.x (top-level `Account` + `Certificates` with Go's default field names
 * `Domain.Main/SANs`, `Certificate`, `Key`), and the resolver-less top-level `Certificates` list
 * (traefik-certs-dumper's v1 fixture). Go decodes JSON field names case-insensitively, so do we.
 * Private keys are dropped while parsing and never kept, logged or returned. */
import type { X509Certificate } from 'node:crypto';

import { InfraOpsError } from '../shared/errors';
import { parsePemCertificates } from './pem';

export interface AcmeCertificate {
	resolver: string;
	domain: string;
	sans: string[];
	store?: string;
	chain: X509Certificate[];
}

/** An entry (or a resolver's list) that could not be read; the rest of the file still is. */
export interface AcmeEntryFailure {
	resolver: string;
	/** 1-based position in the resolver's Certificates, absent when the whole list is unusable. */
	index?: number;
	domain?: string;
	message: string;
}

export interface AcmeContents {
	layout: 'v1' | 'v2';
	certificates: AcmeCertificate[];
	failures: AcmeEntryFailure[];
}

/** The resolver name given to Traefik 1.x certificates: v1 had one `[acme]` section, no resolvers. */
export const V1_RESOLVER = 'acme';

const SECRET_FIELDS = new Set(['key', 'privatekey']);

/** A field by name, ignoring case, as Go's encoding/json matches it. */
function field(object: unknown, name: string): unknown {
	if (!object || typeof object !== 'object' || Array.isArray(object)) return undefined;
	const record = object as Record<string, unknown>;
	if (name in record) return record[name];
	const lower = name.toLowerCase();
	const key = Object.keys(record).find((k) => k.toLowerCase() === lower);
	return key === undefined ? undefined : record[key];
}

function readEntry(
	entry: unknown,
	resolver: string,
	index: number,
	source: string,
): AcmeCertificate {
	const domain = field(entry, 'domain');
	const main = field(domain, 'main');
	const certificate = field(entry, 'certificate');
	if (typeof main !== 'string' || !main)
		throw new InfraOpsError(`certificate ${index} of resolver "${resolver}" has no domain.main`);
	if (typeof certificate !== 'string' || !certificate)
		throw new InfraOpsError(
			`certificate ${index} of resolver "${resolver}" (${main}) has no certificate`,
		);
	const rawSans = field(domain, 'sans');
	if (
		rawSans !== undefined &&
		rawSans !== null &&
		(!Array.isArray(rawSans) || rawSans.some((s) => typeof s !== 'string'))
	) {
		throw new InfraOpsError(
			`certificate ${index} of resolver "${resolver}" (${main}) has domain.sans that is not a list of names`,
		);
	}
	const store = field(entry, 'store');
	const pem = Buffer.from(certificate, 'base64').toString('utf8');
	return {
		resolver,
		domain: main,
		sans: ((rawSans as string[] | null | undefined) ?? []).filter((s) => s && s !== main),
		store: typeof store === 'string' ? store : undefined,
		chain: parsePemCertificates(pem, `${source} (${resolver}: ${main})`),
	};
}

function readList(list: unknown, resolver: string, source: string, out: AcmeContents): void {
	if (list === null || list === undefined) return;
	if (!Array.isArray(list)) {
		out.failures.push({
			resolver,
			message: `resolver "${resolver}" has Certificates that is not a list`,
		});
		return;
	}
	list.forEach((entry, i) => {
		try {
			out.certificates.push(readEntry(entry, resolver, i + 1, source));
		} catch (error) {
			const main = field(field(entry, 'domain'), 'main');
			out.failures.push({
				resolver,
				index: i + 1,
				domain: typeof main === 'string' && main ? main : undefined,
				message: (error as Error).message,
			});
		}
	});
}

export function parseAcmeJson(text: string, source = 'acme.json'): AcmeContents {
	let document: unknown;
	try {
		document = JSON.parse(text, (name, value: unknown) =>
			SECRET_FIELDS.has(name.toLowerCase()) ? undefined : value,
		);
	} catch (error) {
		throw new InfraOpsError(
			`${source} is not valid JSON: ${(error as Error).message}`,
			"Is this Traefik's acme.json (the file of certificatesResolvers.<name>.acme.storage)?",
		);
	}
	if (!document || typeof document !== 'object' || Array.isArray(document)) {
		throw new InfraOpsError(`${source} is not an acme.json object`);
	}
	const root = document as Record<string, unknown>;
	// v1 (and the certs-dumper shape) keep the list at the top; a v2 resolver can't be named
	// "Certificates" with a list as its value, so the two never collide
	const topLevel = field(root, 'certificates');
	if (Array.isArray(topLevel) || (topLevel === null && field(root, 'account') !== undefined)) {
		const out: AcmeContents = { layout: 'v1', certificates: [], failures: [] };
		readList(topLevel, V1_RESOLVER, source, out);
		return out;
	}
	const out: AcmeContents = { layout: 'v2', certificates: [], failures: [] };
	for (const [resolver, value] of Object.entries(root)) {
		if (!value || typeof value !== 'object' || Array.isArray(value)) continue;
		readList(field(value, 'certificates'), resolver, source, out);
	}
	return out;
}
