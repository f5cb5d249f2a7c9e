/** In-place edits of `KEY=VALUE` lines in .env files that keep everything else byte for byte:
 * comments, order, blank lines, `export`, the quoting style of each value, line endings. */
import { InfraOpsError } from '../shared/errors';

export interface EnvAssignment {
	line: number;
	key: string;
	/** The value as docker compose reads it (quotes removed, escapes resolved). */
	value: string;
	quote: '' | '"' | "'";
}

// KEY=VALUE, optional `export `, optional spaces around `=`; the value runs to the end of the line
const ASSIGNMENT = /^(\s*(?:export\s+)?)([A-Za-z_][A-Za-z0-9_.-]*)(\s*=\s*)(.*?)(\r?)$/;

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
	const comment = /\s+#/.exec(raw);
	const value = comment ? raw.slice(0, comment.index) : raw;
	return { value: value.trimEnd(), quote: '', rest: raw.slice(value.trimEnd().length) };
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
	return /[\s#"'\\$`]/.test(value);
}

export function formatEnvValue(value: string, quote: EnvAssignment['quote']): string {
	if (quote === '' && !needsQuotes(value)) return value;
	// compose interpolates `$` inside double quotes but not inside single ones
	if (quote === "'" || value.includes('$')) {
		if (value.includes("'") || value.includes('\n')) {
			throw new InfraOpsError('The new value cannot be written to a .env file as is (it holds both $ and a quote, or a newline)', 'Generate the secret without these symbols');
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
export function setEnvValue(text: string, key: string, value: string, options: { addIfMissing?: boolean; file?: string } = {}): EnvEditResult {
	if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) {
		throw new InfraOpsError(`"${key}" is not a valid .env variable name`, 'Use letters, digits and underscores, not starting with a digit');
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
	return { text: `${prefix}${key}=${formatEnvValue(value, '')}${eol}`, lines: [splitLines(prefix).length], appended: true };
}
