/** Judges one image's vulnerabilities against the operator's policy (severities, unfixed, ignore list
 * with expiry) and tracks which CVE ids are new since the last run. No n8n import. */
import { InfraOpsError } from '../shared/errors';
import type { FindingStatus } from '../shared/findings';
import { SEVERITIES, type Severity, type Vulnerability } from './report';

export interface IgnoreRule {
	id: string;
	reason?: string;
	/** YYYY-MM-DD (the rule holds through that day, UTC) or an ISO time; after it the CVE alerts again. */
	expires?: string;
}

export interface Policy {
	severities: Severity[];
	ignoreUnfixed: boolean;
	ignore: IgnoreRule[];
	/** How many CVEs the finding lists. */
	topN: number;
	now: Date;
}

export interface CveSummary {
	id: string;
	severity: Severity;
	title: string;
	pkgName: string;
	installedVersion: string;
	/** Empty when no fix is published. */
	fixedVersion: string;
	/** Every package the CVE was found in (e.g. musl and musl-utils). */
	packages: string[];
	/** An ignore rule for it has expired. */
	ignoreExpired?: boolean;
}

export interface Assessment {
	status: FindingStatus;
	/** Distinct CVE ids per severity, after policy. */
	counts: Record<Severity, number>;
	total: number;
	/** Distinct CVE ids with a fixed version. */
	fixable: number;
	cveIds: string[];
	topCves: CveSummary[];
	ignored: { id: string; reason: string; expires: string }[];
	/** The vulnerabilities that count, one per CVE and package. */
	vulnerabilities: Vulnerability[];
}

const RANK: Record<Severity, number> = { CRITICAL: 0, HIGH: 1, MEDIUM: 2, LOW: 3, UNKNOWN: 4 };
const CVE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

export function parseSeverities(value: string | string[]): Severity[] {
	const list = (Array.isArray(value) ? value : value.split(/[\s,]+/))
		.map((s) => s.trim().toUpperCase())
		.filter(Boolean);
	const unknown = list.filter((s) => !(SEVERITIES as readonly string[]).includes(s));
	if (unknown.length) {
		throw new InfraOpsError(
			`Unknown severity ${unknown.map((s) => `"${s}"`).join(', ')}`,
			`Use any of ${SEVERITIES.join(', ')}`,
		);
	}
	if (!list.length)
		throw new InfraOpsError(
			'No severity is selected',
			'Select at least one, e.g. HIGH and CRITICAL',
		);
	return SEVERITIES.filter((s) => list.includes(s));
}

/** The instant after which a rule stops holding. A bare date holds through that whole day (UTC). */
export function ignoreExpiry(rule: IgnoreRule): Date | undefined {
	const text = (rule.expires ?? '').trim();
	if (!text) return undefined;
	const date = /^\d{4}-\d{2}-\d{2}$/.test(text)
		? new Date(`${text}T23:59:59.999Z`)
		: new Date(text);
	if (Number.isNaN(date.getTime())) {
		throw new InfraOpsError(
			`The ignore rule for ${rule.id} has an expiry "${text}" that is not a date`,
			'Write it as YYYY-MM-DD, or leave it empty to ignore the CVE with no end',
		);
	}
	return date;
}

export function validateIgnoreRules(rules: IgnoreRule[]): IgnoreRule[] {
	return rules.map((rule) => {
		const id = (rule.id ?? '').trim();
		if (!id || !CVE_ID.test(id)) {
			throw new InfraOpsError(
				`"${rule.id ?? ''}" in the ignore list is not a vulnerability id`,
				'Write the id as Trivy prints it, e.g. CVE-2024-3094 or GHSA-xxxx-xxxx-xxxx',
			);
		}
		const clean = { id, reason: (rule.reason ?? '').trim(), expires: (rule.expires ?? '').trim() };
		ignoreExpiry(clean);
		return clean;
	});
}

