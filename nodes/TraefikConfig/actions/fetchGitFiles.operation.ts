import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { withSsh } from '../../shared/ssh';
import { fetchGitFiles, redactRepoUrl } from '../gitSource';
import { sshOf } from './common';

const op = 'fetchGitFiles';
const show = { show: { operation: [op] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Repository URL',
		name: 'repoUrl',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'git@github.com:me/traefik-config.git',
		description:
			'Fetched by the Traefik host itself (its deploy key or credentials), over SSH from n8n; a token in an https URL reaches git through an askpass file, never a command line',
		displayOptions: show,
	},
	{
		displayName: 'Branch',
		name: 'branch',
		type: 'string',
		default: 'main',
		required: true,
		description: 'Branch or ref (refs/heads/main, as in a push webhook\'s "ref")',
		displayOptions: show,
	},
	{
		displayName: 'Commit',
		name: 'commit',
		type: 'string',
		default: '',
		description: 'The pushed commit (a push webhook\'s "after"); empty for the branch head',
		displayOptions: show,
	},
	{
		displayName: 'Path in Repository',
		name: 'pathInRepo',
		type: 'string',
		default: 'dynamic',
		description: 'Folder of the repository that mirrors the dynamic folder',
		displayOptions: show,
	},
	{
		displayName: 'Staging Folder',
		name: 'stagingDir',
		type: 'string',
		default: '/opt/traefik-stack/gitops-staging',
		required: true,
		description: 'Checkout on the Traefik host, outside the watched folder',
		displayOptions: show,
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async (i) => {
		const conn = await sshOf(this, i);
		const repoUrl = this.getNodeParameter('repoUrl', i) as string;
		const files = await withSsh(
			conn,
			async (s) =>
				await fetchGitFiles(s, {
					repoUrl,
					ref: this.getNodeParameter('branch', i) as string,
					commit: this.getNodeParameter('commit', i) as string,
					pathInRepo: this.getNodeParameter('pathInRepo', i) as string,
					stagingDir: this.getNodeParameter('stagingDir', i) as string,
				}),
		);
		return { json: files.map((f) => ({ ...f, repository: redactRepoUrl(repoUrl) })) };
	});
}
