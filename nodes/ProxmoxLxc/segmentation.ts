/** Network segmentation audit: each container's VLAN tags against a tier map (review recommendation 7:
 * management 10, application 20, data 30, external 40). */
import { mapConcurrent } from '../shared/concurrency';
import { errorFields, errorMessage, InfraOpsError } from '../shared/errors';
import type { NewFinding } from '../shared/findings';
import { listContainerRows, type ContainerSummary, type LxcConfig } from './lxc';
import { parsePropertyString } from './propertyStrings';
import type { PveClient } from './transport/pveClient';

export interface TierMap {
	/** Tier name → VLAN id. */
	tiers: Record<string, number>;
	/** Container name (hostname) → tier name, for containers without a tier tag. */
	containers: Record<string, string>;
}

export const DEFAULT_TIERS: Record<string, number> = {
	management: 10,
	application: 20,
	data: 30,
	external: 40,
};

export function parseTierMap(input: unknown): TierMap {
	let doc = input;
	if (typeof input === 'string') {
		try {
			doc = JSON.parse(input || '{}');
		} catch (error) {
			throw new InfraOpsError(
				`Tier map is not JSON: ${(error as Error).message}`,
				'Write it as {"tiers": {"management": 10, ...}, "containers": {"traefik": "external", ...}}',
			);
		}
	}
	if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
		throw new InfraOpsError('Tier map must be an object with "tiers" and "containers"');
	const raw = doc as { tiers?: unknown; containers?: unknown };
	const tiers: Record<string, number> = {};
	for (const [name, vlan] of Object.entries(
		(raw.tiers as Record<string, unknown> | undefined) ?? DEFAULT_TIERS,
	)) {
		if (!Number.isInteger(vlan) || (vlan as number) < 1 || (vlan as number) > 4094)
			throw new InfraOpsError(
				`Tier map: tiers.${name} must be a VLAN id 1-4094, got ${JSON.stringify(vlan)}`,
			);
		tiers[name.toLowerCase()] = vlan as number;
	}
	const containers: Record<string, string> = {};
	for (const [name, tier] of Object.entries(
		(raw.containers as Record<string, unknown> | undefined) ?? {},
	)) {
		if (typeof tier !== 'string' || !(tier.toLowerCase() in tiers))
			throw new InfraOpsError(
				`Tier map: containers.${name} names tier ${JSON.stringify(tier)}, which is not in tiers (${Object.keys(tiers).join(', ')})`,
			);
		containers[name.toLowerCase()] = tier.toLowerCase();
	}
	return { tiers, containers };
}

export interface ContainerNetworks {
	container: ContainerSummary;
	interfaces: { key: string; bridge?: string; tag?: number; ip?: string }[];
}

export function interfacesOf(config: LxcConfig): ContainerNetworks['interfaces'] {
	return Object.keys(config)
		.filter((k) => /^net\d+$/.test(k))
		.sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)))
		.map((key) => {
			const p = parsePropertyString(String(config[key]), key);
			return {
				key,
				bridge: p.bridge,
				tag: p.tag === undefined ? undefined : Number(p.tag),
				ip: p.ip,
			};
		});
}

/** The tier of a container: a tag naming a tier wins, then its name in the map. */
export function tierOf(c: ContainerSummary, map: TierMap): { tier?: string; by?: 'tag' | 'name' } {
	const byTag = c.tags.map((t) => t.toLowerCase()).filter((t) => t in map.tiers);
	if (byTag.length === 1) return { tier: byTag[0], by: 'tag' };
	if (byTag.length > 1) return {};
	const byName = map.containers[c.name.toLowerCase()];
	return byName ? { tier: byName, by: 'name' } : {};
}

export function judgeSegmentation(n: ContainerNetworks, map: TierMap): NewFinding {
	const c = n.container;
	const target = `${c.node}/${c.vmid}`;
	const base = {
		check: 'proxmox-segmentation',
		target,
		vmid: c.vmid,
		node: c.node,
		name: c.name,
		tags: c.tags,
		interfaces: n.interfaces.map((i) => ({ ...i })),
	};
	const tierTags = c.tags.filter((t) => t.toLowerCase() in map.tiers);
	if (tierTags.length > 1)
		return {
			...base,
			status: 'warning',
			summary: `CT ${c.vmid} (${c.name}) has tags of several tiers (${tierTags.join(', ')}): give it one`,
			changeKey: 'ambiguous',
		};
	const { tier, by } = tierOf(c, map);
	if (!tier)
		return {
			...base,
			status: 'warning',
			summary: `CT ${c.vmid} (${c.name}) has no tier: tag it with one of ${Object.keys(map.tiers).join(', ')} or add its name to the tier map`,
			tier: null,
			changeKey: 'no-tier',
		};
	const vlan = map.tiers[tier];
	const wrong = n.interfaces.filter((i) => i.tag !== vlan);
	if (n.interfaces.length === 0)
		return {
			...base,
			status: 'ok',
			summary: `CT ${c.vmid} (${c.name}) has no network interface`,
			tier,
			tierBy: by,
			expectedVlan: vlan,
			changeKey: 'no-net',
		};
	if (wrong.length === 0)
		return {
			...base,
			status: 'ok',
			summary: `CT ${c.vmid} (${c.name}) is on VLAN ${vlan} (${tier})`,
			tier,
			tierBy: by,
			expectedVlan: vlan,
			changeKey: 'ok',
		};
	const parts = wrong.map(
		(i) => `${i.key} ${i.tag === undefined ? 'untagged' : `on VLAN ${i.tag}`}`,
	);
	return {
		...base,
		status: 'critical',
		summary: `CT ${c.vmid} (${c.name}) is outside its tier ${tier} (VLAN ${vlan}): ${parts.join(', ')}`,
		tier,
		tierBy: by,
		expectedVlan: vlan,
		violations: wrong.map((i) => ({ key: i.key, tag: i.tag ?? null, bridge: i.bridge ?? null })),
		changeKey: parts.join(','),
	};
}

export async function auditSegmentation(
	client: PveClient,
	map: TierMap,
	options: { node?: string; concurrency?: number } = {},
): Promise<NewFinding[]> {
	const listed = await listContainerRows(client, { node: options.node });
	// a row PVE lists without a usable VMID or node is that row's error finding; nothing is requested for it
	const refused: NewFinding[] = listed.refused.map(({ row, error }) => ({
		check: 'proxmox-segmentation',
		target: row,
		status: 'error',
		summary: error.message,
		...errorFields(error),
		changeKey: 'error',
	}));
	const containers = listed.containers.filter((c) => !c.template);
	const judged = await mapConcurrent(
		containers,
		options.concurrency ?? 4,
		async (container): Promise<NewFinding> => {
			let config: LxcConfig;
			try {
				config = await client.request<LxcConfig>(
					'GET',
					`/nodes/${container.node}/lxc/${container.vmid}/config`,
				);
			} catch (error) {
				// one unreadable config is that container's error finding; the rest of the audit still counts
				const target = `${container.node}/${container.vmid}`;
				return {
					check: 'proxmox-segmentation',
					target,
					vmid: container.vmid,
					node: container.node,
					name: container.name,
					tags: container.tags,
					status: 'error',
					summary: `CT ${container.vmid} (${container.name}): its network config cannot be read: ${errorMessage(error)}`,
					error: errorMessage(error),
					changeKey: 'error',
				};
			}
			return judgeSegmentation({ container, interfaces: interfacesOf(config) }, map);
		},
	);
	return [...judged, ...refused];
}
