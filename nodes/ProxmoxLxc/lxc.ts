// Over 350 lines: a flat list of 28 small PVE API calls, one function each; none of them is long.
/** LXC operations on a PVE cluster: plain arguments in, plain data out (no n8n import). */
import { InfraOpsError } from '../shared/errors';
import type { PveClient, PveParams, TaskResult } from './transport/pveClient';

export type ConfigValue = string | number;
export type LxcConfig = Record<string, ConfigValue>;

export interface ContainerSummary {
	vmid: number;
	node: string;
	name: string;
	status: string;
	tags: string[];
	maxmem?: number;
	maxdisk?: number;
	cpus?: number;
	uptime?: number;
	template: boolean;
}

export interface PendingChange {
	key: string;
	value?: string;
	pending?: string;
	delete?: boolean;
}

export interface ContainerDetails {
	vmid: number;
	node: string;
	status: string;
	uptime?: number;
	/** Applied configuration (what runs now), without the digest. */
	config: LxcConfig;
	digest: string;
	/** Changes written but not yet in effect (they wait for a restart). */
	pending: PendingChange[];
	lock?: string;
}

const ct = (node: string, vmid: number) => `/nodes/${encodeURIComponent(node)}/lxc/${vmid}`;

export function splitTags(tags: string | undefined): string[] {
	return (tags ?? '').split(/[;,\s]+/).filter(Boolean);
}

export function checkVmid(vmid: unknown, field = 'VMID'): number {
	const n = Number(vmid);
	if (!Number.isInteger(n) || n < 100 || n > 999_999_999)
		throw new InfraOpsError(
			`${field} "${String(vmid)}" is not a Proxmox VMID`,
			'A VMID is a whole number from 100 to 999999999',
		);
	return n;
}

export function checkNodeName(node: unknown, field = 'Node'): string {
	const s = String(node ?? '').trim();
	if (!/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(s))
		throw new InfraOpsError(
			`${field} "${s}" is not a Proxmox node name`,
			'Use the node name as the PVE tree shows it, e.g. pve',
		);
	return s;
}

/** A listed row that names no container this node can address (no usable VMID, or no node). */
export interface RefusedRow {
	/** The row's `id` (e.g. `lxc/101`), else its vmid or name as given. */
	row: string;
	error: InfraOpsError;
}

/** Containers of the cluster (or of one node): cluster resources filtered to LXC. A row that cannot be addressed is an error. */
export async function listContainers(
	client: PveClient,
	options: { node?: string } = {},
): Promise<ContainerSummary[]> {
	const { containers, refused } = await listContainerRows(client, options);
	if (refused.length) throw refused[0].error;
	return containers;
}

/** Like listContainers, but gives the rows it refuses beside the others (an audit reports them and goes on). */
export async function listContainerRows(
	client: PveClient,
	options: { node?: string } = {},
): Promise<{ containers: ContainerSummary[]; refused: RefusedRow[] }> {
	let rows: Record<string, unknown>[];
	let source: string;
	if (options.node) {
		const node = checkNodeName(options.node);
		source = `/nodes/${node}/lxc`;
		rows = (await client.request<Record<string, unknown>[]>('GET', source)).map((r) => ({
			...r,
			node,
		}));
	} else {
		source = '/cluster/resources';
		rows = (await client.request<Record<string, unknown>[]>('GET', source, { type: 'vm' })).filter(
			(r) => r.type === 'lxc',
		);
	}
	const containers: ContainerSummary[] = [];
	const refused: RefusedRow[] = [];
	for (const r of rows) {
		try {
			containers.push(summary(r, source));
		} catch (error) {
			if (!(error instanceof InfraOpsError)) throw error;
			refused.push({ row: String(r.id ?? r.vmid ?? r.name ?? '?'), error });
		}
	}
	return { containers: containers.sort((a, b) => a.vmid - b.vmid), refused };
}

/**
 * The VMID of a listed row. The schema makes `vmid` optional in /cluster/resources (the row's `id`,
 * `lxc/101`, always carries it), and PVE's Perl JSON encoder can emit a number it read as text as a
 * string ("101"); anything that is still not a VMID is refused here, before a request is built from it.
 */
