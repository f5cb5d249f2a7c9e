/**
 * The limits policy of Audit Limits: a YAML (or JSON) list of entries, each a container name pattern
 * and the rules containers it matches must meet. The first matching entry applies. Parse errors name
 * the line and the key.
 */
import type { Node } from 'yaml';

import { loadYaml } from '../shared/lazy';

import { InfraOpsError } from '../shared/errors';
import { globToRegExp, type ComposeIdentity, type InspectInfo } from './containers';
import { composeBytes, cpusFromNano, humanBytes, parseBytes, parseCpus } from './sizes';

export type Severity = 'warning' | 'critical';

/** A limit rule: must be set, and (with a value) at most that value. */
type LimitRule = { required: true; max?: number };

export interface PolicyEntry {
	match: string;
	line: number;
	pattern: RegExp;
	memory?: LimitRule;
	memoryReservation?: LimitRule;
	/** NanoCpus */
	cpus?: LimitRule;
	pidsLimit?: LimitRule;
	restartPolicy?: string[];
	healthcheck?: boolean;
	allowOomKillDisable: boolean;
	severity: Severity;
}

export const POLICY_KEYS = [
	'match',
	'memory',
	'memoryReservation',
	'cpus',
	'pidsLimit',
	'restartPolicy',
	'healthcheck',
	'allowOomKillDisable',
	'severity',
];

/** The least memory limit Docker accepts. */
const MIN_MEMORY = 6 * 1024 * 1024;

const RESTART_POLICIES = ['no', 'always', 'unless-stopped', 'on-failure'];

export const DEFAULT_POLICY = `# First matching entry applies. match: container name pattern (* and ?), or compose "project/service"
- match: "*"
  memory: required        # a limit must be set; or a maximum, e.g. 1g
  cpus: required          # or a maximum, e.g. 2
  pidsLimit: required     # or a maximum, e.g. 512
  restartPolicy: [unless-stopped, always, on-failure]
  healthcheck: true
  severity: warning
`;

function policyError(line: number, message: string): InfraOpsError {
	return new InfraOpsError(
		`Policy, line ${line}: ${message}`,
		`Each entry is a mapping with "match" and any of: ${POLICY_KEYS.slice(1).join(', ')}. Example:\n${DEFAULT_POLICY}`,
	);
}

export function parsePolicy(text: string): PolicyEntry[] {
	const { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } = loadYaml();
	const lineCounter = new LineCounter();
	const doc = parseDocument(text, { lineCounter, prettyErrors: false });
	const lineOf = (node: Node | null | undefined): number =>
		node?.range ? lineCounter.linePos(node.range[0]).line : 1;
	if (doc.errors.length) {
		const e = doc.errors[0];
		throw policyError(
			lineCounter.linePos(e.pos[0]).line,
			`not valid YAML or JSON: ${e.message.split('\n')[0]}`,
		);
	}
	if (!isSeq(doc.contents))
		throw policyError(
			lineOf(doc.contents as Node),
			'the policy must be a list of entries ("- match: ...")',
		);
	const entries: PolicyEntry[] = [];
	// anchors and aliases as in compose files: an alias stands for its one anchored node, and lists
	// are built with the library's alias bound, so an alias bomb is an error, not a hang
	const deref = (node: unknown): Node | null =>
		isAlias(node) ? ((node.resolve(doc) as Node | undefined) ?? null) : (node as Node | null);
	for (const entryNode of doc.contents.items) {
		const line = lineOf(entryNode as Node);
		const item = deref(entryNode);
		if (!isMap(item)) throw policyError(line, 'each entry must be a mapping with at least "match"');
		const entry: Partial<PolicyEntry> & { line: number } = {
			line,
			allowOomKillDisable: false,
			severity: 'warning',
		};
		for (const pair of item.items) {
			const keyNode = pair.key as Node;
			const key = isScalar(keyNode) ? String(keyNode.value) : '';
			const at = lineOf(keyNode);
			if (key === '<<')
				throw policyError(
					at,
					'merge keys (<<: *name) are not supported: write the keys out, or give the entries one shared match',
				);
			const valueNode = deref(pair.value);
			let value: unknown;
			try {
				value = isSeq(valueNode)
					? valueNode.toJS(doc, { maxAliasCount: 100 })
					: isScalar(valueNode)
						? valueNode.value
						: valueNode === null
							? null
							: (valueNode as { toJSON(): unknown }).toJSON();
			} catch (error) {
				throw policyError(at, `${key}: ${(error as Error).message.split('\n')[0]}`);
			}
			const limit = (parse: (v: unknown) => number): LimitRule => {
				if (value === 'required' || value === true) return { required: true };
				try {
					return { required: true, max: parse(value) };
				} catch (error) {
					throw policyError(
						at,
						`${key}: ${(error as Error).message.replace(/^[^:]*: /, '')}; or "required"`,
					);
				}
			};
			switch (key) {
				case 'match':
					if (typeof value !== 'string' || !value.trim())
						throw policyError(at, 'match must be a name pattern such as "web-*" or "*"');
					entry.match = value.trim();
					entry.pattern = globToRegExp(entry.match);
					break;
				case 'memory':
				case 'memoryReservation':
					entry[key] = limit((v) => {
						const bytes = parseBytes(v, key);
						// `memory: 512` is 512 bytes: every container would violate it and no fix could apply
						if (bytes < MIN_MEMORY)
							throw new Error(`${key}: ${String(v)} is below 6 MiB (write a unit: 512m, 1g)`);
						return bytes;
					});
					break;
				case 'cpus':
					entry.cpus = limit((v) => parseCpus(v, key));
					break;
				case 'pidsLimit':
					entry.pidsLimit = limit((v) => {
						if (!Number.isInteger(v) || (v as number) <= 0)
							throw new Error('pidsLimit: must be a positive whole number');
						return v as number;
					});
					break;
				case 'restartPolicy': {
					const list = (Array.isArray(value) ? value : [value]).map((v) => String(v));
					const bad = list.find((v) => !RESTART_POLICIES.includes(v));
					if (bad !== undefined || !list.length)
						throw policyError(
							at,
							`restartPolicy "${bad ?? ''}" is not one of ${RESTART_POLICIES.join(', ')}`,
						);
					entry.restartPolicy = list;
					break;
				}
				case 'healthcheck':
				case 'allowOomKillDisable':
					if (typeof value !== 'boolean') throw policyError(at, `${key} must be true or false`);
					entry[key] = value;
					break;
				case 'severity':
					if (value !== 'warning' && value !== 'critical')
						throw policyError(at, 'severity must be warning or critical');
					entry.severity = value;
					break;
				default:
					throw policyError(at, `unknown key "${key}"`);
			}
		}
		if (!entry.match) throw policyError(line, 'the entry has no "match"');
		entries.push(entry as PolicyEntry);
	}
	if (!entries.length) throw policyError(1, 'the policy has no entries');
	return entries;
}

