import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { splitList } from '../../shared/lists';
import { HOST_CONTROLS } from '../controls';
import { auditHost } from '../probe';
import { parsePortRules } from '../resources';
import { sshTarget } from './common';

const show = { show: { operation: ['auditHost'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Host Name',
		name: 'hostLabel',
		type: 'string',
		default: '',
		placeholder: 'traefik-lxc',
		description: "The host's name in findings and reports; empty uses the credential's host",
		displayOptions: show,
	},
	{
		displayName: 'Connect To',
		name: 'hostAddress',
		type: 'string',
		default: '',
		placeholder: '10.0.20.5 or traefik.lan:2222',
		description:
			"Host (and port) to audit with the credential's user and key, so one credential serves several hosts; their host key fingerprints must all be in the credential. Empty: the credential's host.",
		displayOptions: show,
	},
	{
		displayName: 'Expected Hostname',
		name: 'expectedHostname',
		type: 'string',
		default: '',
		placeholder: 'traefik',
		description:
			'What `hostname` must print (compared without case; the FQDN also matches). Empty skips the hostname control.',
		displayOptions: show,
	},
	{
		displayName: 'Allowed Ports',
		name: 'allowedPorts',
		type: 'string',
		default: '22, 80, 443',
		description:
			'Ports that may listen on a non-loopback address: 22, 443/tcp, 53/udp, 8000-8100 (one per line or comma)',
		displayOptions: show,
	},
	{
		displayName: 'Use Sudo',
		name: 'useSudo',
		type: 'boolean',
		default: false,
		description:
			'Whether to run the controls that need root through `sudo -n` (never prompts: a sudo that wants a password makes those controls unknown). Off: connect as root.',
		displayOptions: show,
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		displayOptions: show,
		options: [
			{
				displayName: 'AIDE Check Max Age (Days)',
				name: 'aideMaxAgeDays',
				type: 'number',
				default: 8,
				description: "AIDE's last check may be at most this old",
			},
			{
				displayName: 'Command Timeout (Seconds)',
				name: 'commandTimeoutS',
				type: 'number',
				default: 60,
				typeOptions: { minValue: 1 },
				description:
					'Each control command is killed on the host after this long and reported unknown',
			},
			{
				displayName: 'Controls',
				name: 'controls',
				type: 'multiOptions',
				options: HOST_CONTROLS.map((c) => ({ name: c.title, value: c.id })),
				default: [],
				description: 'Only these controls; empty runs them all',
			},
			{
				displayName: 'Include Loopback Listeners',
				name: 'includeLoopback',
				type: 'boolean',
				default: false,
				description: 'Whether ports bound to 127.0.0.1 / ::1 count against Allowed Ports',
			},
			{
				displayName: 'Min Available Memory (%)',
				name: 'minAvailableMemoryPercent',
				type: 'number',
				default: 10,
				description: 'Alert when less memory is available (critical under half of it)',
			},
			{
				displayName: 'Min Free Disk (GB)',
				name: 'minFreeDiskGb',
				type: 'number',
				default: 10,
				description: 'Alert on a mount with less free space (critical under a quarter of it)',
			},
			{
				displayName: 'Mounts',
				name: 'mounts',
				type: 'string',
				default: '',
				placeholder: '/, /var/lib/docker',
				description: 'Mount points whose free space is checked; empty checks every local disk',
			},
			{
				displayName: 'Parallel Commands',
				name: 'concurrency',
				type: 'number',
				default: 4,
				typeOptions: { minValue: 1, maxValue: 10 },
				description: 'Commands running at once over the one SSH connection',
			},
			{
				displayName: 'Sshd Config File',
				name: 'sshdConfigFile',
				type: 'string',
				default: '/etc/ssh/sshd_config',
				description: 'The configuration `sshd -T -f` reads',
			},
		],
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(
		this,
		async (i) => {
			const o = this.getNodeParameter('options', i, {}) as Record<string, unknown>;
			const allowedPorts = splitList(this.getNodeParameter('allowedPorts', i, ''));
			parsePortRules(allowedPorts); // a typo is the item's error, before anything connects
			const { conn, open } = await sshTarget(
				this,
				i,
				(this.getNodeParameter('hostAddress', i, '') as string).trim(),
			);
			const session = await open();
			try {
				return await auditHost(session, {
					target: (this.getNodeParameter('hostLabel', i, '') as string).trim() || conn.host,
					useSudo: this.getNodeParameter('useSudo', i, false) as boolean,
					expectedHostname: this.getNodeParameter('expectedHostname', i, '') as string,
					allowedPorts,
					includeLoopback: Boolean(o.includeLoopback),
					sshdConfigFile: (o.sshdConfigFile as string) || '/etc/ssh/sshd_config',
					minFreeDiskGb: Number(o.minFreeDiskGb ?? 10),
					mounts: splitList(o.mounts),
					minAvailableMemoryPercent: Number(o.minAvailableMemoryPercent ?? 10),
					aideMaxAgeDays: Number(o.aideMaxAgeDays ?? 8),
					aptListsMaxAgeDays: 7,
					commandTimeoutMs: Number(o.commandTimeoutS ?? 60) * 1000,
					concurrency: Number(o.concurrency ?? 4),
					controls: (o.controls as string[] | undefined) ?? [],
				});
			} finally {
				session.close();
			}
			// hosts are independent: a few at once, each on its own connection
		},
		{ concurrency: 3 },
	);
}
