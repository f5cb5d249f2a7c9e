// Over 350 lines: one file format (header, recipient stanzas, STREAM payload) written to its spec; the parts only work together, and the tests against the real age cover it whole.
/**
 * The age v1 file format (https://age-encryption.org/v1), streaming, on Node's native crypto:
 * X25519 + HKDF-SHA256 + ChaCha20-Poly1305 recipients, scrypt passphrases, the 64 KiB STREAM
 * payload. Native chacha20-poly1305 runs several times faster than a pure-JS cipher, and the
 * `age-encryption` package is ESM-only; the format is small and fully specified, and the tests prove
 * every file this writes decrypts with the real `age -d`, and every file `age -e` writes decrypts here.
 * No n8n import.
 */
import {
	createCipheriv,
	createDecipheriv,
	createHmac,
	createPrivateKey,
	createPublicKey,
	createSecretKey,
	diffieHellman,
	generateKeyPairSync,
	hkdfSync,
	randomBytes,
	scrypt,
	timingSafeEqual,
	type KeyObject,
} from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

import { parseIdentitySecret } from '../shared/ageKeys';
import { InfraOpsError } from '../shared/errors';

const INTRO = 'age-encryption.org/v1';
const CHUNK = 64 * 1024;
const TAG = 16;
const X25519_INFO = 'age-encryption.org/v1/X25519';
const SCRYPT_LABEL = 'age-encryption.org/v1/scrypt';
/** age's own default: N = 2^18 (256 MiB for the derivation, once per file). */
export const DEFAULT_SCRYPT_WORK_FACTOR = 18;
const MAX_SCRYPT_WORK_FACTOR = 22;

const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/**
 * Where reading an age file failed, as the age spec (and its CCTV test vectors) distinguish it: a header
 * that does not parse, no stanza our key opens, a header MAC that does not match, a payload that does
 * not decrypt to the end. Callers can tell "not our key" from "altered or not an age file".
 */
export type AgeFailure = 'header' | 'no match' | 'hmac' | 'payload';

export class AgeFormatError extends InfraOpsError {
	constructor(
		readonly failure: AgeFailure,
		message: string,
		hint?: string,
	) {
		super(message, hint);
	}
}

const ALTERED_HINT = 'The file is not an age file, or it was altered or truncated in storage';
const headerError = (why: string) =>
	new AgeFormatError('header', `Malformed age header: ${why}`, ALTERED_HINT);

const b64 = (data: Buffer) => data.toString('base64').replace(/=+$/, '');
/** The spec's base64 is unpadded and canonical: one encoding per byte string, so the header MAC covers the only spelling. */
function unb64(text: string, what: string): Buffer {
	if (!/^[A-Za-z0-9+/]*$/.test(text)) throw headerError(`${what} is not unpadded base64`);
	const bytes = Buffer.from(text, 'base64');
	if (b64(bytes) !== text) throw headerError(`${what} is not canonical base64`);
	return bytes;
}

function hkdf(ikm: Buffer, salt: Buffer, info: string, length = 32): Buffer {
	return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}

function aeadSeal(key: Buffer, nonce: Buffer, plaintext: Buffer): Buffer {
	const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
	const out = Buffer.concat([cipher.update(plaintext), cipher.final()]);
	return Buffer.concat([out, cipher.getAuthTag()]);
}

function aeadOpen(key: Buffer, nonce: Buffer, sealed: Buffer): Buffer {
	if (sealed.length < TAG) throw new Error('ciphertext too short');
	const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
	decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
	return Buffer.concat([
		decipher.update(sealed.subarray(0, sealed.length - TAG)),
		decipher.final(),
	]);
}

const ZERO_NONCE = Buffer.alloc(12);

function x25519Public(raw: Buffer): KeyObject {
	return createPublicKey({
		key: Buffer.concat([SPKI_X25519_PREFIX, raw]),
		format: 'der',
		type: 'spki',
	});
}
function x25519Private(raw: Buffer): KeyObject {
	return createPrivateKey({
		key: Buffer.concat([PKCS8_X25519_PREFIX, raw]),
		format: 'der',
		type: 'pkcs8',
	});
}
function rawPublic(key: KeyObject): Buffer {
	const der = key.export({ format: 'der', type: 'spki' });
	return Buffer.from(der.subarray(der.length - 32));
}

export type AgeKeyMaterial =
	| { kind: 'recipients'; publicKeys: Buffer[] }
	| { kind: 'passphrase'; passphrase: string; workFactor?: number };

