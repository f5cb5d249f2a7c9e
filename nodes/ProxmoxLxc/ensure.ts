// Over 350 lines: plan and apply of one container share its diff types (KeyChange, ContainerPlan) and finding wording: apply executes exactly what plan shows.
/** Ensure: desired state vs what PVE runs (plan), and the smallest set of calls that closes the gap
 * (apply). Apply never destroys a container or removes a device unless `allowDelete` is on. */
import { mapConcurrent } from '../shared/concurrency';
import { errorMessage } from '../shared/errors';
import type { NewFinding } from '../shared/findings';
import { createParams, type DesiredContainer } from './desiredState';
import {
	createContainer,
	deleteContainer,
	getContainer,
	listContainers,
	power,
	resizeDisk,
	updateConfig,
	type ConfigValue,
	type ContainerDetails,
} from './lxc';
import { formatSize, normaliseValue, parsePropertyString, parseSize } from './propertyStrings';
import type { PveClient } from './transport/pveClient';

export interface KeyChange {
	key: string;
	desired: string;
	/** Applied value now ('' when unset). */
	actual: string;
	/** Value PVE holds for the next restart, when there is one. */
	pending?: string;
}

export interface ContainerPlan {
	vmid: number;
	node: string;
	name: string;
	exists: boolean;
	/** Where PVE has it when that differs from the desired node. */
	actualNode?: string;
	status?: string;
	digest?: string;
	/** Keys whose applied and pending values both differ from the desired value. */
	changes: KeyChange[];
	/** Keys already written with the desired value, waiting for a restart. */
	pendingKeys: string[];
	/** netN/mpN present in PVE but not in the desired state; removed only with allowDelete. */
	extraKeys: string[];
	/** Keys PVE lets only root@pam (logged in with its password) change: no API token can. */
	rootOnlyKeys: string[];
	resize?: { from: number; to: number };
	/** What cannot be done by an update (shrink, moving storage, unprivileged). */
	blocked: string[];
	power?: { from: string; to: string };
	destroy?: boolean;
	/** Why the container on this VMID may not be the one the document wants gone; it is destroyed only when this is empty. */
	identityMismatch?: string[];
	/** Why the container could not be read; nothing else of the plan is known then. */
	error?: string;
}

export interface EnsureOptions {
	allowDelete?: boolean;
	concurrency?: number;
}

const MANAGED_FAMILIES = /^(net|mp)\d+$/;

/**
 * What pve-container's check_ct_modify_config_perm reserves for root@pam. It compares the logged-in id
 * literally, and an API token's id is USER@REALM!TOKEN, so through the API (this node) these changes
 * never pass, even with root@pam's own token: report them instead of sending a request PVE refuses.
 */
export function rootOnlyChange(
	key: string,
	desired: string,
	actual: string,
	unprivileged: ConfigValue | undefined,
): boolean {
	if (/^dev\d+$/.test(key) || key === 'hookscript') return true;
	if (key === 'rootfs' || /^mp\d+$/.test(key))
		return (parsePropertyString(desired, key).volume ?? '').startsWith('/');
	if (key !== 'features') return false;
	if (!Number(unprivileged ?? 0)) return true;
	const flags = (s: string) => {
		const map = s ? parsePropertyString(s, 'features') : {};
		delete map.nesting;
		return JSON.stringify(
			Object.entries(map)
				.map(([k, v]) => [k, k === 'mount' ? v : /^(1|true)$/.test(v) ? '1' : '0'])
				.filter(([, v]) => v !== '0')
				.sort(),
		);
	};
	return flags(desired) !== flags(actual);
}

/**
 * A VMID is freed when its container is destroyed and PVE hands it to the next one created, so
 * "101: absent" in an old document may now name someone else's container. Before destroying, the
 * container must carry the document's hostname (DNS names: case does not matter) and, when the
 * document gives tags, exactly those tags.
 */
export function identityMismatch(
	desired: DesiredContainer,
	config: Record<string, ConfigValue>,
): string[] {
	const problems: string[] = [];
	const want = desired.config.hostname;
	const actual = config.hostname === undefined ? '' : String(config.hostname);
	if (want === undefined)
		problems.push('the document gives no hostname to confirm it is the container meant');
	else if (actual.toLowerCase() !== want.toLowerCase())
		problems.push(`its hostname is "${actual}", not "${want}"`);
	if (desired.config.tags !== undefined) {
		const wantTags = normaliseValue('tags', desired.config.tags);
		const actualTags = normaliseValue('tags', config.tags === undefined ? '' : String(config.tags));
		if (wantTags !== actualTags)
			problems.push(`its tags are "${actualTags || '(none)'}", not "${wantTags}"`);
	}
	return problems;
}

