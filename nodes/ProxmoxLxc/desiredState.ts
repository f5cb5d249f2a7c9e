// Over 350 lines: one validator of the desired-state document, field by field (containerFrom alone is ~125 lines of checks); split, the checks of one container would sit in two files.
/** The desired-state document (JSON or YAML) for LXC containers, checked field by field so a mistake
 * is reported with its path (e.g. `containers[1].net.net0.tag`). */

import { InfraOpsError } from '../shared/errors';
import { loadYaml } from '../shared/lazy';
import { buildNet, parseSize, type NetInterface } from './propertyStrings';

export type PowerState = 'running' | 'stopped' | 'absent';

export interface DesiredContainer {
	vmid: number;
	node: string;
	/** Comparable config: PVE keys → value as PVE takes it. */
	config: Record<string, string>;
	/** Root disk: size in bytes and storage (create only). */
	rootfs?: { sizeBytes: number; storage?: string };
	state?: PowerState;
	/** Only used when the container has to be created. */
	create: {
		template?: string;
		storage?: string;
		password?: string;
		sshPublicKeys?: string;
		unprivileged?: boolean;
	};
	/** Where it came from in the document, for messages. */
	path: string;
}

const CONTAINER_FIELDS = new Set([
	'vmid',
	'node',
	'hostname',
	'state',
	'template',
	'storage',
	'password',
	'sshPublicKeys',
	'unprivileged',
	'cores',
	'memory',
	'swap',
	'cpulimit',
	'cpuunits',
	'rootfs',
	'features',
	'onboot',
	'protection',
	'tags',
	'description',
	'nameserver',
	'searchdomain',
	'timezone',
	'startup',
	'net',
	'config',
]);
const NET_FIELDS = new Set([
	'name',
	'bridge',
	'ip',
	'gw',
	'ip6',
	'gw6',
	'dhcp',
	'tag',
	'firewall',
	'hwaddr',
	'mtu',
	'rate',
	'link_down',
	'trunks',
]);
const FEATURE_FIELDS = new Set(['nesting', 'keyctl', 'fuse', 'mknod', 'mount', 'force_rw_sys']);
/** Parameters of PVE's create call that are not config keys (apidata.js: POST /nodes/{node}/lxc minus
 * PUT .../config), with the top-level field that takes each one here ('' where none does). */
const CREATE_ONLY_KEYS = new Map<string, string>([
	['password', 'password'],
	['ssh-public-keys', 'sshPublicKeys'],
	['ostemplate', 'template'],
	['storage', 'storage'],
	['start', 'state'],
	...['bwlimit', 'force', 'ha-managed', 'ignore-unpack-errors', 'pool', 'restore', 'unique'].map(
		(k) => [k, ''] as const,
	),
]);

function fail(path: string, problem: string, hint?: string): never {
	throw new InfraOpsError(
		`Desired state: ${path} ${problem}`,
		hint ??
			"Fix that field of the desired-state document (see the node's documentation for the format)",
	);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
	typeof v === 'object' && v !== null && !Array.isArray(v);

function integer(v: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
	const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
	if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max)
		fail(
			path,
			`must be a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}, got ${JSON.stringify(v)}`,
		);
	return n;
}

function boolean(v: unknown, path: string): boolean {
	if (typeof v === 'boolean') return v;
	if (v === 0 || v === 1) return v === 1;
	fail(path, `must be true or false, got ${JSON.stringify(v)}`);
}

function string(v: unknown, path: string, pattern?: RegExp, what?: string): string {
	if (typeof v !== 'string' && typeof v !== 'number')
		fail(path, `must be a string, got ${JSON.stringify(v)}`);
	const s = String(v).trim();
	if (pattern && !pattern.test(s)) fail(path, `"${s}" is not ${what ?? 'valid'}`);
	return s;
}

