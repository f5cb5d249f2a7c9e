import { NodeConnectionTypes } from 'n8n-workflow';
import type {
	IExecuteFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
} from 'n8n-workflow';

import { credentialTests } from '../shared/credentialTests';
import { operationProperties, router } from './actions/router';

export class StackDeploy implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Stack Deploy',
		name: 'stackDeploy',
		icon: { light: 'file:stackDeploy.svg', dark: 'file:stackDeploy.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"]}}',
		description:
			"Over SSH: check out a pushed commit of the stack's repository and run its start command, or roll back to the previous commit",
		defaults: { name: 'Stack Deploy' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{ name: 'infraOpsSshApi', required: true, testedBy: 'infraOpsSshApiTest' },
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
						name: 'Deploy',
						value: 'deploy',
						description:
							'Git fetch, check out the pushed commit (only one on the branch), run the start command',
						action: 'Deploy a commit',
					},
					{
						name: 'Roll Back',
						value: 'rollBack',
						description: 'Check out the commit the last deploy replaced and run the start command',
						action: 'Roll back to the previous commit',
					},
				],
				default: 'deploy',
			},
			...operationProperties,
		],
	};

	methods = { credentialTest: credentialTests };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
