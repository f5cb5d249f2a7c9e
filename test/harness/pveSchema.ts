/**
 * The published Proxmox VE API schema (pve-docs' api-viewer/apidata.js), read at test time from
 * ../shared/reference/proxmox/apidata.js, and a validator for parameters and return values that
 * follows PVE::JSONSchema: types, formats (incl. property strings such as net[n], rootfs, features),
 * enums, patterns, ranges, required keys and additionalProperties.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';

import { referencePath } from '../support/reference';

export const PVE_APIDATA = referencePath('proxmox', 'apidata.js');

export interface SchemaProperty {
	type?: string | string[];
	format?: string | Record<string, SchemaProperty>;
	optional?: number | boolean;
	enum?: string[];
	pattern?: string;
	minimum?: number;
	maximum?: number;
	minLength?: number;
	maxLength?: number;
	default_key?: number;
	alias?: string;
	properties?: Record<string, SchemaProperty>;
	additionalProperties?: number | boolean | SchemaProperty;
	items?: SchemaProperty;
	[other: string]: unknown;
}

export interface ApiMethod {
	method: string;
	name: string;
	parameters?: SchemaProperty;
	returns?: SchemaProperty;
	protected?: number;
}

interface ApiNode {
	path: string;
	text: string;
	info?: Record<string, ApiMethod>;
	children?: ApiNode[];
}

export class PveSchema {
	private constructor(private readonly tree: ApiNode[]) {}

	static load(file = PVE_APIDATA): PveSchema {
		const text = fs.readFileSync(file, 'utf8');
		const json = text.slice(text.indexOf('[')).replace(/;\s*$/, '');
		return new PveSchema(JSON.parse(json) as ApiNode[]);
	}

	/** The endpoint for a concrete path (e.g. /nodes/pve/lxc/101/config) and its path parameters. */
	resolve(
		apiPath: string,
		method: string,
	): { method?: ApiMethod; template?: string; pathParams: Record<string, string> } {
		const segments = apiPath
			.split('/')
			.filter(Boolean)
			.map((s) => decodeURIComponent(s));
		let list = this.tree;
		let node: ApiNode | undefined;
		const pathParams: Record<string, string> = {};
		for (const seg of segments) {
			node = list.find((n) => n.text === seg) ?? list.find((n) => /^\{.+\}$/.test(n.text));
			if (!node) return { pathParams };
			if (/^\{.+\}$/.test(node.text) && node.text !== seg) pathParams[node.text.slice(1, -1)] = seg;
			list = node.children ?? [];
		}
		return { method: node?.info?.[method], template: node?.path, pathParams };
	}
}

// --- formats (PVE::JSONSchema register_format, the ones the LXC endpoints use) ---------------------

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const DNS_LABEL = '(?:[a-zA-Z0-9](?:[a-zA-Z0-9\\-]*[a-zA-Z0-9])?)';
const DNS_NAME = new RegExp(`^(?:${DNS_LABEL}\\.)*${DNS_LABEL}$`);
const CONFIGID = /^[a-z][a-z0-9_-]+$/i;

