/**
 * Least privilege and network isolation of running containers, read from the Docker Engine API
 * (inspect only; nothing is changed). One finding per container, one per network with members.
 */
import type Dockerode from 'dockerode';

import { mapConcurrent } from '../shared/concurrency';
import { InfraOpsError } from '../shared/errors';
import type { NewFinding } from '../shared/findings';
import { CHECKLIST, NETWORK_ISOLATION } from './control';

export const PRIVILEGE_CHECK = 'container-privilege';
export const NETWORK_CHECK = 'network-isolation';

/** Tier → name fragments of the containers (or compose services) in it, for containers without a tier label. */
export type TierMap = Record<string, string[]>;

export const DEFAULT_TIER_MAP: TierMap = {
	edge: ['traefik', 'caddy', 'nginx-proxy', 'cloudflared'],
	app: ['n8n', 'open-webui', 'openwebui', 'flowise', 'langfuse', 'searxng', 'kong', 'studio'],
	ai: ['ollama'],
	data: [
		'postgres',
		'supabase-db',
		'db',
		'qdrant',
		'neo4j',
		'redis',
		'valkey',
		'clickhouse',
		'minio',
	],
};

/** Tiers that must not meet on one network: the edge (reachable from outside) and the data stores. */
const FORBIDDEN_PAIRS: [string, string][] = [['edge', 'data']];

export const TIER_LABEL = 'infra-ops.tier';

export function parseTierMap(text: string): TierMap {
	let parsed: unknown;
	try {
		parsed = JSON.parse(text || '{}');
	} catch (error) {
		throw new InfraOpsError(
			`The tier map is not valid JSON: ${(error as Error).message}`,
			'Write it as {"edge": ["traefik"], "data": ["postgres", "qdrant"]}',
		);
	}
	if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
		throw new InfraOpsError('The tier map must be a JSON object of tier → list of names');
	const out: TierMap = {};
	for (const [tier, names] of Object.entries(parsed)) {
		if (!Array.isArray(names) || names.some((n) => typeof n !== 'string'))
			throw new InfraOpsError(`Tier "${tier}" of the tier map must list names as strings`);
		out[tier] = names as string[];
	}
	return out;
}

interface Member {
	name: string;
	project?: string;
	service?: string;
	tier?: string;
}

function tierOf(name: string, labels: Record<string, string>, map: TierMap): string | undefined {
	if (labels[TIER_LABEL]) return labels[TIER_LABEL];
	const service = labels['com.docker.compose.service'];
	for (const [tier, fragments] of Object.entries(map)) {
		for (const f of fragments) {
			const hit = (s: string | undefined) =>
				s !== undefined && (s === f || s.split(/[-_.]/).includes(f) || s.startsWith(f));
			if (hit(service) || hit(name)) return tier;
		}
	}
	return undefined;
}

const SOCKET = /(^|\/)docker\.sock$/;

/** Problems of one inspected container, most severe first. */
export function privilegeProblems(info: Dockerode.ContainerInspectInfo): {
	critical: string[];
	warning: string[];
} {
	const host = info.HostConfig;
	const critical: string[] = [];
	const warning: string[] = [];
	if (host.Privileged) critical.push('runs privileged');
	const sockets = (info.Mounts ?? []).filter(
		(m) => SOCKET.test(m.Source ?? '') || SOCKET.test(m.Destination ?? ''),
	);
	if (sockets.length)
		critical.push(
			`mounts the Docker socket (${sockets.map((m) => `${m.Source}${m.RW ? '' : ', read-only'}`).join('; ')}): that is root on the host`,
		);
	if (host.PidMode === 'host') critical.push("shares the host's PID namespace");
	if (host.NetworkMode === 'host') warning.push("uses the host's network");
	const user = (info.Config.User ?? '').trim();
	if (!user || /^(0|root)(:|$)/.test(user)) warning.push('runs as root');
	if (host.CapAdd?.length) warning.push(`adds capabilities ${host.CapAdd.join(', ')}`);
	return { critical, warning };
}

