import { NodeConnectionTypes } from 'n8n-workflow';
import type {
	IExecuteFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
} from 'n8n-workflow';

import { credentialTests } from '../shared/credentialTests';
import { operationProperties, router } from './actions/router';

export class TrivyScan implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Trivy Scan',
		name: 'trivyScan',
		icon: { light: 'file:trivyScan.svg', dark: 'file:trivyScan.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"]}}',
		description:
			'Scan the images your containers run with Trivy (once per image), judge them against severities and an ignore list, and flag new CVEs',
		defaults: { name: 'Trivy Scan' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{
				// Docker mode runs Trivy through it; Scan Running Containers lists containers through it
				name: 'infraOpsDockerApi',
				required: false,
				testedBy: 'infraOpsDockerApiTest',
				displayOptions: { show: { operation: ['scanImages', 'scanRunningContainers'] } },
			},
			{
				name: 'infraOpsSshApi',
				required: true,
				testedBy: 'infraOpsSshApiTest',
				displayOptions: {
					show: { operation: ['scanImages', 'scanRunningContainers'], runner: ['ssh'] },
				},
			},
			{
				name: 'infraOpsTrivyServerApi',
				required: true,
				displayOptions: {
					show: { operation: ['scanImages', 'scanRunningContainers'], useServer: [true] },
				},
			},
			{
				// optional: where `changed` and cursors live when n8n runs on several processes (nodeState.ts)
				name: 'infraOpsStateStoreApi',
				required: false,
				testedBy: 'infraOpsStateStoreApiTest',
			},
		],
		properties: [
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				options: [
					{
						name: 'Scan Images',
						value: 'scanImages',
						description: 'Scan a list of image references',
						action: 'Scan images',
					},
					{
						name: 'Scan Running Containers',
						value: 'scanRunningContainers',
						description: 'Scan each distinct image that running containers use, once',
						action: 'Scan running containers',
					},
					{
						name: 'Parse Report',
						value: 'parseReport',
						description: 'Judge a Trivy JSON report given as text or a file',
						action: 'Parse a trivy report',
					},
				],
				default: 'scanRunningContainers',
			},
			...operationProperties,
		],
	};

	methods = { credentialTest: credentialTests };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
