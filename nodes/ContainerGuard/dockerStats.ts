/**
 * Usage from the Docker stats API, sampled inside the run: one list, one inspect per container (for
 * its limits), then two one-shot stats samples `windowMs` apart, one request per container per
 * sample, at most `concurrency` at once. CPU is the mean over the window; memory the higher of the
 * two working-set samples (usage minus inactive file cache, as `docker stats` shows it).
 */
import type Dockerode from 'dockerode';

import type { DockerClient } from '../shared/docker';
import { mapConcurrent } from '../shared/concurrency';
import { errorMessage, withTimeout } from '../shared/errors';
import type { ContainerSelection } from './containers';
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

/** `*` any text, `?` one character; anything else literal. */
function globToRegExp(glob: string): RegExp {
	const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
	return new RegExp(`^${body}$`);
}

export function matchesSelection(
	name: string,
	labels: Record<string, string>,
	selection: ContainerSelection,
): boolean {
	if (selection.names.length && !selection.names.some((n) => globToRegExp(n).test(name))) return false;
	for (const wanted of selection.labels) {
		const eq = wanted.indexOf('=');
		const key = eq < 0 ? wanted : wanted.slice(0, eq);
		if (!(key in labels)) return false;
		if (eq >= 0 && labels[key] !== wanted.slice(eq + 1)) return false;
	}
	if (selection.composeProject && labels['com.docker.compose.project'] !== selection.composeProject)
		return false;
	return true;
}

export interface SampledContainer {
	usage?: ContainerUsage;
	/** The container could not be sampled (stopped or removed during the window). */
	error?: string;
	name: string;
}

interface Target {
	id: string;
	name: string;
	labels: Record<string, string>;
	image: string;
}

async function sample(docker: Dockerode, id: string, timeoutMs: number): Promise<StatsSample> {
	const raw = (await withTimeout(
		docker.getContainer(id).stats({ stream: false, 'one-shot': true }),
		timeoutMs,
		`Docker stats of ${id.slice(0, 12)}`,
	)) as unknown as RawStats;
	return parseStats(raw);
}

async function limitsOf(docker: Dockerode, id: string, timeoutMs: number) {
	const info = await withTimeout(docker.getContainer(id).inspect(), timeoutMs, `Docker inspect of ${id.slice(0, 12)}`);
	const host = info.HostConfig as { Memory?: number; NanoCpus?: number; CpuQuota?: number; CpuPeriod?: number };
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
	const listed = await withTimeout(docker.listContainers({ all: false }), options.timeoutMs, `Docker list at ${client.target}`);
	const targets: Target[] = listed
		.map((c) => ({
			id: c.Id,
			name: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, ''),
			labels: c.Labels ?? {},
			image: c.Image,
		}))
		.filter((t) => matchesSelection(t.name, t.labels, selection))
		.sort((a, b) => a.name.localeCompare(b.name));

	const first = await mapConcurrent(targets, options.concurrency, async (t) => {
		try {
			const [limits, s] = await Promise.all([
				limitsOf(docker, t.id, options.timeoutMs),
				sample(docker, t.id, options.timeoutMs),
			]);
			return { limits, s };
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
		if (a.error !== undefined || b.error !== undefined || !a.s || !b.s || !a.limits)
			return { name: t.name, error: a.error ?? b.error ?? 'no sample' };
		return {
			name: t.name,
			usage: {
				name: t.name,
				id: t.id.slice(0, 12),
				image: t.image,
				composeProject: t.labels['com.docker.compose.project'],
				composeService: t.labels['com.docker.compose.service'],
				memoryBytes: Math.max(a.s.workingSetBytes, b.s.workingSetBytes),
				cpuCores: coresBetween(a.s, b.s),
				...a.limits,
			},
		};
	});
}
