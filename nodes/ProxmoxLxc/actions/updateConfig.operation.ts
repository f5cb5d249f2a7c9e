import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { InfraOpsError } from '../../shared/errors';
import { itemsFrom } from '../../shared/items';
import { power, updateConfig } from '../lxc';
import { target, pveClientOf } from './common';

const show = { show: { operation: ['updateConfig'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Set',
		name: 'setValues',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true },
		placeholder: 'Add value',
		default: {},
		description:
			'Config keys to set, as PVE names them (hostname, memory, cores, net0, features, tags, ...)',
		displayOptions: show,
		options: [
			{
				displayName: 'Value',
				name: 'value',
				values: [
					{ displayName: 'Key', name: 'key', type: 'string', default: '', placeholder: 'hostname' },
					{
						displayName: 'Value',
						name: 'value',
						type: 'string',
						default: '',
						placeholder: 'traefik',
					},
				],
			},
		],
	},
	{
		displayName: 'Delete Keys',
		name: 'deleteKeys',
		type: 'string',
		default: '',
		placeholder: 'mp1, net1',
		description: 'Config keys to remove, separated by commas',
		displayOptions: show,
	},
	{
		displayName: 'Options',
		name: 'updateOptions',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		displayOptions: show,
		options: [
			{
				displayName: 'Digest',
				name: 'digest',
				type: 'string',
				default: '',
				description:
					'The config digest from an earlier Get: the update is refused if the config changed since. Empty: the digest of the config read just before the update.',
			},
			{
				displayName: 'Reboot If Pending',
				name: 'rebootIfPending',
				type: 'boolean',
				default: false,
				description:
					'Whether to reboot a running container when PVE queued the change until the next restart, so it takes effect now',
			},
		],
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	const pve = pveClientOf(this);
	return await itemsFrom(this, async (i) => {
		const client = await pve();
		const { node, vmid } = target(this, i);
		const rows =
			(this.getNodeParameter('setValues', i, {}) as { value?: { key: string; value: string }[] })
				.value ?? [];
		const set: Record<string, string> = {};
		for (const row of rows) {
			const key = String(row.key ?? '').trim();
			if (!key)
				throw new InfraOpsError(
					'A Set row has no key',
					'Fill in the key (e.g. hostname) or remove the row',
				);
			set[key] = String(row.value ?? '');
		}
		const deletes = (this.getNodeParameter('deleteKeys', i, '') as string)
			.split(/[,;\s]+/)
			.filter(Boolean);
		const options = this.getNodeParameter('updateOptions', i, {}) as {
			digest?: string;
			rebootIfPending?: boolean;
		};
		const result = await updateConfig(client, node, vmid, {
			set,
			delete: deletes,
			digest: options.digest || undefined,
		});
		let rebooted = false;
		if (options.rebootIfPending && result.pending.length > 0) {
			const r = await power(client, node, vmid, 'reboot');
			rebooted = !r.unchanged;
		}
		return { json: { ...result, rebooted } as unknown as IDataObject };
	});
}
