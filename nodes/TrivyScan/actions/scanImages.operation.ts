import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import type { DockerClient } from '../../shared/docker';
import { InfraOpsError } from '../../shared/errors';
import { itemsFrom, type ItemOutput } from '../../shared/items';
import { splitList } from '../../shared/lists';
import { imageOutput, isImageChange, outcomeFinding } from '../imageFinding';
import { scanAll } from '../trivyRun';
import { CVE_STATE_KEY, mergeCveState } from '../assess';
import { openDocker, openScanner, readPolicy } from './common';

export const description: INodeProperties[] = [
	{
		displayName: 'Images',
		name: 'images',
		type: 'string',
		typeOptions: { rows: 3 },
		default: '',
		required: true,
		placeholder: 'ghcr.io/open-webui/open-webui:main, n8nio/n8n:2.41.1',
		description:
			'Image references, separated by commas or new lines; each distinct one is scanned once',
		displayOptions: { show: { operation: ['scanImages'] } },
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(
		this,
		async (i, store) => {
			let docker: DockerClient | undefined;
			let close = () => {};
			try {
				const policy = readPolicy(this, i);
				const images = [
					...new Set(splitList(this.getNodeParameter('images', i, ''), { words: true })),
				];
				if (!images.length)
					throw new InfraOpsError(
						'No image to scan',
						'List image references in Images, e.g. nginx:1.27',
					);
				const scanner = await openScanner(this, i, policy, async () => {
					const opened = await openDocker(this, i);
					docker = opened.client;
					return opened;
				});
				close = () => scanner.close();
				const outcomes = await scanAll(
					scanner.runner,
					images,
					scanner.options,
					scanner.concurrency,
					scanner.token,
				);
				const results = outcomes.map((o) =>
					outcomeFinding({ reference: o.image, scannedOn: scanner.runner.where }, o, policy, store),
				);
				const options = this.getNodeParameter('options', i, {}) as IDataObject;
				return imageOutput(results, options.perVulnerability === true) as ItemOutput;
			} finally {
				close();
				(docker as DockerClient | undefined)?.close();
			}
		},
		{ rule: isImageChange, values: { [CVE_STATE_KEY]: mergeCveState } },
	);
}
