import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { InfraOpsError } from '../../shared/errors';
import { itemsFrom } from '../../shared/items';
import {
	deliveryIdOf,
	detectGitHost,
	verifyWebhookSignature,
	type GitHost,
} from '../webhookSignature';

const op = 'verifyWebhookSignature';
const show = { show: { operation: [op] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Git Host',
		name: 'gitHost',
		type: 'options',
		options: [
			{
				name: 'Detect From Headers',
				value: 'auto',
				description: 'Whichever of the three the delivery carries; each needs the secret',
			},
			{ name: 'GitHub (X-Hub-Signature-256)', value: 'github' },
			{ name: 'Gitea / Forgejo (X-Gitea-Signature)', value: 'gitea' },
			{ name: 'GitLab (X-Gitlab-Token)', value: 'gitlab' },
		],
		default: 'auto',
		displayOptions: show,
	},
	{
		displayName: 'Raw Body Binary Field',
		name: 'rawBodyField',
		type: 'string',
		default: 'data',
		description:
			'The Webhook node\'s raw body (turn on its "Raw Body" option): the signature covers the exact bytes',
		displayOptions: show,
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	const items = this.getInputData();
	return await itemsFrom(this, async (i) => {
		const credential = await this.getCredentials('infraOpsGitWebhookApi', i);
		const headers = (items[i].json.headers ?? {}) as Record<string, unknown>;
		const chosen = this.getNodeParameter('gitHost', i) as GitHost | 'auto';
		const host: GitHost = chosen === 'auto' ? (detectGitHost(headers) ?? 'github') : chosen;
		const field = this.getNodeParameter('rawBodyField', i) as string;
		let raw: Buffer;
		if (items[i].binary?.[field]) raw = await this.helpers.getBinaryDataBuffer(i, field);
		else if (host === 'gitlab') raw = Buffer.alloc(0);
		else
			throw new InfraOpsError(
				`The input has no binary field "${field}" with the raw request body`,
				'Turn on "Raw Body" in the Webhook node\'s options: the HMAC is computed over the exact bytes sent',
			);
		const verdict = verifyWebhookSignature(host, String(credential.secret ?? ''), raw, headers);
		const body = (items[i].json.body ?? {}) as IDataObject;
		return {
			json: {
				signatureValid: verdict.valid,
				signatureHeader: verdict.header,
				reason: verdict.reason ?? null,
				gitHost: host,
				deliveryId: deliveryIdOf(headers) ?? null,
				ref: typeof body.ref === 'string' ? body.ref : null,
				commit:
					typeof body.after === 'string'
						? body.after
						: typeof body.checkout_sha === 'string'
							? body.checkout_sha
							: null,
				body,
			},
		};
	});
}
