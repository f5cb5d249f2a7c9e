/**
 * Apply Limits: a live `container update` of memory, memory reservation, CPUs and pids, refused when
 * the new memory limit is below what the container uses now, and the compose `deploy.resources`
 * snippet that makes the change survive the next `docker compose up`.
 */
import type Dockerode from 'dockerode';
import { loadYaml } from '../shared/lazy';

import { InfraOpsError, withTimeout } from '../shared/errors';
import { describeContainer, type ListedContainer, type InspectInfo } from './containers';
import { currentLimits } from './policy';
import { composeBytes, cpusFromNano, humanBytes } from './sizes';

export type SwapChoice = 'none' | 'double' | 'unlimited';

export interface LimitChange {
	memory?: number;
	memoryReservation?: number;
	nanoCpus?: number;
	pidsLimit?: number;
	swap: SwapChoice;
}

const TIMEOUT_MS = 30_000;

/** Memory in use as `docker stats` shows it: usage less the inactive page cache the kernel can drop. */
export function memoryInUse(stats: {
	memory_stats?: { usage?: number; stats?: Record<string, number> };
}): number | undefined {
	const m = stats.memory_stats;
	if (!m || typeof m.usage !== 'number') return undefined;
	const inactive = m.stats?.total_inactive_file ?? m.stats?.inactive_file ?? 0;
	return Math.max(0, m.usage - (inactive < m.usage ? inactive : 0));
}

/** One stats sample (not a stream): the current memory use, or undefined for a stopped container. */
export async function sampleMemory(
	docker: Dockerode,
	id: string,
	name: string,
): Promise<number | undefined> {
	const stats = (await withTimeout(
		docker.getContainer(id).stats({ stream: false, 'one-shot': true } as { stream: false }),
		TIMEOUT_MS,
		`reading the memory use of ${name}`,
	)) as Parameters<typeof memoryInUse>[0];
	return memoryInUse(stats);
}

/** The body of POST /containers/{id}/update, and how MemorySwap was chosen. */
export function updateBody(
	change: LimitChange,
	current: InspectInfo,
): { body: Record<string, number>; swapNote?: string } {
	const body: Record<string, number> = {};
	let swapNote: string | undefined;
	if (change.memory !== undefined) {
		body.Memory = change.memory;
		// Docker refuses a memory limit above the current memory+swap limit, so the swap limit always moves with it
		if (change.swap === 'unlimited') {
			body.MemorySwap = -1;
			swapNote = 'MemorySwap -1: swap unlimited';
		} else if (change.swap === 'double') {
			body.MemorySwap = change.memory * 2;
			swapNote = `MemorySwap ${composeBytes(change.memory * 2)}: as much swap as memory (docker run's default)`;
		} else {
			body.MemorySwap = change.memory;
			swapNote = `MemorySwap ${composeBytes(change.memory)} = memory: no swap, so the limit is a hard one`;
		}
		const reservation = change.memoryReservation ?? currentLimits(current).memoryReservation;
		if (reservation > change.memory)
			throw new InfraOpsError(
				`Memory reservation ${humanBytes(reservation)} would be above the memory limit ${humanBytes(change.memory)}`,
				'Lower Memory Reservation too, or raise Memory',
			);
	}
	if (change.memoryReservation !== undefined) body.MemoryReservation = change.memoryReservation;
	if (change.nanoCpus !== undefined) body.NanoCpus = change.nanoCpus;
	if (change.pidsLimit !== undefined) body.PidsLimit = change.pidsLimit;
	return { body, swapNote };
}

export interface ResourcesSnippetInput {
	service: string;
	memory?: number | string;
	memoryReservation?: number | string;
	cpus?: number;
	pidsLimit?: number;
}

/**
 * A compose file fragment with the limits under `deploy.resources` (honoured by `docker compose up`
 * without swarm) and the pids limit as the service's `pids_limit`, which every Compose version reads.
 */
export function composeSnippet(input: ResourcesSnippetInput): string {
	const size = (v: number | string) => (typeof v === 'number' ? composeBytes(v) : v);
	const limits: Record<string, string | number> = {};
	const reservations: Record<string, string> = {};
	if (input.cpus !== undefined) limits.cpus = String(input.cpus);
	if (input.memory !== undefined) limits.memory = size(input.memory);
	if (input.memoryReservation !== undefined) reservations.memory = size(input.memoryReservation);
	const resources: Record<string, unknown> = {};
	if (Object.keys(limits).length) resources.limits = limits;
	if (Object.keys(reservations).length) resources.reservations = reservations;
	const service: Record<string, unknown> = {};
	if (Object.keys(resources).length) service.deploy = { resources };
	if (input.pidsLimit !== undefined) service.pids_limit = input.pidsLimit;
	return loadYaml().stringify({ services: { [input.service]: service } });
}

