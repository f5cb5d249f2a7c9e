/**
 * Usage from Prometheus: p95 per container over a period from cAdvisor's series, and host CPU,
 * memory and disk from node_exporter's. Instant queries over the HTTP API (`/api/v1/query`).
 */
import { errorMessage, InfraOpsError } from '../shared/errors';
import type { FindingStatus, NewFinding } from '../shared/findings';
import { httpRequest, type TlsTrust } from '../shared/http';
import { mapConcurrent } from '../shared/concurrency';
import { redactSecrets } from '../shared/secretShapes';
import { formatBytes, type ContainerUsage } from './rightsizing';

export interface PrometheusOptions {
	url: string;
	timeoutMs: number;
	tls?: TlsTrust;
}

export interface Sample {
	metric: Record<string, string>;
	value: number;
}

/** Prometheus's duration syntax (1h30m, 7d, 90s). */
const DURATION = /^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$/;

export function checkDuration(value: string, label: string): string {
	const v = value.trim();
	if (!v || !DURATION.test(v))
		throw new InfraOpsError(
			`${label} "${value}" is not a Prometheus duration`,
			'Use units y, w, d, h, m, s, ms without spaces, e.g. 7d, 12h, 1h30m',
		);
	return v;
}

/** `job="cadvisor", instance=~"host1.*"` as typed by the operator, ready to join into a selector. */
export function checkMatchers(value: string, label: string): string {
	const v = value.trim().replace(/^\{|\}$/g, '');
	if (/[{}]/.test(v))
		throw new InfraOpsError(
			`${label} must be label matchers, not a query`,
			'Write them as in a selector without braces, e.g. job="cadvisor", instance="host1:8080"',
		);
	return v ? `,${v}` : '';
}

/** The Prometheus URL without trailing slash; refuses anything but http(s) and embedded credentials. */
export function checkPrometheusUrl(value: string): string {
	let url: URL;
	try {
		url = new URL(value.trim());
	} catch {
		throw new InfraOpsError(
			`Prometheus URL "${redactSecrets(value)}" is not a URL`,
			'Give the base URL Prometheus answers on, e.g. http://prometheus:9090',
		);
	}
	if (url.protocol !== 'http:' && url.protocol !== 'https:')
		throw new InfraOpsError('The Prometheus URL must start with http:// or https://');
	if (url.username || url.password)
		throw new InfraOpsError(
			'The Prometheus URL carries a user name or password',
			'Credentials in a URL end up in findings and alerts: reach Prometheus without them (e.g. on the internal network)',
		);
	return url.href.replace(/\/+$/, '');
}

