/**
 * Whether `text` holds any 8-character piece of a secret key (case-insensitive: a library may lower-
 * or upper-case what it quotes). Pieces that lie wholly in the key's fixed, public prefix
 * (`AGE-SECRET-KEY-1`) are not secret and are skipped, as are comment lines and PEM armour lines.
 */
const PUBLIC_PREFIXES = ['AGE-SECRET-KEY-1'];

export function keyFragments(key: string, size = 8): string[] {
	// the key's own lines: not the comments of an age key file (`# created: …`) nor the PEM armour
	const secret = key
		.split(/\r?\n/)
		.filter((line) => line.trim() && !line.startsWith('#') && !line.startsWith('-----'))
		.join('\n');
	const out = new Set<string>();
	for (let i = 0; i + size <= secret.length; i++) {
		const piece = secret.slice(i, i + size);
		if (/\s/.test(piece)) continue;
		if (PUBLIC_PREFIXES.some((p) => p.toLowerCase().includes(piece.toLowerCase()))) continue;
		out.add(piece.toLowerCase());
	}
	return [...out];
}

export function containsKeyFragment(text: string, key: string): boolean {
	const haystack = text.toLowerCase();
	return keyFragments(key).some((piece) => haystack.includes(piece));
}

/** The fragment found, for a readable failure message; undefined when none. */
export function firstKeyFragment(text: string, key: string): string | undefined {
	const haystack = text.toLowerCase();
	return keyFragments(key).find((piece) => haystack.includes(piece));
}

/** The identity with one character of its data part changed to another valid bech32 character. */
export function typoInIdentity(identityText: string): string {
	const line = identityText.split(/\r?\n/).find((l) => l.startsWith('AGE-SECRET-KEY-1'));
	if (!line) throw new Error('no AGE-SECRET-KEY-1 line');
	const i = 'AGE-SECRET-KEY-1'.length + 20;
	const swapped = line[i] === 'Q' ? 'P' : 'Q';
	return identityText.replace(line, line.slice(0, i) + swapped + line.slice(i + 1));
}
