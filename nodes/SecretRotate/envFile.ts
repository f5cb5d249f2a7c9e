/** In-place edits of `KEY=VALUE` lines in .env files that keep everything else byte for byte:
 * comments, order, blank lines, `export`, the quoting style of each value, line endings, a BOM, and
 * bytes that are not UTF-8. The `…Bytes` functions take the file as it is on disk; the text functions
 * work on any string, and are used on the file's bytes read one byte per character (latin1), so only
 * ASCII is syntax (as for compose's parser) and nothing is ever decoded and re-encoded. */
import { InfraOpsError } from '../shared/errors';

export interface EnvAssignment {
	line: number;
	key: string;
	/** The value as docker compose reads it (quotes removed, escapes resolved). */
	value: string;
	quote: '' | '"' | "'";
}

// KEY=VALUE, optional `export `, optional spaces around `=`; the value runs to the end of the line.
// A UTF-8 BOM before the first key (as a decoded character or as its three bytes) is kept as part of
// the line's prefix. Whitespace is ASCII only: \s would also take 0xA0, a byte inside many UTF-8 letters.
const ASSIGNMENT =
	/^((?:\uFEFF|\xEF\xBB\xBF)?[ \t]*(?:export[ \t]+)?)([A-Za-z_][A-Za-z0-9_.-]*)([ \t]*=[ \t]*)(.*?)(\r?)$/;
const trimEnd = (text: string) => text.replace(/[ \t]+$/, '');

function splitLines(text: string): string[] {
	return text.split('\n');
}

function unquote(raw: string): { value: string; quote: EnvAssignment['quote']; rest: string } {
	if (raw.startsWith('"')) {
		let value = '';
		for (let i = 1; i < raw.length; i++) {
			const c = raw[i];
			if (c === '\\' && i + 1 < raw.length) {
				const n = raw[++i];
				value += n === 'n' ? '\n' : n;
				continue;
			}
			if (c === '"') return { value, quote: '"', rest: raw.slice(i + 1) };
			value += c;
		}
		return { value: raw, quote: '', rest: '' };
	}
	if (raw.startsWith("'")) {
		const end = raw.indexOf("'", 1);
		if (end > 0) return { value: raw.slice(1, end), quote: "'", rest: raw.slice(end + 1) };
		return { value: raw, quote: '', rest: '' };
	}
	// an unquoted value ends at ` #` (an inline comment), as compose's parser reads it
	const comment = /[ \t]+#/.exec(raw);
	const value = trimEnd(comment ? raw.slice(0, comment.index) : raw);
	return { value, quote: '', rest: raw.slice(value.length) };
}

export function findAssignments(text: string, key: string): EnvAssignment[] {
	const out: EnvAssignment[] = [];
	splitLines(text).forEach((line, index) => {
		const m = ASSIGNMENT.exec(line);
		if (!m || m[2] !== key) return;
		const { value, quote } = unquote(m[4]);
		out.push({ line: index + 1, key, value, quote });
	});
	return out;
}

/** The value docker compose uses: the last assignment wins. */
export function readEnvValue(text: string, key: string): string | undefined {
	const all = findAssignments(text, key);
	return all.length ? all[all.length - 1].value : undefined;
}

/** Characters that need quotes in a .env value (compose interpolates `$`; `#` starts a comment). */
function needsQuotes(value: string): boolean {
	return /[ \t\r\n\f\v#"'\\$`]/.test(value);
}

export function formatEnvValue(value: string, quote: EnvAssignment['quote']): string {
	if (quote === '' && !needsQuotes(value)) return value;
	// compose interpolates `$` inside double quotes but not inside single ones
	if (quote === "'" || value.includes('$')) {
		if (value.includes("'") || value.includes('\n')) {
			throw new InfraOpsError(
				'The new value cannot be written to a .env file as is (it holds both $ and a quote, or a newline)',
				'Generate the secret without these symbols',
			);
		}
		return `'${value}'`;
	}
	return '"' + value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
}

export interface EnvEditResult {
	text: string;
	/** Lines changed (1-based); duplicates of the key are all set, so whichever a reader takes agrees. */
	lines: number[];
	appended: boolean;
}

/**
 * Sets every assignment of `key` to `value`, keeping each line's `export`, spacing, quote style and
 * inline comment. A missing key is an error unless `addIfMissing`, which appends `KEY=value`.
 */
export function setEnvValue(
	text: string,
	key: string,
	value: string,
	options: { addIfMissing?: boolean; file?: string } = {},
): EnvEditResult {
	if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) {
		throw new InfraOpsError(
			`"${key}" is not a valid .env variable name`,
			'Use letters, digits and underscores, not starting with a digit',
		);
	}
	const lines = splitLines(text);
	const changed: number[] = [];
	for (let i = 0; i < lines.length; i++) {
		const m = ASSIGNMENT.exec(lines[i]);
		if (!m || m[2] !== key) continue;
		const { quote, rest } = unquote(m[4]);
		if (quote === '' && /^["']/.test(m[4])) {
			// compose reads an unclosed quote as a value running over the next lines: rewriting this
			// line alone would leave the rest of that value behind as garbage lines
			throw new InfraOpsError(
				`${options.file ?? 'The .env file'} line ${i + 1}: the value of ${key} opens a quote that does not close on that line (a multi-line value)`,
				'Put the value on one line (quoted), then run the rotation again',
			);
		}
		lines[i] = `${m[1]}${m[2]}${m[3]}${formatEnvValue(value, quote)}${rest}${m[5]}`;
		changed.push(i + 1);
	}
	if (changed.length > 0) return { text: lines.join('\n'), lines: changed, appended: false };
	if (!options.addIfMissing) {
		throw new InfraOpsError(
			`${options.file ?? 'The .env file'} has no ${key}= line`,
			'Check the key name and the file path, or turn on "Add If Missing" to append it',
		);
	}
	const eol = text.includes('\r\n') ? '\r\n' : '\n';
	const prefix = text.length === 0 || text.endsWith('\n') ? text : text + eol;
	return {
		text: `${prefix}${key}=${formatEnvValue(value, '')}${eol}`,
		lines: [splitLines(prefix).length],
		appended: true,
	};
}

/** The file's bytes as a string of one character per byte: no decoding, so nothing can be lost. */
const asByteString = (data: Buffer) => data.toString('latin1');
const valueToBytes = (value: string) => Buffer.from(value, 'utf8').toString('latin1');

/** readEnvValue on the file's bytes; the value is read as UTF-8. */
export function readEnvValueBytes(data: Buffer, key: string): string | undefined {
	const value = readEnvValue(asByteString(data), key);
	return value === undefined ? undefined : Buffer.from(value, 'latin1').toString('utf8');
}

/** setEnvValue on the file's bytes: only the bytes of the values change (the new value is written as UTF-8). */
export function setEnvValueBytes(
	data: Buffer,
	key: string,
	value: string,
	options: { addIfMissing?: boolean; file?: string } = {},
): EnvEditResult & { data: Buffer } {
	const edit = setEnvValue(asByteString(data), key, valueToBytes(value), options);
	return { ...edit, data: Buffer.from(edit.text, 'latin1') };
}