/** One instant query; a Prometheus that is down, refuses or answers an error is an InfraOpsError naming it. */
export async function promQuery(options: PrometheusOptions, query: string): Promise<Sample[]> {
	const where = `Prometheus at ${options.url}`;
	let response;
	try {
		response = await httpRequest({
			url: `${options.url}/api/v1/query?query=${encodeURIComponent(query)}`,
			timeoutMs: options.timeoutMs,
			tls: options.tls,
			deadline: { ms: options.timeoutMs, what: 'the query' },
		});
	} catch (error) {
		throw new InfraOpsError(
			`${where} cannot be queried: ${errorMessage(error)}`,
			'Check the Prometheus URL and that Prometheus runs and is reachable from n8n',
			{ cause: error },
		);
	}
	let body: {
		status?: string;
		error?: string;
		errorType?: string;
		data?: {
			resultType?: string;
			result?: Array<{ metric: Record<string, string>; value: [number, string] }>;
		};
	};
	try {
		body = JSON.parse(response.text()) as typeof body;
	} catch {
		throw new InfraOpsError(
			`${where} answered ${response.status} with something that is not the Prometheus API: ${response.text().slice(0, 120)}`,
			'Give the base URL of Prometheus itself (the one whose /api/v1/query answers), e.g. http://prometheus:9090',
		);
	}
	if (body.status !== 'success') {
		throw new InfraOpsError(
			`${where} answered ${response.status} ${body.errorType ?? 'error'}: ${body.error ?? 'no reason given'}`,
			body.errorType === 'bad_data'
				? 'The query is not valid: check the label matchers and durations in the options'
				: 'Prometheus could not run the query: see its log',
		);
	}
	if (body.data?.resultType !== 'vector')
		throw new InfraOpsError(`${where} answered a ${body.data?.resultType} instead of a vector`);
	return (body.data.result ?? []).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

export interface ContainerQueryOptions {
	period: string;
	rateWindow: string;
	step: string;
	/** Extra matchers, already checked (`,job="cadvisor"` or ''). */
	matchers: string;
}

/** The PromQL this module sends for containers, in one place (the README quotes them). */
export function containerQueries(o: ContainerQueryOptions) {
	const sel = (metric: string, extra = '') => `${metric}{name!=""${extra}${o.matchers}}`;
	return {
		memory: `quantile_over_time(0.95, ${sel('container_memory_working_set_bytes')}[${o.period}])`,
		cpu: `quantile_over_time(0.95, rate(${sel('container_cpu_usage_seconds_total', ',cpu="total"')}[${o.rateWindow}])[${o.period}:${o.step}])`,
		memoryLimit: `last_over_time(${sel('container_spec_memory_limit_bytes')}[${o.period}])`,
		cpuQuota: `last_over_time(${sel('container_spec_cpu_quota')}[${o.period}])`,
		cpuPeriod: `last_over_time(${sel('container_spec_cpu_period')}[${o.period}])`,
	};
}

/** cgroup v2 has no "unlimited" number: cAdvisor reports 0 or the largest page-aligned int64. */
const UNLIMITED_MEMORY = 2 ** 60;

/** Usage per container name (series of one name, e.g. a recreated container, are merged by taking the highest). */
export async function containerUsageFromPrometheus(
	options: PrometheusOptions,
	q: ContainerQueryOptions,
): Promise<ContainerUsage[]> {
	const queries = containerQueries(q);
	const keys = Object.keys(queries) as Array<keyof typeof queries>;
	const results = await mapConcurrent(
		keys,
		keys.length,
		async (k) => await promQuery(options, queries[k]),
	);
	const byKey = Object.fromEntries(keys.map((k, i) => [k, results[i]])) as Record<
		keyof typeof queries,
		Sample[]
	>;
	const usage = new Map<string, ContainerUsage>();
	const entry = (m: Record<string, string>): ContainerUsage => {
		let u = usage.get(m.name);
		if (!u) {
			u = { name: m.name };
			usage.set(m.name, u);
		}
		u.labels ??= Object.fromEntries(
			Object.entries(m).filter(([k]) => k.startsWith('container_label_')),
		);
		u.image ??= m.image || undefined;
		u.composeProject ??= m.container_label_com_docker_compose_project || undefined;
		u.composeService ??= m.container_label_com_docker_compose_service || undefined;
		const id = /([0-9a-f]{64})/.exec(m.id ?? '')?.[1];
		u.id ??= id ? id.slice(0, 12) : undefined;
		return u;
	};
	const higher = (a: number | undefined, b: number) => (a === undefined ? b : Math.max(a, b));
	for (const s of byKey.memory)
		entry(s.metric).memoryBytes = higher(entry(s.metric).memoryBytes, s.value);
	for (const s of byKey.cpu) entry(s.metric).cpuCores = higher(entry(s.metric).cpuCores, s.value);
	for (const s of byKey.memoryLimit) {
		const u = entry(s.metric);
		if (s.value > 0 && s.value < UNLIMITED_MEMORY)
			u.memoryLimitBytes = higher(u.memoryLimitBytes, s.value);
	}
	const periods = new Map(byKey.cpuPeriod.map((s) => [s.metric.id ?? s.metric.name, s.value]));
	for (const s of byKey.cpuQuota) {
		const period = periods.get(s.metric.id ?? s.metric.name);
		if (s.value > 0 && period && period > 0) {
			const u = entry(s.metric);
			u.cpuLimitCores = higher(u.cpuLimitCores, s.value / period);
		}
	}
	return [...usage.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export interface HostThresholds {
	cpuWarnPercent: number;
	memoryWarnPercent: number;
	diskMinFreeBytes: number;
}

/** File systems that are not disks: never worth a "disk full" alert. */
const PSEUDO_FS = 'tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|proc|sysfs|cgroup2?|autofs|fuse[.].*';

export function hostQueries(o: {
	rateWindow: string;
	period: string;
	step: string;
	matchers: string;
}) {
	const m = o.matchers;
	const busy = `1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"${m}}[${o.rateWindow}]))`;
	return {
		cpu: busy,
		cpuP95: `quantile_over_time(0.95, (${busy})[${o.period}:${o.step}])`,
		memoryUsed: `1 - node_memory_MemAvailable_bytes{${m.slice(1)}} / node_memory_MemTotal_bytes{${m.slice(1)}}`,
		memoryTotal: `node_memory_MemTotal_bytes{${m.slice(1)}}`,
		diskAvail: `node_filesystem_avail_bytes{fstype!~"${PSEUDO_FS}"${m}}`,
		diskSize: `node_filesystem_size_bytes{fstype!~"${PSEUDO_FS}"${m}}`,
	};
}

const pct = (fraction: number) => Math.round(fraction * 1000) / 10;

/** Host findings: CPU and memory per instance (warning above the threshold, critical above 95 %), and
 * one per mounted disk (critical below the free-space floor). */
export async function hostFindings(
	options: PrometheusOptions,
	q: { rateWindow: string; period: string; step: string; matchers: string },
	t: HostThresholds,
): Promise<NewFinding[]> {
	const queries = hostQueries(q);
	const keys = Object.keys(queries) as Array<keyof typeof queries>;
	const results = await mapConcurrent(
		keys,
		keys.length,
		async (k) => await promQuery(options, queries[k]),
	);
	const r = Object.fromEntries(keys.map((k, i) => [k, results[i]])) as Record<
		keyof typeof queries,
		Sample[]
	>;
	const findings: NewFinding[] = [];
	const level = (percent: number, warn: number): FindingStatus =>
		percent >= 95 ? 'critical' : percent >= warn ? 'warning' : 'ok';
	const p95 = new Map(r.cpuP95.map((s) => [s.metric.instance, s.value]));
	for (const s of r.cpu) {
		const instance = s.metric.instance ?? 'host';
		const percent = pct(s.value);
		const p95Percent = p95.has(instance) ? pct(p95.get(instance)!) : undefined;
		findings.push({
			check: 'host-cpu',
			target: instance,
			status: level(percent, t.cpuWarnPercent),
			summary: `${instance}: CPU ${percent} % busy${p95Percent !== undefined ? ` (p95 ${p95Percent} % over ${q.period})` : ''}`,
			instance,
			cpuPercent: percent,
			...(p95Percent !== undefined ? { cpuP95Percent: p95Percent } : {}),
			thresholdPercent: t.cpuWarnPercent,
		});
	}
	const totals = new Map(r.memoryTotal.map((s) => [s.metric.instance, s.value]));
	for (const s of r.memoryUsed) {
		const instance = s.metric.instance ?? 'host';
		const percent = pct(s.value);
		const total = totals.get(instance);
		findings.push({
			check: 'host-memory',
			target: instance,
			status: level(percent, t.memoryWarnPercent),
			summary: `${instance}: memory ${percent} % used${total ? ` of ${formatBytes(total)}` : ''}`,
			instance,
			memoryPercent: percent,
			...(total ? { memoryTotalBytes: total } : {}),
			thresholdPercent: t.memoryWarnPercent,
		});
	}
	const sizes = new Map(
		r.diskSize.map((s) => [`${s.metric.instance}|${s.metric.mountpoint}`, s.value]),
	);
	const seen = new Set<string>();
	for (const s of r.diskAvail) {
		const instance = s.metric.instance ?? 'host';
		const mount = s.metric.mountpoint ?? '?';
		// one device mounted twice (bind mounts) is one disk: report its first mount only
		const device = `${instance}|${s.metric.device}`;
		if (s.metric.device && seen.has(device)) continue;
		seen.add(device);
		const size = sizes.get(`${instance}|${mount}`);
		const low = s.value < t.diskMinFreeBytes;
		findings.push({
			check: 'host-disk',
			target: `${instance}:${mount}`,
			status: low ? 'critical' : 'ok',
			summary: `${instance} ${mount}: ${formatBytes(s.value)} free${size ? ` of ${formatBytes(size)}` : ''}${low ? `, below ${formatBytes(t.diskMinFreeBytes)}` : ''}`,
			instance,
			mountpoint: mount,
			device: s.metric.device,
			fstype: s.metric.fstype,
			freeBytes: s.value,
			...(size ? { sizeBytes: size } : {}),
			minFreeBytes: t.diskMinFreeBytes,
		});
	}
	return findings.sort(
		(a, b) =>
			String(a.check).localeCompare(String(b.check)) ||
			String(a.target).localeCompare(String(b.target)),
	);
}
