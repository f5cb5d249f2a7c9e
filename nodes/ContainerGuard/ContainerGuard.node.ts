import { NodeConnectionTypes } from 'n8n-workflow';
import type {
	IExecuteFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
} from 'n8n-workflow';

import { credentialTests } from '../shared/credentialTests';
import { operationOptions, operationProperties, router } from './actions/router';

export class ContainerGuard implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Container Guard',
		name: 'containerGuard',
		icon: { light: 'file:containerGuard.svg', dark: 'file:containerGuard.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"]}}',
		description:
			'Audit and apply container resource limits, watch container health and restarts, check service URLs and rightsize containers from their usage',
		defaults: { name: 'Container Guard' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{
				// every operation but Check URLs (and Usage from Prometheus, Error Logs from Loki) talks to the Docker Engine
				name: 'infraOpsDockerApi',
				required: true,
				testedBy: 'infraOpsDockerApiTest',
				displayOptions: {
					hide: { operation: ['checkUrls'], usageSource: ['prometheus'], logSource: ['loki'] },
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
				options: operationOptions,
				default: 'health',
			},
			...operationProperties,
		],
	};

	methods = { credentialTest: credentialTests };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
