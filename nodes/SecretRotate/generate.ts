/** New secrets: passwords, tokens and SSH key pairs, with metadata that describes them without revealing them. */
import { createHash, createHmac, randomBytes, randomInt } from 'node:crypto';

import { InfraOpsError } from '../shared/errors';
import { loadSsh2 } from '../shared/lazy';
import { sha256Fingerprint } from '../shared/ssh';

export type CharacterClass = 'lower' | 'upper' | 'digits' | 'symbols';

export interface PasswordSpec {
	kind: 'password';
	length: number;
	classes: CharacterClass[];
	/** Leave out characters that read alike (I l 1 O 0 o, | `). */
	excludeAmbiguous: boolean;
	/** The symbols class; the default is safe unquoted in .env files, shells and connection URLs. */
	symbols?: string;
}

export interface TokenSpec {
	kind: 'token';
	bytes: number;
	encoding: 'hex' | 'base64url';
}

export interface SshKeySpec {
	kind: 'sshKey';
	algorithm: 'ed25519' | 'rsa4096';
	comment?: string;
}

export type SecretSpec = PasswordSpec | TokenSpec | SshKeySpec;

export interface GeneratedSecret {
	kind: SecretSpec['kind'];
	/** The password or token, or the OpenSSH private key. */
	value: string;
	/** OpenSSH public key line (ssh key pairs only). */
	publicKey?: string;
	metadata: SecretMetadata;
}

/** Safe to show and store: describes the secret, cannot reproduce it. */
export interface SecretMetadata {
	kind: SecretSpec['kind'];
	length?: number;
	entropyBits: number;
	/** `sha256:` and the first 12 hex digits of the secret's SHA-256: tells two secrets apart in logs
	 * without revealing either. A weak password gets `hmac:` (a key drawn for it and discarded) instead.
	 * For key pairs, the public key's `SHA256:` fingerprint. */
	fingerprint: string;
	algorithm?: string;
	publicKey?: string;
	encoding?: string;
	classes?: CharacterClass[];
}

export const DEFAULT_SYMBOLS = '-_.~';
const AMBIGUOUS = new Set('Il1O0o|`\'"'.split(''));
const CLASS_CHARS: Record<Exclude<CharacterClass, 'symbols'>, string> = {
	lower: 'abcdefghijklmnopqrstuvwxyz',
	upper: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
	digits: '0123456789',
};

export function classAlphabets(
	spec: PasswordSpec,
): Array<{ name: CharacterClass; chars: string[] }> {
	if (spec.classes.length === 0) {
		throw new InfraOpsError(
			'No character class is selected for the password',
			'Select at least one of lower case, upper case, digits, symbols',
		);
	}
	return spec.classes.map((name) => {
		const source = name === 'symbols' ? (spec.symbols ?? DEFAULT_SYMBOLS) : CLASS_CHARS[name];
		const chars = [...new Set(source.split(''))].filter(
			(c) => !(spec.excludeAmbiguous && AMBIGUOUS.has(c)),
		);
		for (const c of chars) {
			if (c.charCodeAt(0) < 0x21 || c.charCodeAt(0) > 0x7e) {
				throw new InfraOpsError(
					`The symbols contain "${JSON.stringify(c)}", which is not a printable ASCII character`,
					'Use printable ASCII symbols only (no spaces)',
				);
			}
		}
		if (chars.length === 0)
			throw new InfraOpsError(
				`The character class "${name}" is empty`,
				'Add characters to the symbols, or deselect the class',
			);
		return { name, chars };
	});
}

/** Uniform over the alphabet, each class present at least once (placed at random positions). */
export function generatePassword(spec: PasswordSpec): string {
	const classes = classAlphabets(spec);
	if (
		!Number.isInteger(spec.length) ||
		spec.length < Math.max(8, classes.length) ||
		spec.length > 1024
	) {
		throw new InfraOpsError(
			`Password length ${spec.length} is out of range`,
			`Use a length between ${Math.max(8, classes.length)} and 1024`,
		);
	}
	const all = classes.flatMap((c) => c.chars);
	const chars = Array.from({ length: spec.length }, () => all[randomInt(all.length)]);
	const positions = Array.from({ length: spec.length }, (_, i) => i);
	shuffle(positions);
	classes.forEach((c, i) => {
		if (!chars.some((ch) => c.chars.includes(ch)))
			chars[positions[i]] = c.chars[randomInt(c.chars.length)];
	});
	// a class placed over another's only member is caught by retrying: rare, and keeps the draw uniform
	if (!classes.every((c) => chars.some((ch) => c.chars.includes(ch))))
		return generatePassword(spec);
	return chars.join('');
}

