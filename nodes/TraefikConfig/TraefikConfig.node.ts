import { NodeConnectionTypes } from 'n8n-workflow';
import type {
	IExecuteFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
} from 'n8n-workflow';

import { credentialTests } from '../shared/credentialTests';
import { operationProperties, router } from './actions/router';

export class TraefikConfig implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Traefik Config',
		name: 'traefikConfig',
		icon: { light: 'file:traefikConfig.svg', dark: 'file:traefikConfig.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
		description:
			'Build rate-limit and security middlewares, attach them to routers, validate and deploy Traefik dynamic files over SSH with automatic rollback',
		defaults: { name: 'Traefik Config' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{
				name: 'infraOpsSshApi',
				required: true,
				testedBy: 'infraOpsSshApiTest',
				displayOptions: {
					show: {
						operation: ['attachMiddlewares', 'validate', 'deploy', 'rollback', 'fetchGitFiles'],
					},
				},
			},
			{
				// needed by Get Status, and by Deploy/Rollback when "Verify With Traefik API" is on (checked when run)
				name: 'infraOpsTraefikApi',
				required: false,
				testedBy: 'infraOpsTraefikApiTest',
				displayOptions: { show: { operation: ['getStatus', 'deploy', 'rollback'] } },
			},
			{
				name: 'infraOpsGitWebhookApi',
				required: true,
				testedBy: 'infraOpsGitWebhookApiTest',
				displayOptions: { show: { operation: ['verifyWebhookSignature'] } },
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
				displayName: 'Resource',
				name: 'resource',
				type: 'options',
				noDataExpression: true,
				options: [
					{ name: 'Dynamic File', value: 'dynamicFile' },
					{ name: 'Git', value: 'git' },
					{ name: 'Middleware', value: 'middleware' },
					{ name: 'Traefik', value: 'traefik' },
				],
				default: 'middleware',
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['middleware'] } },
				options: [
					{
						name: 'Attach to Routers',
						value: 'attachMiddlewares',
						description: 'Add middlewares to routers of a dynamic file, keeping its comments',
						action: 'Attach middlewares to routers',
					},
					{
						name: 'Build',
						value: 'buildMiddleware',
						description:
							'Rate limit, secure headers, IP allow list, basic auth, redirect, compress, chain',
						action: 'Build a middleware',
					},
				],
				default: 'buildMiddleware',
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['dynamicFile'] } },
				options: [
					{
						name: 'Deploy',
						value: 'deploy',
						description:
							'Validate, write atomically over SSH, verify in Traefik, roll back if not served',
						action: 'Deploy dynamic files',
					},
					{
						name: 'Rollback',
						value: 'rollback',
						description: 'Restore a kept version of a file, with the same checks',
						action: 'Roll back a dynamic file',
					},
					{
						name: 'Validate',
						value: 'validate',
						description:
							'Structure, references across the folder, duplicates, templating, rate-limit sources',
						action: 'Validate dynamic files',
					},
				],
				default: 'validate',
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['traefik'] } },
				options: [
					{
						name: 'Get Status',
						value: 'getStatus',
						description:
							"Routers, services and middlewares with errors or warnings, from Traefik's API",
						action: 'Get traefik status',
					},
				],
				default: 'getStatus',
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['git'] } },
				options: [
					{
						name: 'Fetch Files',
						value: 'fetchGitFiles',
						description: 'Git fetch of a pushed commit on the Traefik host, then its dynamic files',
						action: 'Fetch dynamic files from git',
					},
					{
						name: 'Verify Webhook Signature',
						value: 'verifyWebhookSignature',
						description: "HMAC-SHA256 of a Git push webhook (GitHub, Gitea) or GitLab's token",
						action: 'Verify a webhook signature',
					},
				],
				default: 'verifyWebhookSignature',
			},
			...operationProperties,
		],
	};

	methods = { credentialTest: credentialTests };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
