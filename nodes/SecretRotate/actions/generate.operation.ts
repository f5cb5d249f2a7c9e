import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { generateSecret } from '../generate';
import { readSecretSpec } from './common';

export const description: INodeProperties[] = [
	{
		displayName: 'Include Secret in Output',
		name: 'includeSecret',
		type: 'boolean',
		default: false,
		description:
			'Whether to put the secret itself in the output item. Off, the item only describes it (fingerprint, length, entropy).',
		displayOptions: { show: { operation: ['generate'] } },
	},
	{
		displayName:
			"The secret will be stored in this workflow's execution data, in plain text, for as long as executions are kept. Prefer Rotate, which never puts the secret in an item.",
		name: 'includeSecretNotice',
		type: 'notice',
		default: '',
		displayOptions: { show: { operation: ['generate'], includeSecret: [true] } },
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async (i) => {
		const secret = generateSecret(readSecretSpec(this, i));
		const json: IDataObject = { ...secret.metadata };
		if (this.getNodeParameter('includeSecret', i, false) as boolean) {
			json.secret = secret.value;
			if (secret.publicKey) json.publicKey = secret.publicKey;
		}
		return { json };
	});
}