export type AgeDecryptKey =
	| { kind: 'identity'; identity: string }
	| { kind: 'passphrase'; passphrase: string };

interface Stanza {
	type: string;
	args: string[];
	body: Buffer;
}

function stanzaText(stanza: Stanza): string {
	const body = b64(stanza.body);
	const lines: string[] = [];
	for (let i = 0; i < body.length; i += 64) lines.push(body.slice(i, i + 64));
	// the last body line must be shorter than 64 columns, so a full last line is followed by an empty one
	if (body.length % 64 === 0) lines.push('');
	return `-> ${[stanza.type, ...stanza.args].join(' ')}\n${lines.join('\n')}\n`;
}

async function scryptKey(passphrase: string, salt: Buffer, workFactor: number): Promise<Buffer> {
	const N = 2 ** workFactor;
	return await new Promise<Buffer>((resolve, reject) =>
		scrypt(
			Buffer.from(passphrase, 'utf8'),
			Buffer.concat([Buffer.from(SCRYPT_LABEL), salt]),
			32,
			{ N, r: 8, p: 1, maxmem: 128 * N * 8 + 32 * 1024 * 1024 },
			(error, key) => (error ? reject(error) : resolve(key)),
		),
	);
}

/** The age header for a new file key: one X25519 stanza per recipient, or one scrypt stanza. */
export async function buildHeader(key: AgeKeyMaterial, fileKey: Buffer): Promise<Buffer> {
	const stanzas: Stanza[] = [];
	if (key.kind === 'recipients') {
		if (key.publicKeys.length === 0)
			throw new InfraOpsError(
				'No age recipient to encrypt to',
				'Add at least one age1… public key to the Backup Encryption credential',
			);
		for (const publicKey of key.publicKeys) {
			const { privateKey: ephemeral, publicKey: ephemeralPublic } = generateKeyPairSync('x25519');
			const share = rawPublic(ephemeralPublic);
			const shared = diffieHellman({ privateKey: ephemeral, publicKey: x25519Public(publicKey) });
			if (shared.every((b) => b === 0))
				throw new InfraOpsError(
					'An age recipient is a low-order point',
					'Use a public key made by age-keygen',
				);
			const wrapKey = hkdf(shared, Buffer.concat([share, publicKey]), X25519_INFO);
			stanzas.push({
				type: 'X25519',
				args: [b64(share)],
				body: aeadSeal(wrapKey, ZERO_NONCE, fileKey),
			});
		}
	} else {
		if (!key.passphrase) throw new InfraOpsError('The passphrase is empty');
		const workFactor = key.workFactor ?? DEFAULT_SCRYPT_WORK_FACTOR;
		const salt = randomBytes(16);
		const wrapKey = await scryptKey(key.passphrase, salt, workFactor);
		stanzas.push({
			type: 'scrypt',
			args: [b64(salt), String(workFactor)],
			body: aeadSeal(wrapKey, ZERO_NONCE, fileKey),
		});
	}
	const withoutMac = `${INTRO}\n${stanzas.map(stanzaText).join('')}---`;
	const mac = createHmac('sha256', hkdf(fileKey, Buffer.alloc(0), 'header'))
		.update(withoutMac)
		.digest();
	return Buffer.from(`${withoutMac} ${b64(mac)}\n`, 'utf8');
}

function streamNonce(counter: bigint, last: boolean): Buffer {
	const nonce = Buffer.alloc(12);
	nonce.writeBigUInt64BE(counter & 0xffffffffffffffffn, 3);
	nonce[11] = last ? 1 : 0;
	return nonce;
}

/**
 * Encrypts a stream into an age file. Memory: at most one 64 KiB chunk of plaintext is held back
 * (the last chunk must be flagged, so a full chunk is only sealed once more data, or the end,
 * arrives). The held-back input is kept as slices of the incoming buffers and fed to the cipher
 * piece by piece (chacha20-poly1305 takes several updates per chunk), so no plaintext is copied or
 * concatenated; each chunk's ciphertext and tag are pushed as they come out of the cipher.
 */
export class AgeEncryptStream extends Transform {
	private payloadKey?: KeyObject;
	private pending: Buffer[] = [];
	private pendingBytes = 0;
	private counter = 0n;
	private starting?: Promise<void>;

	constructor(private readonly key: AgeKeyMaterial) {
		super({ highWaterMark: 4 * CHUNK });
	}

