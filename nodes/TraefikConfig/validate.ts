// Over 350 lines: the cross-file checks need every file parsed into one view; parser and checks share the problem shape and the line lookup.
/**
 * Checks dynamic files the way Traefik's file provider would take them, plus the mistakes it does
 * not report loudly: one unparsable file makes Traefik drop the whole update (the old config stays
 * live), every file goes through Go templating first (a stray `{{` breaks it), a router naming a
 * missing service or middleware is disabled, a name defined in two files is skipped, and a rate
 * limit keyed on the remote address behind a proxy puts every client into one bucket.
 */

import { loadYaml } from '../shared/lazy';

import { checkStructure, MIDDLEWARE_TYPES, type DynamicConfig } from './schema';
import { V3_REMOVED_HEADER_OPTIONS } from './middleware';

export type ProblemStatus = 'ok' | 'warning' | 'critical';

export interface ConfigProblem {
	file: string;
	/** Where in the file, e.g. `http.routers.api.middlewares`; empty for the whole file. */
	path: string;
	status: ProblemStatus;
	message: string;
	/** 1-based line, when known. */
	line?: number;
	/** Traefik drops the whole update of the provider (every file of the folder) while this stands. */
	fatal?: boolean;
}

export interface DynamicFile {
	name: string;
	text: string;
}

export interface ParsedFile {
	name: string;
	config?: DynamicConfig;
	problems: ConfigProblem[];
}

export interface ValidateOptions {
	/** Traefik sits behind Cloudflare or another proxy (requests arrive from the proxy's address). */
	behindProxy?: boolean;
	/** Only report problems of these files (the others are context for cross-file checks). */
	only?: string[];
}

const CONFIG_EXTENSIONS = /\.(ya?ml)$/i;

/** Whether Traefik's file provider reads this name from a watched folder. */
export function isDynamicFileName(name: string): boolean {
	return /\.(ya?ml|toml)$/i.test(name);
}

function lineAt(text: string, offset: number): number {
	return text.slice(0, offset).split('\n').length;
}

/** Whether the text before `{{` on its line already opened a YAML comment (a `#` at line start or after a blank, outside quotes). */
function inComment(lineText: string): boolean {
	let quote: string | undefined;
	for (let i = 0; i < lineText.length; i++) {
		const c = lineText[i];
		if (quote) {
			if (c === quote) quote = undefined;
		} else if (c === '"' || c === "'") quote = c;
		else if (c === '#' && (i === 0 || /\s/.test(lineText[i - 1]))) return true;
	}
	return false;
}

/**
 * Traefik renders every file as a Go template before reading it, comments included. An action in a
 * comment renders into the comment, so it changes nothing unless it fails to parse (an unknown
 * function): those get one warning per file; an action in YAML content can change the value and is
 * named line by line; a `{{` with no `}}` breaks the file wherever it stands.
 */
