/**
 * Health: one finding per container (state, health check with its last probe output, restarts and
 * their increase since the last run, OOM kill, exit code, uptime), whose condition (up, down,
 * unhealthy, flapping, paused, gone) is the change key, so `changed` fires on transitions only.
 * Restart samples and last-seen containers live in the store the caller passes (the workflow's
 * static data), never in process memory.
 */
import type { NewFinding } from '../shared/findings';
import { redactSecrets } from '../shared/secretShapes';
import { describeContainer, type InspectInfo, type ListedContainer } from './containers';

export type Condition = 'up' | 'down' | 'unhealthy' | 'flapping' | 'paused' | 'gone';

export interface HealthOptions {
	/** Restarts within the window above this count are flapping. */
	flapRestarts: number;
	windowMinutes: number;
	/** A container gone for longer than this is forgotten (no more findings). */
	forgetHours: number;
	/** Docker target and selection: containers of another selection are not "gone" from this one. */
	scope: string;
	now: Date;
	/** Names given without wildcards: one that matches no container is a finding, not silence. */
	expectedNames?: string[];
}

interface Seen {
	id: string;
	/** [epoch ms, restart count] within the window, oldest first */
	samples: Array<[number, number]>;
	lastSeen: string;
	condition: Condition;
	compose?: string;
}

type HealthState = Record<string, Record<string, Seen>>;

export const STORE_KEY = 'containerGuardHealth';
const SEVERITY: Record<Condition, NewFinding['status']> = {
	up: 'ok',
	down: 'critical',
	unhealthy: 'critical',
	gone: 'critical',
	flapping: 'warning',
	paused: 'warning',
};

