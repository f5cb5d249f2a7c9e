import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { InfraOpsError } from '../../shared/errors';
import { itemsFrom } from '../../shared/items';
import { createContainer } from '../lxc';
import { buildNet } from '../propertyStrings';
import { target, pveClientOf } from './common';

const show = { show: { operation: ['create'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'OS Template',
		name: 'ostemplate',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst',
		displayOptions: show,
	},
	{
		displayName: 'Hostname',
		name: 'hostname',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'openwebui',
		displayOptions: show,
	},
	{
		displayName: 'Storage',
		name: 'storage',
		type: 'string',
		default: 'local-lvm',
		description: 'Storage of the root disk',
		displayOptions: show,
	},
	{
		displayName: 'Disk Size (GiB)',
		name: 'diskGiB',
		type: 'number',
		default: 8,
		typeOptions: { minValue: 1 },
		displayOptions: show,
	},
	{
		displayName: 'Cores',
		name: 'cores',
		type: 'number',
		default: 1,
		typeOptions: { minValue: 1 },
		displayOptions: show,
	},
	{
		displayName: 'Memory (MiB)',
		name: 'memory',
		type: 'number',
		default: 512,
		typeOptions: { minValue: 16 },
		displayOptions: show,
	},
	{
		displayName: 'Swap (MiB)',
		name: 'swap',
		type: 'number',
		default: 512,
		typeOptions: { minValue: 0 },
		displayOptions: show,
	},
	{
		displayName: 'Root Password',
		name: 'password',
		type: 'string',
		typeOptions: { password: true },
		default: '',
		description:
			'At least 5 characters; leave empty to log in with SSH keys only. Never copied to the output.',
		displayOptions: show,
	},
	{
		displayName: 'SSH Public Keys',
		name: 'sshPublicKeys',
		type: 'string',
		typeOptions: { rows: 3 },
		default: '',
		description: 'One OpenSSH public key per line',
		displayOptions: show,
	},
	{
		displayName: 'Network',
		name: 'network',
		type: 'collection',
		placeholder: 'Add network setting',
		default: { bridge: 'vmbr0', ipMode: 'dhcp' },
		description: 'The first interface (net0, eth0)',
		displayOptions: show,
		options: [
			{ displayName: 'Bridge', name: 'bridge', type: 'string', default: 'vmbr0' },
			{
				displayName: 'IPv4',
				name: 'ipMode',
				type: 'options',
				options: [
					{ name: 'DHCP', value: 'dhcp' },
					{ name: 'Static', value: 'static' },
					{ name: 'Manual', value: 'manual' },
				],
				default: 'dhcp',
			},
			{
				displayName: 'Address (CIDR)',
				name: 'ip',
				type: 'string',
				default: '',
				placeholder: '10.0.20.10/24',
				description: 'With IPv4 Static',
			},
			{
				displayName: 'Gateway',
				name: 'gw',
				type: 'string',
				default: '',
				placeholder: '10.0.20.1',
				description: 'With IPv4 Static',
			},
			{
				displayName: 'VLAN Tag',
				name: 'tag',
				type: 'number',
				default: 0,
				description: '1-4094; 0 for none',
			},
			{
				displayName: 'Firewall',
				name: 'firewall',
				type: 'boolean',
				default: true,
				description: "Whether PVE's firewall applies to this interface",
			},
		],
	},
	{
		displayName: 'Options',
		name: 'createOptions',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		displayOptions: show,
		options: [
			{
				displayName: 'Features',
				name: 'features',
				type: 'multiOptions',
				options: [
					{ name: 'FUSE (Root@pam Only)', value: 'fuse' },
					{ name: 'Keyctl (Root@pam Only)', value: 'keyctl' },
					{ name: 'Mknod (Root@pam Only)', value: 'mknod' },
					{
						name: 'Nesting',
						value: 'nesting',
						description: 'Needed to run Docker inside the container',
					},
				],
				default: [],
				description:
					'An API token can set nesting only, and only on an unprivileged container: PVE refuses the rest to anyone but root@pam logged in with its password (set them with pct set on the node)',
			},
			{ displayName: 'Start on Boot', name: 'onboot', type: 'boolean', default: true },
			{ displayName: 'Start After Create', name: 'start', type: 'boolean', default: false },
			{
				displayName: 'Tags',
				name: 'tags',
				type: 'string',
				default: '',
				placeholder: 'application, ai',
				description: 'Separated by commas',
			},
			{ displayName: 'Unprivileged', name: 'unprivileged', type: 'boolean', default: true },
		],
	},
];

interface NetworkParams {
	bridge?: string;
	ipMode?: string;
	ip?: string;
	gw?: string;
	tag?: number;
	firewall?: boolean;
}

export function netFromParams(net: NetworkParams): string {
	const mode = net.ipMode ?? 'dhcp';
	if (mode === 'static' && !net.ip)
		throw new InfraOpsError(
			'IPv4 is Static but Address (CIDR) is empty',
			'Give the address with its prefix, e.g. 10.0.20.10/24',
		);
	if (
		net.tag !== undefined &&
		net.tag !== 0 &&
		(!Number.isInteger(net.tag) || net.tag < 1 || net.tag > 4094)
	)
		throw new InfraOpsError(`VLAN Tag ${net.tag} is out of range`, 'Use 1-4094, or 0 for no tag');
	return buildNet({
		name: 'eth0',
		bridge: net.bridge || 'vmbr0',
		ip: mode === 'static' ? net.ip : mode,
		gw: mode === 'static' && net.gw ? net.gw : undefined,
		tag: net.tag ? net.tag : undefined,
		firewall: net.firewall ?? true,
	});
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	const pve = pveClientOf(this);
	return await itemsFrom(this, async (i) => {
		const client = await pve();
		const { node, vmid } = target(this, i);
		const options = this.getNodeParameter('createOptions', i, {}) as {
			features?: string[];
			onboot?: boolean;
			start?: boolean;
			tags?: string;
			unprivileged?: boolean;
		};
		const password = this.getNodeParameter('password', i, '') as string;
		const sshPublicKeys = (this.getNodeParameter('sshPublicKeys', i, '') as string).trim();
		if (!password && !sshPublicKeys)
			throw new InfraOpsError(
				'Neither a root password nor SSH public keys are set',
				'Give SSH public keys (preferred) or a root password, or nobody can log in',
			);
		const storage = this.getNodeParameter('storage', i) as string;
		const features = options.features ?? [];
		const task = await createContainer(client, {
			node,
			vmid,
			ostemplate: this.getNodeParameter('ostemplate', i) as string,
			storage,
			password: password || undefined,
			sshPublicKeys: sshPublicKeys || undefined,
			start: options.start,
			config: {
				hostname: this.getNodeParameter('hostname', i) as string,
				cores: this.getNodeParameter('cores', i) as number,
				memory: this.getNodeParameter('memory', i) as number,
				swap: this.getNodeParameter('swap', i) as number,
				rootfs: `${storage}:${this.getNodeParameter('diskGiB', i) as number}`,
				net0: netFromParams(this.getNodeParameter('network', i, {}) as NetworkParams),
				features: features.length ? features.map((f) => `${f}=1`).join(',') : undefined,
				onboot: options.onboot ?? true,
				unprivileged: options.unprivileged ?? true,
				tags: options.tags
					? options.tags
							.split(/[,;\s]+/)
							.filter(Boolean)
							.join(';')
					: undefined,
			},
		});
		return { json: { vmid, node, created: true, task } as unknown as IDataObject };
	});
}
