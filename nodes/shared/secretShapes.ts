/**
 * Masks what looks like a secret in text copied from somewhere we do not control (log lines, command
 * output) before it reaches an item, a digest or an alert. Best effort by shape: key material (see
 * redactKeyMaterial), `password=`/`token:`-style pairs, Bearer/Basic credentials, passwords in URLs,
 * AWS access key ids, JWTs and the common vendor token prefixes. The rest of the line stays, so the
 * operator still sees what failed.
 */
import { redactKeyMaterial } from './errors';

const MASK = '(redacted)';

/**
 * Names whose value is a secret: `password`, `db_pass`, `client_secret`, `api-key`, `X-Auth-Token`,
 * `N8N_ENCRYPTION_KEY`, `LANGFUSE_SALT`, `NEO4J_AUTH` (user/password), …
 * Every repetition is bounded, so a multi-megabyte log line stays linear.
 */
const SECRET_NAME =
	'[A-Za-z0-9_.-]{0,40}(?:passw(?:or)?d|passwd|pass|pwd|secret(?:[_-]?key)?|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|enc(?:ryption)?[_-]?key|salt|[_-]auth|credentials?)(?:[_.-][A-Za-z0-9]{1,20})?(?![A-Za-z0-9])';

const PATTERNS: [RegExp, string | ((...m: string[]) => string)][] = [
	// Authorization: Bearer xyz / Basic base64 (also without the header name)
	[/\b(Bearer)(\s+)[A-Za-z0-9._~+/=-]{6,}/gi, `$1$2${MASK}`],
	[/\b(Basic)(\s+)(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2}/g, `$1$2${MASK}`],
	// scheme://user:password@host
	[/\b([a-z][a-z0-9+.-]{0,20}:\/\/[^\s:/@]{0,200}):[^\s@/]{1,200}@/gi, `$1:${MASK}@`],
	// name=value, name: value, "name": "value", name='value'
	[
		new RegExp(`(${SECRET_NAME})(["']?\\s*[:=]\\s*)("[^"]*"|'[^']*'|[^\\s"'&,;}\\]]+)`, 'gi'),
		(_m, name, sep, value) =>
			/^["']/.test(value) ? `${name}${sep}${value[0]}${MASK}${value[0]}` : `${name}${sep}${MASK}`,
	],
	// AWS access key id, GitHub / Slack / GitLab tokens, JWTs
	[/\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b/g, MASK],
	[
		/\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|glpat-[A-Za-z0-9_-]{20,})\b/g,
		MASK,
	],
	[/\bxox[abposr]-[A-Za-z0-9-]{10,}/g, MASK],
	[/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, MASK],
];

export function redactSecrets(text: string): string {
	let out = redactKeyMaterial(text);
	for (const [pattern, replacement] of PATTERNS)
		out = out.replace(pattern, replacement as (substring: string, ...args: string[]) => string);
	return out;
}
