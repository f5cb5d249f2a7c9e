/** Checks that a Git push webhook really comes from the Git host: GitHub and Gitea sign the raw body
 * with HMAC-SHA256 of the shared secret; GitLab sends the secret itself as a token. */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type GitHost = 'github' | 'gitea' | 'gitlab';

/** Which host signed a delivery, by the header it sent (each method still needs the shared secret). */
export function detectGitHost(headers: Record<string, unknown>): GitHost | undefined {
	if (header(headers, 'X-Hub-Signature-256')) return 'github';
	if (header(headers, 'X-Gitea-Signature')) return 'gitea';
	if (header(headers, 'X-Gitlab-Token')) return 'gitlab';
	return undefined;
}

/**
 * The delivery's id, which the Git host keeps when it redelivers: Deploy refuses an id it has seen.
 * Not covered by the signature (only the body is), so Deploy also refuses a commit older than the deployed one.
 */
export function deliveryIdOf(headers: Record<string, unknown>): string | undefined {
	for (const name of [
		'X-GitHub-Delivery',
		'X-Gitea-Delivery',
		'X-Gitlab-Event-UUID',
		'X-Gogs-Delivery',
	]) {
		const value = header(headers, name)?.trim();
		if (value) return value;
	}
	return undefined;
}

export interface SignatureVerdict {
	valid: boolean;
	/** Why not, without the secret or the expected signature. */
	reason?: string;
	header: string;
}

function header(headers: Record<string, unknown>, name: string): string | undefined {
	const value =
		headers[name] ??
		headers[name.toLowerCase()] ??
		Object.entries(headers).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
	if (Array.isArray(value)) return String(value[0]);
	return typeof value === 'string' ? value : undefined;
}

function equal(a: string, b: string): boolean {
	const x = Buffer.from(a);
	const y = Buffer.from(b);
	return x.length === y.length && timingSafeEqual(x, y);
}

export function verifyWebhookSignature(
	host: GitHost,
	secret: string,
	rawBody: Buffer,
	headers: Record<string, unknown>,
): SignatureVerdict {
	if (!secret) return { valid: false, reason: 'no webhook secret is configured', header: '' };
	if (host === 'gitlab') {
		const token = header(headers, 'X-Gitlab-Token');
		if (!token)
			return {
				valid: false,
				reason: 'the X-Gitlab-Token header is missing',
				header: 'X-Gitlab-Token',
			};
		return equal(token, secret)
			? { valid: true, header: 'X-Gitlab-Token' }
			: { valid: false, reason: 'the X-Gitlab-Token does not match', header: 'X-Gitlab-Token' };
	}
	const name = host === 'github' ? 'X-Hub-Signature-256' : 'X-Gitea-Signature';
	const given = header(headers, name);
	if (!given) return { valid: false, reason: `the ${name} header is missing`, header: name };
	const digest = createHmac('sha256', secret).update(rawBody).digest('hex');
	const expected = host === 'github' ? `sha256=${digest}` : digest;
	return equal(given.trim().toLowerCase(), expected)
		? { valid: true, header: name }
		: { valid: false, reason: `the ${name} signature does not match the body`, header: name };
}
