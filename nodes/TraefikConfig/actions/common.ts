/** Parameters shared by the operations: the dynamic folder, verification, SSH and the API. */
import { NodeOperationError } from 'n8n-workflow';
import type { IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import { sshConnectionFrom, traefikConnectionFrom } from '../../shared/connections';
import { errorMessage } from '../../shared/errors';
import type { SshConnection } from '../../shared/ssh';
import type { Folder, VerifyOptions } from '../deploy';
import { TraefikApi } from '../traefikApi';

export const DEFAULT_DYNAMIC_DIR = '/opt/traefik-stack/dynamic';
export const DEFAULT_BACKUP_DIR = '/opt/traefik-stack/dynamic-history';

export function folderProperties(operations: string[]): INodeProperties[] {
	const show = { show: { operation: operations } };
	return [
		{
			displayName: 'Dynamic Folder',
			name: 'dynamicDir',
			type: 'string',
			default: DEFAULT_DYNAMIC_DIR,
			required: true,
			description:
				"The folder Traefik's file provider watches (providers.file.directory), on the host of the SSH credential",
			displayOptions: show,
		},
	];
}

export function deployProperties(operations: string[]): INodeProperties[] {
	const show = { show: { operation: operations } };
	return [
		{
			displayName: 'Backup Folder',
			name: 'backupDir',
			type: 'string',
			default: DEFAULT_BACKUP_DIR,
			required: true,
			description:
				'Where previous versions are kept; must be outside the watched folder, or Traefik would load them',
			displayOptions: show,
		},
		{
			displayName: 'Verify With Traefik API',
			name: 'verifyWithApi',
			type: 'boolean',
			default: true,
			description:
				"Whether to wait until Traefik serves the file's routers and middlewares, enabled and without errors, and roll back automatically if not",
			displayOptions: show,
		},
		{
			displayName: 'Options',
			name: 'deployOptions',
			type: 'collection',
			placeholder: 'Add option',
			default: {},
			displayOptions: show,
			options: [
				{
					displayName: 'Behind a Proxy',
					name: 'behindProxy',
					type: 'boolean',
					default: false,
					description:
						'Whether Traefik sits behind Cloudflare or another proxy (then a rate limit without a source criterion is flagged)',
				},
				{
					displayName: 'Dry Run',
					name: 'dryRun',
					type: 'boolean',
					default: false,
					description: 'Whether to validate and diff only, writing nothing',
				},
				{
					displayName: 'Keep Versions',
					name: 'keep',
					type: 'number',
					default: 20,
					description: 'How many previous versions of each file to keep',
				},
				{
					displayName: 'Verify Timeout (Seconds)',
					name: 'verifyTimeoutSeconds',
					type: 'number',
					default: 30,
					description:
						'How long Traefik may take to load the change (its provider throttle is 2 s by default)',
				},
			],
		},
	];
}

export async function sshOf(context: IExecuteFunctions, i: number): Promise<SshConnection> {
	return sshConnectionFrom(await context.getCredentials('infraOpsSshApi', i));
}

export async function apiOf(context: IExecuteFunctions, i: number): Promise<TraefikApi> {
	let data: Record<string, unknown>;
	try {
		data = await context.getCredentials('infraOpsTraefikApi', i);
	} catch (error) {
		throw new NodeOperationError(
			context.getNode(),
			`No Traefik API credential is set: ${errorMessage(error)}`,
			{
				itemIndex: i,
				description:
					'Select a Traefik API (Infra Ops) credential, or turn off "Verify With Traefik API" (the deploy is then not verified or rolled back automatically)',
			},
		);
	}
	return new TraefikApi(traefikConnectionFrom(data));
}

export function folderOf(context: IExecuteFunctions, i: number): Folder {
	const options = context.getNodeParameter('deployOptions', i, {}) as IDataObject;
	return {
		dynamicDir: context.getNodeParameter('dynamicDir', i) as string,
		backupDir: context.getNodeParameter('backupDir', i) as string,
		keep: Number(options.keep ?? 20),
	};
}

export async function verifyOf(
	context: IExecuteFunctions,
	i: number,
): Promise<VerifyOptions | undefined> {
	if (!(context.getNodeParameter('verifyWithApi', i, true) as boolean)) return undefined;
	const options = context.getNodeParameter('deployOptions', i, {}) as IDataObject;
	return {
		api: await apiOf(context, i),
		timeoutMs: Math.max(1, Number(options.verifyTimeoutSeconds ?? 30)) * 1000,
	};
}
