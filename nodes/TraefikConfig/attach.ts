/** Adds middlewares to routers of a hand-written dynamic file through yaml's Document API, so the
 * operator's comments, key order and quoting survive; running it twice changes nothing. */
import type * as Yaml from 'yaml';
import type { Document, YAMLMap } from 'yaml';

import { loadYaml } from '../shared/lazy';

// yaml loads on first use (n8n requires every node file when it starts); the guards keep their types
const isMap = ((node: unknown) => loadYaml().isMap(node)) as typeof Yaml.isMap;
const isScalar = ((node: unknown) => loadYaml().isScalar(node)) as typeof Yaml.isScalar;
const isSeq = ((node: unknown) => loadYaml().isSeq(node)) as typeof Yaml.isSeq;
const parseDocument = ((...args: Parameters<typeof Yaml.parseDocument>) =>
	loadYaml().parseDocument(...args)) as typeof Yaml.parseDocument;

import { InfraOpsError } from '../shared/errors';

export type RouterSelector =
	| { by: 'name'; names: string[] }
	/** A regular expression (or plain text) matched against each router's rule. */
	| { by: 'rule'; pattern: string }
	| { by: 'all' };

export interface AttachOptions {
	middlewares: string[];
	routers: RouterSelector;
	position: 'first' | 'last';
}

export interface RouterChange {
	router: string;
	added: string[];
	alreadyPresent: string[];
	middlewares: string[];
}

export interface AttachResult {
	text: string;
	changed: boolean;
	routers: RouterChange[];
	/** Names asked for that are not routers of this file (e.g. a `@docker` router, set in labels). */
	notFound: string[];
}

/** `a@file` and `a` name the same middleware from a file-provider router. */
function sameReference(a: string, b: string): boolean {
	const strip = (s: string) => s.replace(/@file$/, '');
	return strip(a) === strip(b);
}

function ruleMatcher(pattern: string): (rule: string) => boolean {
	try {
		const re = new RegExp(pattern);
		return (rule) => re.test(rule);
	} catch {
		return (rule) => rule.includes(pattern);
	}
}

