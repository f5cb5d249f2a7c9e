/**
 * Checks dynamic files the way Traefik's file provider would take them, plus the mistakes it does
 * not report loudly: one unparsable file makes Traefik drop the whole update (the old config stays
 * live), every file goes through Go templating first (a stray `{{` breaks it), a router naming a
 * missing service or middleware is disabled, a name defined in two files is skipped, and a rate
 * limit keyed on the remote address behind a proxy puts every client into one bucket.
 */

import { loadYaml } from '../shared/lazy';

import { checkStructure, type DynamicConfig } from './schema';
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

function templateProblems(file: DynamicFile): ConfigProblem[] {
	const problems: ConfigProblem[] = [];
	const re = /\{\{/g;
	let match: RegExpExecArray | null;
	while ((match = re.exec(file.text))) {
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
		} else {
			problems.push({
				file: file.name,
				path: '',
				line,
				status: 'warning',
				message: `line ${line}: a Go template action ({{ … }}): Traefik renders it before reading the YAML (comments too); if it is meant literally, write {{ "{{" }}`,
			});
		}
		re.lastIndex = match.index + 2;
	}
	return problems;
}

export function parseDynamicFile(file: DynamicFile): ParsedFile {
	const problems: ConfigProblem[] = templateProblems(file);
	if (/\.toml$/i.test(file.name)) {
		problems.push({ file: file.name, path: '', status: 'warning', message: 'TOML files are not checked (only YAML); their names are not cross-checked either' });
		return { name: file.name, problems };
	}
	if (!CONFIG_EXTENSIONS.test(file.name)) {
		problems.push({ file: file.name, path: '', status: 'warning', message: 'Traefik ignores this file: only .yml, .yaml and .toml files of the folder are read' });
	}
	const doc = loadYaml().parseDocument(file.text, { prettyErrors: false, uniqueKeys: true });
	if (doc.errors.length > 0) {
		for (const error of doc.errors.slice(0, 5)) {
			const line = error.linePos?.[0]?.line ?? (error.pos ? lineAt(file.text, error.pos[0]) : undefined);
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
		problems.push({ file: file.name, path: p.path, status: 'critical', fatal: true, message: `${p.path || 'the file'} ${p.message}` });
	}
	if (config !== null && config !== undefined && (typeof config !== 'object' || Array.isArray(config))) return { name: file.name, problems };
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

function definitions(parsed: ParsedFile[]): Definition[] {
	const out: Definition[] = [];
	for (const p of parsed) {
		if (!p.config) continue;
		for (const protocol of ['http', 'tcp', 'udp'] as const) {
			const block = (p.config as Record<string, Record<string, Record<string, unknown>> | undefined>)[protocol];
			if (!block || typeof block !== 'object') continue;
			for (const section of ['routers', 'services', 'middlewares'] as const) {
				const entries = block[section];
				if (!entries || typeof entries !== 'object') continue;
				for (const [name, value] of Object.entries(entries)) {
					out.push({ file: p.name, protocol, section, name, value: (value ?? {}) as Record<string, unknown> });
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
					message: `${key} is also defined in ${list[0].file}: Traefik keeps one and skips the other (logged only)`,
				});
			}
		}
	}
	const has = (protocol: string, section: Section, name: string) => byKey.has(`${protocol}.${section}.${name}`);
	const proxyHint =
		options.behindProxy === true ||
		defs.some((d) => {
			const json = JSON.stringify(d.value);
			return /"depth":\s*[1-9]|CF-Connecting-IP|X-Real-Ip|"excludedIPs"/i.test(json);
		});

	for (const d of defs) {
		const where = `${d.protocol}.${d.section}.${d.name}`;
		if (d.section === 'routers') {
			const service = d.value.service;
			if (typeof service === 'string') {
				const ref = reference(service);
				if (ref.local !== undefined && !has(d.protocol, 'services', ref.local)) {
					problems.push({ file: d.file, path: `${where}.service`, status: 'critical', message: `router ${d.name} uses service "${service}", which no file of the folder defines: Traefik disables the router` });
				}
			}
			const middlewares = Array.isArray(d.value.middlewares) ? (d.value.middlewares as unknown[]) : [];
			for (const m of middlewares) {
				if (typeof m !== 'string') continue;
				const ref = reference(m);
				if (ref.local !== undefined && !has(d.protocol, 'middlewares', ref.local)) {
					problems.push({ file: d.file, path: `${where}.middlewares`, status: 'critical', message: `router ${d.name} uses middleware "${m}", which no file of the folder defines: Traefik disables the router (add @docker if it comes from labels)` });
				}
			}
		}
		if (d.section === 'middlewares' && d.protocol === 'http') {
			const chain = (d.value.chain as { middlewares?: unknown[] } | undefined)?.middlewares ?? [];
			for (const m of chain) {
				if (typeof m !== 'string') continue;
				const ref = reference(m);
				if (ref.local !== undefined && !has('http', 'middlewares', ref.local)) {
					problems.push({ file: d.file, path: `${where}.chain.middlewares`, status: 'critical', message: `chain ${d.name} names "${m}", which no file of the folder defines` });
				}
			}
			const rateLimit = d.value.rateLimit as { sourceCriterion?: unknown; average?: unknown } | undefined;
			if (rateLimit && !rateLimit.sourceCriterion && proxyHint) {
				problems.push({
					file: d.file,
					path: `${where}.rateLimit`,
					status: 'warning',
					message: `rate limit ${d.name} has no sourceCriterion while Traefik sits behind a proxy: it keys on the proxy's address, so all clients share one bucket; set ipStrategy.depth (or requestHeaderName: CF-Connecting-IP behind Cloudflare)`,
				});
			}
			if (rateLimit && (rateLimit.average === 0 || rateLimit.average === '0')) {
				problems.push({ file: d.file, path: `${where}.rateLimit.average`, status: 'warning', message: `rate limit ${d.name} has average 0, which means no limit at all` });
			}
			const headers = d.value.headers as Record<string, unknown> | undefined;
			for (const option of V3_REMOVED_HEADER_OPTIONS) {
				if (headers && option in headers) {
					problems.push({ file: d.file, path: `${where}.headers.${option}`, status: 'critical', fatal: true, message: `headers.${option} does not exist in Traefik v3: the file fails to load ("field not found"); use a redirectScheme middleware or permissionsPolicy instead` });
				}
			}
			if ('ipWhiteList' in d.value) {
				problems.push({ file: d.file, path: `${where}.ipWhiteList`, status: 'warning', message: 'ipWhiteList is deprecated in Traefik v3: rename it to ipAllowList' });
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
export function validateFiles(files: DynamicFile[], options: ValidateOptions = {}): ValidationReport {
	const parsed = files.map(parseDynamicFile);
	const problems = [...parsed.flatMap((p) => p.problems), ...crossFileProblems(parsed, options)];
	const focus = options.only ? new Set(options.only) : undefined;
	const reported = focus ? problems.filter((p) => focus.has(p.file)) : problems;
	const statusByFile: Record<string, ProblemStatus> = {};
	for (const f of files) if (!focus || focus.has(f.name)) statusByFile[f.name] = 'ok';
	for (const p of reported) if (RANK[p.status] > RANK[statusByFile[p.file] ?? 'ok']) statusByFile[p.file] = p.status;
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

/** The file's http routers and middlewares, as Traefik's API will name them (`<name>@file`). */
export function loadedNames(text: string): { routers: Record<string, { rule?: string; middlewares: string[]; service?: string }>; middlewares: Record<string, Record<string, unknown>> } {
	const config = (loadYaml().parseDocument(text).toJS() ?? {}) as DynamicConfig;
	const routers: Record<string, { rule?: string; middlewares: string[]; service?: string }> = {};
	for (const [name, r] of Object.entries(config.http?.routers ?? {})) {
		if (r) routers[name] = { rule: r.rule, middlewares: r.middlewares ?? [], service: r.service };
	}
	const middlewares: Record<string, Record<string, unknown>> = {};
	for (const [name, m] of Object.entries(config.http?.middlewares ?? {})) if (m) middlewares[name] = m as Record<string, unknown>;
	return { routers, middlewares };
}
