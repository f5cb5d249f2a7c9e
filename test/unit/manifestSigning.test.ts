import { createHmac, hkdfSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';

import { MANIFEST_FORMAT, type BackupManifest } from '../../nodes/DockerVolumeBackup/manifest';
import {
	canonicalJson,
	checkSignature,
	deriveSigningKey,
	SIGNING_INFO,
	signedBytes,
	signingKeyFrom,
	signManifest,
} from '../../nodes/DockerVolumeBackup/signing';
import { parseIdentitySecret } from '../../nodes/shared/ageKeys';
import { containsKeyFragment, typoInIdentity } from '../support/keyFragments';

const manifest = (): BackupManifest => ({
	format: MANIFEST_FORMAT,
	volume: 'db',
	sourceKind: 'volume',
	labels: { b: '2', a: '1' },
	key: 'p/db/db-20261204T020000.000Z-1a2b3c4d.tar.zst.age',
	createdAt: '2026-12-04T02:00:00.000Z',
	tar: {
		sha256: 'a'.repeat(64),
		bytes: 10240,
		entries: 3,
		files: 2,
		fileBytes: 9,
		treeSha256: 'b'.repeat(64),
	},
	stored: { sha256: 'c'.repeat(64), bytes: 400 },
	compression: 'zstd',
	encryption: { kind: 'age-x25519', recipients: ['age1…fp'] },
	containersStopped: [],
	liveBackup: false,
	durationsMs: { total: 12 },
	packVersion: '0.1.0',
});

/** The same object with its keys in reverse order, at every level. */
function reversed(value: unknown): unknown {
	if (Array.isArray(value)) return value.map(reversed);
	if (value && typeof value === 'object')
		return Object.fromEntries(
			Object.entries(value)
				.reverse()
				.map(([k, v]) => [k, reversed(v)]),
		);
	return value;
}

describe('canonical manifest serialisation', () => {
	it('gives the same bytes whatever the key order, at every level, and drops undefined members', () => {
		const m = manifest();
		const r = reversed({ ...m, driver: undefined }) as BackupManifest;
		expect(JSON.stringify(r)).not.toBe(JSON.stringify(m));
		expect(signedBytes(r)).toBe(signedBytes(m));
		expect(canonicalJson({ b: [2, { d: 1, c: null }], a: 'x' })).toBe(
			'{"a":"x","b":[2,{"c":null,"d":1}]}',
		);
	});

	it('threat: Verify rewriting `verified` (or a signature field) changes the signed bytes', () => {
		const m = manifest();
		const key = deriveSigningKey(Buffer.alloc(32, 7), 'secret');
		const withExtras: BackupManifest = {
			...m,
			verified: { at: '2026-12-05T00:00:00Z', ok: true, scratchRestore: true },
			signature: signManifest(m, key),
		};
		expect(signedBytes(withExtras)).toBe(signedBytes(m));
		expect(signedBytes(withExtras)).not.toMatch(/verified|signature/);
		expect(checkSignature(withExtras, m.key, key)).toEqual({ state: true });
	});

	it('threat: an edited field, a copied manifest or another key passes the check', () => {
		const key = deriveSigningKey(Buffer.alloc(32, 7), 'secret');
		const m = { ...manifest(), signature: signManifest(manifest(), key) };
		expect(checkSignature({ ...m, volume: 'other' }, m.key, key).state).toBe('invalid');
		expect(
			checkSignature({ ...m, stored: { ...m.stored, sha256: 'd'.repeat(64) } }, m.key, key).state,
		).toBe('invalid');
		expect(checkSignature(m, 'p/db/db-20261205T020000.000Z-00000000.tar.zst.age', key)).toEqual({
			state: 'invalid',
			reason: `the signed manifest belongs to ${m.key}`,
		});
		const other = deriveSigningKey(Buffer.alloc(32, 8), 'secret');
		expect(checkSignature(m, m.key, other)).toEqual({
			state: 'invalid',
			reason: `signed with key id ${key.keyId}, the credential's signing key is ${other.keyId}`,
		});
		expect(checkSignature(manifest(), m.key, key)).toEqual({
			state: false,
			reason: 'no signature',
		});
		expect(
			checkSignature({ ...m, signature: { ...m.signature, value: 'zz' } }, m.key, key).state,
		).toBe('invalid');
	});
});

describe('signing key derivation', () => {
	it('is HKDF-SHA256 with the fixed label, and the key id is the first 8 hex of HMAC(key, "key-id")', () => {
		const secret = 'a long random secret from openssl rand -hex 32';
		const { key } = signingKeyFrom({ signingSecret: `  ${secret}\n` });
		const expected = Buffer.from(
			hkdfSync('sha256', Buffer.from(secret), Buffer.alloc(0), 'infra-ops manifest v1', 32),
		);
		expect(SIGNING_INFO).toBe('infra-ops manifest v1');
		expect(key).toEqual({
			key: expected,
			keyId: createHmac('sha256', expected).update('key-id').digest('hex').slice(0, 8),
			source: 'secret',
		});
	});

	it('takes the secret first, then the identity (its X25519 secret, whatever the comments), then the passphrase', () => {
		const identity = execFileSync('age-keygen', {
			encoding: 'utf8',
			stdio: ['ignore', 'pipe', 'ignore'],
		});
		const bare = identity.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
		const fromIdentity = signingKeyFrom({ identity, passphrase: 'pw' }).key!;
		expect(fromIdentity.source).toBe('identity');
		expect(fromIdentity.key).toEqual(
			deriveSigningKey(parseIdentitySecret(identity), 'identity').key,
		);
		expect(signingKeyFrom({ identity: bare }).key!.key).toEqual(fromIdentity.key);
		expect(signingKeyFrom({ signingSecret: 's', identity }).key!.source).toBe('secret');
		const fromPassphrase = signingKeyFrom({ passphrase: 'correct horse' }).key!;
		expect(fromPassphrase.source).toBe('passphrase');
		// stretched with scrypt first: the public signatures must not let a passphrase be guessed at HMAC speed
		expect(fromPassphrase.key).not.toEqual(
			deriveSigningKey(Buffer.from('correct horse'), 'passphrase').key,
		);
		expect(signingKeyFrom({ passphrase: 'correct horse' }).key!.key).toEqual(fromPassphrase.key);
		expect(signingKeyFrom({ recipients: 'age1…' } as never)).toEqual({});
	});

	it('threat: an identity with a typo quietly gives no key, or names part of the key in the problem', () => {
		const identity = execFileSync('age-keygen', {
			encoding: 'utf8',
			stdio: ['ignore', 'pipe', 'ignore'],
		});
		const result = signingKeyFrom({ identity: typoInIdentity(identity) });
		expect(result.key).toBeUndefined();
		expect(result.problem).toMatch(
			/^no manifest signing key: The age identity in Identity \(Private Key\) is not valid/,
		);
		expect(containsKeyFragment(result.problem!, identity)).toBe(false);
	});
});