const formatChecks: Record<string, (value: string) => boolean> = {
	'pve-node': (v) => DNS_NAME.test(v) && !v.includes('.'),
	'pve-vmid': (v) => /^[1-9]\d{2,8}$/.test(v),
	'pve-configid': (v) => CONFIGID.test(v),
	'pve-configid-list': (v) =>
		v
			.split(/[,;\s]+/)
			.filter(Boolean)
			.every((id) => CONFIGID.test(id)),
	'pve-storage-id': (v) => /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i.test(v),
	'pve-poolid': (v) => /^[A-Za-z0-9_\-/]+$/.test(v),
	'dns-name': (v) => DNS_NAME.test(v),
	'dns-name-list': (v) =>
		v
			.split(/[,;\s]+/)
			.filter(Boolean)
			.every((n) => DNS_NAME.test(n)),
	'pve-tag-list': (v) =>
		v
			.split(/[;, ]+/)
			.filter(Boolean)
			.every((t) => /^[a-z0-9_][a-z0-9_\-+.]*$/i.test(t)),
	ipv4: (v) => IPV4.test(v),
	ipv6: (v) => net.isIPv6(v),
	'mac-addr': (v) => /^[a-f0-9][02468ace](?::[a-f0-9]{2}){5}$/i.test(v),
	'pve-ipv4-config': (v) =>
		v === 'dhcp' ||
		v === 'manual' ||
		(/^[\d.]+\/(\d|[12]\d|3[0-2])$/.test(v) && IPV4.test(v.split('/')[0])),
	'pve-ipv6-config': (v) =>
		['auto', 'dhcp', 'manual'].includes(v) || (/\/\d{1,3}$/.test(v) && net.isIPv6(v.split('/')[0])),
	'disk-size': (v) => /^\d+(\.\d+)?[KMGT]?$/.test(v),
	'pve-lxc-mp-string': (v) => v.length > 0 && !/[,=]/.test(v),
	'pve-volume-id': (v) => /^[a-z][a-z0-9\-_.]*[a-z0-9]:.+$/i.test(v),
	'pve-startup-order': (v) => /^(order=\d+)?(,?(up|down)=\d+)*$/.test(v),
	'pve-ct-timezone': (v) => v === 'host' || /^[A-Za-z0-9_+\-/]+$/.test(v),
	'lxc-ip-with-ll-iface-list': (v) =>
		v
			.split(/[,;\s]+/)
			.filter(Boolean)
			.every((ip) => IPV4.test(ip) || net.isIPv6(ip.split('%')[0])),
	'pve-userid': (v) => /^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+$/.test(v),
	// PVE::LXC::Config verify_lxc_dev_string: an absolute path under /dev, without . or .. components
	'pve-lxc-dev-string': (v) => v.startsWith('/dev/') && !/\/\.\.?(\/|$)/.test(v),
	'pve-storage-content-list': (v) =>
		v
			.split(/[,;\s]+/)
			.filter(Boolean)
			.every((c) =>
				['images', 'rootdir', 'vztmpl', 'iso', 'backup', 'snippets', 'import'].includes(c),
			),
};

/** Perl's `(?^:…)` (default flags) has no JavaScript spelling; PVE anchors every pattern. */
function perlPattern(pattern: string): RegExp {
	return new RegExp(`^(?:${pattern.replace(/\(\?\^:/g, '(?:')})$`);
}

function isOptional(p: SchemaProperty): boolean {
	return p.optional === 1 || p.optional === true;
}

/** Finds the schema for a key, also for array-like keys such as net0 → `net[n]`. */
export function propertyFor(
	properties: Record<string, SchemaProperty>,
	key: string,
): SchemaProperty | undefined {
	if (properties[key]) return properties[key];
	const m = /^([a-z]+)(\d+)$/.exec(key);
	return m ? properties[`${m[1]}[n]`] : undefined;
}

export function parsePropertyString(
	value: string,
	format: Record<string, SchemaProperty>,
): Record<string, string> | string {
	const defaultKey = Object.entries(format).find(([, p]) => p.default_key)?.[0];
	const out: Record<string, string> = {};
	for (const part of value.split(',')) {
		if (part === '') continue;
		const eq = part.indexOf('=');
		let key: string;
		let val: string;
		if (eq < 0) {
			if (!defaultKey) return `"${part}" has no key and this format has no default key`;
			key = defaultKey;
			val = part;
		} else {
			key = part.slice(0, eq);
			val = part.slice(eq + 1);
		}
		if (!format[key]) return `unknown key "${key}"`;
		if (format[key].alias) key = format[key].alias as string;
		if (key in out) return `duplicate key "${key}"`;
		out[key] = val;
	}
	return out;
}