export function assessVulnerabilities(
	vulnerabilities: Vulnerability[],
	policy: Policy,
): Assessment {
	const wanted = new Set(policy.severities);
	const rules = new Map<string, { rule: IgnoreRule; expired: boolean }>();
	for (const rule of policy.ignore) {
		const expiry = ignoreExpiry(rule);
		rules.set(rule.id.toUpperCase(), {
			rule,
			expired: expiry !== undefined && policy.now.getTime() > expiry.getTime(),
		});
	}
	const ignored = new Map<string, { id: string; reason: string; expires: string }>();
	const expiredIds = new Set<string>();
	const counted = vulnerabilities.filter((v) => {
		if (!wanted.has(v.severity)) return false;
		if (policy.ignoreUnfixed && !v.fixedVersion) return false;
		const hit = rules.get(v.id.toUpperCase());
		if (hit && !hit.expired) {
			ignored.set(v.id, {
				id: v.id,
				reason: hit.rule.reason ?? '',
				expires: hit.rule.expires ?? '',
			});
			return false;
		}
		if (hit?.expired) expiredIds.add(v.id);
		return true;
	});

	const byCve = new Map<string, CveSummary>();
	for (const v of counted) {
		const known = byCve.get(v.id);
		if (!known) {
			byCve.set(v.id, {
				id: v.id,
				severity: v.severity,
				title: v.title,
				pkgName: v.pkgName,
				installedVersion: v.installedVersion,
				fixedVersion: v.fixedVersion,
				packages: [v.pkgName],
				...(expiredIds.has(v.id) ? { ignoreExpired: true } : {}),
			});
			continue;
		}
		if (!known.packages.includes(v.pkgName)) known.packages.push(v.pkgName);
		if (RANK[v.severity] < RANK[known.severity]) known.severity = v.severity;
		if (!known.title && v.title) known.title = v.title;
		if (!known.fixedVersion && v.fixedVersion) known.fixedVersion = v.fixedVersion;
	}
	const cves = [...byCve.values()].sort(
		(a, b) =>
			RANK[a.severity] - RANK[b.severity] ||
			Number(!a.fixedVersion) - Number(!b.fixedVersion) ||
			a.id.localeCompare(b.id),
	);
	const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
	for (const c of cves) counts[c.severity]++;
	const status: FindingStatus =
		counts.CRITICAL > 0 ? 'critical' : cves.length > 0 ? 'warning' : 'ok';
	return {
		status,
		counts,
		total: cves.length,
		fixable: cves.filter((c) => c.fixedVersion).length,
		cveIds: cves.map((c) => c.id).sort(),
		topCves: cves.slice(0, Math.max(0, policy.topN)),
		ignored: [...ignored.values()],
		vulnerabilities: counted,
	};
}

/** `2 CRITICAL, 5 HIGH (4 fixable): CVE-…, CVE-…` or `no HIGH/CRITICAL vulnerabilities`. */
export function describeAssessment(
	assessment: Assessment,
	severities: Severity[],
	listed = 3,
): string {
	const ignoredText = assessment.ignored.length ? ` (${assessment.ignored.length} ignored)` : '';
	if (!assessment.total)
		return `no ${[...severities].sort((a, b) => RANK[b] - RANK[a]).join('/')} vulnerabilities${ignoredText}`;
	const parts = SEVERITIES.filter((s) => assessment.counts[s] > 0).map(
		(s) => `${assessment.counts[s]} ${s}`,
	);
	const ids = assessment.topCves.slice(0, listed).map((c) => c.id);
	const more = assessment.total > ids.length ? ', …' : '';
	return `${parts.join(', ')} (${assessment.fixable} fixable)${ignoredText}: ${ids.join(', ')}${more}`;
}

interface CveState {
	ids: string[];
	generation: number;
}

export const CVE_STATE_KEY = 'infraOpsTrivyCves';

/**
 * Which CVE ids are new for `key` since the last run, and a change key for markChanged that moves
 * only when the set gains a member: a CVE that goes away (fixed, ignored) is no news, one that
 * appears (or comes back) is. Keeps the last run's set in `store` (workflow static data).
 */
export function trackNewCves(
	store: Record<string, unknown>,
	key: string,
	cveIds: string[],
): { newCves: string[]; changeKey: string } {
	const all = ((store[CVE_STATE_KEY] as Record<string, CveState> | undefined) ?? {}) as Record<
		string,
		CveState
	>;
	const before = all[key];
	const previous = new Set(before?.ids ?? []);
	const newCves = cveIds.filter((id) => !previous.has(id));
	const generation = (before?.generation ?? 0) + (newCves.length ? 1 : 0);
	all[key] = { ids: [...cveIds].sort(), generation };
	store[CVE_STATE_KEY] = all;
	return { newCves, changeKey: `cves:${generation}` };
}

/**
 * How two overlapping runs' CVE sets combine (the shared State Store's merge): per image the entry of
 * the higher generation wins (on a tie, this run's), so a generation never goes back and a change key
 * already claimed is never handed out again.
 */
export function mergeCveState(current: unknown, mine: unknown): Record<string, CveState> {
	const now = structuredClone((current ?? {}) as Record<string, CveState>);
	for (const [key, entry] of Object.entries((mine ?? {}) as Record<string, CveState>))
		if (!now[key] || now[key].generation <= entry.generation) now[key] = entry;
	return now;
}
