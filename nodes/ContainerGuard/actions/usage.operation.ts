import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { errorFields, InfraOpsError } from '../../shared/errors';
import type { NewFinding } from '../../shared/findings';
import { itemsFrom } from '../../shared/items';
import { globToRegExp, type ContainerSelection } from '../containers';
import { sampleDockerUsage } from '../dockerStats';
import {
	checkDuration,
	checkMatchers,
	checkPrometheusUrl,
	containerUsageFromPrometheus,
	hostFindings,
	type PrometheusOptions,
} from '../prometheus';
import { readRules, rightsizingFinding, type ContainerUsage } from '../rightsizing';
import { readSelection, selectionProperties, withGuardDocker } from './common';

export const option = {
	name: 'Usage & Rightsizing',
	value: 'usage',
	description:
		'CPU and memory per container (Docker stats or p95 from Prometheus) against limits, with recommended limits; host CPU, memory and disk from node_exporter',
	action: 'Report usage and rightsizing',
};

const show = { show: { operation: ['usage'] } };
const fromDocker = { show: { operation: ['usage'], usageSource: ['docker'] } };
const fromPrometheus = { show: { operation: ['usage'], usageSource: ['prometheus'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Source',
		name: 'usageSource',
		type: 'options',
		options: [
			{
				name: 'Docker Stats (Sampled Now)',
				value: 'docker',
				description: 'Two samples of the Docker stats API, Sample Window apart, inside this run',
			},
			{
				name: 'Prometheus (P95 Over a Period)',
				value: 'prometheus',
				description:
					"cAdvisor's series for containers, node_exporter's for the host; no Docker credential needed",
			},
		],
		default: 'docker',
		displayOptions: show,
	},
	...selectionProperties(['usage']),
	{
		displayName: 'Sample Window (Seconds)',
		name: 'sampleSeconds',
		type: 'number',
		default: 10,
		typeOptions: { minValue: 1 },
		description:
			'Time between the two stats samples; CPU is the mean over it, memory the higher sample. A short window only sees the present: prefer Prometheus for a weekly report.',
		displayOptions: fromDocker,
	},
	{
		displayName: 'Prometheus URL',
		name: 'prometheusUrl',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'http://prometheus:9090',
		displayOptions: fromPrometheus,
	},
	{
		displayName: 'Period',
		name: 'period',
		type: 'string',
		default: '7d',
		description:
			'How far back the p95 looks (Prometheus duration: 7d, 24h, 1h30m); within the retention of Prometheus',
		displayOptions: fromPrometheus,
	},
	{
		displayName: 'Options',
		name: 'usageOptions',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		displayOptions: show,
		options: [
			{
				displayName: 'Concurrency',
				name: 'concurrency',
				type: 'number',
				default: 8,
				description: 'Docker stats: how many containers to sample at once',
			},
			{
				displayName: 'Container Label Matchers',
				name: 'containerMatchers',
				type: 'string',
				default: '',
				placeholder: 'job="cadvisor", instance="docker1:8080"',
				description: "Prometheus: added to every cAdvisor selector (e.g. one host's cAdvisor)",
			},
			{
				displayName: 'CPU Headroom',
				name: 'cpuHeadroom',
				type: 'number',
				typeOptions: { numberPrecision: 2 },
				default: 1.5,
				description: 'Recommended CPU limit = p95 × this, rounded up to 0.1 CPU',
			},
			{
				displayName: 'Host CPU Warning (%)',
				name: 'hostCpuWarnPercent',
				type: 'number',
				default: 80,
				description: 'Prometheus: host CPU busy at or above this is a warning (95 %: critical)',
			},
			{
				displayName: 'Host Disk Minimum Free (GB)',
				name: 'diskMinFreeGb',
				type: 'number',
				typeOptions: { numberPrecision: 1 },
				default: 10,
				description: 'Prometheus: a mounted file system with less free space is critical',
			},
			{
				displayName: 'Host Label Matchers',
				name: 'hostMatchers',
				type: 'string',
				default: '',
				placeholder: 'job="node"',
				description: 'Prometheus: added to every node_exporter selector',
			},
			{
				displayName: 'Host Memory Warning (%)',
				name: 'hostMemoryWarnPercent',
				type: 'number',
				default: 80,
				description: 'Prometheus: host memory used at or above this is a warning (95 %: critical)',
			},
			{
				displayName: 'Include Containers',
				name: 'includeContainers',
				type: 'boolean',
				default: true,
				description: 'Whether to report each container (turn off for host figures only)',
			},
			{
				displayName: 'Include Host',
				name: 'includeHost',
				type: 'boolean',
				default: true,
				description: 'Prometheus: whether to report host CPU, memory and disks from node_exporter',
			},
			{
				displayName: 'Memory Headroom',
				name: 'memoryHeadroom',
				type: 'number',
				typeOptions: { numberPrecision: 2 },
				default: 1.3,
				description: 'Recommended memory limit = p95 × this, rounded up to 64 MiB',
			},
			{
				displayName: 'Over-Provisioned Ratio',
				name: 'overRatio',
				type: 'number',
				typeOptions: { numberPrecision: 2 },
				default: 2,
				description: 'A limit at least this many times the recommendation is over-provisioned',
			},
			{
				displayName: 'Rate Window',
				name: 'rateWindow',
				type: 'string',
				default: '5m',
				description:
					'Prometheus: the rate() window for CPU (at least 4 × the scrape interval of cAdvisor)',
			},
			{
				displayName: 'Subquery Step',
				name: 'step',
				type: 'string',
				default: '1m',
				description: 'Prometheus: resolution of the CPU p95 subquery',
			},
			{
				displayName: 'Timeout (Seconds)',
				name: 'timeoutSeconds',
				type: 'number',
				default: 30,
				description: 'Per request to Prometheus or Docker',
			},
			{
				displayName: 'Under-Provisioned Fraction',
				name: 'underFraction',
				type: 'number',
				typeOptions: { numberPrecision: 2 },
				default: 0.9,
				description: 'Usage at or above this fraction of the limit is under-provisioned',
			},
		],
	},
];

const GIB = 1024 ** 3;

function positive(value: unknown, label: string, fallback: number): number {
	if (value === undefined || value === '') return fallback;
	const n = Number(value);
	if (!Number.isFinite(n) || n <= 0)
		throw new InfraOpsError(`${label} must be a number above 0, not "${String(value)}"`);
	return n;
}

/** Prometheus has no compose selection of its own: names, labels and project are matched here on
 * cAdvisor's labels (a Docker label `a.b` is `container_label_a_b` there). */
function selected(u: ContainerUsage, selection: ContainerSelection): boolean {
	const patterns = selection.names.map(globToRegExp);
	if (patterns.length && !patterns.some((p) => p.test(u.name))) return false;
	const labels = u.labels ?? {};
	for (const wanted of selection.labels) {
		const eq = wanted.indexOf('=');
		const key = `container_label_${(eq < 0 ? wanted : wanted.slice(0, eq)).replace(/[^a-zA-Z0-9_]/g, '_')}`;
		if (!(key in labels) || (eq >= 0 && labels[key] !== wanted.slice(eq + 1))) return false;
	}
	return !selection.composeProject || u.composeProject === selection.composeProject;
}

/** An empty report would read as "all fine": say that nothing matched, and what was asked for. */
function noContainer(selection: ContainerSelection, where: string): NewFinding {
	const asked = [
		selection.names.length ? `names ${selection.names.join(', ')}` : '',
		selection.labels.length ? `labels ${selection.labels.join(', ')}` : '',
		selection.composeProject ? `compose project ${selection.composeProject}` : '',
	].filter(Boolean);
	return {
		check: 'rightsizing',
		target: 'containers',
		status: 'warning',
		summary: `No container ${asked.length ? `matching ${asked.join('; ')} ` : ''}${where}`,
		hint: 'Check the container names, labels and compose project, and that the containers run (or that Prometheus scrapes cAdvisor)',
	};
}

async function fromPrometheusSource(ctx: IExecuteFunctions, i: number, o: IDataObject) {
	const prom: PrometheusOptions = {
		url: checkPrometheusUrl(String(ctx.getNodeParameter('prometheusUrl', i, ''))),
		timeoutMs: positive(o.timeoutSeconds, 'Timeout (Seconds)', 30) * 1000,
	};
	const window = {
		period: checkDuration(String(ctx.getNodeParameter('period', i, '7d')), 'Period'),
		rateWindow: checkDuration(String(o.rateWindow ?? '5m'), 'Rate Window'),
		step: checkDuration(String(o.step ?? '1m'), 'Subquery Step'),
	};
	const rules = readRules(o);
	const selection = readSelection(ctx, i);
	const containerMatchers = checkMatchers(
		String(o.containerMatchers ?? ''),
		'Container Label Matchers',
	);
	const hostMatchers = checkMatchers(String(o.hostMatchers ?? ''), 'Host Label Matchers');
	try {
		const findings: NewFinding[] = [];
		if (o.includeContainers !== false) {
			const usage = await containerUsageFromPrometheus(prom, {
				...window,
				matchers: containerMatchers,
			});
			const basis = `p95 over ${window.period} from Prometheus`;
			const chosen = usage.filter((x) => selected(x, selection));
			for (const u of chosen) findings.push(rightsizingFinding(u, basis, rules));
			if (!chosen.length)
				findings.push(noContainer(selection, `in cAdvisor's series at ${prom.url}`));
		}
		if (o.includeHost !== false)
			findings.push(
				...(await hostFindings(
					prom,
					{ ...window, matchers: hostMatchers },
					{
						cpuWarnPercent: positive(o.hostCpuWarnPercent, 'Host CPU Warning (%)', 80),
						memoryWarnPercent: positive(o.hostMemoryWarnPercent, 'Host Memory Warning (%)', 80),
						diskMinFreeBytes: Math.max(0, Number(o.diskMinFreeGb ?? 10)) * GIB,
					},
				)),
			);
		return findings;
	} catch (error) {
		// an unreachable or failing Prometheus is a finding, so the alert branch reports it like a down service
		const { error: message, hint } = errorFields(error);
		return [
			{
				check: 'rightsizing',
				target: prom.url,
				status: 'error' as const,
				summary: message,
				...(hint ? { hint } : {}),
			},
		];
	}
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async (i) => {
		const o = this.getNodeParameter('usageOptions', i, {}) as IDataObject;
		if (this.getNodeParameter('usageSource', i, 'docker') === 'prometheus')
			return await fromPrometheusSource(this, i, o);
		const rules = readRules(o);
		const windowMs =
			positive(this.getNodeParameter('sampleSeconds', i, 10), 'Sample Window (Seconds)', 10) * 1000;
		return await withGuardDocker(this, i, async (client) => {
			const sampled = await sampleDockerUsage(client, readSelection(this, i), {
				windowMs,
				concurrency: Math.max(1, Math.floor(Number(o.concurrency ?? 8)) || 1),
				timeoutMs: positive(o.timeoutSeconds, 'Timeout (Seconds)', 30) * 1000,
			});
			const basis = `Docker stats over ${windowMs / 1000} s`;
			if (!sampled.length)
				return [noContainer(readSelection(this, i), `running at ${client.target}`)];
			return sampled.map(
				(s): NewFinding =>
					s.usage
						? rightsizingFinding(s.usage, basis, rules)
						: {
								check: 'rightsizing',
								target: s.name,
								status: 'error',
								summary: `${s.name}: could not be sampled: ${s.error}`,
							},
			);
		});
	});
}