function rowVmid(r: Record<string, unknown>, source: string): number {
	const fromId = typeof r.id === 'string' ? /^(?:lxc|qemu)\/(\d+)$/.exec(r.id)?.[1] : undefined;
	const raw = r.vmid ?? fromId;
	const n =
		typeof raw === 'number'
			? raw
			: typeof raw === 'string' && /^\d+$/.test(raw.trim())
				? Number(raw.trim())
				: NaN;
	const what = `${r.id !== undefined ? `id ${JSON.stringify(r.id)}, ` : ''}vmid ${r.vmid === undefined ? '(none)' : JSON.stringify(r.vmid)}`;
	if (!Number.isInteger(n) || n < 100 || n > 999_999_999) {
		throw new InfraOpsError(
			`PVE's ${source} lists a container without a usable VMID (${what}${r.name ? `, name ${JSON.stringify(r.name)}` : ''})`,
			'A VMID is a whole number from 100 to 999999999; nothing was requested for this row. Check the container in the PVE tree (pct list on its node) and the PVE version',
		);
	}
	if (fromId !== undefined && r.vmid !== undefined && Number(fromId) !== n) {
		throw new InfraOpsError(
			`PVE's ${source} gives a container two VMIDs (${what})`,
			'Check the container in the PVE tree (pct list on its node)',
		);
	}
	return n;
}

function summary(r: Record<string, unknown>, source: string): ContainerSummary {
	const vmid = rowVmid(r, source);
	if (typeof r.node !== 'string' || !r.node) {
		throw new InfraOpsError(
			`PVE's ${source} lists CT ${vmid}${r.name ? ` (${String(r.name)})` : ''} without its node`,
			"Nothing was requested for it. Its node may be offline or out of quorum (pvecm status); or list one node's containers with Only Node",
		);
	}
	return {
		vmid,
		node: checkNodeName(r.node, `The node of CT ${vmid}`),
		name: String(r.name ?? ''),
		status: String(r.status ?? 'unknown'),
		tags: splitTags(r.tags as string | undefined),
		maxmem: r.maxmem as number | undefined,
		maxdisk: r.maxdisk as number | undefined,
		cpus: (r.maxcpu ?? r.cpus) as number | undefined,
		uptime: r.uptime as number | undefined,
		// the schema says boolean; PVE writes 0/1
		template: r.template === true || Number(r.template) === 1,
	};
}

export async function getContainer(
	client: PveClient,
	node: string,
	vmid: number,
): Promise<ContainerDetails> {
	const base = ct(checkNodeName(node), checkVmid(vmid));
	const [config, status, pending] = await Promise.all([
		client.request<LxcConfig & { digest: string }>('GET', `${base}/config`, { current: 1 }),
		client.request<{ status: string; uptime?: number; lock?: string }>(
			'GET',
			`${base}/status/current`,
		),
		client.request<{ key: string; value?: string; pending?: string; delete?: number }[]>(
			'GET',
			`${base}/pending`,
		),
	]);
	const { digest, ...applied } = config;
	return {
		vmid,
		node,
		status: status.status,
		uptime: status.uptime,
		config: applied,
		digest,
		pending: pending
			.filter((p) => p.pending !== undefined || p.delete)
			.map((p) => ({
				key: p.key,
				value: p.value,
				pending: p.pending,
				...(p.delete ? { delete: true } : {}),
			})),
		lock: status.lock ?? (applied.lock as string | undefined),
	};
}

export interface CreateSpec {
	node: string;
	vmid: number;
	ostemplate: string;
	/** Config keys as PVE takes them (hostname, cores, memory, swap, rootfs, netN, features, onboot, tags, ...). */
	config: PveParams;
	storage?: string;
	password?: string;
	sshPublicKeys?: string;
	start?: boolean;
}

export async function createContainer(client: PveClient, spec: CreateSpec): Promise<TaskResult> {
	const node = checkNodeName(spec.node);
	checkVmid(spec.vmid);
	if (!spec.ostemplate)
		throw new InfraOpsError(
			`No OS template for CT ${spec.vmid}`,
			'Give the template volume, e.g. local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst',
		);
	return await client.runTask(
		'POST',
		`/nodes/${node}/lxc`,
		{
			vmid: spec.vmid,
			ostemplate: spec.ostemplate,
			storage: spec.storage,
			password: spec.password,
			'ssh-public-keys': spec.sshPublicKeys,
			start: spec.start,
			...spec.config,
		},
		{ retryBusy: true },
	);
}