export interface ApplyResult {
	container: string;
	id: string;
	composeFile?: string;
	service?: string;
	before: Record<string, string | number | null>;
	after: Record<string, string | number | null>;
	memoryInUse?: string;
	memorySwap?: string;
	warnings: string[];
	composeSnippet: string;
	dockerUpdate: string;
}

function shown(info: InspectInfo): Record<string, string | number | null> {
	const now = currentLimits(info);
	return {
		memory: now.memory ? composeBytes(now.memory) : null,
		memoryReservation: now.memoryReservation ? composeBytes(now.memoryReservation) : null,
		cpus: now.nanoCpus ? cpusFromNano(now.nanoCpus) : null,
		pidsLimit: now.pidsLimit || null,
	};
}

export async function applyLimits(
	docker: Dockerode,
	target: string,
	container: { listed: ListedContainer; info: InspectInfo },
	change: LimitChange,
): Promise<ApplyResult> {
	const { listed, info } = container;
	const who = describeContainer(listed);
	if (
		change.memory === undefined &&
		change.memoryReservation === undefined &&
		change.nanoCpus === undefined &&
		change.pidsLimit === undefined
	)
		throw new InfraOpsError(
			`Nothing to apply to ${who}`,
			'Set at least one of Memory, Memory Reservation, CPUs or Pids Limit',
		);
	let inUse: number | undefined;
	if (change.memory !== undefined && info.State.Running) {
		inUse = await sampleMemory(docker, listed.id, listed.name);
		if (inUse !== undefined && change.memory < inUse)
			throw new InfraOpsError(
				`Refused: the memory limit ${humanBytes(change.memory)} is below what ${who} uses now (${humanBytes(inUse)})`,
				`Choose a limit above ${humanBytes(inUse)} with headroom (Usage & Rightsizing recommends one), or restart the container first if the use is a leak`,
			);
	}
	const { body, swapNote } = updateBody(change, info);
	try {
		await withTimeout(
			docker.getContainer(listed.id).update(body),
			TIMEOUT_MS,
			`updating ${listed.name} at Docker ${target}`,
		);
	} catch (error) {
		if (error instanceof InfraOpsError) throw error;
		const message =
			(error as { json?: { message?: string } }).json?.message ?? (error as Error).message;
		throw new InfraOpsError(
			`Docker refused the update of ${who}: ${message}`,
			'The container keeps its previous limits; check the values against the host (docker info) and the kernel',
		);
	}
	const afterInfo = await withTimeout(
		docker.getContainer(listed.id).inspect(),
		TIMEOUT_MS,
		`inspecting ${listed.name} after the update`,
	);
	const after = shown(afterInfo);
	const warnings: string[] = [];
	const wanted = currentLimits(afterInfo);
	if (change.memory !== undefined && wanted.memory !== change.memory)
		warnings.push(`memory reads ${wanted.memory} after the update, not ${change.memory}`);
	if (change.nanoCpus !== undefined && wanted.nanoCpus !== change.nanoCpus)
		warnings.push(`CPUs read ${cpusFromNano(wanted.nanoCpus)} after the update`);
	if (change.pidsLimit !== undefined && wanted.pidsLimit !== change.pidsLimit)
		warnings.push(
			`pids limit reads ${wanted.pidsLimit} after the update (the kernel may lack the pids cgroup)`,
		);
	const flags = [
		change.memory !== undefined ? `--memory ${composeBytes(change.memory)}` : '',
		body.MemorySwap !== undefined
			? `--memory-swap ${body.MemorySwap < 0 ? '-1' : composeBytes(body.MemorySwap)}`
			: '',
		change.memoryReservation !== undefined
			? `--memory-reservation ${composeBytes(change.memoryReservation)}`
			: '',
		change.nanoCpus !== undefined ? `--cpus ${cpusFromNano(change.nanoCpus)}` : '',
		change.pidsLimit !== undefined ? `--pids-limit ${change.pidsLimit}` : '',
	].filter(Boolean);
	return {
		container: listed.name,
		id: listed.id,
		composeFile: listed.compose?.configFiles[0],
		service: listed.compose?.service,
		before: shown(info),
		after,
		memoryInUse: inUse === undefined ? undefined : humanBytes(inUse),
		memorySwap: swapNote,
		warnings,
		// the whole resulting set, so pasting it does not drop a limit this run left as it was
		composeSnippet: composeSnippet({
			service: listed.compose?.service ?? listed.name,
			memory: wanted.memory || undefined,
			memoryReservation: wanted.memoryReservation || undefined,
			cpus: wanted.nanoCpus ? cpusFromNano(wanted.nanoCpus) : undefined,
			pidsLimit: wanted.pidsLimit || undefined,
		}),
		dockerUpdate: `docker update ${flags.join(' ')} ${listed.name}`,
	};
}
