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
import { deployFiles, type DeployOutcome } from '../deploy';
import { folderOf, sshOf, verifyOf } from './common';

const op = 'deploy';

export const description: INodeProperties[] = [
	{
		displayName: 'File Name',
		name: 'deployFileName',
		type: 'string',
		default: '={{ $json.file }}',
		required: true,
		description:
			'Name of the file in the dynamic folder (all input items are deployed as one change)',
		displayOptions: { show: { operation: [op] } },
	},
	{
		displayName: 'Content',
		name: 'deployContent',
		type: 'string',
		typeOptions: { rows: 6 },
		default: '={{ $json.content }}',
		displayOptions: { show: { operation: [op] } },
	},
	{
		displayName: 'Git Commit Checks',
		name: 'gitChecks',
		type: 'collection',
		placeholder: 'Add check',
		default: {},
		description:
			'For files from Fetch Git Files: a replayed webhook delivery or a commit older than the deployed one is refused (warning), recorded beside the kept versions on the Traefik host',
		displayOptions: { show: { operation: [op] } },
		options: [
			{
				displayName: 'Allow Older Commit',
				name: 'allowOlderCommit',
				type: 'boolean',
				default: false,
				description: 'Whether to deploy a commit older than the deployed one (a rollback by git)',
			},
			{
				displayName: 'Commit',
				name: 'commit',
				type: 'string',
				default: '',
				placeholder: "={{ $('Fetch Git Files').first().json.commit }}",
				description: 'The commit the files come from; recorded as deployed once served',
			},
			{
				displayName: 'Delivery ID',
				name: 'deliveryId',
				type: 'string',
				default: '',
				placeholder: "={{ $('Verify Webhook Signature').first().json.deliveryId }}",
				description: "The webhook delivery's ID; a delivery received before is not deployed again",
			},
			{
				displayName: 'Staging Folder',
				name: 'stagingDir',
				type: 'string',
				default: '/opt/traefik-stack/gitops-staging',
				description:
					'The staging checkout of Fetch Git Files, where the commit is compared with the deployed one',
			},
		],
	},
];

export function outcomeFinding(
	o: DeployOutcome,
	host: string,
	check: string,
	extra: IDataObject = {},
): NewFinding {
	return {
		check,
		target: `${host}:${o.path}`,
		status: o.status,
		summary: o.summary,
		file: o.file,
		action: o.action,
		diff: o.diff,
		backup: o.backup ?? null,
		problems: o.problems.map((p) => ({ ...p })),
		verification: o.verification
			? {
					ok: o.verification.ok,
					waitedMs: o.verification.waitedMs,
					checks: o.verification.checks.map((c) => ({ ...c })),
				}
			: null,
		restoredVerification: o.restoredVerification
			? {
					ok: o.restoredVerification.ok,
					checks: o.restoredVerification.checks.map((c) => ({ ...c })),
				}
			: null,
		// a new deploy of the same outcome is a change worth telling
		changeKey:
			o.action === 'written' || o.action === 'rolledBack'
				? `${o.action}:${o.backup ?? ''}`
				: o.action,
		...extra,
	};
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	const items = this.getInputData();
	const outcomes: ItemOutcome[] = [];
	try {
		const changes = items.map((_, i) => {
			const fileName = String(this.getNodeParameter('deployFileName', i) ?? '');
			const content = this.getNodeParameter('deployContent', i);
			if (typeof content !== 'string')
				throw new InfraOpsError(
					`Item ${i} (${fileName}) has no content text`,
					'Map "Content" to the field holding the YAML, e.g. {{ $json.content }}',
				);
			return { fileName, content, itemIndex: i };
		});
		if (changes.length === 0) return [];
		const options = this.getNodeParameter('deployOptions', 0, {}) as IDataObject;
		const folder = folderOf(this, 0);
		const verify = await verifyOf(this, 0);
		const conn = await sshOf(this, 0);
		const git = this.getNodeParameter('gitChecks', 0, {}) as IDataObject;
		const gitops = {
			commit: typeof git.commit === 'string' ? git.commit : undefined,
			deliveryId: typeof git.deliveryId === 'string' ? git.deliveryId : undefined,
			stagingDir: typeof git.stagingDir === 'string' ? git.stagingDir : undefined,
			allowOlderCommit: git.allowOlderCommit === true,
		};
		const lockOwner = `n8n execution ${this.getExecutionId() ?? '?'}`;
		const deployed = await withSsh(
			conn,
			async (s) =>
				await deployFiles(s, folder, changes, {
					behindProxy: options.behindProxy === true,
					dryRun: options.dryRun === true,
					verify,
					gitops,
					lockOwner,
				}),
		);
		for (const o of deployed) {
			const itemIndex = changes.find((c) => c.fileName.trim() === o.file)?.itemIndex ?? 0;
			outcomes.push({ itemIndex, findings: [outcomeFinding(o, conn.host, 'traefik-deploy')] });
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