	private async start(): Promise<void> {
		const fileKey = randomBytes(16);
		const header = await buildHeader(this.key, fileKey);
		const nonce = randomBytes(16);
		this.payloadKey = createSecretKey(hkdf(fileKey, nonce, 'payload'));
		this.push(header);
		this.push(nonce);
	}

	/** Seals the first `length` pending bytes as one STREAM chunk and pushes ciphertext and tag. */
	private sealPending(length: number, last: boolean): void {
		const cipher = createCipheriv(
			'chacha20-poly1305',
			this.payloadKey!,
			streamNonce(this.counter++, last),
			{ authTagLength: TAG },
		);
		let left = length;
		while (left > 0) {
			const head = this.pending[0];
			if (head.length <= left) {
				this.pending.shift();
				left -= head.length;
				this.push(cipher.update(head));
			} else {
				this.pending[0] = head.subarray(left);
				this.push(cipher.update(head.subarray(0, left)));
				left = 0;
			}
		}
		this.pendingBytes -= length;
		cipher.final();
		this.push(cipher.getAuthTag());
	}

	private sealFull(): void {
		// keep > 0 bytes back: only a chunk known not to be the last is sealed now
		while (this.pendingBytes > CHUNK) this.sealPending(CHUNK, false);
	}

	override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
		if (chunk.length === 0) return callback();
		this.pending.push(chunk);
		this.pendingBytes += chunk.length;
		if (this.payloadKey) {
			try {
				this.sealFull();
			} catch (error) {
				return callback(error as Error);
			}
			return callback();
		}
		this.starting ??= this.start();
		this.starting
			.then(() => {
				this.sealFull();
			})
			.then(() => callback(), callback);
	}

	override _flush(callback: TransformCallback): void {
		(this.starting ??= this.start())
			.then(() => {
				this.sealPending(this.pendingBytes, true);
				this.pending = [];
			})
			.then(() => callback(), callback);
	}
}

/**
 * Splits and checks the header strictly (https://age-encryption.org/v1): printable ASCII and LF only,
 * `-> ` stanza lines with non-empty arguments, body lines of exactly 64 columns but the last, canonical
 * base64 everywhere, and a `--- ` MAC line of one 32-byte MAC.
 */
function splitHeader(text: string): { stanzas: Stanza[]; mac: Buffer; withoutMac: string } {
	if (!/^[\x20-\x7e\n]*$/.test(text))
		throw headerError(
			'it holds a byte that is not printable ASCII (a CR, a control or non-ASCII byte)',
		);
	const lines = text.split('\n');
	if (lines[0] !== INTRO) {
		throw new AgeFormatError(
			'header',
			'Not an age v1 file (the first line is not "age-encryption.org/v1")',
			ALTERED_HINT,
		);
	}
	const stanzas: Stanza[] = [];
	let i = 1;
	while (i < lines.length && !lines[i].startsWith('---')) {
		const line = lines[i++];
		if (!line.startsWith('-> '))
			throw headerError(`line ${i} is neither a "-> " stanza line nor the "---" MAC line`);
		const [type, ...args] = line.slice(3).split(' ');
		if (![type, ...args].every((arg) => /^[\x21-\x7e]+$/.test(arg)))
			throw headerError(`line ${i} has an empty stanza argument`);
		const bodyLines: string[] = [];
		for (;;) {
			const bodyLine = lines[i++];
			if (bodyLine === undefined || bodyLine.startsWith('-'))
				throw headerError(`the ${type} stanza has no final body line shorter than 64 columns`);
			if (bodyLine.length > 64) throw headerError(`line ${i} is longer than 64 columns`);
			bodyLines.push(bodyLine);
			if (bodyLine.length < 64) break;
		}
		stanzas.push({ type, args, body: unb64(bodyLines.join(''), `the body of the ${type} stanza`) });
	}
	const macLine = lines[i];
	if (i !== lines.length - 1 || !/^--- [A-Za-z0-9+/]{43}$/.test(macLine))
		throw headerError('the MAC line is not "--- " and a 32-byte base64 MAC');
	const mac = unb64(macLine.slice(4), 'the header MAC');
	if (stanzas.some((s) => s.type === 'scrypt') && stanzas.length !== 1)
		throw headerError('an scrypt stanza must be the only stanza');
	return { stanzas, mac, withoutMac: text.slice(0, text.length - macLine.length) + '---' };
}

