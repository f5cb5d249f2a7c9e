import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import type { NewFinding } from '../../shared/findings';
import { itemsFrom } from '../../shared/items';
import { judgeChain, type Assessment } from '../judge';
import { parsePemCertificates } from '../pem';
import {
	assessmentFinding,
	CERT_VALUES,
	certificateChangeKeys,
	readThresholds,
	thresholdOptions,
} from './common';

const show = { show: { operation: ['checkPem'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Source',
		name: 'pemSource',
		type: 'options',
		options: [
			{ name: 'Text', value: 'text' },
			{ name: 'Binary Input', value: 'binary' },
		],
		default: 'text',
		displayOptions: show,
	},
	{
		displayName: 'PEM',
		name: 'pem',
		type: 'string',
		typeOptions: { rows: 6 },
		default: '',
		placeholder: '-----BEGIN CERTIFICATE-----',
		description: 'One certificate or a chain, leaf first (e.g. fullchain.pem)',
		displayOptions: { show: { operation: ['checkPem'], pemSource: ['text'] } },
	},
	{
		displayName: 'Input Binary Field',
		name: 'binaryPropertyName',
		type: 'string',
		default: 'data',
		displayOptions: { show: { operation: ['checkPem'], pemSource: ['binary'] } },
	},
	{
		displayName: 'Options',
		name: 'pemOptions',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		displayOptions: show,
		options: [
			{
				displayName: 'Name',
				name: 'name',
				type: 'string',
				default: '',
				description: "The finding's target; default the certificate's subject",
			},
			{
				displayName: 'Hostname',
				name: 'hostname',
				type: 'string',
				default: '',
				description: 'Check that the certificate covers this host name',
			},
			...thresholdOptions,
		],
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	const assessments = new Map<NewFinding, Assessment>();
	return await itemsFrom(
		this,
		async (i) => {
			const options = this.getNodeParameter('pemOptions', i, {}) as {
				name?: string;
				hostname?: string;
			};
			let text: string;
			let source = 'PEM text';
			if (this.getNodeParameter('pemSource', i) === 'binary') {
				const property = this.getNodeParameter('binaryPropertyName', i) as string;
				const binary = this.helpers.assertBinaryData(i, property);
				text = (await this.helpers.getBinaryDataBuffer(i, property)).toString('utf8');
				source = binary.fileName ?? `binary field "${property}"`;
			} else {
				text = this.getNodeParameter('pem', i) as string;
			}
			const chain = parsePemCertificates(text, source);
			const assessment = judgeChain({
				chain,
				hostname: options.hostname || undefined,
				thresholds: readThresholds(options),
				customCa: (options as { customCa?: string }).customCa || undefined,
				now: new Date(),
			});
			const target =
				options.name ||
				/(?:^|\n)CN=([^\n]+)/.exec(chain[0].subject)?.[1] ||
				chain[0].fingerprint256;
			const finding = assessmentFinding('cert-pem', target, assessment, { source });
			assessments.set(finding, assessment);
			return [finding];
		},
		{ beforeMark: certificateChangeKeys(assessments), values: CERT_VALUES },
	);
}
