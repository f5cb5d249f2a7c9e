/**
 * Manifest signatures: HMAC-SHA256 over a canonical form of the manifest, with a key that only the
 * n8n holding the Backup Encryption credential has. Anyone with write access to the bucket can write
 * an archive and a manifest; only a holder of the key can write a manifest whose signature verifies.
 * No n8n import.
 */
import { createHmac, hkdfSync, scryptSync, timingSafeEqual } from 'node:crypto';

import { errorMessage } from '../shared/errors';
import { parseIdentitySecret } from '../shared/ageKeys';
import type { BackupManifest } from './manifest';

export const SIGNING_INFO = 'infra-ops manifest v1';

export interface ManifestSignature {
	alg: 'hmac-sha256';
	/** First 8 hex of HMAC(key, "key-id"): names the key without revealing it. */
	keyId: string;
	value: string;
}

export type SigningSource = 'secret' | 'identity' | 'passphrase';

export interface SigningKey {
	key: Buffer;
	keyId: string;
	source: SigningSource;
}

/** HKDF-SHA256 of the key material with a fixed label; the label keeps this key apart from every other use of the material. */
export function deriveSigningKey(material: Buffer, source: SigningSource): SigningKey {
	const key = Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), SIGNING_INFO, 32));
	return {
		key,
		keyId: createHmac('sha256', key).update('key-id').digest('hex').slice(0, 8),
		source,
	};
}

/**
 * The signing key of a Backup Encryption credential: the Manifest Signing Secret, else the age identity,
 * else the passphrase. A passphrase goes through scrypt first: the signatures and key id are public (in
 * the bucket), and HKDF alone would let anyone who can read the bucket guess the passphrase at hash speed
 * instead of age's scrypt speed. `problem`: the identity is there but not valid (no key can be derived).
 */
export function signingKeyFrom(keys: {
	signingSecret?: string;
	identity?: string;
	passphrase?: string;
}): { key?: SigningKey; problem?: string } {
	if (keys.signingSecret?.trim())
		return { key: deriveSigningKey(Buffer.from(keys.signingSecret.trim(), 'utf8'), 'secret') };
	if (keys.identity?.trim()) {
		try {
			return { key: deriveSigningKey(parseIdentitySecret(keys.identity), 'identity') };
		} catch (error) {
			return { problem: `no manifest signing key: ${errorMessage(error)}` };
		}
	}
	if (keys.passphrase) {
		const stretched = scryptSync(Buffer.from(keys.passphrase, 'utf8'), SIGNING_INFO, 32, {
			N: 2 ** 15,
			r: 8,
			p: 1,
			maxmem: 64 * 1024 * 1024,
		});
		return { key: deriveSigningKey(stretched, 'passphrase') };
	}
	return {};
}

/** JSON with object keys sorted at every level and undefined members dropped: the same manifest gives the same bytes whatever order its fields were written in. */
export function canonicalJson(value: unknown): string {
	if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
	if (Array.isArray(value))
		return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
	const entries = Object.entries(value as Record<string, unknown>)
		.filter(([, v]) => v !== undefined)
		.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
	return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * The bytes the signature covers: the manifest without `signature` (it cannot sign itself) and without
 * `verified`, which Verify rewrites in place after the backup was written; a Verify run must not break
 * the signature, and a forged `verified` only changes what List shows, not what is restored or pruned.
 */
export function signedBytes(manifest: BackupManifest): string {
	const rest: Record<string, unknown> = { ...manifest };
	delete rest.signature;
	delete rest.verified;
	return canonicalJson(rest);
}

export function signManifest(manifest: BackupManifest, key: SigningKey): ManifestSignature {
	return {
		alg: 'hmac-sha256',
		keyId: key.keyId,
		value: createHmac('sha256', key.key).update(signedBytes(manifest)).digest('hex'),
	};
}

/** true: signed with this key, for this object key; false: no signature; 'invalid': a signature that does not verify. */
export type SignatureState = true | false | 'invalid';

/**
 * Checks a manifest read from `objectKey`. The signed manifest names its own key, so a signed manifest
 * copied beside another archive key (a replay of an old backup as a new one) does not verify there.
 */
export function checkSignature(
	manifest: BackupManifest | undefined,
	objectKey: string,
	key: SigningKey,
): { state: SignatureState; reason?: string } {
	const sig = manifest?.signature;
	if (!manifest || !sig) return { state: false, reason: 'no signature' };
	if (sig.alg !== 'hmac-sha256' || typeof sig.value !== 'string')
		return { state: 'invalid', reason: `unknown signature algorithm "${String(sig.alg)}"` };
	if (sig.keyId !== key.keyId)
		return {
			state: 'invalid',
			reason: `signed with key id ${String(sig.keyId)}, the credential's signing key is ${key.keyId}`,
		};
	const expected = Buffer.from(signManifest(manifest, key).value, 'hex');
	const given = Buffer.from(sig.value, 'hex');
	if (given.length !== expected.length || !timingSafeEqual(given, expected))
		return {
			state: 'invalid',
			reason: 'the signature does not match the manifest (changed after it was written)',
		};
	if (manifest.key !== objectKey)
		return { state: 'invalid', reason: `the signed manifest belongs to ${String(manifest.key)}` };
	return { state: true };
}