function comparePlan(desired: DesiredContainer, details: ContainerDetails): ContainerPlan {
	const pendingByKey = new Map(details.pending.map((p) => [p.key, p]));
	const plan: ContainerPlan = {
		vmid: desired.vmid,
		node: details.node,
		name: String(details.config.hostname ?? desired.config.hostname ?? ''),
		exists: true,
		actualNode: details.node !== desired.node ? details.node : undefined,
		status: details.status,
		digest: details.digest,
		changes: [],
		pendingKeys: [],
		extraKeys: [],
		rootOnlyKeys: [],
		blocked: [],
	};
	for (const [key, want] of Object.entries(desired.config)) {
		const actual = details.config[key] === undefined ? '' : String(details.config[key]);
		const wantNorm = normaliseValue(key, want);
		if (normaliseValue(key, actual, want) === wantNorm) continue;
		const p = pendingByKey.get(key);
		if (p?.pending !== undefined && normaliseValue(key, p.pending, want) === wantNorm) {
			plan.pendingKeys.push(key);
			continue;
		}
		plan.changes.push({
			key,
			desired: want,
			actual,
			...(p?.pending !== undefined ? { pending: p.pending } : {}),
		});
		if (rootOnlyChange(key, want, p?.pending ?? actual, details.config.unprivileged))
			plan.rootOnlyKeys.push(key);
	}
	for (const key of Object.keys(details.config)) {
		if (
			MANAGED_FAMILIES.test(key) &&
			desired.config[key] === undefined &&
			Object.keys(desired.config).some((k) => k.replace(/\d+$/, '') === key.replace(/\d+$/, ''))
		) {
			if (!pendingByKey.get(key)?.delete) plan.extraKeys.push(key);
		}
	}
	if (desired.rootfs) {
		const rootfs = parsePropertyString(String(details.config.rootfs ?? ''), 'rootfs');
		const actualSize = rootfs.size ? parseSize(rootfs.size) : 0;
		if (actualSize !== desired.rootfs.sizeBytes) {
			if (desired.rootfs.sizeBytes > actualSize)
				plan.resize = { from: actualSize, to: desired.rootfs.sizeBytes };
			else
				plan.blocked.push(
					`rootfs is ${formatSize(actualSize)}, desired ${formatSize(desired.rootfs.sizeBytes)}: PVE cannot shrink a volume`,
				);
		}
		const storage = (rootfs.volume ?? '').split(':')[0];
		if (desired.rootfs.storage && storage && desired.rootfs.storage !== storage)
			plan.blocked.push(
				`rootfs is on ${storage}, desired ${desired.rootfs.storage}: moving a volume is not done by Ensure (use Move Volume in PVE)`,
			);
	}
	if (
		desired.create.unprivileged !== undefined &&
		normaliseValue('unprivileged', details.config.unprivileged ?? 0) !==
			(desired.create.unprivileged ? '1' : '0')
	) {
		plan.blocked.push(
			`unprivileged is ${details.config.unprivileged ? 'on' : 'off'}, desired ${desired.create.unprivileged ? 'on' : 'off'}: that needs a backup and restore`,
		);
	}
	if (plan.actualNode)
		plan.blocked.push(
			`it is on node ${details.node}, desired ${desired.node}: Ensure does not migrate (use Migrate in PVE, or change the node in the desired state)`,
		);
	if (desired.state === 'absent') {
		plan.destroy = true;
		plan.identityMismatch = identityMismatch(desired, details.config);
	} else if (desired.state && desired.state !== details.status)
		plan.power = { from: details.status, to: desired.state };
	return plan;
}

export async function planContainers(
	client: PveClient,
	desired: DesiredContainer[],
	options: EnsureOptions = {},
): Promise<ContainerPlan[]> {
	const existing = new Map((await listContainers(client)).map((c) => [c.vmid, c]));
	return await mapConcurrent(desired, options.concurrency ?? 4, async (d) => {
		const found = existing.get(d.vmid);
		const unread = {
			vmid: d.vmid,
			node: found?.node ?? d.node,
			name: d.config.hostname ?? '',
			changes: [],
			pendingKeys: [],
			extraKeys: [],
			rootOnlyKeys: [],
			blocked: [],
		};
		if (!found) return { ...unread, exists: false };
		try {
			return comparePlan(d, await getContainer(client, found.node, d.vmid));
		} catch (error) {
			// one container that cannot be read (a lock, a permission on its VMID) is its own error
			// finding, so the others are still planned and alerted on
			return { ...unread, exists: true, error: errorMessage(error) };
		}
	});
}