/** X25519 stanza shape, checked before any key is tried: one 32-byte share, a 32-byte body (16-byte file key + tag). */
function x25519Share(stanza: Stanza): Buffer {
	if (stanza.args.length !== 1)
		throw headerError('an X25519 stanza must have exactly one argument');
	const share = unb64(stanza.args[0], 'the X25519 share');
	if (share.length !== 32) throw headerError(`the X25519 share is ${share.length} bytes, not 32`);
	if (stanza.body.length !== 32)
		throw headerError('the X25519 stanza body is not a 16-byte file key and its tag');
	return share;
}

function scryptParams(stanza: Stanza): { salt: Buffer; workFactor: number } {
	if (stanza.args.length !== 2)
		throw headerError('an scrypt stanza must have exactly two arguments');
	const salt = unb64(stanza.args[0], 'the scrypt salt');
	if (salt.length !== 16) throw headerError(`the scrypt salt is ${salt.length} bytes, not 16`);
	// decimal, no sign, no leading zero: one spelling per value
	if (!/^[1-9][0-9]?$/.test(stanza.args[1]) || Number(stanza.args[1]) > MAX_SCRYPT_WORK_FACTOR) {
		throw headerError(
			`the scrypt work factor "${stanza.args[1]}" is not a decimal from 1 to ${MAX_SCRYPT_WORK_FACTOR}`,
		);
	}
	if (stanza.body.length !== 32)
		throw headerError('the scrypt stanza body is not a 16-byte file key and its tag');
	return { salt, workFactor: Number(stanza.args[1]) };
}

/** Reads an age header; returns the file key and where the payload starts, or undefined if more bytes are needed. */
async function parseHeader(
	data: Buffer,
	key: AgeDecryptKey,
): Promise<{ fileKey: Buffer; headerLength: number } | undefined> {
	const macLineStart = data.indexOf('\n---');
	if (macLineStart < 0) {
		if (data.length > 64 * 1024)
			throw new AgeFormatError(
				'header',
				'Not an age file: no header end within 64 KiB',
				ALTERED_HINT,
			);
		return undefined;
	}
	const macLineEnd = data.indexOf('\n', macLineStart + 1);
	if (macLineEnd < 0) {
		if (data.length > 64 * 1024)
			throw new AgeFormatError(
				'header',
				'Not an age file: no header end within 64 KiB',
				ALTERED_HINT,
			);
		return undefined;
	}
	const text = data.subarray(0, macLineEnd).toString('latin1');
	const { stanzas, mac, withoutMac } = splitHeader(text);

	let fileKey: Buffer | undefined;
	if (key.kind === 'identity') {
		const secret = parseIdentitySecret(key.identity);
		const privateKey = x25519Private(secret);
		const ourPublic = rawPublic(createPublicKey(privateKey));
		const x25519 = stanzas
			.filter((s) => s.type === 'X25519')
			.map((stanza) => ({ stanza, share: x25519Share(stanza) }));
		for (const { stanza, share } of x25519) {
			let shared: Buffer;
			try {
				shared = diffieHellman({ privateKey, publicKey: x25519Public(share) });
			} catch {
				// OpenSSL refuses to derive an all-zero secret
				shared = Buffer.alloc(32);
			}
			if (shared.every((b) => b === 0)) throw headerError('an X25519 share is a low-order point');
			const wrapKey = hkdf(shared, Buffer.concat([share, ourPublic]), X25519_INFO);
			try {
				fileKey = aeadOpen(wrapKey, ZERO_NONCE, stanza.body);
				break;
			} catch {
				// another recipient's stanza
			}
		}
		if (!fileKey) {
			const scryptOnly = stanzas.some((s) => s.type === 'scrypt');
			throw new AgeFormatError(
				'no match',
				scryptOnly
					? 'This backup is encrypted with a passphrase, not to a recipient'
					: 'The age identity is not a recipient of this backup',
				scryptOnly
					? 'Set the passphrase in the Backup Encryption credential'
					: 'Use the private key whose public key was in the recipients when the backup was made',
			);
		}
	} else {
		const stanza = stanzas.find((s) => s.type === 'scrypt');
		if (!stanza) {
			throw new AgeFormatError(
				'no match',
				'This backup is not encrypted with a passphrase',
				'Set the age identity (private key) in the Backup Encryption credential',
			);
		}
		const { salt, workFactor } = scryptParams(stanza);
		const wrapKey = await scryptKey(key.passphrase, salt, workFactor);
		try {
			fileKey = aeadOpen(wrapKey, ZERO_NONCE, stanza.body);
		} catch {
			throw new AgeFormatError(
				'no match',
				'Wrong passphrase for this backup',
				'Check the passphrase in the Backup Encryption credential',
			);
		}
	}
	const expected = createHmac('sha256', hkdf(fileKey, Buffer.alloc(0), 'header'))
		.update(withoutMac)
		.digest();
	if (!timingSafeEqual(expected, mac))
		throw new AgeFormatError(
			'hmac',
			'The age header MAC does not match: the backup was altered',
			ALTERED_HINT,
		);
	return { fileKey, headerLength: text.length + 1 };
}

