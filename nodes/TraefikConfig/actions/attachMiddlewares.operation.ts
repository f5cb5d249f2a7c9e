import { posix } from 'node:path';
import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { InfraOpsError } from '../../shared/errors';
import { loadDiff } from '../../shared/lazy';
import { itemsFrom } from '../../shared/items';
import { splitList } from '../../shared/lists';
import { withSsh } from '../../shared/ssh';
import { attachMiddlewares, type RouterSelector } from '../attach';
import { checkFileName, redactDiff } from '../deploy';
import { sshOf } from './common';

const op = 'attachMiddlewares';
const show = { show: { operation: [op] } };

export const description: INodeProperties[] = [
	{
		displayName: 'File Source',
		name: 'attachSource',
		type: 'options',
		options: [
			{
				name: 'Routers File on the Traefik Host',
				value: 'ssh',
				description: 'Read it from the dynamic folder over SSH',
			},
			{
				name: 'Input Item',
				value: 'input',
				description: 'The file name and content of the input item (e.g. from a previous Attach)',
			},
		],
		default: 'ssh',
		displayOptions: show,
	},
	{
		displayName: 'Routers File',
		name: 'routersFile',
		type: 'string',
		default: 'routers.yml',
		required: true,
		description:
			'Name of the dynamic file holding the routers; the result goes to the output\'s "content" for Validate and Deploy (nothing is written here)',
		displayOptions: show,
	},
	{
		displayName: 'Content',
		name: 'attachContent',
		type: 'string',
		typeOptions: { rows: 6 },
		default: '={{ $json.content }}',
		displayOptions: { show: { operation: [op], attachSource: ['input'] } },
	},
	{
		displayName: 'Middlewares',
		name: 'attachMiddlewareNames',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'general-ratelimit, secure-headers',
		description:
			'Names to add, separated by commas; add @docker for one defined in container labels',
		displayOptions: show,
	},
	{
		displayName: 'Routers',
		name: 'routerSelection',
		type: 'options',
		options: [
			{ name: 'All Routers of the File', value: 'all' },
			{ name: 'By Name', value: 'name' },
			{
				name: 'By Rule Match',
				value: 'rule',
				description: 'Routers whose rule matches a regular expression, e.g. PathPrefix\\(`/api',
			},
		],
		default: 'all',
		displayOptions: show,
	},
	{
		displayName: 'Router Names',
		name: 'routerNames',
		type: 'string',
		default: '',
		placeholder: 'n8n, openwebui',
		displayOptions: { show: { operation: [op], routerSelection: ['name'] } },
	},
	{
		displayName: 'Rule Pattern',
		name: 'rulePattern',
		type: 'string',
		default: '',
		placeholder: 'PathPrefix\\(`/api',
		displayOptions: { show: { operation: [op], routerSelection: ['rule'] } },
	},
	{
		displayName: 'Position',
		name: 'position',
		type: 'options',
		options: [
			{
				name: 'First',
				value: 'first',
				description: "Before the router's own middlewares (rate limits should run before auth)",
			},
			{ name: 'Last', value: 'last' },
		],
		default: 'first',
		displayOptions: show,
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async (i) => {
		const file = checkFileName(this.getNodeParameter('routersFile', i) as string);
		let text: string;
		if (this.getNodeParameter('attachSource', i) === 'input') {
			const given = this.getNodeParameter('attachContent', i);
			if (typeof given !== 'string')
				throw new InfraOpsError(
					`Item ${i} has no content text`,
					'Map "Content" to the field holding the YAML, e.g. {{ $json.content }}',
				);
			text = given;
		} else {
			const dir = this.getNodeParameter('dynamicDir', i) as string;
			const conn = await sshOf(this, i);
			text = (
				await withSsh(conn, async (s) => await s.readFile(posix.join(dir, file), 4 * 1024 * 1024))
			).toString('utf8');
		}
		const selection = this.getNodeParameter('routerSelection', i) as RouterSelector['by'];
		const routers: RouterSelector =
			selection === 'name'
				? { by: 'name', names: splitList(this.getNodeParameter('routerNames', i), { words: true }) }
				: selection === 'rule'
					? { by: 'rule', pattern: this.getNodeParameter('rulePattern', i) as string }
					: { by: 'all' };
		const result = attachMiddlewares(
			text,
			{
				middlewares: splitList(this.getNodeParameter('attachMiddlewareNames', i), { words: true }),
				routers,
				position: this.getNodeParameter('position', i) as 'first' | 'last',
			},
			file,
		);
		return {
			json: {
				file,
				content: result.text,
				changed: result.changed,
				routers: result.routers.map((r) => ({ ...r })),
				notFound: result.notFound,
				diff: result.changed
					? redactDiff(loadDiff().createTwoFilesPatch(`a/${file}`, `b/${file}`, text, result.text))
					: '',
			},
		};
	});
}
