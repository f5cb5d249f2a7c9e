/**
 * Rightsizing: observed usage against limits, a recommended limit with headroom, and the verdict.
 *
 * The rule (also in the node's parameter help and the README):
 * - memory: recommended limit = p95 working set × 1.3, rounded up to a multiple of 64 MiB (at least 64 MiB);
 * - CPU: recommended limit = p95 cores × 1.5, rounded up to 0.1 CPU (at least 0.1);
 * - under-provisioned: p95 ≥ 90 % of the limit (memory: critical, OOM kills are near; CPU: warning,
 *   the container is throttled);
 * - over-provisioned: the limit is at least 2 × the recommendation (warning); the memory that could be
 *   freed is limit − recommendation;
 * - no limit: warning, with the recommendation to set;
 * - otherwise ok. `changeKey` is the pair of verdicts, so `changed` follows verdicts, not figures.
 */
import { InfraOpsError } from '../shared/errors';
import type { FindingStatus, NewFinding } from '../shared/findings';
import { worstStatus } from '../shared/findings';

export const MIB = 1024 * 1024;

export interface ContainerUsage {
	name: string;
	id?: string;
	image?: string;
	composeProject?: string;
	composeService?: string;
	/** p95 (Prometheus) or peak of the samples (Docker stats) of the working set; undefined: no data. */
	memoryBytes?: number;
	/** p95 (Prometheus) or mean over the window (Docker stats), in cores. */
	cpuCores?: number;
	/** undefined or 0: no limit. */
	memoryLimitBytes?: number;
	cpuLimitCores?: number;
	/** Labels as the source names them (to select on); never copied into findings. */
	labels?: Record<string, string>;
}

export interface RightsizingRules {
	memoryHeadroom: number;
	memoryStepBytes: number;
	cpuHeadroom: number;
	cpuStep: number;
	/** A limit this many times the recommendation (or more) is over-provisioned. */
	overRatio: number;
	/** Usage at this fraction of the limit (or more) is under-provisioned. */
	underFraction: number;
}

export const DEFAULT_RULES: RightsizingRules = {
	memoryHeadroom: 1.3,
	memoryStepBytes: 64 * MIB,
	cpuHeadroom: 1.5,
	cpuStep: 0.1,
	overRatio: 2,
	underFraction: 0.9,
};

export type Verdict = 'ok' | 'over' | 'under' | 'unlimited' | 'unknown';

export interface ResourceAdvice {
	verdict: Verdict;
	recommended?: number;
	/** Memory only: limit − recommendation when over-provisioned, else 0. */
	freeable?: number;
}

/** Rounds up to a whole number of steps; the small epsilon keeps 1.5 × 0.1 (0.15000000000000002) at 0.2, not 0.3. */
function roundUp(value: number, step: number): number {
	return Math.max(1, Math.ceil(value / step - 1e-9)) * step;
}

function advise(
	used: number | undefined,
	limit: number | undefined,
	headroom: number,
	step: number,
	rules: RightsizingRules,
): ResourceAdvice {
	if (used === undefined || !Number.isFinite(used)) return { verdict: 'unknown' };
	const recommended = roundUp(used * headroom, step);
	if (!limit || limit <= 0) return { verdict: 'unlimited', recommended, freeable: 0 };
	if (used >= limit * rules.underFraction) return { verdict: 'under', recommended, freeable: 0 };
	if (limit >= recommended * rules.overRatio)
		return { verdict: 'over', recommended, freeable: limit - recommended };
	return { verdict: 'ok', recommended, freeable: 0 };
}

export function adviseMemory(u: ContainerUsage, rules = DEFAULT_RULES): ResourceAdvice {
	return advise(
		u.memoryBytes,
		u.memoryLimitBytes,
		rules.memoryHeadroom,
		rules.memoryStepBytes,
		rules,
	);
}

export function adviseCpu(u: ContainerUsage, rules = DEFAULT_RULES): ResourceAdvice {
	const advice = advise(u.cpuCores, u.cpuLimitCores, rules.cpuHeadroom, rules.cpuStep, rules);
	// 0.1-steps in binary floating point: 0.30000000000000004 reads as 0.3
	if (advice.recommended !== undefined) advice.recommended = Number(advice.recommended.toFixed(3));
	return advice;
}