/** The indentation style of the original, so the re-rendered parts look like the rest of it. */
function styleOf(text: string): { indent: number; indentSeq: boolean } {
	const indent = /^( +)\S/m.exec(text)?.[1].length ?? 2;
	const indentSeq = !/^( *)[^\s#-][^\n]*:\s*(#[^\n]*)?\n\1- /m.test(text);
	return { indent: Math.min(Math.max(indent, 1), 8), indentSeq };
}

export function parseYamlDocument(text: string, source: string): Document {
	const doc = parseDocument(text, { keepSourceTokens: true, prettyErrors: true });
	if (doc.errors.length > 0) {
		const first = doc.errors[0];
		throw new InfraOpsError(
			`${source} is not valid YAML: ${first.message.split('\n')[0]}`,
			'Fix the YAML first (Traefik would drop the whole update for this file too); nothing was changed',
		);
	}
	return doc;
}

export function attachMiddlewares(
	text: string,
	options: AttachOptions,
	source = 'the file',
): AttachResult {
	const wanted = options.middlewares.map((m) => m.trim()).filter(Boolean);
	if (wanted.length === 0)
		throw new InfraOpsError(
			'No middleware names are given',
			'E.g. general-ratelimit, secure-headers (add @docker for one defined in labels)',
		);
	const doc = parseYamlDocument(text, source);
	const routersNode = doc.getIn(['http', 'routers'], true);
	if (!isMap(routersNode)) {
		throw new InfraOpsError(
			`${source} has no http.routers`,
			'Choose the dynamic file that defines the routers (e.g. routers.yml)',
		);
	}
	const routersMap = routersNode as YAMLMap;
	const names = routersMap.items.map((pair) =>
		String(isScalar(pair.key) ? pair.key.value : pair.key),
	);
	let selected: string[];
	const notFound: string[] = [];
	if (options.routers.by === 'name') {
		selected = [];
		for (const raw of options.routers.names.map((n) => n.trim()).filter(Boolean)) {
			const bare = raw.replace(/@file$/, '');
			if (names.includes(bare)) selected.push(bare);
			else notFound.push(raw);
		}
	} else if (options.routers.by === 'rule') {
		const matches = ruleMatcher(options.routers.pattern);
		selected = names.filter((name) => {
			const rule = doc.getIn(['http', 'routers', name, 'rule']);
			return typeof rule === 'string' && matches(rule);
		});
	} else selected = names;

	const changes: RouterChange[] = [];
	const edits: TextEdit[] = [];
	let patchable = true;
	const style = styleOf(text);
	for (const name of selected) {
		const router = routersMap.get(name, true);
		if (!isMap(router)) continue;
		const originalSeq = router.get('middlewares', true);
		const edit = planEdit(text, router, originalSeq, wanted, options.position, style);
		if (edit === undefined) patchable = false;
		else if (edit) edits.push(edit);
		let seq: unknown = originalSeq;
		if (seq === undefined || seq === null || (isScalar(seq) && seq.value === null)) {
			seq = new (loadYaml().YAMLSeq)();
			router.set('middlewares', seq);
		}
		if (!isSeq(seq)) {
			throw new InfraOpsError(
				`${source}: http.routers.${name}.middlewares is not a list`,
				'Make it a YAML list of middleware names',
			);
		}
		const current = seq.items.map((item) => String(isScalar(item) ? item.value : item));
		const added: string[] = [];
		const alreadyPresent: string[] = [];
		const toAdd = wanted.filter((m) => {
			if (current.some((c) => sameReference(c, m))) {
				alreadyPresent.push(m);
				return false;
			}
			return true;
		});
		if (options.position === 'first') {
			for (const m of [...toAdd].reverse()) seq.items.unshift(doc.createNode(m));
		} else for (const m of toAdd) seq.items.push(doc.createNode(m));
		added.push(...toAdd);
		changes.push({
			router: name,
			added,
			alreadyPresent,
			middlewares: seq.items.map((item) => String(isScalar(item) ? item.value : item)),
		});
	}
	const changed = changes.some((c) => c.added.length > 0);
	if (!changed) return { text, changed, routers: changes, notFound };
	const patched = patchable ? applyEdits(text, edits) : undefined;
	const rendered =
		patched !== undefined && sameMiddlewares(patched, changes)
			? patched
			: doc.toString({ lineWidth: 0, indent: style.indent, indentSeq: style.indentSeq });
	return { text: rendered, changed, routers: changes, notFound };
}

interface TextEdit {
	at: number;
	remove: number;
	insert: string;
}

const scalarText = (name: string) =>
	/^[A-Za-z0-9._@-]+$/.test(name) ? name : JSON.stringify(name);
const lineStart = (text: string, offset: number) => text.lastIndexOf('\n', offset - 1) + 1;

/**
 * The smallest text change that adds the middlewares to one router, so everything else in the file
 * stays byte-identical: a line per name in a block list, a rewritten flow list, or a new key.
 * `null`: nothing to add; `undefined`: a shape this cannot patch (the whole document is rendered).
 */
function planEdit(
	text: string,
	router: YAMLMap,
	seq: unknown,
	wanted: string[],
	position: 'first' | 'last',
	style: { indent: number; indentSeq: boolean },
): TextEdit | null | undefined {
	const current = isSeq(seq)
		? seq.items.map((item) => String(isScalar(item) ? item.value : item))
		: [];
	const toAdd = wanted.filter((m) => !current.some((c) => sameReference(c, m)));
	if (toAdd.length === 0) return null;
	if (isSeq(seq) && seq.range) {
		const [start, end] = seq.range;
		if (seq.flow) {
			const original = text.slice(start, end);
			const pad = /^\[\s/.test(original) ? ' ' : '';
			const items = position === 'first' ? [...toAdd, ...current] : [...current, ...toAdd];
			return {
				at: start,
				remove: end - start,
				insert: `[${pad}${items.map(scalarText).join(', ')}${pad}]`,
			};
		}
		if (seq.items.length === 0) return undefined;
		const first = lineStart(text, start);
		const indent = text.slice(first, start);
		if (!/^ *$/.test(indent)) return undefined;
		const lines = toAdd.map((m) => `${indent}- ${scalarText(m)}\n`).join('');
		if (position === 'first') return { at: first, remove: 0, insert: lines };
		return { at: end, remove: 0, insert: text[end - 1] === '\n' ? lines : `\n${lines}` };
	}
	if (seq !== undefined && seq !== null) return undefined;
	if (router.flow || !router.range) return undefined;
	const keyStart = router.range[0];
	const indent = text.slice(lineStart(text, keyStart), keyStart);
	if (!/^ *$/.test(indent)) return undefined;
	// after the router's last value, before any blank line or comment that follows it
	let at = router.range[1];
	while (at > keyStart && /\s/.test(text[at - 1])) at--;
	const lineEnd = text.indexOf('\n', at);
	at = lineEnd === -1 ? text.length : lineEnd + 1;
	const itemIndent = style.indentSeq ? `${indent}${' '.repeat(style.indent)}` : indent;
	const block = `${indent}middlewares:\n${toAdd.map((m) => `${itemIndent}- ${scalarText(m)}\n`).join('')}`;
	return { at, remove: 0, insert: lineEnd === -1 ? `\n${block}` : block };
}

function applyEdits(text: string, edits: TextEdit[]): string {
	let out = text;
	for (const e of [...edits].sort((a, b) => b.at - a.at))
		out = out.slice(0, e.at) + e.insert + out.slice(e.at + e.remove);
	return out;
}

/** The patched text must mean exactly what the edited document means. */
function sameMiddlewares(patched: string, changes: RouterChange[]): boolean {
	const doc = parseDocument(patched);
	if (doc.errors.length > 0) return false;
	return changes.every(
		(c) =>
			JSON.stringify(doc.getIn(['http', 'routers', c.router, 'middlewares']) ?? []) ===
			JSON.stringify(doc.createNode(c.middlewares).toJSON()),
	);
}