const notTheOne = (problems: string[], named: boolean) =>
	!named
		? `${problems.join('; ')} (add its hostname to the document)`
		: `${problems.join('; ')}: the VMID may have been reused by another container (check it, then fix the document)`;

const label = (p: { vmid: number; name: string }) => `CT ${p.vmid}${p.name ? ` (${p.name})` : ''}`;

export function planFinding(
	p: ContainerPlan,
	desired: DesiredContainer,
	options: EnsureOptions = {},
): NewFinding {
	const target = `${p.actualNode ?? p.node}/${p.vmid}`;
	const base = {
		check: 'proxmox-drift',
		target,
		vmid: p.vmid,
		node: p.actualNode ?? p.node,
		name: p.name,
	};
	if (p.error)
		return {
			...base,
			status: 'error',
			summary: `${label(p)} cannot be read: ${p.error}`,
			drift: 'unknown',
			error: p.error,
			changeKey: 'error',
		};
	if (!p.exists) {
		if (desired.state === 'absent')
			return {
				...base,
				status: 'ok',
				summary: `${label(p)} is absent, as desired`,
				drift: 'none',
				changeKey: 'absent',
			};
		return {
			...base,
			status: 'warning',
			summary: `${label(p)} is missing on ${p.node}${desired.create.template ? ': Apply would create it' : ' (and has no template to create it from)'}`,
			drift: 'missing',
			changeKey: 'missing',
		};
	}
	if (p.destroy && p.identityMismatch?.length) {
		return {
			...base,
			// another container's hostname on this VMID is an alarm; a document without one is only incomplete
			status: desired.config.hostname === undefined ? 'warning' : 'error',
			summary: `${label(p)} exists but should be absent; it is not destroyed: ${notTheOne(p.identityMismatch, desired.config.hostname !== undefined)}`,
			drift: 'present',
			identityMismatch: p.identityMismatch,
			changeKey: JSON.stringify(['identity', p.identityMismatch]),
		};
	}
	if (p.destroy) {
		return {
			...base,
			status: 'warning',
			summary: `${label(p)} exists but should be absent${options.allowDelete ? ': Apply would destroy it' : ' (Apply destroys it only with Allow Delete)'}`,
			drift: 'present',
			changeKey: 'present',
		};
	}
	const parts: string[] = [];
	if (p.changes.length) parts.push(`drift in ${p.changes.map((c) => c.key).join(', ')}`);
	if (p.resize) parts.push(`rootfs ${formatSize(p.resize.from)} → ${formatSize(p.resize.to)}`);
	if (p.extraKeys.length) parts.push(`not in the desired state: ${p.extraKeys.join(', ')}`);
	if (p.power) parts.push(`${p.power.from}, desired ${p.power.to}`);
	if (p.blocked.length) parts.push(...p.blocked);
	if (p.rootOnlyKeys.length)
		parts.push(
			`${p.rootOnlyKeys.join(', ')} can only be changed by root@pam with its password, not through an API token`,
		);
	if (p.pendingKeys.length)
		parts.push(`${p.pendingKeys.join(', ')} pending until the next restart`);
	const drifted = parts.length > 0;
	const changeKey = JSON.stringify([
		p.changes.map((c) => [c.key, c.actual, c.pending]),
		p.pendingKeys,
		p.extraKeys,
		p.power,
		p.resize,
		p.blocked,
	]);
	return {
		...base,
		status: drifted ? 'warning' : 'ok',
		summary: drifted
			? `${label(p)}: ${parts.join('; ')}`
			: `${label(p)} is in sync (${Object.keys(desired.config).length + (desired.rootfs ? 1 : 0)} keys)`,
		drift:
			p.changes.length || p.resize || p.extraKeys.length || p.power || p.blocked.length
				? 'drift'
				: p.pendingKeys.length
					? 'pending'
					: 'none',
		changes: p.changes.map((c) => ({ ...c })),
		pendingKeys: p.pendingKeys,
		extraKeys: p.extraKeys,
		rootOnlyKeys: p.rootOnlyKeys,
		blocked: p.blocked,
		containerStatus: p.status,
		digest: p.digest,
		changeKey,
	};
}

export interface ApplyOutcome {
	plan: ContainerPlan;
	actions: string[];
	/** What Ensure left undone and why. */
	skipped: string[];
	error?: string;
}

