/** authorized_keys lines: find a key by its blob (options and comments allowed), add, remove. */
export interface AuthorizedKeyLine {
	index: number;
	/** `restrict,command="…"` and such, before the key type; empty when none. */
	options: string;
	type: string;
	blob: string;
}

const KEY_TYPE =
	/^(ssh-(?:ed25519|rsa|dss)|ecdsa-sha2-nistp(?:256|384|521)|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)$/;

/** Splits off the options field, which may hold quoted spaces. */
function parseLine(line: string, index: number): AuthorizedKeyLine | undefined {
	const trimmed = line.trim();
	if (!trimmed || trimmed.startsWith('#')) return undefined;
	let i = 0;
	let quoted = false;
	const fields: string[] = [];
	let current = '';
	for (; i < trimmed.length; i++) {
		const c = trimmed[i];
		// inside quotes, sshd reads \" as a literal quote
		if (quoted && c === '\\' && i + 1 < trimmed.length) {
			current += c + trimmed[++i];
			continue;
		}
		if (c === '"') quoted = !quoted;
		if (!quoted && /\s/.test(c)) {
			if (current) fields.push(current);
			current = '';
			if (fields.length === 3) break;
			continue;
		}
		current += c;
	}
	if (current) fields.push(current);
	if (fields.length >= 2 && KEY_TYPE.test(fields[0]))
		return { index, options: '', type: fields[0], blob: fields[1] };
	if (fields.length >= 3 && KEY_TYPE.test(fields[1]))
		return { index, options: fields[0], type: fields[1], blob: fields[2] };
	return undefined;
}

export function findKey(text: string, blob: string): AuthorizedKeyLine[] {
	return text
		.split('\n')
		.map((line, index) => parseLine(line, index))
		.filter((k): k is AuthorizedKeyLine => k !== undefined && k.blob === blob);
}

/** Appends `publicKeyLine` with the options of the key it replaces, so restrictions carry over. */
export function addKey(text: string, publicKeyLine: string, options: string): string {
	const line = (options ? `${options} ` : '') + publicKeyLine.trim();
	const body = text.length === 0 || text.endsWith('\n') ? text : text + '\n';
	return `${body}${line}\n`;
}

export function removeKey(text: string, blob: string): string {
	const drop = new Set(findKey(text, blob).map((k) => k.index));
	return text
		.split('\n')
		.filter((_, index) => !drop.has(index))
		.join('\n');
}
