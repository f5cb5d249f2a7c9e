import { NodeConnectionTypes } from 'n8n-workflow';
import type {
	IExecuteFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
} from 'n8n-workflow';

import { credentialTests } from '../shared/credentialTests';
import { operationProperties, router } from './actions/router';

const forTargets = (...kinds: string[]) => ({
	show: { operation: ['rotate'], targetKinds: kinds },
});

// Deliberately not usableAsTool: an AI agent could ask Generate to put a secret in its output (and so
// in the model's context), or rotate production credentials unasked. Rotations run from workflows.
// eslint-disable-next-line @n8n/community-nodes/node-usable-as-tool
export class SecretRotate implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Secret Rotate',
		name: 'secretRotate',
		icon: { light: 'file:secretRotate.svg', dark: 'file:secretRotate.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"]}}',
		description:
			'Generate passwords, tokens and SSH keys, and rotate them across PostgreSQL, .env files, SSH keys, Docker, Vault and n8n with a test step and rollback',
		defaults: { name: 'Secret Rotate' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{
				name: 'infraOpsPostgresApi',
				required: true,
				testedBy: 'infraOpsPostgresApiTest',
				displayOptions: forTargets('postgresRole'),
			},
			{
				name: 'infraOpsSshApi',
				required: true,
				testedBy: 'infraOpsSshApiTest',
				displayOptions: forTargets('envFile', 'sshAuthorizedKey'),
			},
			{
				name: 'infraOpsDockerApi',
				required: true,
				testedBy: 'infraOpsDockerApiTest',
				displayOptions: forTargets('containers', 'swarmSecret'),
			},
			{
				name: 'infraOpsVaultApi',
				required: true,
				testedBy: 'infraOpsVaultApiTest',
				displayOptions: forTargets('vaultKv'),
			},
			{ name: 'infraOpsN8nApi', required: true, displayOptions: forTargets('n8nCredential') },
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
						name: 'Generate',
						value: 'generate',
						description:
							'Make a password, token or SSH key pair; the output describes it without revealing it',
						action: 'Generate a secret',
					},
					{
						name: 'Rotate',
						value: 'rotate',
						description:
							'Generate a secret and put it in place on every target: create, set, test, finish, or roll back',
						action: 'Rotate a secret',
					},
				],
				default: 'generate',
			},
			...operationProperties,
		],
	};

	methods = { credentialTest: credentialTests };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
