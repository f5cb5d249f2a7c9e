/** Pure parts of the Proxmox LXC node: property strings and their normal form, the desired-state
 * document's checks (errors name the field), the tier judgement of the segmentation audit. */
import { parseDesiredState } from '../../nodes/ProxmoxLxc/desiredState';
import { parseUpid } from '../../nodes/ProxmoxLxc/transport/pveClient';
import {
	buildNet,
	normaliseValue,
	parsePropertyString,
	parseSize,
} from '../../nodes/ProxmoxLxc/propertyStrings';
import { judgeSegmentation, parseTierMap } from '../../nodes/ProxmoxLxc/segmentation';

describe('PVE property strings', () => {
	it('parses default keys and builds netN from fields', () => {
		expect(parsePropertyString('local-lvm:subvol-101-disk-0,size=8G', 'rootfs')).toEqual({
			volume: 'local-lvm:subvol-101-disk-0',
			size: '8G',
		});
		expect(buildNet({ name: 'eth0', bridge: 'vmbr0', dhcp: true, tag: 30, firewall: true })).toBe(
			'name=eth0,bridge=vmbr0,firewall=1,ip=dhcp,tag=30',
		);
		expect(() => parsePropertyString('bridge=vmbr0,oops', 'net0')).toThrow(/"oops" has no key/);
	});

	it('compares as PVE normalises: key order, booleans, generated MAC, sizes, tag separators', () => {
		const stored =
			'name=eth0,bridge=vmbr0,firewall=1,gw=10.0.40.1,hwaddr=BC:24:11:2A:3B:4C,ip=10.0.40.5/24,tag=40,type=veth';
		const desired = 'name=eth0,bridge=vmbr0,ip=10.0.40.5/24,gw=10.0.40.1,tag=40,firewall=1';
		expect(normaliseValue('net0', stored, desired)).toBe(normaliseValue('net0', desired));
		expect(normaliseValue('net0', stored, `${desired},hwaddr=bc:24:11:2a:3b:4c`)).toBe(
			normaliseValue('net0', `${desired},hwaddr=bc:24:11:2a:3b:4c`),
		);
		expect(normaliseValue('net0', stored.replace('tag=40', 'tag=20'), desired)).not.toBe(
			normaliseValue('net0', desired),
		);
		expect(normaliseValue('features', 'keyctl=0,nesting=1')).toBe(
			normaliseValue('features', 'nesting=1'),
		);
		expect(normaliseValue('rootfs', 'local-lvm:subvol-1-disk-0,size=8192M')).toBe(
			normaliseValue('rootfs', 'local-lvm:x,size=8G'),
		);
		expect(normaliseValue('tags', 'traefik;external')).toBe(
			normaliseValue('tags', 'external,traefik'),
		);
		expect(normaliseValue('onboot', 'true')).toBe(normaliseValue('onboot', 1));
		expect(parseSize('4', 'G')).toBe(4 * 1024 ** 3);
	});

	it('parses UPIDs as PVE writes them', () => {
		expect(parseUpid('UPID:pve:000C4B2E:0459A1F2:6747A1B0:vzstart:101:root@pam:')).toEqual({
			node: 'pve',
			type: 'vzstart',
			id: '101',
			user: 'root@pam',
		});
		expect(() => parseUpid('not-a-upid')).toThrow(/not a Proxmox task id/);
	});
});