async function applyOne(
	client: PveClient,
	p: ContainerPlan,
	d: DesiredContainer,
	options: EnsureOptions,
): Promise<ApplyOutcome> {
	const out: ApplyOutcome = { plan: p, actions: [], skipped: [] };
	if (p.error) return { ...out, error: `cannot be read: ${p.error}` };
	try {
		if (!p.exists) {
			if (d.state === 'absent') return out;
			if (!d.create.template) {
				out.skipped.push(`not created: ${d.path}.template is needed to create it`);
				return out;
			}
			const task = await createContainer(client, {
				node: d.node,
				vmid: d.vmid,
				ostemplate: d.create.template,
				storage: d.create.storage,
				password: d.create.password,
				sshPublicKeys: d.create.sshPublicKeys,
				config: createParams(d),
			});
			out.actions.push(`created on ${d.node} (${task.upid})`);
			if (d.state === 'running') {
				await power(client, d.node, d.vmid, 'start');
				out.actions.push('started');
			}
			return out;
		}
		const node = p.actualNode ?? p.node;
		if (p.destroy && p.identityMismatch?.length) {
			// checked before Allow Delete, so the finding says it even when Allow Delete is off
			const named = d.config.hostname !== undefined;
			if (named) out.error = `not destroyed: ${notTheOne(p.identityMismatch, named)}`;
			else out.skipped.push(`not destroyed: ${notTheOne(p.identityMismatch, named)}`);
			return out;
		}
		if (p.destroy) {
			if (!options.allowDelete) out.skipped.push('not destroyed: Allow Delete is off');
			else {
				await deleteContainer(client, node, d.vmid, { force: true, purge: true });
				out.actions.push('destroyed');
			}
			return out;
		}
		const set: Record<string, string> = {};
		for (const c of p.changes) {
			if (p.rootOnlyKeys.includes(c.key))
				out.skipped.push(
					`${c.key} not changed: PVE lets only root@pam logged in with its password change it, no API token (set it with pct set ${p.vmid} on the node)`,
				);
			else set[c.key] = c.desired;
		}
		const deletes = options.allowDelete ? p.extraKeys : [];
		if (!options.allowDelete && p.extraKeys.length)
			out.skipped.push(`${p.extraKeys.join(', ')} not removed: Allow Delete is off`);
		if (Object.keys(set).length || deletes.length) {
			const result = await updateConfig(client, node, d.vmid, {
				set,
				delete: deletes,
				digest: p.digest,
			});
			out.actions.push(
				`updated ${[...result.set, ...result.deleted.map((k) => `-${k}`)].join(', ')}${result.pending.length ? ` (${result.pending.join(', ')} pending until restart)` : ''}`,
			);
		}
		if (p.resize) {
			await resizeDisk(client, node, d.vmid, 'rootfs', `${Math.ceil(p.resize.to / 1024 ** 3)}G`);
			out.actions.push(`rootfs grown to ${formatSize(p.resize.to)}`);
		}
		out.skipped.push(...p.blocked);
		if (p.power) {
			await power(client, node, d.vmid, p.power.to === 'running' ? 'start' : 'shutdown', {
				forceStop: true,
			});
			out.actions.push(p.power.to === 'running' ? 'started' : 'shut down');
		}
	} catch (error) {
		out.error = errorMessage(error);
	}
	return out;
}

export async function applyContainers(
	client: PveClient,
	desired: DesiredContainer[],
	options: EnsureOptions = {},
): Promise<ApplyOutcome[]> {
	const plans = await planContainers(client, desired, options);
	return await mapConcurrent(
		plans,
		options.concurrency ?? 4,
		async (p, i) => await applyOne(client, p, desired[i], options),
	);
}

export function applyFinding(o: ApplyOutcome): NewFinding {
	const p = o.plan;
	const target = `${p.actualNode ?? p.node}/${p.vmid}`;
	const base = {
		check: 'proxmox-apply',
		target,
		vmid: p.vmid,
		node: p.actualNode ?? p.node,
		name: p.name,
		actions: o.actions,
		skipped: o.skipped,
	};
	if (o.error)
		return {
			...base,
			status: 'error',
			summary: `${label(p)}: ${o.actions.length ? `${o.actions.join('; ')}; then ` : ''}failed: ${o.error}`,
			error: o.error,
		};
	const parts = [...o.actions, ...o.skipped];
	return {
		...base,
		status: o.skipped.length ? 'warning' : 'ok',
		summary: parts.length ? `${label(p)}: ${parts.join('; ')}` : `${label(p)} was already in sync`,
		changeKey: JSON.stringify(parts),
	};
}
