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

/**
 * What is wrong with a key, in words that never quote it: the bech32 library's messages repeat the
 * whole input (`Invalid checksum in AGE-SECRET-KEY-1…`), and these messages reach execution data,
 * manifests and alerts.
 */
function keyProblem(error: unknown): string {
	const text = error instanceof Error ? error.message : '';
	if (/checksum/i.test(text))
		return 'its checksum does not match: a character is mistyped, missing or extra';
	if (/lowercase or uppercase/i.test(text)) return 'it mixes upper and lower case';
	if (/length|at least|too long|too short/i.test(text)) return 'it has the wrong length';
	if (/letter|invalid|unknown|character/i.test(text))
		return 'it holds a character that cannot be in such a key';
	return 'it is not a valid bech32 key';
}

/** Our own reasons; they never contain the input either. */
class KeyShapeError extends Error {}

function decode(text: string, prefix: string): Buffer {
	let hrp: string;
	let words: number[];
	try {
		({ prefix: hrp, words } = bech32.decode(text as `${string}1${string}`, 1023));
	} catch (error) {
		throw new KeyShapeError(keyProblem(error));
	}
	if (hrp.toLowerCase() !== prefix.toLowerCase())
		throw new KeyShapeError(`it does not start with ${prefix}1`);
	let bytes: Buffer;
	try {
		bytes = Buffer.from(bech32.fromWords(words));
	} catch (error) {
		throw new KeyShapeError(keyProblem(error));
	}
	if (bytes.length !== 32) throw new KeyShapeError(`it holds ${bytes.length} bytes, not 32`);
	return bytes;
}

const reasonOf = (error: unknown) =>
	error instanceof KeyShapeError ? error.message : 'it is not a valid key';

export function recipientFingerprint(publicKey: Buffer): string {
	return 'sha256:' + createHash('sha256').update(publicKey).digest('hex').slice(0, 16);
}

export function parseRecipient(text: string, where?: string): AgeRecipient {
	const recipient = text.trim();
	if (/^ssh-(ed25519|rsa) /.test(recipient)) {
		throw new InfraOpsError(
			'SSH public keys are not supported as age recipients here',
			'Make an age key pair with `age-keygen -o backup.key` and use the "Public key: age1…" line it prints',
		);
	}
	try {
		if (!recipient.startsWith('age1') || recipient.startsWith('age1pq'))
			throw new KeyShapeError('it is not an age1… X25519 public key');
		const publicKey = decode(recipient, 'age');
		return { recipient, publicKey, fingerprint: recipientFingerprint(publicKey) };
	} catch (error) {
		// the field and the problem only: a secret key pasted by mistake into Recipients must not be echoed
		throw new InfraOpsError(
			`${where ? `${where} of ` : ''}Recipients is not a valid age recipient: ${reasonOf(error)}`,
			'A recipient is the public key age-keygen prints, starting with age1 (62 characters)',
		);
	}
}

/** One recipient per line; blank lines and `#` comments (as in age's recipients files) are skipped. */
export function parseRecipients(text: string): AgeRecipient[] {
	return text
		.split(/\r?\n/)
		.map((line) => line.trim())
		.map((line, index) => ({ line, where: `line ${index + 1}` }))
		.filter(({ line }) => line && !line.startsWith('#'))
		.map(({ line, where }) => parseRecipient(line, where));
}

/** The X25519 secret of an identity (`AGE-SECRET-KEY-1…`, comment lines allowed); errors name the field
 * and the problem, never any part of the key. */
export function parseIdentitySecret(identityText: string): Buffer {
	const lines = identityText
		.split(/\r?\n/)
		.map((line) => line.trim())
		.filter((line) => line && !line.startsWith('#'));
	if (lines.length !== 1) {
		throw new InfraOpsError(
			`Expected exactly one age identity in Identity (Private Key), found ${lines.length}`,
			'Paste the AGE-SECRET-KEY-1… line of the key file (comment lines are fine)',
		);
	}
	try {
		if (!lines[0].startsWith('AGE-SECRET-KEY-1'))
			throw new KeyShapeError('it does not start with AGE-SECRET-KEY-1');
		return decode(lines[0], 'AGE-SECRET-KEY-');
	} catch (error) {
		throw new InfraOpsError(
			`The age identity in Identity (Private Key) is not valid: ${reasonOf(error)}`,
			'Paste the AGE-SECRET-KEY-1… line that age-keygen wrote, unchanged',
		);
	}
}

/** The recipient an identity decrypts for; the secret itself never leaves this function. */
export function identityToRecipient(identityText: string): AgeRecipient {
	const secret = parseIdentitySecret(identityText);
	const privateKey = createPrivateKey({
		key: Buffer.concat([PKCS8_X25519_PREFIX, secret]),
		format: 'der',
		type: 'pkcs8',
	});
	const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
	const publicKey = Buffer.from(spki.subarray(spki.length - 32));
	const recipient = bech32.encode('age', bech32.toWords(publicKey), 1023);
	return { recipient, publicKey, fingerprint: recipientFingerprint(publicKey) };
}