describe('desired-state document', () => {
	it('reads YAML with defaults, list or keyed interfaces, and features', () => {
		const [c] = parseDesiredState(
			'defaults: { node: pve }\ncontainers:\n  - vmid: 101\n    hostname: traefik\n    features: { nesting: true }\n    net: [{ bridge: vmbr0, ip: 10.0.40.5/24, tag: 40 }]\n    rootfs: local-lvm:8\n',
		);
		expect(c).toMatchObject({
			vmid: 101,
			node: 'pve',
			config: {
				hostname: 'traefik',
				features: 'nesting=1',
				net0: 'name=eth0,bridge=vmbr0,ip=10.0.40.5/24,tag=40',
			},
			rootfs: { storage: 'local-lvm', sizeBytes: 8 * 1024 ** 3 },
		});
	});

	it.each([
		[
			'containers:\n  - vmid: 99\n    node: pve',
			'containers[0].vmid must be a whole number from 100 to 999999999, got 99',
		],
		['[{"vmid": 101}]', '[0].node is required (or give a default node)'],
		[
			'{"vmid": 101, "node": "pve", "net": {"net0": {"ip": "10.0.0.5/24"}}}',
			'container.net.net0.bridge is required (e.g. vmbr0)',
		],
		[
			'{"vmid": 101, "node": "pve", "net": {"net0": {"bridge": "vmbr0", "ip": "10.0.0.5"}}}',
			'container.net.net0.ip "10.0.0.5" is not IPv4/CIDR (e.g. 10.0.20.5/24), dhcp or manual',
		],
		[
			'{"vmid": 101, "node": "pve", "features": {"nestin": true}}',
			'container.features.nestin is not a container feature',
		],
		[
			'{"vmid": 101, "node": "pve", "hostname": "Traefic_01"}',
			'container.hostname "Traefic_01" is not a DNS name',
		],
		[
			'{"containers": [{"vmid": 101, "node": "pve"}, {"vmid": 101, "node": "pve"}]}',
			'containers[1].vmid 101 is already used by containers[0]',
		],
		[
			'{"containers": [{"vmid": 101, "node": "pve", "state": "paused"}]}',
			'containers[0].state "paused" is not one of running, stopped, absent',
		],
		['{"container": []}', 'container is not a known field'],
	])('rejects %s naming the field', (doc, message) => {
		expect(() => parseDesiredState(doc)).toThrow(message);
	});

	it('refuses create-only parameters under config (they would show as drift, the password in clear text), pointing at the field that takes them', () => {
		const attempt = () =>
			parseDesiredState(
				'{"vmid": 130, "node": "pve", "config": {"password": "s3cret-root-pw", "memory": 512}}',
			);
		expect(attempt).toThrow(
			expect.objectContaining({
				message:
					'Desired state: container.config.password is only taken when a container is created, not part of its config',
				hint: 'Give it as container.password instead',
			}),
		);
		expect(() =>
			parseDesiredState(
				'{"vmid": 130, "node": "pve", "config": {"ssh-public-keys": "ssh-ed25519 AAAA"}}',
			),
		).toThrow(expect.objectContaining({ hint: 'Give it as container.sshPublicKeys instead' }));
		expect(() =>
			parseDesiredState('{"vmid": 130, "node": "pve", "config": {"pool": "ai"}}'),
		).toThrow(expect.objectContaining({ hint: 'Leave it out of the desired state' }));
		// names that are properties of every JS object are ordinary (unknown) config keys, not create-only ones
		expect(
			parseDesiredState('{"vmid": 130, "node": "pve", "config": {"constructor": "x"}}')[0].config,
		).toEqual({ constructor: 'x' });
		// the top-level password is kept for create only, never in the compared config
		const [c] = parseDesiredState(
			'{"vmid": 130, "node": "pve", "password": "s3cret-root-pw", "memory": 512}',
		);
		expect(c.create.password).toBe('s3cret-root-pw');
		expect(JSON.stringify(c.config)).not.toContain('s3cret-root-pw');
	});
});

describe('segmentation audit', () => {
	const map = parseTierMap(
		'{"tiers": {"management": 10, "application": 20, "data": 30, "external": 40}, "containers": {"traefik": "external"}}',
	);
	const ct = (name: string, tags: string[]) => ({
		vmid: 101,
		node: 'pve',
		name,
		status: 'running',
		tags,
		template: false,
	});

	it('matches tier by tag first, then by name, and flags interfaces on another VLAN or untagged', () => {
		expect(
			judgeSegmentation(
				{ container: ct('postgres', ['data']), interfaces: [{ key: 'net0', tag: 30 }] },
				map,
			),
		).toMatchObject({ status: 'ok', tier: 'data', tierBy: 'tag' });
		const traefik = judgeSegmentation(
			{ container: ct('traefik', []), interfaces: [{ key: 'net0', tag: 40 }, { key: 'net1' }] },
			map,
		);
		expect(traefik).toMatchObject({
			status: 'critical',
			tier: 'external',
			tierBy: 'name',
			summary: 'CT 101 (traefik) is outside its tier external (VLAN 40): net1 untagged',
		});
		expect(
			judgeSegmentation(
				{ container: ct('flowise', []), interfaces: [{ key: 'net0', tag: 20 }] },
				map,
			),
		).toMatchObject({ status: 'warning', tier: null });
		expect(() => parseTierMap('{"tiers": {"dmz": 5000}}')).toThrow(
			'tiers.dmz must be a VLAN id 1-4094',
		);
	});
});