function uptime(seconds: number): string {
	const d = Math.floor(seconds / 86400);
	const h = Math.floor((seconds % 86400) / 3600);
	const m = Math.floor((seconds % 3600) / 60);
	return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${Math.floor(seconds % 60)}s`;
}

export function assessHealth(
	containers: Array<{ listed: ListedContainer; info: InspectInfo }>,
	store: Record<string, unknown>,
	options: HealthOptions,
): NewFinding[] {
	const kept = store[STORE_KEY];
	const all = (kept && typeof kept === 'object' ? kept : {}) as HealthState;
	// static data outlives versions of this code and can be edited: entries of another shape are dropped
	const before = Object.fromEntries(
		Object.entries(all[options.scope] ?? {}).filter(
			([, seen]) =>
				typeof seen?.id === 'string' &&
				Array.isArray(seen.samples) &&
				typeof seen.lastSeen === 'string',
		),
	);
	const next: Record<string, Seen> = {};
	const nowMs = options.now.getTime();
	const windowStart = nowMs - options.windowMinutes * 60_000;
	const findings: NewFinding[] = [];

	for (const { listed, info } of containers) {
		const state = info.State as InspectInfo['State'] & {
			Health?: {
				Status: string;
				FailingStreak: number;
				Log?: Array<{ ExitCode: number; Output: string; End: string }>;
			};
		};
		const restartCount = info.RestartCount ?? 0;
		const prev = before[listed.name];
		const sameContainer = prev?.id === info.Id;
		const samples = (sameContainer ? prev.samples : []).filter(([at]) => at >= windowStart);
		const lastCount = sameContainer ? prev.samples[prev.samples.length - 1]?.[1] : undefined;
		// a recreated container starts counting from 0 again: all its restarts are new
		const increase = prev ? Math.max(0, restartCount - (lastCount ?? 0)) : 0;
		const oldest = samples[0]?.[1];
		const inWindow = oldest === undefined ? 0 : Math.max(0, restartCount - oldest);
		samples.push([nowMs, restartCount]);

		const status = state.Status;
		const health = state.Health?.Status;
		const probe = state.Health?.Log?.[state.Health.Log.length - 1];
		// a probe prints what it ran into (a curl -u, a DSN): never into an alert
		const lastProbe = probe && { ...probe, Output: redactSecrets(String(probe.Output ?? '')) };
		let condition: Condition;
		if (!['running', 'restarting', 'paused'].includes(status)) condition = 'down';
		else if (inWindow > options.flapRestarts) condition = 'flapping';
		else if (status === 'restarting') condition = 'down';
		else if (health === 'unhealthy') condition = 'unhealthy';
		else if (status === 'paused') condition = 'paused';
		else condition = 'up';

		const startedMs = Date.parse(state.StartedAt);
		const uptimeSeconds =
			status === 'running' && Number.isFinite(startedMs)
				? Math.max(0, Math.round((nowMs - startedMs) / 1000))
				: 0;
		const who = describeContainer(listed);
		const wasBad = prev && prev.condition !== 'up';
		let summary: string;
		switch (condition) {
			case 'down':
				summary = `${who} is down: ${status}${status === 'exited' ? ` with code ${state.ExitCode}` : ''}${state.OOMKilled ? ' (OOM-killed)' : ''}`;
				break;
			case 'flapping':
				summary = `${who} is flapping: ${inWindow} restarts in ${options.windowMinutes} min (more than ${options.flapRestarts})`;
				break;
			case 'unhealthy':
				summary = `${who} is unhealthy (${state.Health?.FailingStreak ?? 0} failed probes): ${(lastProbe?.Output ?? '').trim().slice(0, 200) || `exit ${lastProbe?.ExitCode ?? '?'}`}`;
				break;
			case 'paused':
				summary = `${who} is paused`;
				break;
			default:
				summary = `${who} ${wasBad ? `recovered (was ${prev.condition})` : 'is up'} for ${uptime(uptimeSeconds)}${health ? `, ${health}` : ''}`;
		}
		if (increase > 0 && condition !== 'flapping')
			summary += `; ${increase} restart(s) since the last run`;

		findings.push({
			check: 'container-health',
			target: listed.name,
			status: SEVERITY[condition],
			summary,
			changeKey: condition,
			condition,
			previousCondition: prev?.condition ?? null,
			state: status,
			health: health ?? null,
			failingStreak: state.Health?.FailingStreak ?? null,
			lastProbe: lastProbe
				? {
						exitCode: lastProbe.ExitCode,
						output: lastProbe.Output.slice(0, 1000),
						at: lastProbe.End,
					}
				: null,
			restartCount,
			restartsSinceLastRun: increase,
			restartsInWindow: inWindow,
			oomKilled: state.OOMKilled === true,
			exitCode: state.ExitCode,
			uptimeSeconds,
			startedAt: state.StartedAt,
			finishedAt: status === 'running' ? null : state.FinishedAt,
			image: listed.image,
			containerId: info.Id.slice(0, 12),
			composeProject: listed.compose?.project ?? null,
			composeService: listed.compose?.service ?? null,
			composeFile: listed.compose?.configFiles[0] ?? null,
		});
		next[listed.name] = {
			id: info.Id,
			samples,
			lastSeen: options.now.toISOString(),
			condition,
			compose: listed.compose ? `${listed.compose.project}/${listed.compose.service}` : undefined,
		};
	}

	for (const [name, seen] of Object.entries(before)) {
		if (next[name]) continue;
		const goneMs = nowMs - Date.parse(seen.lastSeen);
		if (goneMs > options.forgetHours * 3_600_000) continue;
		next[name] = { ...seen, condition: 'gone' };
		findings.push({
			check: 'container-health',
			target: name,
			status: SEVERITY.gone,
			summary: `${name}${seen.compose ? ` (compose ${seen.compose})` : ''} is gone: not seen since ${seen.lastSeen}`,
			changeKey: 'gone',
			condition: 'gone',
			previousCondition: seen.condition,
			lastSeen: seen.lastSeen,
			containerId: seen.id.slice(0, 12),
		});
	}
	for (const name of options.expectedNames ?? []) {
		if (next[name] || /[*?]/.test(name)) continue;
		findings.push({
			check: 'container-health',
			target: name,
			status: SEVERITY.gone,
			summary: `no container named ${name}`,
			changeKey: 'gone',
			condition: 'gone',
			previousCondition: null,
			lastSeen: null,
		});
	}
	all[options.scope] = next;
	store[STORE_KEY] = all;
	return findings;
}

/**
 * How two overlapping runs' container records combine (the shared State Store's merge): per
 * container the later sighting wins; one this run forgot stays forgotten unless another run has seen
 * it since.
 */
export function mergeHealth(current: unknown, mine: unknown, base: unknown): HealthState {
	const now = structuredClone((current ?? {}) as HealthState);
	const before = (base ?? {}) as HealthState;
	for (const [scope, seen] of Object.entries((mine ?? {}) as HealthState)) {
		const merged = (now[scope] ??= {});
		for (const [name, entry] of Object.entries(seen))
			if (!merged[name] || merged[name].lastSeen <= entry.lastSeen) merged[name] = entry;
		for (const [name, old] of Object.entries(before[scope] ?? {}))
			if (!(name in seen) && merged[name] && merged[name].lastSeen <= old.lastSeen)
				delete merged[name];
	}
	return now;
}