/** PVE::JSONSchema::check_prop for one (string-encoded or JSON) value; returns problems. */
export function checkValue(
	value: unknown,
	schema: SchemaProperty,
	where: string,
	mode: 'param' | 'return',
): string[] {
	const problems: string[] = [];
	const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
	if (value === null || value === undefined) {
		if (type === 'null') return problems;
		return [`${where}: missing value`];
	}
	switch (type) {
		case 'null':
			return [`${where}: must be null, got ${JSON.stringify(value)}`];
		case 'boolean': {
			const ok =
				mode === 'param'
					? /^(1|0|true|false|yes|no|on|off)$/i.test(String(value))
					: value === 0 || value === 1 || typeof value === 'boolean';
			if (!ok) problems.push(`${where}: type check ('boolean') failed - got '${String(value)}'`);
			return problems;
		}
		case 'integer':
		case 'number': {
			const text = String(value);
			const re = type === 'integer' ? /^-?\d+$/ : /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
			if (mode === 'return' && typeof value !== 'number')
				problems.push(`${where}: must be a JSON number, got ${JSON.stringify(value)}`);
			else if (!re.test(text)) return [`${where}: type check ('${type}') failed - got '${text}'`];
			const n = Number(text);
			if (schema.minimum !== undefined && n < schema.minimum)
				problems.push(`${where}: value must have a minimum value of ${schema.minimum}`);
			if (schema.maximum !== undefined && n > schema.maximum)
				problems.push(`${where}: value may not exceed ${schema.maximum}`);
			if (schema.enum && !schema.enum.map(String).includes(text))
				problems.push(
					`${where}: value '${text}' does not have a value in the enumeration '${schema.enum.join(', ')}'`,
				);
			return problems;
		}
		case 'array': {
			if (!Array.isArray(value)) return [`${where}: must be an array`];
			if (schema.items)
				value.forEach((v, i) =>
					problems.push(...checkValue(v, schema.items!, `${where}[${i}]`, mode)),
				);
			return problems;
		}
		case 'object':
			if (typeof value !== 'object' || Array.isArray(value)) return [`${where}: must be an object`];
			return checkObject(value as Record<string, unknown>, schema, where, mode);
		case 'string':
		case undefined: {
			if (typeof value === 'object')
				return type === undefined ? problems : [`${where}: must be a string`];
			if (mode === 'return' && type === 'string' && typeof value !== 'string')
				return [`${where}: must be a JSON string, got ${JSON.stringify(value)}`];
			const text = String(value);
			if (schema.minLength !== undefined && text.length < schema.minLength)
				problems.push(`${where}: value must be at least ${schema.minLength} characters long`);
			if (schema.maxLength !== undefined && text.length > schema.maxLength)
				problems.push(`${where}: value may only be ${schema.maxLength} characters long`);
			if (schema.enum && !schema.enum.includes(text))
				problems.push(
					`${where}: value '${text}' does not have a value in the enumeration '${schema.enum.join(', ')}'`,
				);
			if (schema.pattern && !perlPattern(schema.pattern).test(text))
				problems.push(`${where}: value does not match the regex pattern`);
			if (typeof schema.format === 'string') {
				const check = formatChecks[schema.format];
				// a format this validator cannot check must not pass unchecked: the simulator would then
				// accept what PVE refuses
				if (!check)
					problems.push(
						`${where}: format '${schema.format}' is not known to the simulator's validator (add it to formatChecks in test/harness/pveSchema.ts)`,
					);
				else if (!check(text))
					problems.push(`${where}: value '${text}' does not match format '${schema.format}'`);
			} else if (schema.format && typeof schema.format === 'object') {
				const parsed = parsePropertyString(text, schema.format);
				if (typeof parsed === 'string') return [`${where}: invalid format - ${parsed}`];
				for (const [key, sub] of Object.entries(schema.format)) {
					if (sub.alias) continue;
					if (parsed[key] === undefined) {
						if (!isOptional(sub))
							problems.push(`${where}: invalid format - property ${key} is missing`);
						continue;
					}
					problems.push(...checkValue(parsed[key], sub, `${where}.${key}`, 'param'));
				}
			}
			return problems;
		}
		default:
			return problems;
	}
}

export function checkObject(
	obj: Record<string, unknown>,
	schema: SchemaProperty,
	where: string,
	mode: 'param' | 'return',
): string[] {
	const problems: string[] = [];
	// an object without declared properties (e.g. status/current's `ha`) is free-form
	if (!schema.properties) return problems;
	const properties = schema.properties;
	for (const [key, value] of Object.entries(obj)) {
		const prop = propertyFor(properties, key);
		if (!prop) {
			// parameters: PVE rejects unknown names (additionalProperties 0); returns: this simulator
			// is strict with itself unless the schema allows more
			const allowed =
				mode === 'param'
					? schema.additionalProperties !== 0 &&
						schema.additionalProperties !== false &&
						schema.additionalProperties !== undefined
					: Boolean(schema.additionalProperties);
			if (!allowed)
				problems.push(
					`${where ? where + '.' : ''}${key}: property is not defined in schema and the schema does not allow additional properties`,
				);
			continue;
		}
		problems.push(...checkValue(value, prop, `${where ? where + '.' : ''}${key}`, mode));
	}
	for (const [key, prop] of Object.entries(properties)) {
		if (key.includes('[n]') || isOptional(prop)) continue;
		if (obj[key] === undefined)
			problems.push(
				`${where ? where + '.' : ''}${key}: property is missing and it is not optional`,
			);
	}
	return problems;
}
