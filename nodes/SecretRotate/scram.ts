/** SCRAM-SHA-256 verifiers computed client-side (RFC 5802 / RFC 7677), in the form PostgreSQL stores
 * in pg_authid and accepts in ALTER ROLE … PASSWORD: so the plain password never reaches the server. */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCRAM_ITERATIONS = 4096;

/** `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, as libpq's pg_fe_scram_build_secret. */
export function scramSha256Verifier(
	password: string,
	salt: Buffer = randomBytes(16),
	iterations = SCRAM_ITERATIONS,
): string {
	// SASLprep leaves printable ASCII (all this pack generates) unchanged
	const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
	const clientKey = createHmac('sha256', salted).update('Client Key').digest();
	const storedKey = createHash('sha256').update(clientKey).digest();
	const serverKey = createHmac('sha256', salted).update('Server Key').digest();
	return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** True when `verifier` was built from `password` (same salt and iterations). */
export function verifierMatches(verifier: string, password: string): boolean {
	const match = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier);
	if (!match) return false;
	const rebuilt = scramSha256Verifier(password, Buffer.from(match[2], 'base64'), Number(match[1]));
	return (
		rebuilt.length === verifier.length &&
		timingSafeEqual(Buffer.from(rebuilt), Buffer.from(verifier))
	);
}
