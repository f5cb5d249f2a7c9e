import type {
	IExecuteFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { credentialTests } from '../shared/credentialTests';
import { engineProperty } from './actions/engine';
import { operationProperties, router } from './actions/router';

export class DockerVolumeBackup implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Docker Volume Backup',
		name: 'dockerVolumeBackup',
		icon: { light: 'file:dockerVolumeBackup.svg', dark: 'file:dockerVolumeBackup.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{ $parameter["operation"] }}',
		description:
			'Streaming, age-encrypted, verified backups of Docker volumes to S3-compatible storage, with restore and retention',
		defaults: { name: 'Docker Volume Backup' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{ name: 'infraOpsS3Api', required: true, testedBy: 'infraOpsS3ApiTest' },
			{
				name: 'infraOpsDockerApi',
				// Backup, Restore and Verify use it, and every operation of the Restic engine (restic runs
				// in a container); displayOptions cannot say "or", so it is shown, and asked for when used
				required: false,
				testedBy: 'infraOpsDockerApiTest',
			},
			{
				name: 'infraOpsResticRepositoryApi',
				// not required: a workflow choosing its engine by expression must run without it on Archive
				required: false,
				testedBy: 'infraOpsResticRepositoryApiTest',
				displayOptions: { show: { engine: ['restic'] } },
			},
			{
				name: 'infraOpsBackupEncryption',
				required: false,
				testedBy: 'infraOpsBackupEncryptionTest',
				// Prune and List use it for the manifest signing key only
				displayOptions: { show: { operation: ['backup', 'restore', 'verify', 'prune', 'list'] } },
			},
			{
				name: 'infraOpsSshApi',
				// host paths (Archive engine) and sftp restic repositories (any operation): shown always
				required: false,
				testedBy: 'infraOpsSshApiTest',
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
						name: 'Backup',
						value: 'backup',
						action: 'Back up volumes',
						description: 'Stream volumes to S3, compressed and encrypted, with a manifest',
					},
					{
						name: 'List Backups',
						value: 'list',
						action: 'List backups',
						description: 'Backups per volume: time, size, age, verified',
					},
					{
						name: 'Prune',
						value: 'prune',
						action: 'Prune old backups',
						description: 'Apply keep-last and daily/weekly/monthly retention',
					},
					{
						name: 'Restore',
						value: 'restore',
						action: 'Restore a volume',
						description: 'Stream a backup back into a volume',
					},
					{
						name: 'Verify',
						value: 'verify',
						action: 'Verify backups',
						description:
							'Read back, decrypt and hash-check; optionally restore into a scratch volume',
					},
				],
				default: 'backup',
			},
			engineProperty,
			...operationProperties,
		],
	};

	methods = { credentialTest: credentialTests };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
