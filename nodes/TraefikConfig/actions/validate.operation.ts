import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { InfraOpsError } from '../../shared/errors';
import type { NewFinding } from '../../shared/findings';
import { failedItem, findingsToItems, type ItemOutcome } from '../../shared/items';
import { withSsh } from '../../shared/ssh';
import { readFolder } from '../deploy';
import { validateFiles, type DynamicFile, type ValidationReport } from '../validate';
import { sshOf } from './common';

const op = 'validate';
const show = { show: { operation: [op] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Files to Check',
		name: 'validateSource',
		type: 'options',
		options: [
			{
				name: 'Input Items (Checked With the Folder)',
				value: 'input',
				description:
					"Each item's file name and content, as if they replaced those files in the folder",
			},
			{
				name: 'The Whole Dynamic Folder',
				value: 'folder',
				description: 'Every file now in the folder on the Traefik host',
			},
		],
		default: 'input',
		displayOptions: show,
	},
	{
		displayName: 'File Name',
		name: 'fileName',
		type: 'string',
		default: '={{ $json.file }}',
		required: true,
		displayOptions: { show: { operation: [op], validateSource: ['input'] } },
	},
	{
		displayName: 'Content',
		name: 'content',
		type: 'string',
		typeOptions: { rows: 6 },
		default: '={{ $json.content }}',
		displayOptions: { show: { operation: [op], validateSource: ['input'] } },
	},
	{
		displayName: 'Behind a Proxy',
		name: 'behindProxy',
		type: 'boolean',
		default: false,
		description:
			'Whether Traefik sits behind Cloudflare or another proxy (then a rate limit without a source criterion is flagged)',
		displayOptions: show,
	},
];

export function reportFindings(
	report: ValidationReport,
	where: string,
	extra: (file: string) => IDataObject = () => ({}),
): NewFinding[] {
	return report.files.map((file) => {
		const problems = report.problems.filter((p) => p.file === file);
		const status = report.statusByFile[file];
		const summary =
			problems.length === 0
				? `${file}: valid`
				: `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}: ${problems
						.slice(0, 3)
						.map((p) => p.message)
						.join('; ')}${problems.length > 3 ? ' …' : ''}`;
		return {
			check: 'traefik-config',
			target: `${where}/${file}`,
			status,
			summary,
			file,
			problems: problems.map((p) => ({ ...p })),
			changeKey: problems.map((p) => `${p.status}:${p.path}:${p.message}`).join('|'),
			...extra(file),
		};
	});
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	const items = this.getInputData();
	const outcomes: ItemOutcome[] = [];
	const source = this.getNodeParameter('validateSource', 0) as string;
	// One check over all items: they are the files of one change
	const given: Array<DynamicFile & { itemIndex: number }> = [];
	try {
		if (source === 'input') {
			for (let i = 0; i < items.length; i++) {
				const name = String(this.getNodeParameter('fileName', i) ?? '').trim();
				const text = this.getNodeParameter('content', i);
				if (!name)
					throw new InfraOpsError(
						`Item ${i} has no file name`,
						'Map "File Name" to the field holding it, e.g. {{ $json.file }}',
					);
				if (typeof text !== 'string')
					throw new InfraOpsError(
						`Item ${i} (${name}) has no content text`,
						'Map "Content" to the field holding the YAML, e.g. {{ $json.content }}',
					);
				given.push({ name, text, itemIndex: i });
			}
		}
		const dir = this.getNodeParameter('dynamicDir', 0) as string;
		const conn = await sshOf(this, 0);
		const folder = await withSsh(conn, async (s) => await readFolder(s, dir));
		const names = given.map((g) => g.name);
		const files = [...folder.filter((f) => !names.includes(f.name)), ...given];
		const report = validateFiles(files, {
			behindProxy: this.getNodeParameter('behindProxy', 0) as boolean,
			only: source === 'input' ? names : undefined,
		});
		for (const finding of reportFindings(report, `${conn.host}:${dir}`)) {
			const itemIndex = given.find((g) => g.name === finding.file)?.itemIndex ?? 0;
			outcomes.push({ itemIndex, findings: [finding] });
		}
	} catch (error) {
		// one change: its error is every item's (the first one names it when Continue On Fail is off)
		return await findingsToItems(
			this,
			items.map((_, i) => failedItem(this, error, i)),
		);
	}
	return await findingsToItems(this, outcomes);
}