export interface CloneSpec {
	node: string;
	vmid: number;
	newid: number;
	full: boolean;
	target?: string;
	hostname?: string;
	storage?: string;
	description?: string;
	snapname?: string;
}

export async function cloneContainer(client: PveClient, spec: CloneSpec): Promise<TaskResult> {
	if (!spec.full && spec.storage)
		throw new InfraOpsError(
			"A linked clone stays on the template's storage",
			'Leave Storage empty, or make a full clone',
		);
	return await client.runTask(
		'POST',
		`${ct(checkNodeName(spec.node), checkVmid(spec.vmid))}/clone`,
		{
			newid: checkVmid(spec.newid, 'New VMID'),
			full: spec.full,
			target: spec.target || undefined,
			hostname: spec.hostname || undefined,
			storage: spec.storage || undefined,
			description: spec.description || undefined,
			snapname: spec.snapname || undefined,
		},
		{ retryBusy: true },
	);
}

export interface UpdateResult {
	vmid: number;
	node: string;
	set: string[];
	deleted: string[];
	/** Of the changed keys, those PVE queued until the next restart. */
	pending: string[];
	digestBefore: string;
	digestAfter: string;
}

/**
 * Sets and deletes config keys, sending the digest of the config it read (or was given) so PVE
 * refuses the change if the config changed in between.
 */
export async function updateConfig(
	client: PveClient,
	node: string,
	vmid: number,
	changes: { set?: PveParams; delete?: string[]; digest?: string },
): Promise<UpdateResult> {
	const base = ct(checkNodeName(node), checkVmid(vmid));
	const set = Object.fromEntries(
		Object.entries(changes.set ?? {}).filter(([, v]) => v !== undefined),
	);
	const deletes = changes.delete ?? [];
	for (const key of [...Object.keys(set), ...deletes]) {
		if (!/^[a-z][a-z0-9_-]*$/i.test(key) || key === 'digest')
			throw new InfraOpsError(
				`"${key}" is not a container config key`,
				'Use PVE config keys such as hostname, memory, net0, features',
			);
	}
	const both = Object.keys(set).filter((k) => deletes.includes(k));
	if (both.length)
		throw new InfraOpsError(
			`${both.join(', ')} both set and deleted`,
			'Either set a key or delete it',
		);
	if (Object.keys(set).length === 0 && deletes.length === 0)
		throw new InfraOpsError(
			`Nothing to change for CT ${vmid}`,
			'Give at least one key to set or delete',
		);
	const digestBefore =
		changes.digest ?? (await client.request<{ digest: string }>('GET', `${base}/config`)).digest;
	// a config lock held by another task times out with "got timeout"; the digest keeps a retry safe
	await client.requestRetryingBusy('PUT', `${base}/config`, {
		...set,
		delete: deletes.length ? deletes.join(',') : undefined,
		digest: digestBefore,
	});
	const after = await client.request<{ key: string; pending?: string; delete?: number }[]>(
		'GET',
		`${base}/pending`,
	);
	const changed = new Set([...Object.keys(set), ...deletes]);
	const pending = after
		.filter((p) => changed.has(p.key) && (p.pending !== undefined || p.delete))
		.map((p) => p.key);
	const digestAfter = (await client.request<{ digest: string }>('GET', `${base}/config`)).digest;
	return {
		vmid,
		node,
		set: Object.keys(set),
		deleted: deletes,
		pending,
		digestBefore,
		digestAfter,
	};
}

export type PowerAction = 'start' | 'stop' | 'shutdown' | 'reboot';

export interface PowerResult {
	vmid: number;
	node: string;
	action: PowerAction;
	status: string;
	/** True when the container already was in the wanted state. */
	unchanged: boolean;
	task?: TaskResult;
}