function templateProblems(file: DynamicFile): ConfigProblem[] {
	const problems: ConfigProblem[] = [];
	const commentLines: number[] = [];
	const re = /\{\{/g;
	let match: RegExpExecArray | null;
	while ((match = re.exec(file.text))) {
		const lineStart = file.text.lastIndexOf('\n', match.index - 1) + 1;
		const lineEnd = file.text.indexOf('\n', match.index);
		const rest = file.text.slice(match.index + 2, lineEnd === -1 ? undefined : lineEnd);
		const line = lineAt(file.text, match.index);
		if (!rest.includes('}}')) {
			problems.push({
				file: file.name,
				path: '',
				line,
				status: 'critical',
				fatal: true,
				message: `line ${line}: "{{" with no "}}": Traefik runs every dynamic file through Go templating (comments too), so this file fails and the whole update is dropped; write {{ "{{" }} for a literal`,
			});
		} else if (inComment(file.text.slice(lineStart, match.index))) {
			if (!commentLines.includes(line)) commentLines.push(line);
		} else {
			problems.push({
				file: file.name,
				path: '',
				line,
				status: 'warning',
				message: `line ${line}: a Go template action ({{ … }}): Traefik renders it before reading the YAML; if it is meant literally, write {{ "{{" }}`,
			});
		}
		re.lastIndex = match.index + 2;
	}
	if (commentLines.length > 0) {
		problems.push({
			file: file.name,
			path: '',
			line: commentLines[0],
			status: 'warning',
			message: `Go template actions in comments (line${commentLines.length === 1 ? '' : 's'} ${commentLines.join(', ')}): Traefik renders comments too; harmless while they are valid template syntax, but one naming an unknown function makes the whole file fail`,
		});
	}
	return problems;
}

/** The 1-based line of the key at the end of `keys` (or of the value, for a list entry). */
function lineOfKeys(
	doc: ReturnType<ReturnType<typeof loadYaml>['parseDocument']>,
	text: string,
	keys: Array<string | number>,
): number | undefined {
	const yaml = loadYaml();
	let node: unknown = doc.contents;
	let line: number | undefined;
	for (const key of keys) {
		if (yaml.isMap(node)) {
			const pair = node.items.find(
				(p) => (yaml.isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(key),
			);
			if (!pair) break;
			const range = yaml.isNode(pair.key) ? pair.key.range : undefined;
			if (range) line = lineAt(text, range[0]);
			node = pair.value;
		} else if (yaml.isSeq(node) && typeof key === 'number') {
			const item = node.items[key];
			if (yaml.isNode(item) && item.range) line = lineAt(text, item.range[0]);
			node = item;
		} else break;
	}
	return line;
}

export function parseDynamicFile(file: DynamicFile): ParsedFile {
	const problems: ConfigProblem[] = templateProblems(file);
	if (/\.toml$/i.test(file.name)) {
		problems.push({
			file: file.name,
			path: '',
			status: 'warning',
			message: 'TOML files are not checked (only YAML); their names are not cross-checked either',
		});
		return { name: file.name, problems };
	}
	if (!CONFIG_EXTENSIONS.test(file.name)) {
		problems.push({
			file: file.name,
			path: '',
			status: 'warning',
			message: 'Traefik ignores this file: only .yml, .yaml and .toml files of the folder are read',
		});
	}
	const doc = loadYaml().parseDocument(file.text, { prettyErrors: false, uniqueKeys: true });
	if (doc.errors.length > 0) {
		for (const error of doc.errors.slice(0, 5)) {
			const line =
				error.linePos?.[0]?.line ?? (error.pos ? lineAt(file.text, error.pos[0]) : undefined);
			problems.push({
				file: file.name,
				path: '',
				line,
				status: 'critical',
				fatal: true,
				message: `not valid YAML${line ? ` (line ${line})` : ''}: ${error.message.split('\n')[0]}; Traefik drops the whole update while this file is broken`,
			});
		}
		return { name: file.name, problems };
	}
	const config = doc.toJS({ maxAliasCount: 100 }) as unknown;
	for (const p of checkStructure(config)) {
		const line = lineOfKeys(doc, file.text, p.keys);
		const message = `${line ? `line ${line}: ` : ''}${p.path || 'the file'} ${p.message}`;
		if (p.severity === 'warning')
			problems.push({ file: file.name, path: p.path, line, status: 'warning', message });
		else
			problems.push({
				file: file.name,
				path: p.path,
				line,
				status: 'critical',
				fatal: true,
				message,
			});
	}
	if (
		config !== null &&
		config !== undefined &&
		(typeof config !== 'object' || Array.isArray(config))
	)
		return { name: file.name, problems };
	return { name: file.name, config: (config ?? {}) as DynamicConfig, problems };
}

type Section = 'routers' | 'services' | 'middlewares';

interface Definition {
	file: string;
	protocol: 'http' | 'tcp' | 'udp';
	section: Section;
	name: string;
	value: Record<string, unknown>;
}

/** A field read the way Traefik matches it: case-insensitively (see optionFor in schema.ts). */
function field(value: unknown, name: string): unknown {
	if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
	const record = value as Record<string, unknown>;
	if (name in record) return record[name];
	const key = Object.keys(record).find((k) => k.toLowerCase() === name.toLowerCase());
	return key === undefined ? undefined : record[key];
}

/** A list option as Traefik reads it: a string is split on commas (see the array case in schema.ts). */
function listField(value: unknown, name: string): unknown[] {
	const v = field(value, name);
	if (Array.isArray(v)) return v;
	return typeof v === 'string' ? v.split(',').map((s) => s.trim()) : [];
}

/**
 * Traefik's file provider reads a folder with os.ReadDir (sorted by name, a subfolder's files where
 * the subfolder sorts) and keeps the first definition of a name; this is that order.
 */
function traefikOrder(a: string, b: string): number {
	const as = a.split('/');
	const bs = b.split('/');
	for (let i = 0; i < Math.min(as.length, bs.length); i++) {
		if (as[i] !== bs[i]) return Buffer.compare(Buffer.from(as[i]), Buffer.from(bs[i]));
	}
	return as.length - bs.length;
}

function definitions(parsed: ParsedFile[]): Definition[] {
	const out: Definition[] = [];
	for (const p of [...parsed].sort((a, b) => traefikOrder(a.name, b.name))) {
		if (!p.config) continue;
		for (const protocol of ['http', 'tcp', 'udp'] as const) {
			const block = field(p.config, protocol);
			if (!block || typeof block !== 'object') continue;
			for (const section of ['routers', 'services', 'middlewares'] as const) {
				const entries = field(block, section);
				if (!entries || typeof entries !== 'object' || Array.isArray(entries)) continue;
				for (const [name, value] of Object.entries(entries as Record<string, unknown>)) {
					out.push({
						file: p.name,
						protocol,
						section,
						name,
						value: (value ?? {}) as Record<string, unknown>,
					});
				}
			}
		}
	}
	return out;
}

/** Resolves a reference from a file-provider router: `x`, `x@file` are ours; `x@internal` is Traefik's; other providers are not ours to check. */
function reference(name: string): { local?: string; provider?: string } {
	const at = name.lastIndexOf('@');
	if (at < 0) return { local: name };
	const provider = name.slice(at + 1);
	return provider === 'file' ? { local: name.slice(0, at) } : { provider };
}

function crossFileProblems(parsed: ParsedFile[], options: ValidateOptions): ConfigProblem[] {
	const problems: ConfigProblem[] = [];
	const defs = definitions(parsed);
	const byKey = new Map<string, Definition[]>();
	for (const d of defs) {
		const key = `${d.protocol}.${d.section}.${d.name}`;
		byKey.set(key, [...(byKey.get(key) ?? []), d]);
	}
	for (const [key, list] of byKey) {
		const files = [...new Set(list.map((d) => d.file))];
		if (files.length > 1) {
			for (const d of list.slice(1)) {
				problems.push({
					file: d.file,
					path: key,
					status: 'critical',
					message: `${key} is also defined in ${list[0].file}, which Traefik reads first (files in name order): it keeps that one and skips this one (logged only)`,
				});
			}
		}
	}
	const has = (protocol: string, section: Section, name: string) =>
		byKey.has(`${protocol}.${section}.${name}`);
	const proxyHint =
		options.behindProxy === true ||
		defs.some((d) => {
			const json = JSON.stringify(d.value);
			return /"depth":\s*[1-9]|CF-Connecting-IP|X-Real-Ip|"excludedIPs"/i.test(json);
		});

	for (const d of defs) {
		const where = `${d.protocol}.${d.section}.${d.name}`;
		if (d.section === 'routers') {
			const service = field(d.value, 'service');
			if (typeof service === 'string') {
				const ref = reference(service);
				if (ref.local !== undefined && !has(d.protocol, 'services', ref.local)) {
					problems.push({
						file: d.file,
						path: `${where}.service`,
						status: 'critical',
						message: `router ${d.name} uses service "${service}", which no file of the folder defines: Traefik disables the router`,
					});
				}
			}
			for (const m of listField(d.value, 'middlewares')) {
				if (typeof m !== 'string') continue;
				const ref = reference(m);
				if (ref.local !== undefined && !has(d.protocol, 'middlewares', ref.local)) {
					problems.push({
						file: d.file,
						path: `${where}.middlewares`,
						status: 'critical',
						message: `router ${d.name} uses middleware "${m}", which no file of the folder defines: Traefik disables the router (add @docker if it comes from labels)`,
					});
				}
			}
		}
		if (d.section === 'middlewares' && d.protocol === 'http') {
			for (const m of listField(field(d.value, 'chain'), 'middlewares')) {
				if (typeof m !== 'string') continue;
				const ref = reference(m);
				if (ref.local !== undefined && !has('http', 'middlewares', ref.local)) {
					problems.push({
						file: d.file,
						path: `${where}.chain.middlewares`,
						status: 'critical',
						message: `chain ${d.name} names "${m}", which no file of the folder defines`,
					});
				}
			}
			const rateLimit = field(d.value, 'rateLimit');
			const average = field(rateLimit, 'average');
			if (rateLimit && !field(rateLimit, 'sourceCriterion') && proxyHint) {
				problems.push({
					file: d.file,
					path: `${where}.rateLimit`,
					status: 'warning',
					message: `rate limit ${d.name} has no sourceCriterion while Traefik sits behind a proxy: it keys on the proxy's address, so all clients share one bucket; set ipStrategy.depth (or requestHeaderName: CF-Connecting-IP behind Cloudflare)`,
				});
			}
			if (rateLimit && (average === 0 || average === '0')) {
				problems.push({
					file: d.file,
					path: `${where}.rateLimit.average`,
					status: 'warning',
					message: `rate limit ${d.name} has average 0, which means no limit at all`,
				});
			}
			const headers = field(d.value, 'headers');
			for (const option of V3_REMOVED_HEADER_OPTIONS) {
				if (headers && field(headers, option) !== undefined) {
					problems.push({
						file: d.file,
						path: `${where}.headers.${option}`,
						status: 'critical',
						fatal: true,
						message: `headers.${option} does not exist in Traefik v3: the file fails to load ("field not found"); use a redirectScheme middleware or permissionsPolicy instead`,
					});
				}
			}
			if (field(d.value, 'ipWhiteList') !== undefined) {
				problems.push({
					file: d.file,
					path: `${where}.ipWhiteList`,
					status: 'warning',
					message: 'ipWhiteList is deprecated in Traefik v3: rename it to ipAllowList',
				});
			}
		}
	}
	return problems;
}

export interface ValidationReport {
	files: string[];
	problems: ConfigProblem[];
	/** Worst status per file (ok when it has no problem). */
	statusByFile: Record<string, ProblemStatus>;
	routers: number;
	services: number;
	middlewares: number;
}

const RANK: Record<ProblemStatus, number> = { ok: 0, warning: 1, critical: 2 };

/** Validates the folder's files together; problems of files outside `only` are left out. */
export function validateFiles(
	files: DynamicFile[],
	options: ValidateOptions = {},
): ValidationReport {
	const parsed = files.map(parseDynamicFile);
	const problems = [...parsed.flatMap((p) => p.problems), ...crossFileProblems(parsed, options)];
	const focus = options.only ? new Set(options.only) : undefined;
	const reported = focus ? problems.filter((p) => focus.has(p.file)) : problems;
	const statusByFile: Record<string, ProblemStatus> = {};
	for (const f of files) if (!focus || focus.has(f.name)) statusByFile[f.name] = 'ok';
	for (const p of reported)
		if (RANK[p.status] > RANK[statusByFile[p.file] ?? 'ok']) statusByFile[p.file] = p.status;
	const defs = definitions(parsed.filter((p) => !focus || focus.has(p.name)));
	return {
		files: Object.keys(statusByFile),
		problems: reported,
		statusByFile,
		routers: defs.filter((d) => d.section === 'routers').length,
		services: defs.filter((d) => d.section === 'services').length,
		middlewares: defs.filter((d) => d.section === 'middlewares').length,
	};
}

/** The file's http routers and middlewares, as Traefik's API will name them (`<name>@file`), with options read as Traefik reads them (any case, lists given as comma-separated strings). */
export function loadedNames(text: string): {
	routers: Record<string, { rule?: string; middlewares: string[]; service?: string }>;
	middlewares: Record<string, Record<string, unknown>>;
} {
	const config = (loadYaml().parseDocument(text).toJS() ?? {}) as unknown;
	const http = field(config, 'http');
	const routers: Record<string, { rule?: string; middlewares: string[]; service?: string }> = {};
	for (const [name, r] of Object.entries(
		(field(http, 'routers') ?? {}) as Record<string, unknown>,
	)) {
		if (!r) continue;
		const rule = field(r, 'rule');
		const service = field(r, 'service');
		routers[name] = {
			rule: rule === undefined ? undefined : String(rule as string),
			middlewares: listField(r, 'middlewares').map((m) => String(m as string)),
			service: service === undefined ? undefined : String(service as string),
		};
	}
	const middlewares: Record<string, Record<string, unknown>> = {};
	for (const [name, m] of Object.entries(
		(field(http, 'middlewares') ?? {}) as Record<string, unknown>,
	)) {
		if (!m || typeof m !== 'object') continue;
		const canonical: Record<string, unknown> = {};
		for (const [key, value] of Object.entries(m as Record<string, unknown>)) {
			const type = MIDDLEWARE_TYPES.find((t) => t.toLowerCase() === key.toLowerCase()) ?? key;
			canonical[type] =
				type === 'rateLimit' && value && typeof value === 'object'
					? { ...value, average: field(value, 'average'), burst: field(value, 'burst') }
					: value;
		}
		middlewares[name] = canonical;
	}
	return { routers, middlewares };
}
