import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { InfraOpsError } from '../../shared/errors';
import type { TlsTrust } from '../../shared/http';
import { itemsFrom } from '../../shared/items';
import { checkUrls, parseUrlList } from '../urlCheck';

export const option = {
	name: 'Check URLs',
	value: 'checkUrls',
	description:
		'Request each service URL (status, a text the page must contain, latency); TLS errors named',
	action: 'Check URLs',
};

const show = { show: { operation: ['checkUrls'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'URLs',
		name: 'urls',
		type: 'string',
		typeOptions: { rows: 5 },
		default: '',
		required: true,
		placeholder: 'https://chat.example.com 200 "Open WebUI"\nhttp://qdrant:6333/healthz 2xx',
		description:
			'One per line: URL, then optionally the expected status (200, 2xx, 200-299, 200|401; default any 2xx or 3xx) and a text the body must contain ("in quotes" or one word, case-sensitive). Lines starting with # are skipped. Redirects are not followed.',
		displayOptions: show,
	},
	{
		displayName: 'Options',
		name: 'urlOptions',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		displayOptions: show,
		options: [
			{
				displayName: 'Concurrency',
				name: 'concurrency',
				type: 'number',
				default: 10,
				description: 'How many URLs to request at once',
			},
			{
				displayName: 'Custom CA Certificate',
				name: 'customCa',
				type: 'string',
				typeOptions: { rows: 4 },
				default: '',
				placeholder: '-----BEGIN CERTIFICATE-----',
				description:
					'Trust servers whose certificate this CA issued (an internal CA) instead of the system CAs',
			},
			{
				displayName: 'Ignore TLS Errors',
				name: 'ignoreTls',
				type: 'boolean',
				default: false,
				description:
					'Whether to accept any certificate (expired, self-signed, other host); only for services you reach over a trusted network',
			},
			{
				displayName: 'Slow Above (Ms)',
				name: 'slowMs',
				type: 'number',
				default: 3000,
				description: 'A right answer slower than this is a warning; 0 turns it off',
			},
			{
				displayName: 'Timeout (Seconds)',
				name: 'timeoutSeconds',
				type: 'number',
				default: 10,
				description:
					'Per URL: connect, TLS, answer and body together; a URL that takes longer is down',
			},
		],
	},
];

function readOptions(ctx: IExecuteFunctions, i: number) {
	const options = ctx.getNodeParameter('urlOptions', i, {}) as IDataObject;
	const seconds = Number(options.timeoutSeconds ?? 10);
	if (!Number.isFinite(seconds) || seconds <= 0)
		throw new InfraOpsError(
			`Timeout (Seconds) must be a number above 0, not "${String(options.timeoutSeconds)}"`,
			'Give the seconds to wait per URL, e.g. 10, or 0.5 for half a second',
		);
	const slowMs = Number(options.slowMs ?? 3000);
	if (!Number.isFinite(slowMs) || slowMs < 0)
		throw new InfraOpsError(`Slow Above (Ms) must be 0 or more, not "${String(options.slowMs)}"`);
	const customCa = String(options.customCa ?? '').trim();
	const tls: TlsTrust = options.ignoreTls
		? { mode: 'insecure' }
		: customCa
			? { mode: 'ca', ca: customCa }
			: { mode: 'system' };
	return {
		timeoutMs: Math.max(1, Math.round(seconds * 1000)),
		slowMs,
		tls,
		concurrency: Math.max(1, Math.floor(Number(options.concurrency ?? 10)) || 1),
	};
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async (i) => {
		const specs = parseUrlList(this.getNodeParameter('urls', i));
		return await checkUrls(specs, readOptions(this, i));
	});
}
