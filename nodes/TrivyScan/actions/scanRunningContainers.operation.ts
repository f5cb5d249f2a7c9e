import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import type { DockerClient } from '../../shared/docker';
import { itemsFrom, type ItemOutput } from '../../shared/items';
import { listRunningImages } from '../containers';
import { imageOutput, isImageChange, nothingRunningResult, outcomeFinding } from '../imageFinding';
import { scanAll } from '../trivyRun';
import { CVE_STATE_KEY, mergeCveState } from '../assess';
import { openDocker, openScanner, readPolicy } from './common';

export const description: INodeProperties[] = [
	{
		displayName:
			'Running containers are listed through the Docker credential and deduplicated by image ID: each image is scanned once, and its finding names the containers that use it',
		name: 'runningNotice',
		type: 'notice',
		default: '',
		displayOptions: { show: { operation: ['scanRunningContainers'] } },
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(
		this,
		async (i, store) => {
			let docker: { client: DockerClient; socketPath?: string } | undefined;
			let close = () => {};
			try {
				const policy = readPolicy(this, i);
				const options = this.getNodeParameter('options', i, {}) as IDataObject;
				docker = await openDocker(this, i);
				const opened = docker;
				const label = String(options.containerLabel ?? '').trim();
				const running = await listRunningImages(
					opened.client.docker,
					opened.client.target,
					label ? [label] : [],
				);
				if (!running.length)
					return imageOutput(
						[nothingRunningResult(opened.client.target, label)],
						false,
					) as ItemOutput;
				const scanner = await openScanner(this, i, policy, async () => opened);
				close = () => scanner.close();
				const outcomes = await scanAll(
					scanner.runner,
					running.map((r) => r.reference),
					{ ...scanner.options, dockerOnly: true },
					scanner.concurrency,
					scanner.token,
				);
				const results = running.map((image, k) =>
					outcomeFinding(
						{
							reference: image.reference,
							imageId: image.imageId,
							containers: image.containers,
							scannedOn: scanner.runner.where,
						},
						outcomes[k],
						policy,
						store,
					),
				);
				return imageOutput(results, options.perVulnerability === true) as ItemOutput;
			} finally {
				close();
				docker?.client.close();
			}
		},
		{ rule: isImageChange, values: { [CVE_STATE_KEY]: mergeCveState } },
	);
}
