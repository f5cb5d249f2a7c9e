/**
 * Usage from the Docker stats API, sampled inside the run: one list, one inspect per running container
 * (for its limits), then two one-shot stats samples `windowMs` apart, one request per container per
 * sample, at most `concurrency` at once. CPU is the mean over the window; memory the higher of the
 * two working-set samples (usage minus inactive file cache, as `docker stats` shows it).
 */
import type Dockerode from 'dockerode';

import type { DockerClient } from '../shared/docker';
import { mapConcurrent } from '../shared/concurrency';
import { errorMessage, withTimeout } from '../shared/errors';
import {
	inspectAll,
	listContainers,
	type ContainerSelection,
	type InspectInfo,
} from './containers';
import type { ContainerUsage } from './rightsizing';

export interface StatsSample {
	/** Nanoseconds of CPU the container used since it started. */
	cpuTotalNs: number;
	/** Nanoseconds of CPU of the whole host (all cores) since boot; absent on some platforms. */
	systemNs?: number;
	onlineCpus: number;
	readAt: number;
	workingSetBytes: number;
}

interface RawStats {
	read?: string;
	cpu_stats?: {
		cpu_usage?: { total_usage?: number; percpu_usage?: number[] };
		system_cpu_usage?: number;
		online_cpus?: number;
	};
	memory_stats?: { usage?: number; stats?: Record<string, number> };
}

export function parseStats(raw: RawStats): StatsSample {
	const usage = raw.memory_stats?.usage ?? 0;
	const stats = raw.memory_stats?.stats ?? {};
	// cgroup v2 names it inactive_file, v1 total_inactive_file; docker stats subtracts it too
	const inactive = stats.inactive_file ?? stats.total_inactive_file ?? 0;
	const cpu = raw.cpu_stats ?? {};
	return {
		cpuTotalNs: cpu.cpu_usage?.total_usage ?? 0,
		systemNs: cpu.system_cpu_usage || undefined,
		onlineCpus: cpu.online_cpus || cpu.cpu_usage?.percpu_usage?.length || 1,
		readAt: raw.read ? Date.parse(raw.read) : Date.now(),
		workingSetBytes: Math.max(0, usage - (inactive < usage ? inactive : 0)),
	};
}

/** Cores used between two samples: the container's CPU time over the host's (× cores), as `docker stats`
 * computes it; over wall-clock time when the host figure is missing. */
export function coresBetween(a: StatsSample, b: StatsSample): number {
	const used = b.cpuTotalNs - a.cpuTotalNs;
	if (used <= 0) return 0;
	if (a.systemNs !== undefined && b.systemNs !== undefined && b.systemNs > a.systemNs)
		return (used / (b.systemNs - a.systemNs)) * b.onlineCpus;
	const wallNs = (b.readAt - a.readAt) * 1e6;
	return wallNs > 0 ? used / wallNs : 0;
}

export interface SampledContainer {
	usage?: ContainerUsage;
	/** The container could not be sampled (stopped or removed during the window). */
	error?: string;
	name: string;
}

async function sample(docker: Dockerode, id: string, timeoutMs: number): Promise<StatsSample> {
	const raw = (await withTimeout(
		docker.getContainer(id).stats({ stream: false, 'one-shot': true }),
		timeoutMs,
		`Docker stats of ${id.slice(0, 12)}`,
	)) as unknown as RawStats;
	return parseStats(raw);
}

/** Limits from an inspect: NanoCpus (`--cpus`) or quota/period, memory (0: none). */
export function limitsOf(info: InspectInfo) {
	const host = info.HostConfig as {
		Memory?: number;
		NanoCpus?: number;
		CpuQuota?: number;
		CpuPeriod?: number;
	};
	const cpu = host.NanoCpus
		? host.NanoCpus / 1e9
		: host.CpuQuota && host.CpuQuota > 0
			? host.CpuQuota / (host.CpuPeriod || 100_000)
			: undefined;
	return { memoryLimitBytes: host.Memory || undefined, cpuLimitCores: cpu };
}

export async function sampleDockerUsage(
	client: DockerClient,
	selection: ContainerSelection,
	options: { windowMs: number; concurrency: number; timeoutMs: number },
): Promise<SampledContainer[]> {
	const { docker } = client;
	const listed = await listContainers(docker, client.target, selection);
	const inspected = await inspectAll(
		docker,
		client.target,
		listed.filter((c) => c.state === 'running'),
		options.concurrency,
	);
	const targets = inspected.map(({ listed: c, info }) => ({ ...c, limits: limitsOf(info) }));
	if (!targets.length) return [];

	const first = await mapConcurrent(targets, options.concurrency, async (t) => {
		try {
			return { s: await sample(docker, t.id, options.timeoutMs) };
		} catch (error) {
			return { error: errorMessage(error) };
		}
	});
	// the window runs from the end of the first round, so every container gets at least windowMs
	await new Promise((resolve) => setTimeout(resolve, options.windowMs));
	const second = await mapConcurrent(targets, options.concurrency, async (t, i) => {
		if (first[i].error !== undefined) return { error: first[i].error };
		try {
			return { s: await sample(docker, t.id, options.timeoutMs) };
		} catch (error) {
			return { error: errorMessage(error) };
		}
	});

	return targets.map((t, i): SampledContainer => {
		const a = first[i];
		const b = second[i];
		if (a.error !== undefined || b.error !== undefined || !a.s || !b.s)
			return { name: t.name, error: a.error ?? b.error ?? 'no sample' };
		return {
			name: t.name,
			usage: {
				name: t.name,
				id: t.id.slice(0, 12),
				image: t.image,
				composeProject: t.compose?.project,
				composeService: t.compose?.service,
				memoryBytes: Math.max(a.s.workingSetBytes, b.s.workingSetBytes),
				cpuCores: coresBetween(a.s, b.s),
				...t.limits,
			},
		};
	});
}
