import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { InfraOpsError } from '../../shared/errors';
import { itemsFrom, type ItemOutput } from '../../shared/items';
import { imageOutput, isImageChange, reportFinding } from '../imageFinding';
import { parseTrivyReport } from '../report';
import { CVE_STATE_KEY, mergeCveState } from '../assess';
import { readPolicy } from './common';

const show = { show: { operation: ['parseReport'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Source',
		name: 'reportSource',
		type: 'options',
		options: [
			{
				name: 'Text',
				value: 'text',
				description: "The JSON as text, e.g. an expression on an earlier node's output",
			},
			{
				name: 'Binary Input',
				value: 'binary',
				description: 'A file an earlier node read or received',
			},
		],
		default: 'text',
		displayOptions: show,
	},
	{
		displayName: 'Report JSON',
		name: 'reportText',
		type: 'string',
		typeOptions: { rows: 6 },
		default: '',
		required: true,
		placeholder: '{ "SchemaVersion": 2, "ArtifactName": "…", "Results": […] }',
		description: 'Output of trivy image --format json',
		displayOptions: { show: { operation: ['parseReport'], reportSource: ['text'] } },
	},
	{
		displayName: 'Input Binary Field',
		name: 'binaryPropertyName',
		type: 'string',
		default: 'data',
		displayOptions: { show: { operation: ['parseReport'], reportSource: ['binary'] } },
	},
	{
		displayName: 'Image Name',
		name: 'reference',
		type: 'string',
		default: '',
		placeholder: 'nginx:1.27',
		description:
			"What the finding is about (and what new CVEs are tracked by); empty takes the report's first RepoTag, else its ArtifactName",
		displayOptions: show,
	},
];

async function readReportText(
	ctx: IExecuteFunctions,
	i: number,
): Promise<{ text: string | Buffer; source: string }> {
	if (ctx.getNodeParameter('reportSource', i, 'text') === 'binary') {
		const property = ctx.getNodeParameter('binaryPropertyName', i, 'data') as string;
		ctx.helpers.assertBinaryData(i, property);
		return {
			text: await ctx.helpers.getBinaryDataBuffer(i, property),
			source: `The binary field "${property}"`,
		};
	}
	const value = ctx.getNodeParameter('reportText', i, '') as unknown;
	// an expression such as {{ $json }} hands over an object already parsed
	const text = typeof value === 'string' ? value : JSON.stringify(value);
	if (!text.trim())
		throw new InfraOpsError(
			'Report JSON is empty',
			'Paste the output of trivy image --format json, or map it from an earlier node',
		);
	return { text, source: 'Report JSON' };
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(
		this,
		async (i, store) => {
			const policy = readPolicy(this, i);
			const { text, source } = await readReportText(this, i);
			const report = parseTrivyReport(text, source);
			const reference =
				(this.getNodeParameter('reference', i, '') as string).trim() ||
				report.repoTags[0] ||
				report.artifactName ||
				report.imageId ||
				'report';
			const result = reportFinding({ reference, imageId: report.imageId }, report, policy, store);
			const options = this.getNodeParameter('options', i, {}) as IDataObject;
			return imageOutput([result], options.perVulnerability === true) as ItemOutput;
		},
		{ rule: isImageChange, values: { [CVE_STATE_KEY]: mergeCveState } },
	);
}