/** Runs the action's task, then waits until the container reports the state the action leads to. */
export async function power(
	client: PveClient,
	node: string,
	vmid: number,
	action: PowerAction,
	options: { shutdownTimeoutS?: number; forceStop?: boolean; waitMs?: number } = {},
): Promise<PowerResult> {
	const base = ct(checkNodeName(node), checkVmid(vmid));
	const before = await client.request<{ status: string }>('GET', `${base}/status/current`);
	const wanted = action === 'stop' || action === 'shutdown' ? 'stopped' : 'running';
	if (
		(action === 'start' && before.status === 'running') ||
		(wanted === 'stopped' && before.status === 'stopped')
	) {
		return { vmid, node, action, status: before.status, unchanged: true };
	}
	if (action === 'reboot' && before.status !== 'running')
		throw new InfraOpsError(
			`CT ${vmid} is ${before.status}: there is nothing to reboot`,
			'Use Start instead',
		);
	const params: PveParams =
		action === 'shutdown'
			? { timeout: options.shutdownTimeoutS, forceStop: options.forceStop }
			: {};
	const task = await client.runTask('POST', `${base}/status/${action}`, params);
	const waitMs = options.waitMs ?? 60_000;
	const started = Date.now();
	for (;;) {
		const now = await client.request<{ status: string }>('GET', `${base}/status/current`);
		if (now.status === wanted)
			return { vmid, node, action, status: now.status, unchanged: false, task };
		if (Date.now() - started > waitMs)
			throw new InfraOpsError(
				`CT ${vmid} is still ${now.status} ${Math.round(waitMs / 1000)} s after ${action}`,
				"Look at the container's console and the task log in PVE",
			);
		await new Promise((r) => setTimeout(r, 250));
	}
}

export interface Snapshot {
	name: string;
	description: string;
	snaptime?: number;
	parent?: string;
}

export async function listSnapshots(
	client: PveClient,
	node: string,
	vmid: number,
): Promise<Snapshot[]> {
	const rows = await client.request<Snapshot[]>(
		'GET',
		`${ct(checkNodeName(node), checkVmid(vmid))}/snapshot`,
	);
	return rows.filter((s) => s.name !== 'current');
}

function checkSnapName(name: string): string {
	if (!/^[a-zA-Z][a-zA-Z0-9_-]{1,39}$/.test(name))
		throw new InfraOpsError(
			`Snapshot name "${name}" is not allowed`,
			'PVE takes 2-40 letters, digits, - and _, starting with a letter',
		);
	return name;
}

export async function createSnapshot(
	client: PveClient,
	node: string,
	vmid: number,
	name: string,
	description?: string,
): Promise<TaskResult> {
	return await client.runTask('POST', `${ct(checkNodeName(node), checkVmid(vmid))}/snapshot`, {
		snapname: checkSnapName(name),
		description: description || undefined,
	});
}

export async function rollbackSnapshot(
	client: PveClient,
	node: string,
	vmid: number,
	name: string,
	start?: boolean,
): Promise<TaskResult> {
	return await client.runTask(
		'POST',
		`${ct(checkNodeName(node), checkVmid(vmid))}/snapshot/${checkSnapName(name)}/rollback`,
		{ start: start || undefined },
	);
}

export async function deleteSnapshot(
	client: PveClient,
	node: string,
	vmid: number,
	name: string,
): Promise<TaskResult> {
	return await client.runTask(
		'DELETE',
		`${ct(checkNodeName(node), checkVmid(vmid))}/snapshot/${checkSnapName(name)}`,
	);
}

/** Destroys a container; a running one only with `force` (PVE then stops it first). */
export async function deleteContainer(
	client: PveClient,
	node: string,
	vmid: number,
	options: { force?: boolean; purge?: boolean } = {},
): Promise<TaskResult> {
	const base = ct(checkNodeName(node), checkVmid(vmid));
	const status = await client.request<{ status: string }>('GET', `${base}/status/current`);
	if (status.status === 'running' && !options.force) {
		throw new InfraOpsError(
			`CT ${vmid} on ${node} is running: not deleting it`,
			'Stop it first (Power → Stop), or turn on Force',
		);
	}
	return await client.runTask('DELETE', base, {
		force: options.force || undefined,
		purge: options.purge || undefined,
	});
}

export async function resizeDisk(
	client: PveClient,
	node: string,
	vmid: number,
	disk: string,
	size: string,
): Promise<TaskResult> {
	return await client.runTask('PUT', `${ct(checkNodeName(node), checkVmid(vmid))}/resize`, {
		disk,
		size,
	});
}
