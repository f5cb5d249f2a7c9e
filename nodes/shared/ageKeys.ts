/** age X25519 keys: parse recipients (`age1…`) and identities (`AGE-SECRET-KEY-1…`), derive an
 * identity's recipient, and fingerprint recipients for manifests (never the keys themselves). */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { bech32 } from '@scure/base';

import { InfraOpsError } from './errors';

export interface AgeRecipient {
	recipient: string;
	publicKey: Buffer;
	fingerprint: string;
}

const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

function decode(text: string, prefix: string): Buffer {
	const { prefix: hrp, words } = bech32.decode(text as `${string}1${string}`, 1023);
	if (hrp.toLowerCase() !== prefix.toLowerCase()) throw new Error(`prefix "${hrp}" is not "${prefix}"`);
	const bytes = Buffer.from(bech32.fromWords(words));
	if (bytes.length !== 32) throw new Error(`holds ${bytes.length} bytes, not 32`);
	return bytes;
}

export function recipientFingerprint(publicKey: Buffer): string {
	return 'sha256:' + createHash('sha256').update(publicKey).digest('hex').slice(0, 16);
}

export function parseRecipient(text: string): AgeRecipient {
	const recipient = text.trim();
	if (/^ssh-(ed25519|rsa) /.test(recipient)) {
		throw new InfraOpsError(
			'SSH public keys are not supported as age recipients here',
			'Make an age key pair with `age-keygen -o backup.key` and use the "Public key: age1…" line it prints',
		);
	}
	try {
		if (!recipient.startsWith('age1') || recipient.startsWith('age1pq')) throw new Error('not an age1 X25519 recipient');
		const publicKey = decode(recipient, 'age');
		return { recipient, publicKey, fingerprint: recipientFingerprint(publicKey) };
	} catch (error) {
		throw new InfraOpsError(
			`"${recipient.slice(0, 12)}…" is not a valid age recipient (${(error as Error).message})`,
			'A recipient is the public key age-keygen prints, starting with age1 (62 characters)',
		);
	}
}

/** One recipient per line; blank lines and `#` comments (as in age's recipients files) are skipped. */
export function parseRecipients(text: string): AgeRecipient[] {
	return text
		.split(/\r?\n/)
		.map((line) => line.trim())
		.filter((line) => line && !line.startsWith('#'))
		.map(parseRecipient);
}

/** The recipient an identity decrypts for; the secret itself never leaves this function. */
export function identityToRecipient(identityText: string): AgeRecipient {
	const lines = identityText
		.split(/\r?\n/)
		.map((line) => line.trim())
		.filter((line) => line && !line.startsWith('#'));
	if (lines.length !== 1) {
		throw new InfraOpsError(
			`Expected exactly one age identity, found ${lines.length}`,
			'Paste the AGE-SECRET-KEY-1… line of the key file (comment lines are fine)',
		);
	}
	let secret: Buffer;
	try {
		if (!lines[0].startsWith('AGE-SECRET-KEY-1')) throw new Error('it does not start with AGE-SECRET-KEY-1');
		secret = decode(lines[0], 'AGE-SECRET-KEY-');
	} catch (error) {
		throw new InfraOpsError(
			`The age identity is not valid (${(error as Error).message})`,
			'Paste the AGE-SECRET-KEY-1… line that age-keygen wrote',
		);
	}
	const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, secret]), format: 'der', type: 'pkcs8' });
	const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
	const publicKey = Buffer.from(spki.subarray(spki.length - 32));
	const recipient = bech32.encode('age', bech32.toWords(publicKey), 1023);
	return { recipient, publicKey, fingerprint: recipientFingerprint(publicKey) };
}
