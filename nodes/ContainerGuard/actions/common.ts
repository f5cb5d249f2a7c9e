/** Parameter reading and the Docker client every Docker-backed operation of Container Guard shares. */
import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import { createDockerClient, pingDocker, type DockerClient } from '../../shared/docker';
import { splitList } from '../../shared/lists';
import { dockerCredential } from '../../shared/nodeCredentials';
import type { ContainerSelection } from '../containers';

/** Opens the Docker Engine of the credential for `fn` and always closes it. */
export async function withGuardDocker<T>(
	ctx: IExecuteFunctions,
	i: number,
	fn: (client: DockerClient) => Promise<T>,
): Promise<T> {
	const client = await createDockerClient(
		await dockerCredential(
			ctx,
			i,
			'Attach a Docker Engine (Infra Ops) credential to the Container Guard node',
		),
	);
	try {
		await pingDocker(client);
		return await fn(client);
	} finally {
		client.close();
	}
}

/** Which containers an operation looks at: names, labels and a compose project, all optional. */
export function selectionProperties(operations: string[]): INodeProperties[] {
	const displayOptions = { show: { operation: operations } };
	return [
		{
			displayName: 'Container Names',
			name: 'containerNames',
			type: 'string',
			default: '',
			placeholder: 'web, db-*',
			description:
				'Only these containers (one per line or comma; * and ? match any text or one character). Empty: every container.',
			displayOptions,
		},
		{
			displayName: 'Labels',
			name: 'containerLabels',
			type: 'string',
			default: '',
			placeholder: 'com.example.monitor=true',
			description:
				'Only containers carrying all these labels (key or key=value, one per line or comma)',
			displayOptions,
		},
		{
			displayName: 'Compose Project',
			name: 'composeProject',
			type: 'string',
			default: '',
			description:
				'Only the containers of this Docker Compose project (label com.docker.compose.project)',
			displayOptions,
		},
	];
}

export function readSelection(ctx: IExecuteFunctions, i: number): ContainerSelection {
	return {
		names: splitList(ctx.getNodeParameter('containerNames', i, '')),
		labels: splitList(ctx.getNodeParameter('containerLabels', i, '')),
		composeProject: String(ctx.getNodeParameter('composeProject', i, '') ?? '').trim(),
	};
}