function shuffle<T>(array: T[]): void {
	for (let i = array.length - 1; i > 0; i--) {
		const j = randomInt(i + 1);
		[array[i], array[j]] = [array[j], array[i]];
	}
}

export function passwordEntropyBits(spec: PasswordSpec): number {
	const size = classAlphabets(spec).reduce((n, c) => n + c.chars.length, 0);
	return Math.floor(spec.length * Math.log2(size));
}

export function shortHash(value: string): string {
	return 'sha256:' + createHash('sha256').update(value).digest('hex').slice(0, 12);
}

/**
 * What identifies a secret in findings, alerts and logs. A 48-bit prefix of a plain SHA-256 is an
 * oracle for a secret with little entropy (an 8-digit password is found from it in a second); at 96
 * bits and more, some 2^48 secrets share each prefix, so it singles out none. Below that, the hash is
 * keyed with random bytes nobody keeps: it still tells secrets apart, and can no longer be checked
 * against guesses.
 */
export function secretFingerprint(value: string, entropyBits: number): string {
	if (entropyBits >= 96) return shortHash(value);
	return 'hmac:' + createHmac('sha256', randomBytes(32)).update(value).digest('hex').slice(0, 12);
}

export function generateSecret(spec: SecretSpec): GeneratedSecret {
	if (spec.kind === 'password') {
		const value = generatePassword(spec);
		const entropyBits = passwordEntropyBits(spec);
		return {
			kind: 'password',
			value,
			metadata: {
				kind: 'password',
				length: value.length,
				entropyBits,
				fingerprint: secretFingerprint(value, entropyBits),
				classes: spec.classes,
			},
		};
	}
	if (spec.kind === 'token') {
		if (!Number.isInteger(spec.bytes) || spec.bytes < 16 || spec.bytes > 512) {
			throw new InfraOpsError(
				`Token size ${spec.bytes} bytes is out of range`,
				'Use 16 to 512 bytes (32 gives 256 bits)',
			);
		}
		const value = randomBytes(spec.bytes).toString(spec.encoding === 'hex' ? 'hex' : 'base64url');
		return {
			kind: 'token',
			value,
			metadata: {
				kind: 'token',
				length: value.length,
				entropyBits: spec.bytes * 8,
				fingerprint: secretFingerprint(value, spec.bytes * 8),
				encoding: spec.encoding,
			},
		};
	}
	const { utils } = loadSsh2();
	const comment = spec.comment ?? '';
	let pair =
		spec.algorithm === 'rsa4096'
			? utils.generateKeyPairSync('rsa', { bits: 4096, comment })
			: utils.generateKeyPairSync('ed25519', { comment });
	// ssh2 1.17 strips leading zero bytes from an ed25519 public key (1 key in 256), which leaves a
	// 31-byte key that OpenSSH refuses to load ("error in libcrypto") and an authorized_keys line that
	// never matches: draw again until the key has its 32 bytes
	for (let tries = 0; spec.algorithm === 'ed25519' && !hasWholeEd25519Key(pair.public); tries++) {
		if (tries >= 16) throw new InfraOpsError('Could not generate a valid ed25519 key pair');
		pair = utils.generateKeyPairSync('ed25519', { comment });
	}
	const publicKey = pair.public.trim();
	return {
		kind: 'sshKey',
		value: pair.private,
		publicKey,
		metadata: {
			kind: 'sshKey',
			algorithm: spec.algorithm === 'rsa4096' ? 'rsa 4096' : 'ed25519',
			entropyBits: spec.algorithm === 'rsa4096' ? 152 : 128,
			fingerprint: publicKeyFingerprint(publicKey),
			publicKey,
		},
	};
}

/** True when an `ssh-ed25519` public key line carries a 32-byte key (RFC 8709). */
export function hasWholeEd25519Key(line: string): boolean {
	const blob = Buffer.from(line.trim().split(/\s+/)[1] ?? '', 'base64');
	if (blob.length < 4) return false;
	const nameLength = blob.readUInt32BE(0);
	const at = 4 + nameLength;
	if (blob.length < at + 4) return false;
	return blob.readUInt32BE(at) === 32 && blob.length === at + 4 + 32;
}

/** `SHA256:…` of an OpenSSH public key line, as `ssh-keygen -lf` prints it. */
export function publicKeyFingerprint(line: string): string {
	const blob = line.trim().split(/\s+/)[1];
	if (!blob) throw new InfraOpsError(`"${line.slice(0, 40)}" is not an OpenSSH public key line`);
	return sha256Fingerprint(Buffer.from(blob, 'base64'));
}
