import { NodeConnectionTypes } from 'n8n-workflow';
import type {
	IExecuteFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
} from 'n8n-workflow';

import { credentialTests } from '../shared/credentialTests';
import { operationProperties, router } from './actions/router';

export class ProxmoxLxc implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Proxmox LXC',
		name: 'proxmoxLxc',
		icon: { light: 'file:proxmoxLxc.svg', dark: 'file:proxmoxLxc.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"]}}',
		description:
			'Manage Proxmox VE LXC containers and keep them at a desired state: plan shows drift, apply fixes it; every task is waited for',
		defaults: { name: 'Proxmox LXC' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{ name: 'infraOpsProxmoxApi', required: true, testedBy: 'infraOpsProxmoxApiTest' },
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
					{ name: 'Container', value: 'container' },
					{
						name: 'Desired State',
						value: 'desiredState',
						description: 'Infrastructure as code: many containers at once, with drift detection',
					},
				],
				default: 'container',
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['container'] } },
				options: [
					{
						name: 'Audit VLAN Segmentation',
						value: 'auditSegmentation',
						description:
							"Each container's VLAN tags against a tier map (management, application, data, external)",
						action: 'Audit VLAN segmentation',
					},
					{
						name: 'Clone',
						value: 'clone',
						description: 'Full or linked clone, optionally onto another node',
						action: 'Clone a container',
					},
					{
						name: 'Create',
						value: 'create',
						description: 'Create a container from a template',
						action: 'Create a container',
					},
					{
						name: 'Delete',
						value: 'delete',
						description: 'Destroy a stopped container (running only with Force)',
						action: 'Delete a container',
					},
					{
						name: 'Get',
						value: 'get',
						description: 'Config, status and pending changes of a container',
						action: 'Get a container',
					},
					{
						name: 'List',
						value: 'list',
						description: 'Containers of the cluster or of one node',
						action: 'List containers',
					},
					{
						name: 'Power',
						value: 'power',
						description: 'Start, shut down, stop or reboot, and wait for the state',
						action: 'Change power state',
					},
					{
						name: 'Snapshot',
						value: 'snapshot',
						description: 'Create, list, roll back or delete snapshots',
						action: 'Manage snapshots',
					},
					{
						name: 'Update Config',
						value: 'updateConfig',
						description: 'Set or delete config keys, refused if the config changed meanwhile',
						action: 'Update container config',
					},
				],
				default: 'list',
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['desiredState'] } },
				options: [
					{
						name: 'Ensure',
						value: 'ensure',
						description: 'Plan or apply a desired state (JSON or YAML) for one or many containers',
						action: 'Ensure desired state',
					},
				],
				default: 'ensure',
			},
			...operationProperties,
		],
	};

	methods = { credentialTest: credentialTests };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
