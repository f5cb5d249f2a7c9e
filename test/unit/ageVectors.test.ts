/**
 * The C2SP CCTV age test vectors (npm `cctv-age`, pinned in devDependencies) against our age v1
 * reader: every vector for a feature the pack implements must succeed with the same payload, or fail
 * at the same stage, as the vector says.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { inflateSync } from 'node:zlib';

import {
	AgeDecryptStream,
	AgeFormatError,
	type AgeDecryptKey,
} from '../../nodes/DockerVolumeBackup/age';

interface Vector {
	name: string;
	expect: string;
	payload?: string;
	identities: string[];
	passphrases: string[];
	armored: boolean;
	file: Buffer;
}

/** The package is ESM-only (Jest's CommonJS runtime cannot require it): Node itself loads it and hands the bytes over. */
function loadVectors(): Vector[] {
	const json = execFileSync(
		process.execPath,
		[
			'--input-type=module',
			'-e',
			"import * as v from 'cctv-age'; process.stdout.write(JSON.stringify(Object.entries(v).map(([k, b]) => [k, Buffer.from(b).toString('base64')])));",
		],
		{ cwd: `${__dirname}/../..`, maxBuffer: 1 << 26 },
	).toString();
	return (JSON.parse(json) as Array<[string, string]>).map(([name, b64]) => {
		const raw = Buffer.from(b64, 'base64');
		const split = raw.indexOf('\n\n');
		const header = raw.subarray(0, split).toString('utf8').split('\n');
		const values = (key: string) =>
			header.filter((l) => l.startsWith(`${key}: `)).map((l) => l.slice(key.length + 2));
		const body = raw.subarray(split + 2);
		return {
			name,
			expect: values('expect')[0],
			payload: values('payload')[0],
			identities: values('identity'),
			passphrases: values('passphrase'),
			armored: values('armored')[0] === 'yes',
			file: values('compressed')[0] === 'zlib' ? inflateSync(body) : body,
		};
	});
}

/**
 * Out of scope, by rule, not by name: the pack neither writes nor reads these.
 * - ASCII armor: backups are stored binary; the reader does not accept `-----BEGIN AGE ENCRYPTED FILE-----`.
 * - Post-quantum hybrid (mlkem768x25519) recipients and identities: not implemented; Backup Encryption
 *   takes X25519 keys only (an `age1pq…` recipient is refused by parseRecipient).
 * - (This version of the vectors has no ssh-rsa/ssh-ed25519 or plugin vectors; if a later version adds
 *   them, their identities are not AGE-SECRET-KEY-1 and the rule below puts them out of scope too.)
 */
function outOfScope(v: Vector): string | undefined {
	if (v.armored || v.expect === 'armor failure') return 'ASCII armor';
	if (v.identities.some((id) => !id.startsWith('AGE-SECRET-KEY-1')))
		return 'non-X25519 identity (post-quantum hybrid, ssh, plugin)';
	if (v.identities.length === 0 && v.passphrases.length === 0) return undefined; // e.g. `empty`: the header must fail before any key is used
	return undefined;
}

const EXPECTED_FAILURE: Record<string, AgeFormatError['failure']> = {
	'header failure': 'header',
	'no match': 'no match',
	'HMAC failure': 'hmac',
	'payload failure': 'payload',
};

/**
 * What the stream releases, as the application sees it: a `data` listener receives every chunk the
 * moment it is pushed, so a later error cannot hide (or the test miss) what was already released.
 */
async function decryptVector(
	file: Buffer,
	key: AgeDecryptKey,
	pieces: 'small' | 'whole',
): Promise<{ released: Buffer; error?: unknown }> {
	const stream = new AgeDecryptStream(key);
	const out: Buffer[] = [];
	stream.on('data', (chunk: Buffer) => out.push(chunk));
	const done = new Promise<unknown>((resolve) => {
		stream.on('end', () => resolve(undefined));
		stream.on('error', resolve);
	});
	// 'small': 7-byte pieces through the header (every line split), then 65,521-byte pieces (a prime: STREAM
	// chunks of 65,552 bytes never line up with them); 'whole': the file in 1 MiB writes
	const cuts: number[] = [];
	for (let at = 0; at < file.length; ) {
		cuts.push(at);
		at += pieces === 'whole' ? 1 << 20 : at < 2048 ? 7 : 65_521;
	}
	for (let i = 0; i < cuts.length && !stream.destroyed; i++) {
		const piece = file.subarray(cuts[i], cuts[i + 1] ?? file.length);
		await new Promise<void>((resolve) => stream.write(piece, () => resolve()));
	}
	if (!stream.destroyed) stream.end();
	const error = await done;
	return error ? { released: Buffer.concat(out), error } : { released: Buffer.concat(out) };
}

const vectors = loadVectors();
const inScope = vectors.filter((v) => !outOfScope(v));
const outOfScopeByReason = vectors.reduce<Record<string, number>>((acc, v) => {
	const reason = outOfScope(v);
	if (reason) acc[reason] = (acc[reason] ?? 0) + 1;
	return acc;
}, {});

describe('C2SP CCTV age vectors (cctv-age 0.2.0)', () => {
	it('every vector is either run or put out of scope by an explicit rule, and the counts are known', () => {
		expect(vectors).toHaveLength(143);
		expect(outOfScopeByReason).toEqual({
			'ASCII armor': 33,
			'non-X25519 identity (post-quantum hybrid, ssh, plugin)': 18,
		});
		expect(inScope).toHaveLength(92);
		// every in-scope vector has an outcome we can check
		for (const v of inScope)
			expect(['success', ...Object.keys(EXPECTED_FAILURE)]).toContain(v.expect);
	});

	// the header and STREAM parsers must not depend on how the input is cut
	describe.each(['small', 'whole'] as const)('fed in %s pieces', (pieces) => {
		it.each(inScope.map((v) => [v.name, v] as const))(
			'%s decrypts or fails exactly as the vector says',
			async (_name, v) => {
				const key: AgeDecryptKey = v.identities.length
					? { kind: 'identity', identity: v.identities[0] }
					: { kind: 'passphrase', passphrase: v.passphrases[0] ?? 'unused' };
				const { released, error } = await decryptVector(v.file, key, pieces);
				if (v.expect === 'success') {
					expect(error).toBeUndefined();
				} else {
					expect(error).toBeInstanceOf(AgeFormatError);
					expect({ failure: (error as AgeFormatError).failure }).toEqual({
						failure: EXPECTED_FAILURE[v.expect],
					});
				}
				// on success and on payload failure alike, all that was released must match the vector's hash
				if (v.payload) expect(createHash('sha256').update(released).digest('hex')).toBe(v.payload);
				else expect(released).toHaveLength(0);
			},
		);
	});
});