export async function auditContainerPrivileges(
	docker: Dockerode,
	options: { target: string; ignore: string[]; concurrency?: number },
): Promise<NewFinding[]> {
	const list = await docker.listContainers();
	const infos = await mapConcurrent(list, options.concurrency ?? 4, (c) =>
		docker.getContainer(c.Id).inspect(),
	);
	return infos
		.map((info) => ({ info, name: info.Name.replace(/^\//, '') }))
		.filter(({ name }) => !options.ignore.includes(name))
		.sort((a, b) => a.name.localeCompare(b.name))
		.map(({ info, name }) => {
			const { critical, warning } = privilegeProblems(info);
			const problems = [...critical, ...warning];
			const status = critical.length ? 'critical' : warning.length ? 'warning' : 'ok';
			const host = info.HostConfig;
			return {
				check: PRIVILEGE_CHECK,
				target: `${options.target}/${name}`,
				container: name,
				image: info.Config.Image,
				checklist: CHECKLIST[8],
				status,
				result: problems.length ? 'fail' : 'pass',
				summary: problems.length
					? `${name} ${problems.join('; ')}`
					: `${name} runs unprivileged as ${info.Config.User}`,
				problems,
				evidence: JSON.stringify({
					User: info.Config.User,
					Privileged: host.Privileged,
					CapAdd: host.CapAdd,
					NetworkMode: host.NetworkMode,
					PidMode: host.PidMode,
					Mounts: (info.Mounts ?? []).map(
						(m) => `${m.Source}:${m.Destination}${m.RW ? '' : ':ro'}`,
					),
				}),
				remediation: problems.length
					? 'In the compose file: user: "1000:1000", cap_drop: [ALL] and only the cap_add it needs, no privileged / pid: host / network_mode: host; give tools that need Docker a read-only socket proxy (docs/deploy.md) instead of the socket'
					: '-',
				changeKey: problems.join('|'),
			} satisfies NewFinding;
		});
}

const BUILTIN = new Set(['host', 'none']);

export async function auditNetworks(
	docker: Dockerode,
	options: { target: string; tierMap: TierMap },
): Promise<NewFinding[]> {
	const networks = await docker.listNetworks();
	const containers = await docker.listContainers();
	const byId = new Map(containers.map((c) => [c.Id, c]));
	const findings: NewFinding[] = [];
	for (const net of [...networks].sort((a, b) => a.Name.localeCompare(b.Name))) {
		if (BUILTIN.has(net.Name)) continue;
		const detail = await docker.getNetwork(net.Id).inspect();
		const members: Member[] = Object.keys((detail.Containers ?? {}) as Record<string, unknown>)
			.map((id) => byId.get(id))
			.filter((c): c is Dockerode.ContainerInfo => Boolean(c))
			.map((c) => {
				const name = (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, '');
				const labels = c.Labels ?? {};
				return {
					name,
					project: labels['com.docker.compose.project'],
					service: labels['com.docker.compose.service'],
					tier: tierOf(name, labels, options.tierMap),
				};
			})
			.sort((a, b) => a.name.localeCompare(b.name));
		if (!members.length) continue;
		const tiers = [...new Set(members.map((m) => m.tier ?? 'untiered'))].sort();
		const projects = [...new Set(members.flatMap((m) => (m.project ? [m.project] : [])))].sort();
		const problems: string[] = [];
		for (const [a, b] of FORBIDDEN_PAIRS)
			if (tiers.includes(a) && tiers.includes(b))
				problems.push(
					`tiers "${a}" (${members
						.filter((m) => m.tier === a)
						.map((m) => m.name)
						.join(', ')}) and "${b}" (${members
						.filter((m) => m.tier === b)
						.map((m) => m.name)
						.join(', ')}) meet`,
				);
		if (projects.length > 1) problems.push(`compose projects ${projects.join(', ')} share it`);
		if (net.Name === 'bridge' && members.length > 1)
			problems.push("several containers share Docker's default bridge");
		findings.push({
			check: NETWORK_CHECK,
			target: `${options.target}/${net.Name}`,
			network: net.Name,
			checklist: NETWORK_ISOLATION,
			status: problems.length ? 'warning' : 'ok',
			result: problems.length ? 'fail' : 'pass',
			summary: problems.length
				? `Network ${net.Name}: ${problems.join('; ')}`
				: `Network ${net.Name}: ${members.length} container(s), tier(s) ${tiers.join(', ')}`,
			tiers,
			projects,
			members,
			evidence: members
				.map((m) => `${m.name} project=${m.project ?? '-'} tier=${m.tier ?? '-'}`)
				.join('\n'),
			remediation: problems.length
				? 'Give each tier its own network (e.g. edge ↔ app on "proxy", app ↔ data on "backend" with internal: true) so the edge never reaches a database'
				: '-',
			changeKey: `${tiers.join(',')}|${projects.join(',')}`,
		});
	}
	return findings;
}
