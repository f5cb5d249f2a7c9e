import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { itemsFrom, type ItemOutput } from '../../shared/items';
import { splitList } from '../../shared/lists';
import { listBackups, listVolumeFolders, readManifest } from '../store';
import { CLOCK_SKEW_MS } from '../trust';
import { signingKey, storageTarget } from './common';
import { checkSignature } from '../signing';
import { isRestic } from './engine';
import * as restic from './resticEngine';

const show = { show: { operation: ['list'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Volumes',
		name: 'volumes',
		type: 'string',
		default: '',
		description: 'Comma separated; empty lists every volume under the prefix',
		displayOptions: show,
	},
	{
		displayName: 'Limit per Volume',
		name: 'limit',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 50,
		description: 'Max number of results to return',
		displayOptions: show,
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	if (isRestic(this)) return await restic.list.call(this);
	return await itemsFrom(this, async (i) => await executeItem.call(this, i));
}

async function executeItem(this: IExecuteFunctions, itemIndex: number): Promise<ItemOutput> {
	const target = await storageTarget(this, itemIndex);
	try {
		let volumes = splitList(this.getNodeParameter('volumes', itemIndex, '') as string);
		if (!volumes.length) volumes = await listVolumeFolders(target.s3, target.bucket, target.prefix);
		const limit = this.getNodeParameter('limit', itemIndex, 50) as number;
		const signing = (await signingKey(this)).key;
		const now = Date.now();
		const futureAfter = now + CLOCK_SKEW_MS;
		const out: IDataObject[] = [];
		for (const volume of volumes) {
			for (const b of (await listBackups(target.s3, target.bucket, target.prefix, volume)).slice(
				0,
				limit,
			)) {
				const manifest = b.complete
					? await readManifest(target.s3, target.bucket, b.key).catch(() => undefined)
					: undefined;
				const futureDated = b.at.getTime() > futureAfter;
				const signature = signing ? checkSignature(manifest, b.key, signing) : undefined;
				out.push({
					...(futureDated
						? {
								status: 'warning',
								summary: `future-dated backup ${b.key}: ignored for "latest" and retention; no run of this node writes such a key`,
							}
						: {}),
					volume,
					key: b.key,
					createdAt: b.at.toISOString(),
					ageHours: Math.round(((now - b.at.getTime()) / 3_600_000) * 10) / 10,
					sizeBytes: b.size,
					complete: b.complete,
					compression: b.compression,
					encrypted: b.encrypted,
					files: manifest?.tar.files,
					verified: manifest?.verified?.ok ?? false,
					verifiedAt: manifest?.verified?.at,
					futureDated,
					// only with a signing key: without one, signed and planted manifests look alike
					...(signature
						? {
								signed: signature.state,
								...(signature.reason && signature.state !== false
									? { signatureProblem: signature.reason }
									: {}),
							}
						: {}),
				});
			}
		}
		return { json: out };
	} finally {
		target.close();
	}
}
