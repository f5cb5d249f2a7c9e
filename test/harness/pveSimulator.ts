/**
 * A stateful Proxmox VE API over HTTPS (self-signed), for what cannot run here. Every request is
 * checked against the published PVE API schema (apidata.js, read at test time) before it is served,
 * and every answer against the endpoint's `returns` schema before it is sent: a request PVE would
 * refuse is refused with PVE's 400 "Parameter verification failed." and per-parameter errors, and an
 * answer that does not conform fails the test that provoked it (see `schemaViolations`).
 *
 * State: containers with configs, SHA-1 digests, pending changes (applied at the next start), power
 * state, snapshots; tasks with PVE UPIDs that finish asynchronously and can be made to fail; API
 * tokens (401 otherwise), and PVE's rule that only root@pam may change feature flags other than nesting.
 */
import { createHash } from 'node:crypto';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

import { checkObject, checkValue, PveSchema, type ApiMethod } from './pveSchema';
import { makeCertificates, type CertificateSet } from './tls';

export interface SimContainer {
	vmid: number;
	node: string;
	status: 'running' | 'stopped';
	/** Applied config, values as PVE stores them (strings and numbers). */
	config: Record<string, string | number>;
	pending: Record<string, string | number>;
	pendingDelete: Set<string>;
	snapshots: Map<
		string,
		{
			config: Record<string, string | number>;
			snaptime: number;
			description: string;
			parent?: string;
		}
	>;
	parent?: string;
	lock?: string;
	/** When it was last started (ms), for uptime. */
	uptimeStart?: number;
}

export interface SimTask {
	upid: string;
	node: string;
	type: string;
	id: string;
	user: string;
	pid: number;
	pstart: number;
	starttime: number;
	status: 'running' | 'stopped';
	exitstatus?: string;
	log: string[];
	createdMs: number;
}

export interface PveSimulatorOptions {
	nodes?: string[];
	/** tokenId (USER@REALM!NAME) → secret. The token id is who PVE says did something (task UPIDs, permission checks). */
	tokens?: Record<string, string>;
	/** How long a task runs before it stops; default 120 ms. */
	taskMs?: number;
}

export interface PveSimulator {
	url: string;
	port: number;
	certs: CertificateSet;
	/** SHA-256 fingerprint of the served certificate, as PVE prints it. */
	fingerprint: string;
	containers: Map<number, SimContainer>;
	tasks: Map<string, SimTask>;
	/** Every request the server saw, in order (method, path, parameter names: never values). */
	requests: { method: string; path: string; params: string[]; status: number }[];
	/** Answers of this simulator that did not match the schema; a conforming run leaves it empty. */
	schemaViolations: string[];
	/** Task types (e.g. 'vzstart') whose next task fails, with this exit status. */
	failNextTask: Map<string, string>;
	/** For this long after a task starts, its status and log answer HTTP 400 (not readable yet), as PVE
	 * can right after a task is created; 0 by default. */
	taskStatusDelayMs: number;
	/** Answers the next N create/clone requests with HTTP 400 "can't lock file" (as a busy storage lock does). */
	busyCreates: number;
	addContainer(
		c: Partial<SimContainer> & {
			vmid: number;
			node?: string;
			config: Record<string, string | number>;
		},
	): SimContainer;
	/** Changes a container's config behind the client's back (a manual edit): the digest changes. */
	editConfig(vmid: number, changes: Record<string, string | number>): void;
	digestOf(vmid: number): string;
	/** Called before a request is served (after authentication and schema checks), e.g. to change state in between. */
	beforeRequest?: (method: string, apiPath: string) => void;
	/** Changes an answer after its schema check, to serve response variants of real PVE (a test checks
	 * the rows it makes against the schema itself and says which conform). */
	rewriteAnswer?: (method: string, template: string, data: unknown) => unknown;
	close(): Promise<void>;
}

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

