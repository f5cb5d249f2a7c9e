/** PEM bundles to certificates, with errors that say which block is wrong. */
import { X509Certificate } from 'node:crypto';

import { InfraOpsError } from '../shared/errors';

const BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;

/** Every certificate of a PEM text, in order (leaf first, as servers and ACME clients write them). */
export function parsePemCertificates(text: string, source = 'PEM input'): X509Certificate[] {
	if (
		/-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(text) &&
		!text.includes('-----BEGIN CERTIFICATE-----')
	) {
		throw new InfraOpsError(
			`${source} holds a private key, not a certificate`,
			'Give the certificate file (fullchain.pem / cert.pem), never the key',
		);
	}
	const blocks = [...text.matchAll(BLOCK)];
	if (blocks.length === 0) {
		throw new InfraOpsError(
			`${source} holds no certificate`,
			'Expected one or more -----BEGIN CERTIFICATE----- blocks',
		);
	}
	return blocks.map((match, i) => {
		try {
			return new X509Certificate(match[0]);
		} catch (error) {
			throw new InfraOpsError(
				`Certificate ${i + 1} of ${source} cannot be parsed: ${(error as Error).message}`,
				'The base64 between the BEGIN and END lines is damaged or truncated',
			);
		}
	});
}