const DNS_NAME =
	/^(?=.{1,255}$)([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/;
const IPV4_CIDR =
	/^((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)\/(\d|[12]\d|3[0-2])$/;
const IPV4 = /^((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)$/;

function netField(v: unknown, path: string): string {
	if (typeof v === 'string') return v;
	if (!isObject(v))
		fail(path, 'must be an object with bridge, ip/gw or dhcp, tag, firewall (or a PVE net string)');
	for (const key of Object.keys(v))
		if (!NET_FIELDS.has(key))
			fail(`${path}.${key}`, `is not a network field (known: ${[...NET_FIELDS].join(', ')})`);
	const fields: NetInterface & { dhcp?: boolean } = {
		name: string(v.name ?? 'eth0', `${path}.name`, /^[-_.\w]+$/, 'an interface name'),
	};
	if (v.bridge !== undefined)
		fields.bridge = string(v.bridge, `${path}.bridge`, /^[-_.\w]+$/, 'a bridge name');
	else fail(`${path}.bridge`, 'is required (e.g. vmbr0)');
	if (v.dhcp !== undefined && boolean(v.dhcp, `${path}.dhcp`)) {
		if (v.ip !== undefined) fail(`${path}.ip`, 'and dhcp: true exclude each other');
		fields.dhcp = true;
	} else if (v.ip !== undefined) {
		fields.ip = string(v.ip, `${path}.ip`);
		if (!IPV4_CIDR.test(fields.ip) && !['dhcp', 'manual'].includes(fields.ip))
			fail(`${path}.ip`, `"${fields.ip}" is not IPv4/CIDR (e.g. 10.0.20.5/24), dhcp or manual`);
	}
	if (v.gw !== undefined) fields.gw = string(v.gw, `${path}.gw`, IPV4, 'an IPv4 address');
	if (v.ip6 !== undefined) fields.ip6 = string(v.ip6, `${path}.ip6`);
	if (v.gw6 !== undefined) fields.gw6 = string(v.gw6, `${path}.gw6`);
	if (v.tag !== undefined && v.tag !== null) fields.tag = integer(v.tag, `${path}.tag`, 1, 4094);
	if (v.firewall !== undefined) fields.firewall = boolean(v.firewall, `${path}.firewall`);
	if (v.link_down !== undefined) fields.link_down = boolean(v.link_down, `${path}.link_down`);
	if (v.hwaddr !== undefined)
		fields.hwaddr = string(
			v.hwaddr,
			`${path}.hwaddr`,
			/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i,
			'a MAC address',
		).toUpperCase();
	if (v.mtu !== undefined) fields.mtu = integer(v.mtu, `${path}.mtu`, 64, 65535);
	if (v.rate !== undefined) fields.rate = Number(v.rate);
	if (v.trunks !== undefined)
		fields.trunks = string(v.trunks, `${path}.trunks`, /^\d+(;\d+)*$/, 'VLAN ids separated by ;');
	return buildNet(fields);
}

function featuresField(v: unknown, path: string): string {
	if (typeof v === 'string') return v;
	if (!isObject(v)) fail(path, 'must be an object such as { nesting: true, keyctl: true }');
	const parts: string[] = [];
	for (const [key, value] of Object.entries(v)) {
		if (!FEATURE_FIELDS.has(key))
			fail(
				`${path}.${key}`,
				`is not a container feature (known: ${[...FEATURE_FIELDS].join(', ')})`,
			);
		if (key === 'mount')
			parts.push(
				`mount=${(Array.isArray(value) ? value.map(String) : [string(value, `${path}.mount`)]).join(';')}`,
			);
		else parts.push(`${key}=${boolean(value, `${path}.${key}`) ? 1 : 0}`);
	}
	return parts.join(',');
}

function rootfsField(v: unknown, path: string): { sizeBytes: number; storage?: string } {
	if (typeof v === 'string' || typeof v === 'number') {
		const m = /^(?:([a-z][a-z0-9\-_.]*):)?(\d+(?:\.\d+)?[KMGT]?)$/i.exec(String(v).trim());
		if (!m) fail(path, `"${String(v)}" is not a size (e.g. 8G) or STORAGE:GiB (e.g. local-lvm:8)`);
		return { storage: m[1], sizeBytes: parseSize(m[2], m[1] ? 'G' : 'B') };
	}
	if (!isObject(v)) fail(path, 'must be a size such as 8G, or { storage, size }');
	for (const key of Object.keys(v))
		if (!['storage', 'size'].includes(key))
			fail(`${path}.${key}`, 'is not a rootfs field (storage, size)');
	const size = string(v.size, `${path}.size`, /^\d+(\.\d+)?[KMGT]?$/i, 'a size such as 8G');
	return {
		sizeBytes: parseSize(size, /[KMGT]$/i.test(size) ? 'B' : 'G'),
		storage: v.storage === undefined ? undefined : string(v.storage, `${path}.storage`),
	};
}

function containerFrom(
	raw: unknown,
	path: string,
	defaults: Record<string, unknown>,
): DesiredContainer {
	if (!isObject(raw)) fail(path, 'must be an object with at least vmid');
	const v = { ...defaults, ...raw };
	for (const key of Object.keys(v))
		if (!CONTAINER_FIELDS.has(key))
			fail(`${path}.${key}`, `is not a known field (known: ${[...CONTAINER_FIELDS].join(', ')})`);
	if (v.vmid === undefined) fail(`${path}.vmid`, 'is required');
	const vmid = integer(v.vmid, `${path}.vmid`, 100, 999_999_999);
	if (v.node === undefined || v.node === '')
		fail(`${path}.node`, 'is required (or give a default node)');
	const node = string(
		v.node,
		`${path}.node`,
		/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/,
		'a node name',
	);
	const config: Record<string, string> = {};
	if (v.hostname !== undefined)
		config.hostname = string(v.hostname, `${path}.hostname`, DNS_NAME, 'a DNS name');
	for (const key of ['cores', 'memory', 'swap', 'cpuunits'] as const) {
		if (v[key] !== undefined)
			config[key] = String(
				integer(v[key], `${path}.${key}`, key === 'memory' ? 16 : key === 'cores' ? 1 : 0),
			);
	}
	if (v.cpulimit !== undefined) config.cpulimit = String(Number(v.cpulimit));
	for (const key of ['onboot', 'protection'] as const)
		if (v[key] !== undefined) config[key] = boolean(v[key], `${path}.${key}`) ? '1' : '0';
	if (v.tags !== undefined) {
		const tags = Array.isArray(v.tags)
			? v.tags.map((t, i) => string(t, `${path}.tags[${i}]`, /^[a-z0-9_][a-z0-9_\-+.]*$/i, 'a tag'))
			: string(v.tags, `${path}.tags`)
					.split(/[;,\s]+/)
					.filter(Boolean);
		config.tags = tags.join(';');
	}
	for (const key of ['description', 'nameserver', 'searchdomain', 'timezone', 'startup'] as const)
		if (v[key] !== undefined) config[key] = string(v[key], `${path}.${key}`);
	if (v.features !== undefined) config.features = featuresField(v.features, `${path}.features`);
	if (v.net !== undefined) {
		const entries: [string, unknown][] = Array.isArray(v.net)
			? v.net.map((n, i) => [`net${i}`, n])
			: isObject(v.net)
				? Object.entries(v.net)
				: fail(`${path}.net`, 'must be a list or an object keyed net0, net1, ...');
		for (const [key, value] of entries) {
			if (!/^net\d+$/.test(key))
				fail(`${path}.net.${key}`, 'is not an interface key (net0, net1, ...)');
			config[key] = netField(
				value,
				Array.isArray(v.net) ? `${path}.net[${key.slice(3)}]` : `${path}.net.${key}`,
			);
		}
	}
	if (v.config !== undefined) {
		if (!isObject(v.config)) fail(`${path}.config`, 'must be an object of PVE config keys');
		for (const [key, value] of Object.entries(v.config)) {
			if (
				!/^[a-z][a-z0-9_-]*$/.test(key) ||
				['digest', 'delete', 'revert', 'vmid', 'node'].includes(key)
			)
				fail(`${path}.config.${key}`, 'is not a container config key');
			// `config` is compared with PVE's config and copied into the findings; a create-only value
			// (the root password above all) would be reported as drift on every run, in clear text
			const field = CREATE_ONLY_KEYS.get(key);
			if (field !== undefined)
				fail(
					`${path}.config.${key}`,
					'is only taken when a container is created, not part of its config',
					field ? `Give it as ${path}.${field} instead` : 'Leave it out of the desired state',
				);
			config[key] =
				typeof value === 'boolean' ? (value ? '1' : '0') : string(value, `${path}.config.${key}`);
		}
	}
	const state =
		v.state === undefined
			? undefined
			: string(
					v.state,
					`${path}.state`,
					/^(running|stopped|absent)$/,
					'one of running, stopped, absent',
				);
	const rootfs = v.rootfs === undefined ? undefined : rootfsField(v.rootfs, `${path}.rootfs`);
	return {
		vmid,
		node,
		config,
		rootfs,
		state: state as PowerState | undefined,
		create: {
			template:
				v.template === undefined
					? undefined
					: string(
							v.template,
							`${path}.template`,
							/^[a-z][a-z0-9\-_.]*:.+$/i,
							'a template volume (e.g. local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst)',
						),
			storage: v.storage === undefined ? undefined : string(v.storage, `${path}.storage`),
			password: v.password === undefined ? undefined : string(v.password, `${path}.password`),
			sshPublicKeys:
				v.sshPublicKeys === undefined
					? undefined
					: (Array.isArray(v.sshPublicKeys)
							? v.sshPublicKeys.map(String)
							: [string(v.sshPublicKeys, `${path}.sshPublicKeys`)]
						).join('\n'),
			unprivileged:
				v.unprivileged === undefined ? undefined : boolean(v.unprivileged, `${path}.unprivileged`),
		},
		path,
	};
}

/**
 * Parses `{ defaults?, containers: [...] }`, a bare list, or one container object; text may be JSON
 * or YAML. `defaultNode` fills `node` where neither the container nor `defaults` gives one.
 */
export function parseDesiredState(
	input: unknown,
	options: { defaultNode?: string } = {},
): DesiredContainer[] {
	let doc = input;
	if (typeof input === 'string') {
		if (!input.trim())
			fail(
				'document',
				'is empty',
				'Give the desired state as JSON or YAML: containers: [{ vmid: 101, node: pve, hostname: traefik, ... }]',
			);
		try {
			doc = /^\s*[[{]/.test(input) ? JSON.parse(input) : loadYaml().parse(input);
		} catch (error) {
			fail(
				'document',
				`is neither valid JSON nor YAML: ${(error as Error).message.split('\n')[0]}`,
			);
		}
	}
	let list: unknown[];
	let defaults: Record<string, unknown> = {};
	if (Array.isArray(doc)) list = doc;
	else if (isObject(doc) && 'containers' in doc) {
		for (const key of Object.keys(doc))
			if (!['containers', 'defaults'].includes(key))
				fail(key, 'is not a top-level field (containers, defaults)');
		if (!Array.isArray(doc.containers)) fail('containers', 'must be a list');
		list = doc.containers;
		if (doc.defaults !== undefined) {
			if (!isObject(doc.defaults)) fail('defaults', 'must be an object');
			defaults = doc.defaults;
		}
	} else if (isObject(doc)) list = [doc];
	else fail('document', 'must be an object with containers, a list, or one container');
	if (options.defaultNode && defaults.node === undefined)
		defaults = { node: options.defaultNode, ...defaults };
	const containers = list.map((raw, i) =>
		containerFrom(
			raw,
			Array.isArray(doc)
				? `[${i}]`
				: isObject(doc) && 'containers' in doc
					? `containers[${i}]`
					: 'container',
			defaults,
		),
	);
	const seen = new Map<number, string>();
	for (const c of containers) {
		if (seen.has(c.vmid))
			fail(`${c.path}.vmid`, `${c.vmid} is already used by ${seen.get(c.vmid)}`);
		seen.set(c.vmid, c.path);
	}
	return containers;
}

/** The create request's parameters for a desired container. */
export function createParams(c: DesiredContainer): Record<string, string | number | boolean> {
	const params: Record<string, string | number | boolean> = { ...c.config };
	if (c.rootfs)
		params.rootfs = `${c.rootfs.storage ?? c.create.storage ?? 'local-lvm'}:${Math.max(1, Math.ceil(c.rootfs.sizeBytes / 1024 ** 3))}`;
	if (c.create.unprivileged !== undefined) params.unprivileged = c.create.unprivileged;
	return params;
}