/** The entry for a container: its name, or for compose containers also `project/service`. */
export function policyFor(
	entries: PolicyEntry[],
	name: string,
	compose?: ComposeIdentity,
): PolicyEntry | undefined {
	const service = compose ? `${compose.project}/${compose.service}` : undefined;
	return entries.find(
		(e) => e.pattern.test(name) || (service !== undefined && e.pattern.test(service)),
	);
}

export interface CurrentLimits {
	memory: number;
	memoryReservation: number;
	nanoCpus: number;
	pidsLimit: number;
	restartPolicy: string;
	healthcheck: boolean;
	oomKillDisable: boolean;
}

export function currentLimits(info: InspectInfo): CurrentLimits {
	const host = info.HostConfig as InspectInfo['HostConfig'] & {
		NanoCpus?: number;
		CpuQuota?: number;
		CpuPeriod?: number;
		PidsLimit?: number | null;
		OomKillDisable?: boolean | null;
		MemoryReservation?: number;
	};
	const quotaCpus =
		host.CpuQuota && host.CpuQuota > 0 ? (host.CpuQuota / (host.CpuPeriod || 100_000)) * 1e9 : 0;
	const test = (info.Config as { Healthcheck?: { Test?: string[] } }).Healthcheck?.Test;
	return {
		memory: host.Memory ?? 0,
		memoryReservation: host.MemoryReservation ?? 0,
		nanoCpus: host.NanoCpus || Math.round(quotaCpus),
		pidsLimit: host.PidsLimit && host.PidsLimit > 0 ? host.PidsLimit : 0,
		restartPolicy: host.RestartPolicy?.Name || 'no',
		healthcheck: !!test?.length && test[0] !== 'NONE',
		oomKillDisable: host.OomKillDisable === true,
	};
}

export interface Violation {
	rule: string;
	current: string | number | boolean | null;
	policy: string | number | boolean | string[];
	message: string;
}

/** The limit values a fix would set: the policy's maximum for each violated limit that has one. */
export interface RecommendedLimits {
	memory?: string;
	memoryReservation?: string;
	cpus?: number;
	pidsLimit?: number;
}

export function evaluate(
	entry: PolicyEntry,
	now: CurrentLimits,
): { violations: Violation[]; recommended: RecommendedLimits } {
	const violations: Violation[] = [];
	const recommended: RecommendedLimits = {};
	const limit = (
		rule: 'memory' | 'memoryReservation' | 'cpus' | 'pidsLimit',
		current: number,
		show: (v: number) => string | number,
	) => {
		const r = entry[rule];
		if (!r) return;
		if (current > 0 && (r.max === undefined || current <= r.max)) return;
		const policy = r.max === undefined ? 'required' : show(r.max);
		violations.push({
			rule,
			current: current > 0 ? show(current) : null,
			policy,
			message:
				current > 0
					? `${rule} ${show(current)} is above ${policy}`
					: `no ${rule} limit (policy: ${policy})`,
		});
		if (r.max !== undefined) {
			if (rule === 'memory' || rule === 'memoryReservation')
				recommended[rule] = composeBytes(r.max);
			else if (rule === 'cpus') recommended.cpus = cpusFromNano(r.max);
			else recommended.pidsLimit = r.max;
		}
	};
	limit('memory', now.memory, humanBytes);
	limit('memoryReservation', now.memoryReservation, humanBytes);
	limit('cpus', now.nanoCpus, cpusFromNano);
	limit('pidsLimit', now.pidsLimit, (v) => v);
	if (entry.restartPolicy && !entry.restartPolicy.includes(now.restartPolicy))
		violations.push({
			rule: 'restartPolicy',
			current: now.restartPolicy,
			policy: entry.restartPolicy,
			message: `restart policy "${now.restartPolicy}" is not one of ${entry.restartPolicy.join(', ')}`,
		});
	if (entry.healthcheck && !now.healthcheck)
		violations.push({
			rule: 'healthcheck',
			current: false,
			policy: true,
			message: 'no health check (HEALTHCHECK in the image or healthcheck: in compose)',
		});
	if (now.oomKillDisable && !entry.allowOomKillDisable)
		violations.push({
			rule: 'oomKillDisable',
			current: true,
			policy: false,
			message: 'OOM killer disabled: under memory pressure the host, not this container, pays',
		});
	return { violations, recommended };
}