/** Decrypts an age file stream; fails on any altered or truncated byte. */
export class AgeDecryptStream extends Transform {
	private head: Buffer[] = [];
	private headBytes = 0;
	private nonceNeeded = true;
	private fileKey?: Buffer;
	private payloadKey?: Buffer;
	private pending: Buffer = Buffer.alloc(0);
	private counter = 0n;

	constructor(private readonly key: AgeDecryptKey) {
		super({ highWaterMark: 4 * CHUNK });
	}

	override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
		this.step(chunk).then(() => callback(), callback);
	}

	private async step(chunk: Buffer): Promise<void> {
		if (!this.fileKey) {
			this.head.push(chunk);
			this.headBytes += chunk.length;
			const data = Buffer.concat(this.head, this.headBytes);
			const parsed = await parseHeader(data, this.key);
			if (!parsed) return;
			this.fileKey = parsed.fileKey;
			this.head = [];
			chunk = data.subarray(parsed.headerLength);
		}
		this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
		if (this.nonceNeeded) {
			if (this.pending.length < 16) return;
			this.payloadKey = hkdf(this.fileKey, this.pending.subarray(0, 16), 'payload');
			this.pending = this.pending.subarray(16);
			this.nonceNeeded = false;
		}
		const sealedChunk = CHUNK + TAG;
		// a full sealed chunk followed by more data is not the last one; each authenticated chunk is
		// released at once, so a later bad chunk never withholds the good ones before it (and never more)
		while (this.pending.length > sealedChunk) {
			const sealed = this.pending.subarray(0, sealedChunk);
			const plain = tryOpenChunk(this.payloadKey!, this.counter, sealed, false);
			if (!plain) {
				// a full chunk flagged last, with bytes after it: release it as the reference reader does, then refuse the rest
				const asLast = tryOpenChunk(this.payloadKey!, this.counter, sealed, true);
				if (asLast) {
					this.push(asLast);
					throw new AgeFormatError(
						'payload',
						'Data after the last age chunk: the backup was altered',
						ALTERED_HINT,
					);
				}
				throw new AgeFormatError(
					'payload',
					'The age file is altered (a chunk fails authentication)',
					ALTERED_HINT,
				);
			}
			this.counter++;
			this.push(plain);
			this.pending = this.pending.subarray(sealedChunk);
		}
		if (this.pending.length > 0 && this.pending.byteOffset > 0)
			this.pending = Buffer.from(this.pending);
	}

	override _flush(callback: TransformCallback): void {
		try {
			if (!this.fileKey || this.nonceNeeded)
				throw new AgeFormatError(
					'header',
					'The age file is truncated (incomplete header)',
					ALTERED_HINT,
				);
			if (this.pending.length < TAG)
				throw new AgeFormatError('payload', 'The age file is truncated', ALTERED_HINT);
			// only an empty payload may end in an empty chunk; after a full chunk it is a truncation made to look final
			if (this.pending.length === TAG && this.counter > 0n)
				throw new AgeFormatError(
					'payload',
					'The age file ends in an empty chunk after a full one: it was altered',
					ALTERED_HINT,
				);
			if (this.pending.length === CHUNK + TAG) {
				// a full chunk at the end is normally the last one; one that opens as non-last means the real last chunk was cut off
				const notLast = tryOpenChunk(this.payloadKey!, this.counter, this.pending, false);
				if (notLast) {
					this.push(notLast);
					throw new AgeFormatError(
						'payload',
						'The age file is truncated (no final chunk)',
						ALTERED_HINT,
					);
				}
			}
			const last = tryOpenChunk(this.payloadKey!, this.counter++, this.pending, true);
			if (!last)
				throw new AgeFormatError(
					'payload',
					'The age file is truncated or altered (last chunk fails authentication)',
					ALTERED_HINT,
				);
			this.push(last);
			callback();
		} catch (error) {
			callback(error as Error);
		}
	}
}

function tryOpenChunk(
	key: Buffer,
	counter: bigint,
	sealed: Buffer,
	last: boolean,
): Buffer | undefined {
	try {
		return aeadOpen(key, streamNonce(counter, last), sealed);
	} catch {
		return undefined;
	}
}