/** Keys PVE applies at once even on a running container, and keys it hotplugs; the rest wait for a restart. */
const FASTPLUG = new Set([
	'description',
	'onboot',
	'startup',
	'protection',
	'hostname',
	'hookscript',
	'cores',
	'tags',
	'lock',
]);
const HOTPLUG = /^(cpulimit|cpuunits|memory|swap|net\d+)$/;

export async function startPveSimulator(options: PveSimulatorOptions = {}): Promise<PveSimulator> {
	const schema = PveSchema.load();
	const certs = await makeCertificates({
		leaves: [{ dnsNames: ['localhost', 'pve.example.lan'], ipAddresses: ['127.0.0.1'] }],
	});
	const nodes = options.nodes ?? ['pve'];
	const tokens = options.tokens ?? { 'automation@pve!n8n': '6f1c1a52-8d36-4b0e-9e0c-1a2b3c4d5e6f' };
	const taskMs = options.taskMs ?? 120;
	const containers = new Map<number, SimContainer>();
	const tasks = new Map<string, SimTask>();
	const requests: PveSimulator['requests'] = [];
	const schemaViolations: string[] = [];
	const failNextTask = new Map<string, string>();
	const timers = new Set<NodeJS.Timeout>();
	let pid = 100_000;

	const configText = (c: SimContainer) =>
		JSON.stringify([
			Object.entries(c.config).sort(),
			Object.entries(c.pending).sort(),
			[...c.pendingDelete].sort(),
			[...c.snapshots.keys()].sort(),
		]);
	const digestOf = (vmid: number) => sha1(configText(containers.get(vmid)!));

	const sim: PveSimulator = {
		url: '',
		port: 0,
		certs,
		fingerprint: certs.leaf.fingerprint256,
		containers,
		tasks,
		requests,
		schemaViolations,
		failNextTask,
		busyCreates: 0,
		taskStatusDelayMs: 0,
		addContainer(c) {
			const container: SimContainer = {
				node: nodes[0],
				status: 'stopped',
				pending: {},
				pendingDelete: new Set(),
				snapshots: new Map(),
				...c,
				config: { arch: 'amd64', ostype: 'debian', unprivileged: 1, ...c.config },
			};
			containers.set(container.vmid, container);
			return container;
		},
		editConfig(vmid, changes) {
			Object.assign(containers.get(vmid)!.config, changes);
		},
		digestOf,
		close: async () => {
			for (const t of timers) clearTimeout(t);
			await new Promise<void>((resolve) => {
				server.close(() => resolve());
				for (const s of sockets) s.destroy();
			});
			await certs.remove();
		},
	};

	class ApiError extends Error {
		constructor(
			readonly status: number,
			message: string,
			readonly errors?: Record<string, string>,
		) {
			super(message);
		}
	}

	function startTask(
		node: string,
		type: string,
		id: string,
		user: string,
		work: (log: (line: string) => void) => void,
	): string {
		const starttime = Math.floor(Date.now() / 1000);
		const task: SimTask = {
			upid: '',
			node,
			type,
			id,
			user,
			pid: ++pid,
			pstart: 4_000_000 + pid,
			starttime,
			status: 'running',
			log: [],
			createdMs: Date.now(),
		};
		const hex = (n: number, w: number) => n.toString(16).toUpperCase().padStart(w, '0');
		task.upid = `UPID:${node}:${hex(task.pid, 8)}:${hex(task.pstart, 8)}:${hex(starttime, 8)}:${type}:${id}:${user}:`;
		tasks.set(task.upid, task);
		const timer = setTimeout(() => {
			timers.delete(timer);
			const log = (line: string) => task.log.push(line);
			const failure = failNextTask.get(type);
			try {
				if (failure) {
					failNextTask.delete(type);
					throw new Error(failure);
				}
				work(log);
				task.exitstatus = 'OK';
				log('TASK OK');
			} catch (error) {
				const message = (error as Error).message;
				log(`run_buffer: 571 Script exited with status 1`);
				log(`lxc_init: 845 Failed to run lxc.hook.pre-start for container "${id}"`);
				log(`TASK ERROR: ${message}`);
				task.exitstatus = message;
			}
			task.status = 'stopped';
		}, taskMs);
		timers.add(timer);
		return task.upid;
	}

	const container = (node: string, vmid: string): SimContainer => {
		const c = containers.get(Number(vmid));
		if (!c || c.node !== node)
			throw new ApiError(500, `Configuration file 'nodes/${node}/lxc/${vmid}.conf' does not exist`);
		return c;
	};
	const checkLock = (c: SimContainer) => {
		if (c.lock) throw new ApiError(500, `CT ${c.vmid} is locked (${c.lock})`);
	};
	const bool = (v: unknown) => /^(1|true|yes|on)$/i.test(String(v ?? ''));
	const BOOLEAN_KEYS = /^(onboot|unprivileged|protection|console|template|debug)$/;
	// PVE keeps booleans as 0/1 and integers as numbers; everything else as the string it was given
	const storedValue = (key: string, value: string): string | number =>
		BOOLEAN_KEYS.test(key)
			? bool(value)
				? 1
				: 0
			: /^(cores|memory|swap|cpuunits|tty)$/.test(key)
				? Number(value)
				: value;
	const applyPending = (c: SimContainer) => {
		Object.assign(c.config, c.pending);
		for (const key of c.pendingDelete) delete c.config[key];
		c.pending = {};
		c.pendingDelete.clear();
	};
	/** pve-container's check_ct_modify_config_perm: it compares the authenticated id literally with
	 * root@pam, and a token's id is USER@REALM!TOKEN, so no API token passes (not even root@pam's). */
	const rootOnlyProblem = (
		authid: string,
		c: SimContainer | undefined,
		key: string,
		value: string | undefined,
	): string | undefined => {
		if (authid === 'root@pam') return undefined;
		if (/^dev\d+$/.test(key)) return 'configuring device passthrough is only allowed for root@pam';
		if (key === 'hookscript') return 'changing the hookscript is only allowed for root@pam';
		if ((key === 'rootfs' || /^mp\d+$/.test(key)) && value !== undefined) {
			const volume = (
				value.split(',').find((part) => !part.includes('=') || part.startsWith('volume=')) ?? ''
			).replace(/^volume=/, '');
			if (volume.startsWith('/'))
				return `mount point type ${volume.startsWith('/dev/') ? 'device' : 'bind'} is only allowed for root@pam`;
		}
		if (key !== 'features') return undefined;
		if (c && !Number(c.config.unprivileged ?? 0))
			return 'changing feature flags for privileged container is only allowed for root@pam';
		const flags = (v: string | number | undefined) =>
			Object.fromEntries(
				String(v ?? '')
					.split(',')
					.filter(Boolean)
					.map((kv) => kv.split('=')),
			);
		const before = flags(c ? (c.pending.features ?? c.config.features) : undefined);
		const after = flags(value);
		const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
			(f) => (before[f] ?? '') !== (after[f] ?? ''),
		);
		return changed.some((f) => f !== 'nesting')
			? 'changing feature flags (except nesting) is only allowed for root@pam'
			: undefined;
	};
	const sizeOf = (rootfs: string | number | undefined) =>
		/size=(\d+(?:\.\d+)?)([KMGT]?)/.exec(String(rootfs ?? ''));
	const bytes = (m: RegExpExecArray | null) =>
		m ? Number(m[1]) * 1024 ** ' KMGT'.indexOf(m[2] || ' ') : 0;

	const handlers: Record<string, (p: Record<string, string>, user: string) => unknown> = {
		'GET /version': () => ({
			version: '9.0.10',
			release: '9.0',
			repoid: 'deadbeef',
			console: 'html5',
		}),
		'GET /cluster/resources': (p) => {
			const out: Record<string, unknown>[] = [];
			if (!p.type || p.type === 'node')
				for (const n of nodes)
					out.push({
						id: `node/${n}`,
						type: 'node',
						node: n,
						status: 'online',
						maxcpu: 8,
						maxmem: 34359738368,
						mem: 4294967296,
						cpu: 0.05,
						uptime: 86400,
					});
			if (!p.type || p.type === 'vm') {
				for (const c of containers.values())
					out.push({
						id: `lxc/${c.vmid}`,
						type: 'lxc',
						vmid: c.vmid,
						node: c.node,
						name: String(c.config.hostname ?? `CT${c.vmid}`),
						status: c.status,
						maxmem: Number(c.config.memory ?? 512) * 1048576,
						mem: c.status === 'running' ? 104857600 : 0,
						maxdisk: bytes(sizeOf(c.config.rootfs)),
						disk: 0,
						maxcpu: Number(c.config.cores ?? 1),
						cpu: 0,
						uptime: c.status === 'running' ? 60 : 0,
						template: 0,
						...(c.config.tags ? { tags: String(c.config.tags) } : {}),
					});
				// a QEMU VM beside the containers, so a client has to filter
				out.push({
					id: 'qemu/900',
					type: 'qemu',
					vmid: 900,
					node: nodes[0],
					name: 'windows-vm',
					status: 'running',
					maxmem: 8589934592,
					mem: 0,
					maxdisk: 0,
					disk: 0,
					maxcpu: 4,
					cpu: 0,
					uptime: 1,
					template: 0,
				});
			}
			return out;
		},
		'GET /nodes/{node}/lxc': (p) =>
			[...containers.values()]
				.filter((c) => c.node === p.node)
				.map((c) => ({
					vmid: c.vmid,
					name: String(c.config.hostname ?? `CT${c.vmid}`),
					status: c.status,
					maxmem: Number(c.config.memory ?? 512) * 1048576,
					maxswap: Number(c.config.swap ?? 512) * 1048576,
					cpus: Number(c.config.cores ?? 1),
					uptime: c.status === 'running' ? 60 : 0,
					...(c.config.tags ? { tags: String(c.config.tags) } : {}),
				})),
		'GET /nodes/{node}/lxc/{vmid}/config': (p) => {
			const c = container(p.node, p.vmid);
			if (p.snapshot) {
				const snap = c.snapshots.get(p.snapshot);
				if (!snap) throw new ApiError(500, `snapshot '${p.snapshot}' does not exist`);
				return { ...snap.config, digest: digestOf(c.vmid) };
			}
			const view = bool(p.current) ? { ...c.config } : { ...c.config, ...c.pending };
			if (!bool(p.current)) for (const k of c.pendingDelete) delete view[k];
			return { ...view, digest: digestOf(c.vmid), ...(c.lock ? { lock: c.lock } : {}) };
		},
		'PUT /nodes/{node}/lxc/{vmid}/config': (p, user) => {
			const c = container(p.node, p.vmid);
			checkLock(c);
			if (p.digest && p.digest !== digestOf(c.vmid))
				throw new ApiError(
					500,
					'detected modified configuration - file changed by other user? Try again.',
				);
			const sets = Object.entries(p).filter(
				([k]) => !['node', 'vmid', 'digest', 'delete', 'revert'].includes(k),
			);
			const deletes = (p.delete ?? '').split(/[,;\s]+/).filter(Boolean);
			for (const [k] of sets)
				if (deletes.includes(k))
					throw new ApiError(400, 'Parameter verification failed.', {
						[k]: `conflicts with deletion of '${k}'`,
					});
			for (const [k, v] of sets) {
				const problem = rootOnlyProblem(user, c, k, v);
				if (problem) throw new ApiError(403, `Permission check failed (${problem})`);
			}
			if (
				sets.some(
					([k]) =>
						k === 'rootfs' &&
						sizeOf(p.rootfs) !== null &&
						bytes(sizeOf(p.rootfs)) !== bytes(sizeOf(c.config.rootfs)),
				)
			) {
				throw new ApiError(400, 'Parameter verification failed.', {
					rootfs: 'unable to modify read-only option: size',
				});
			}
			for (const [k, v] of sets) {
				const value = storedValue(k, v);
				if (c.status === 'running' && !FASTPLUG.has(k) && !HOTPLUG.test(k)) c.pending[k] = value;
				else c.config[k] = value;
			}
			for (const k of deletes) {
				if (c.status === 'running' && !FASTPLUG.has(k) && !HOTPLUG.test(k)) c.pendingDelete.add(k);
				else delete c.config[k];
			}
			return null;
		},
		'GET /nodes/{node}/lxc/{vmid}/pending': (p) => {
			const c = container(p.node, p.vmid);
			const keys = new Set([
				...Object.keys(c.config),
				...Object.keys(c.pending),
				...c.pendingDelete,
			]);
			return [...keys].sort().map((key) => ({
				key,
				...(c.config[key] !== undefined ? { value: String(c.config[key]) } : {}),
				...(c.pending[key] !== undefined ? { pending: String(c.pending[key]) } : {}),
				...(c.pendingDelete.has(key) ? { delete: 1 } : {}),
			}));
		},
		'GET /nodes/{node}/lxc/{vmid}/status/current': (p) => {
			const c = container(p.node, p.vmid);
			return {
				vmid: c.vmid,
				name: String(c.config.hostname ?? `CT${c.vmid}`),
				status: c.status,
				ha: { managed: 0 },
				cpus: Number(c.config.cores ?? 1),
				maxmem: Number(c.config.memory ?? 512) * 1048576,
				maxswap: Number(c.config.swap ?? 512) * 1048576,
				maxdisk: bytes(sizeOf(c.config.rootfs)),
				uptime:
					c.status === 'running'
						? Math.floor((Date.now() - (c.uptimeStart ?? Date.now())) / 1000)
						: 0,
				...(c.config.tags ? { tags: String(c.config.tags) } : {}),
				...(c.lock ? { lock: c.lock } : {}),
			};
		},
		'POST /nodes/{node}/lxc/{vmid}/status/start': (p, user) => {
			const c = container(p.node, p.vmid);
			checkLock(c);
			if (c.status === 'running') throw new ApiError(500, `CT ${c.vmid} already running`);
			return startTask(c.node, 'vzstart', p.vmid, user, () => {
				applyPending(c);
				c.status = 'running';
				c.uptimeStart = Date.now();
			});
		},
		'POST /nodes/{node}/lxc/{vmid}/status/stop': (p, user) => {
			const c = container(p.node, p.vmid);
			if (c.status !== 'running') throw new ApiError(500, `CT ${c.vmid} not running`);
			return startTask(c.node, 'vzstop', p.vmid, user, () => {
				c.status = 'stopped';
			});
		},
		'POST /nodes/{node}/lxc/{vmid}/status/shutdown': (p, user) => {
			const c = container(p.node, p.vmid);
			if (c.status !== 'running') throw new ApiError(500, `CT ${c.vmid} not running`);
			return startTask(c.node, 'vzshutdown', p.vmid, user, () => {
				c.status = 'stopped';
			});
		},
		'POST /nodes/{node}/lxc/{vmid}/status/reboot': (p, user) => {
			const c = container(p.node, p.vmid);
			if (c.status !== 'running') throw new ApiError(500, `CT ${c.vmid} not running`);
			return startTask(c.node, 'vzreboot', p.vmid, user, () => {
				applyPending(c);
				c.uptimeStart = Date.now();
			});
		},
		'POST /nodes/{node}/lxc': (p, user) => {
			if (sim.busyCreates > 0) {
				sim.busyCreates--;
				throw new ApiError(
					400,
					"can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout",
				);
			}
			const vmid = Number(p.vmid);
			if (containers.has(vmid))
				throw new ApiError(
					500,
					`CT ${vmid} already exists on node '${containers.get(vmid)!.node}'`,
				);
			if (!nodes.includes(p.node)) throw new ApiError(500, `no such cluster node '${p.node}'`);
			const config: Record<string, string | number> = {};
			for (const [k, v] of Object.entries(p)) {
				if (
					[
						'node',
						'vmid',
						'ostemplate',
						'storage',
						'password',
						'ssh-public-keys',
						'start',
						'force',
						'restore',
						'unique',
						'pool',
						'ignore-unpack-errors',
						'bwlimit',
					].includes(k)
				)
					continue;
				config[k] = storedValue(k, v);
			}
			for (const [k, v] of Object.entries(config)) {
				const problem = rootOnlyProblem(user, undefined, k, String(v));
				if (problem) throw new ApiError(403, `Permission check failed (${problem})`);
			}
			const storage = p.storage ?? 'local';
			const rootfs = String(config.rootfs ?? `${storage}:4`);
			const m = /^([^:,]+):(\d+(?:\.\d+)?)(,.*)?$/.exec(rootfs);
			config.rootfs = m ? `${m[1]}:subvol-${vmid}-disk-0,size=${m[2]}G${m[3] ?? ''}` : rootfs;
			config.unprivileged ??= 1;
			config.arch ??= 'amd64';
			config.ostype ??= 'debian';
			const c = sim.addContainer({ vmid, node: p.node, config, lock: 'create' });
			return startTask(p.node, 'vzcreate', String(vmid), user, (log) => {
				log(`extracting archive '${p.ostemplate}'`);
				delete c.lock;
				if (bool(p.start)) {
					c.status = 'running';
					c.uptimeStart = Date.now();
				}
			});
		},
		'POST /nodes/{node}/lxc/{vmid}/clone': (p, user) => {
			const source = container(p.node, p.vmid);
			if (sim.busyCreates > 0) {
				sim.busyCreates--;
				throw new ApiError(
					400,
					"can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout",
				);
			}
			const newid = Number(p.newid);
			if (containers.has(newid)) throw new ApiError(500, `CT ${newid} already exists`);
			const full = p.full === undefined ? true : bool(p.full);
			if (!full && !source.config.template)
				throw new ApiError(500, 'linked clone only possible from a template (full=0)');
			if (!full && p.storage)
				throw new ApiError(400, 'Parameter verification failed.', {
					storage: 'storage is only allowed for full clones',
				});
			const target = p.target ?? source.node;
			if (!nodes.includes(target)) throw new ApiError(500, `no such cluster node '${target}'`);
			const config = { ...source.config };
			delete config.template;
			if (p.hostname) config.hostname = p.hostname;
			if (p.description) config.description = p.description;
			const rootStorage = p.storage ?? String(source.config.rootfs).split(':')[0];
			config.rootfs = String(source.config.rootfs).replace(
				/^[^:]+:[^,]+/,
				`${rootStorage}:subvol-${newid}-disk-0`,
			);
			for (const k of Object.keys(config))
				if (/^net\d+$/.test(k)) config[k] = String(config[k]).replace(/,?hwaddr=[^,]+/, '');
			const c = sim.addContainer({ vmid: newid, node: target, config, lock: 'create' });
			return startTask(source.node, 'vzclone', p.vmid, user, () => {
				delete c.lock;
			});
		},
		'DELETE /nodes/{node}/lxc/{vmid}': (p, user) => {
			const c = container(p.node, p.vmid);
			checkLock(c);
			if (c.status === 'running' && !bool(p.force))
				throw new ApiError(500, `unable to destroy CT ${c.vmid} - container is running`);
			if (c.config.protection)
				throw new ApiError(500, `can't remove CT ${c.vmid} - protection mode enabled`);
			return startTask(c.node, 'vzdestroy', p.vmid, user, (log) => {
				if (c.status === 'running') log(`stopping CT ${c.vmid} (forced)`);
				containers.delete(c.vmid);
				log(`purging CT ${c.vmid} from related configurations..`);
			});
		},
		'PUT /nodes/{node}/lxc/{vmid}/resize': (p, user) => {
			const c = container(p.node, p.vmid);
			checkLock(c);
			const current = bytes(sizeOf(c.config[p.disk]));
			const m = /^(\+?)(\d+(?:\.\d+)?)([KMGT]?)$/.exec(p.size)!;
			const wanted = (m[1] ? current : 0) + Number(m[2]) * 1024 ** ' KMGT'.indexOf(m[3] || ' ');
			if (wanted < current) throw new ApiError(500, 'unable to shrink disk size');
			return startTask(c.node, 'resize', p.vmid, user, () => {
				c.config[p.disk] = String(c.config[p.disk]).replace(
					/size=[^,]+/,
					`size=${Math.round(wanted / 1024 ** 3)}G`,
				);
			});
		},
		'GET /nodes/{node}/lxc/{vmid}/snapshot': (p) => {
			const c = container(p.node, p.vmid);
			return [
				...[...c.snapshots.entries()].map(([name, s]) => ({
					name,
					description: s.description,
					snaptime: s.snaptime,
					...(s.parent ? { parent: s.parent } : {}),
				})),
				{
					name: 'current',
					description: 'You are here!',
					...(c.parent ? { parent: c.parent } : {}),
				},
			];
		},
		'POST /nodes/{node}/lxc/{vmid}/snapshot': (p, user) => {
			const c = container(p.node, p.vmid);
			checkLock(c);
			if (c.snapshots.has(p.snapname))
				throw new ApiError(500, `snapshot name '${p.snapname}' already used`);
			return startTask(c.node, 'vzsnapshot', p.vmid, user, () => {
				c.snapshots.set(p.snapname, {
					config: { ...c.config },
					snaptime: Math.floor(Date.now() / 1000),
					description: p.description ?? '',
					parent: c.parent,
				});
				c.parent = p.snapname;
			});
		},
		'DELETE /nodes/{node}/lxc/{vmid}/snapshot/{snapname}': (p, user) => {
			const c = container(p.node, p.vmid);
			if (!c.snapshots.has(p.snapname))
				throw new ApiError(500, `snapshot '${p.snapname}' does not exist`);
			return startTask(c.node, 'vzdelsnapshot', p.vmid, user, () => {
				const parent = c.snapshots.get(p.snapname)!.parent;
				c.snapshots.delete(p.snapname);
				for (const s of c.snapshots.values()) if (s.parent === p.snapname) s.parent = parent;
				if (c.parent === p.snapname) c.parent = parent;
			});
		},
		'POST /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback': (p, user) => {
			const c = container(p.node, p.vmid);
			checkLock(c);
			const snap = c.snapshots.get(p.snapname);
			if (!snap) throw new ApiError(500, `snapshot '${p.snapname}' does not exist`);
			return startTask(c.node, 'vzrollback', p.vmid, user, () => {
				c.config = { ...snap.config };
				c.pending = {};
				c.pendingDelete.clear();
				c.parent = p.snapname;
				c.status = bool(p.start) ? 'running' : 'stopped';
			});
		},
		'GET /nodes/{node}/tasks/{upid}/status': (p) => {
			const t = tasks.get(p.upid);
			if (!t || t.node !== p.node) throw new ApiError(500, `no such task`);
			if (Date.now() - t.createdMs < sim.taskStatusDelayMs)
				throw new ApiError(400, `unable to read task '${t.upid}' (not there yet)`);
			return {
				upid: t.upid,
				node: t.node,
				pid: t.pid,
				pstart: t.pstart,
				starttime: t.starttime,
				type: t.type,
				id: t.id,
				user: t.user,
				status: t.status,
				...(t.exitstatus ? { exitstatus: t.exitstatus } : {}),
			};
		},
		'GET /nodes/{node}/tasks/{upid}/log': (p) => {
			const t = tasks.get(p.upid);
			if (!t || t.node !== p.node) throw new ApiError(500, `no such task`);
			const start = Number(p.start ?? 0);
			const limit = Number(p.limit ?? 50);
			return t.log.slice(start, start + limit).map((line, i) => ({ n: start + i + 1, t: line }));
		},
	};

	const authenticate = (header: string | undefined): string => {
		if (!header) throw new ApiError(401, 'No ticket');
		const m = /^PVEAPIToken=([^=]+)=(.+)$/.exec(header);
		if (!m || tokens[m[1]] === undefined || tokens[m[1]] !== m[2])
			throw new ApiError(401, 'authentication failure');
		return m[1];
	};

	const sockets = new Set<Socket>();
	const server = https.createServer(
		{ cert: certs.leaf.certPem, key: certs.leaf.keyPem },
		(req, res) => {
			const chunks: Buffer[] = [];
			req.on('data', (c: Buffer) => chunks.push(c));
			req.on('end', () => {
				const url = new URL(req.url ?? '/', 'https://localhost');
				const method = req.method ?? 'GET';
				const apiPath = url.pathname.replace(/^\/api2\/json/, '');
				const send = (status: number, message: string, body: unknown) => {
					requests.push({ method, path: apiPath, params: Object.keys(params), status });
					const text = JSON.stringify(body);
					res.writeHead(status, message.replace(/[^\x20-\x7e]/g, ' '), {
						'content-type': 'application/json;charset=UTF-8',
						'content-length': Buffer.byteLength(text),
					});
					res.end(text);
				};
				let params: Record<string, string> = {};
				try {
					if (!url.pathname.startsWith('/api2/json/')) throw new ApiError(404, 'Not Found');
					const user = authenticate(req.headers.authorization);
					const { method: endpoint, template, pathParams } = schema.resolve(apiPath, method);
					if (!endpoint || !template)
						throw new ApiError(501, `Method '${method} ${apiPath}' not implemented`);
					const body = Buffer.concat(chunks).toString('utf8');
					if (
						body &&
						method !== 'GET' &&
						method !== 'DELETE' &&
						!/^application\/x-www-form-urlencoded/.test(req.headers['content-type'] ?? '')
					) {
						throw new ApiError(
							415,
							`Unsupported content type '${req.headers['content-type'] ?? ''}' (PVE takes application/x-www-form-urlencoded)`,
						);
					}
					const query = Object.fromEntries(url.searchParams);
					const form = Object.fromEntries(new URLSearchParams(body));
					params = { ...query, ...form, ...pathParams };
					const problems = validateParams(endpoint, params);
					if (Object.keys(problems).length > 0)
						throw new ApiError(400, 'Parameter verification failed.', problems);
					sim.beforeRequest?.(method, apiPath);
					const handler = handlers[`${method} ${template}`];
					if (!handler)
						throw new ApiError(
							501,
							`Method '${method} ${template}' not implemented in the simulator`,
						);
					const data = handler(params, user);
					const violations = endpoint.returns
						? checkValue(data, endpoint.returns, `${method} ${template} returns`, 'return')
						: [];
					if (violations.length > 0) {
						schemaViolations.push(...violations);
						throw new ApiError(
							500,
							`simulator answer violates the schema: ${violations.join('; ')}`,
						);
					}
					send(200, 'OK', {
						data: sim.rewriteAnswer ? sim.rewriteAnswer(method, template, data) : data,
					});
				} catch (error) {
					if (error instanceof ApiError)
						send(error.status, error.message, {
							data: null,
							message: `${error.message}\n`,
							...(error.errors ? { errors: error.errors } : {}),
						});
					else
						send(500, (error as Error).message, {
							data: null,
							message: `${(error as Error).message}\n`,
						});
				}
			});
		},
	);
	server.on('connection', (s: Socket) => {
		sockets.add(s);
		s.on('close', () => sockets.delete(s));
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	sim.port = (server.address() as AddressInfo).port;
	sim.url = `https://127.0.0.1:${sim.port}`;
	return sim;
}

/** PVE's parameter check: every name known, types/formats/enums/ranges, required ones present. */
export function validateParams(
	endpoint: ApiMethod,
	params: Record<string, string>,
): Record<string, string> {
	const problems: Record<string, string> = {};
	const schema = endpoint.parameters ?? { properties: {}, additionalProperties: 0 };
	for (const problem of checkObject(params, schema, '', 'param')) {
		const where = problem.slice(0, problem.indexOf(':'));
		const [key, ...sub] = where.split('.');
		const message = problem.slice(problem.indexOf(':') + 2);
		// PVE words property-string errors as "invalid format - <key>: <problem>"
		problems[key] ??= sub.length ? `invalid format - ${sub.join('.')}: ${message}` : message;
	}
	return problems;
}
