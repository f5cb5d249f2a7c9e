/** Traefik's ACME storage (acme.json, Traefik v2 and v3): the certificates of every resolver.
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

const SECRET_FIELDS = new Set(['key', 'Key', 'PrivateKey', 'privateKey']);

export function parseAcmeJson(text: string, source = 'acme.json'): AcmeCertificate[] {
	let document: unknown;
	try {
		document = JSON.parse(text, (name, value: unknown) => (SECRET_FIELDS.has(name) ? undefined : value));
	} catch (error) {
		throw new InfraOpsError(`${source} is not valid JSON: ${(error as Error).message}`, 'Is this Traefik\'s acme.json (the file of certificatesResolvers.<name>.acme.storage)?');
	}
	if (!document || typeof document !== 'object' || Array.isArray(document)) {
		throw new InfraOpsError(`${source} is not an acme.json object`);
	}
	const root = document as Record<string, unknown>;
	if ('Certificates' in root && 'Account' in root) {
		throw new InfraOpsError(`${source} is in Traefik v1's format`, 'Traefik v2 and v3 store one object per resolver; migrate, or check the certificates with Check PEM');
	}
	const out: AcmeCertificate[] = [];
	for (const [resolver, value] of Object.entries(root)) {
		if (!value || typeof value !== 'object') continue;
		const certificates = (value as { Certificates?: unknown }).Certificates;
		if (certificates === null || certificates === undefined) continue;
		if (!Array.isArray(certificates)) throw new InfraOpsError(`${source}: resolver "${resolver}" has Certificates that is not a list`);
		certificates.forEach((entry: { domain?: { main?: string; sans?: string[] }; certificate?: string; Store?: string }, i) => {
			const domain = entry.domain?.main;
			if (!domain || typeof entry.certificate !== 'string') {
				throw new InfraOpsError(`${source}: certificate ${i + 1} of resolver "${resolver}" has no domain.main or certificate`);
			}
			const pem = Buffer.from(entry.certificate, 'base64').toString('utf8');
			out.push({
				resolver,
				domain,
				sans: entry.domain?.sans ?? [],
				store: entry.Store,
				chain: parsePemCertificates(pem, `${source} (${resolver}: ${domain})`),
			});
		});
	}
	return out;
}