export function formatBytes(bytes: number | undefined): string {
	if (bytes === undefined) return 'n/a';
	const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
	let value = bytes;
	let unit = 0;
	while (Math.abs(value) >= 1024 && unit < units.length - 1) {
		value /= 1024;
		unit++;
	}
	return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1).replace(/\.0$/, '')} ${units[unit]}`;
}

export function formatCores(cores: number | undefined): string {
	return cores === undefined ? 'n/a' : `${Number(cores.toFixed(2))} CPU`;
}

const MEMORY_STATUS: Record<Verdict, FindingStatus> = {
	ok: 'ok',
	over: 'warning',
	under: 'critical',
	unlimited: 'warning',
	unknown: 'ok',
};
const CPU_STATUS: Record<Verdict, FindingStatus> = { ...MEMORY_STATUS, under: 'warning' };

function phrase(
	what: string,
	used: string,
	limit: string | undefined,
	advice: ResourceAdvice,
	recommended: string,
	freed?: string,
): string {
	switch (advice.verdict) {
		case 'unknown':
			return `${what}: no data`;
		case 'unlimited':
			return `${what} ${used}, no limit (set ${recommended})`;
		case 'under':
			return `${what} ${used} of ${limit}: under-provisioned (raise to ${recommended})`;
		case 'over':
			return `${what} ${used} of ${limit}: over-provisioned (lower to ${recommended}${freed ? `, frees ${freed}` : ''})`;
		default:
			return `${what} ${used} of ${limit}: ok`;
	}
}

/** One rightsizing finding per container. `basis` says where the figures come from, e.g. "p95 over 7d". */
export function rightsizingFinding(
	u: ContainerUsage,
	basis: string,
	rules = DEFAULT_RULES,
): NewFinding {
	const memory = adviseMemory(u, rules);
	const cpu = adviseCpu(u, rules);
	const status = worstStatus([MEMORY_STATUS[memory.verdict], CPU_STATUS[cpu.verdict]]);
	const memoryText = phrase(
		'memory',
		formatBytes(u.memoryBytes),
		u.memoryLimitBytes ? formatBytes(u.memoryLimitBytes) : undefined,
		memory,
		formatBytes(memory.recommended),
		memory.freeable ? formatBytes(memory.freeable) : undefined,
	);
	const cpuText = phrase(
		'CPU',
		formatCores(u.cpuCores),
		u.cpuLimitCores ? formatCores(u.cpuLimitCores) : undefined,
		cpu,
		formatCores(cpu.recommended),
	);
	return {
		check: 'rightsizing',
		target: u.name,
		status,
		summary: `${u.name}: ${memoryText}; ${cpuText} (${basis})`,
		changeKey: `${memory.verdict}|${cpu.verdict}`,
		container: u.name,
		...(u.id ? { containerId: u.id } : {}),
		...(u.image ? { image: u.image } : {}),
		...(u.composeProject ? { composeProject: u.composeProject } : {}),
		...(u.composeService ? { composeService: u.composeService } : {}),
		basis,
		memory: {
			verdict: memory.verdict,
			usedBytes: u.memoryBytes ?? null,
			limitBytes: u.memoryLimitBytes || null,
			recommendedBytes: memory.recommended ?? null,
			freeableBytes: memory.freeable ?? 0,
			used: formatBytes(u.memoryBytes),
			limit: u.memoryLimitBytes ? formatBytes(u.memoryLimitBytes) : 'none',
			recommended: formatBytes(memory.recommended),
			freeable: formatBytes(memory.freeable ?? 0),
		},
		cpu: {
			verdict: cpu.verdict,
			usedCores: u.cpuCores === undefined ? null : Number(u.cpuCores.toFixed(4)),
			limitCores: u.cpuLimitCores || null,
			recommendedCores: cpu.recommended ?? null,
		},
	};
}

export function readRules(raw: Partial<Record<keyof RightsizingRules, unknown>>): RightsizingRules {
	const rules = { ...DEFAULT_RULES };
	const positive = (key: keyof RightsizingRules, label: string, max = Infinity) => {
		const value = raw[key];
		if (value === undefined || value === '') return;
		const n = Number(value);
		if (!Number.isFinite(n) || n <= 0 || n > max)
			throw new InfraOpsError(
				`${label} must be a number above 0${max < Infinity ? ` and at most ${max}` : ''}, not "${String(value)}"`,
				'Leave it empty for the default (memory headroom 1.3, CPU headroom 1.5, over-provisioned ratio 2, under-provisioned fraction 0.9)',
			);
		rules[key] = n;
	};
	positive('memoryHeadroom', 'Memory Headroom');
	positive('cpuHeadroom', 'CPU Headroom');
	positive('overRatio', 'Over-Provisioned Ratio');
	positive('underFraction', 'Under-Provisioned Fraction', 1);
	return rules;
}
