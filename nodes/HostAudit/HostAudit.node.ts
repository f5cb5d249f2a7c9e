import { NodeConnectionTypes } from 'n8n-workflow';
import type {
	IExecuteFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
} from 'n8n-workflow';

import { credentialTests } from '../shared/credentialTests';
import { operationProperties, router } from './actions/router';

export class HostAudit implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Host Audit',
		name: 'hostAudit',
		icon: { light: 'file:hostAudit.svg', dark: 'file:hostAudit.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"]}}',
		description:
			'The security-hardening checklist as controls with evidence and remediation, read over SSH without changing the host; plus container privileges, network isolation, backup freshness and PostgreSQL replication lag',
		defaults: { name: 'Host Audit' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{
				name: 'infraOpsSshApi',
				required: true,
				testedBy: 'infraOpsSshApiTest',
				displayOptions: { show: { operation: ['auditHost'] } },
			},
			{
				name: 'infraOpsDockerApi',
				required: true,
				testedBy: 'infraOpsDockerApiTest',
				displayOptions: { show: { operation: ['auditContainers'] } },
			},
			{
				name: 'infraOpsS3Api',
				required: true,
				testedBy: 'infraOpsS3ApiTest',
				displayOptions: { show: { operation: ['auditBackups'] } },
			},
			{
				// its signing key makes "latest" the newest backup this n8n signed
				name: 'infraOpsBackupEncryption',
				required: false,
				testedBy: 'infraOpsBackupEncryptionTest',
				displayOptions: { show: { operation: ['auditBackups'] } },
			},
			{
				name: 'infraOpsPostgresApi',
				required: true,
				testedBy: 'infraOpsPostgresApiTest',
				displayOptions: { show: { operation: ['auditReplication'] } },
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
						name: 'Audit Host',
						value: 'auditHost',
						description:
							'Over SSH: sshd, fail2ban, firewall, updates, auditd, AIDE, ports, hostname, disk, memory',
						action: 'Audit a host',
					},
					{
						name: 'Audit Containers',
						value: 'auditContainers',
						description:
							'Least privilege of running containers and which tiers meet on each network',
						action: 'Audit containers',
					},
					{
						name: 'Audit Backups',
						value: 'auditBackups',
						description: 'The latest backup of each volume is fresh and encrypted',
						action: 'Audit backups',
					},
					{
						name: 'Audit Replication',
						value: 'auditReplication',
						description:
							'PostgreSQL streaming replication: each replica connected, its lag in bytes and seconds',
						action: 'Audit replication',
					},
				],
				default: 'auditHost',
			},
			...operationProperties,
		],
	};

	methods = { credentialTest: credentialTests };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
