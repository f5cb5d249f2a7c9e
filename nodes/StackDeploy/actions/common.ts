/** Parameters both operations share (the repository folder, start command, limits) and the SSH session. */
import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import { sshConnectionFrom } from '../../shared/connections';
import { lockOwnerOf } from '../../shared/nodeLocks';
import { withSsh, type SshSession } from '../../shared/ssh';
import { DEFAULT_START_COMMAND, type StackTarget } from '../stackDeploy';

export const targetProperties: INodeProperties[] = [
	{
		displayName: 'Repository Folder',
		name: 'repoDir',
		type: 'string',
		default: '',
		required: true,
		placeholder: '/opt/local-ai-packaged',
		description: 'The git clone of the stack on the host (absolute path)',
	},
	{
		displayName: 'Start Command',
		name: 'command',
		type: 'string',
		default: DEFAULT_START_COMMAND,
		description:
			'Run with sh in the repository folder after the checkout. It comes from this parameter only, never from webhook data.',
	},
	{
		displayName: 'Command Timeout (Minutes)',
		name: 'timeoutMinutes',
		type: 'number',
		default: 15,
		typeOptions: { minValue: 0.1 },
		description:
			'The start command and everything it started are killed after this long, and the deploy is critical',
	},
	{
		displayName: 'Lock Wait (Seconds)',
		name: 'lockWaitS',
		type: 'number',
		default: 300,
		typeOptions: { minValue: 0 },
		description:
			'How long to wait while another deploy of the same folder runs (a lock on the host); 0 refuses at once',
	},
];

export function targetOf(ctx: IExecuteFunctions, i: number): StackTarget {
	const owner = lockOwnerOf(ctx);
	return {
		repoDir: ctx.getNodeParameter('repoDir', i) as string,
		command: ctx.getNodeParameter('command', i, DEFAULT_START_COMMAND) as string,
		timeoutS: Number(ctx.getNodeParameter('timeoutMinutes', i, 15)) * 60,
		lockWaitS: Number(ctx.getNodeParameter('lockWaitS', i, 300)),
		holder: `n8n execution ${owner.executionId || '?'} (workflow ${owner.workflowId || '?'}, node ${owner.node}) since ${new Date().toISOString()}`,
	};
}

export async function onHost<T>(
	ctx: IExecuteFunctions,
	i: number,
	fn: (session: SshSession) => Promise<T>,
): Promise<T> {
	return await withSsh(sshConnectionFrom(await ctx.getCredentials('infraOpsSshApi', i)), fn);
}
