import { NodeConnectionTypes } from 'n8n-workflow';
import type {
	IExecuteFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
} from 'n8n-workflow';

import { credentialTests } from '../shared/credentialTests';
import { operationProperties, router } from './actions/router';

export class CertExpiry implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Cert Expiry',
		name: 'certExpiry',
		icon: { light: 'file:certExpiry.svg', dark: 'file:certExpiry.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"]}}',
		description:
			"Check TLS certificates of endpoints, Traefik's acme.json or PEM files: expiry scaled to the lifetime, host name, trust, weak keys and protocols",
		defaults: { name: 'Cert Expiry' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{
				name: 'infraOpsSshApi',
				required: true,
				testedBy: 'infraOpsSshApiTest',
				displayOptions: { show: { operation: ['checkAcmeJson'], source: ['ssh'] } },
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
						name: 'Check Endpoints',
						value: 'checkEndpoints',
						description:
							'Connect to TLS endpoints (STARTTLS too) and judge the served certificates',
						action: 'Check endpoints',
					},
					{
						name: 'Check Traefik acme.json',
						value: 'checkAcmeJson',
						description: "Judge every certificate Traefik's ACME resolvers store",
						action: 'Check traefik acme json',
					},
					{
						name: 'Check PEM',
						value: 'checkPem',
						description: 'Judge certificates given as PEM text or a file',
						action: 'Check PEM certificates',
					},
				],
				default: 'checkEndpoints',
			},
			...operationProperties,
		],
	};

	methods = { credentialTest: credentialTests };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
