/**
 * Splits a list the operator typed: one entry per line or comma (and per space with `words`, for
 * names that cannot hold one, such as image references); blank entries and `#` comments dropped.
 */
export function splitList(value: unknown, options: { words?: boolean } = {}): string[] {
	return String(value ?? '')
		.split(options.words ? /[\s,]+/ : /[\n,]+/)
		.map((s) => s.trim())
		.filter((s) => s && !s.startsWith('#'));
}
