import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { splitList } from '../../shared/lists';
import { errorMessage, InfraOpsError } from '../../shared/errors';
import type { NewFinding } from '../../shared/findings';
import { pruneVolume } from '../prune';
import { futureDatedNote, NO_SIGNING_KEY_NOTE, UNSIGNED_HINT, unsignedNote } from '../trust';
import { listVolumeFolders } from '../store';
import { signingKey, storageTarget } from './common';
import { archiveOnly, isRestic } from './engine';
import * as restic from './resticEngine';

const show = { show: { operation: ['prune'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Volumes',
		name: 'volumes',
		type: 'string',
		default: '={{ $json.volume }}',
		description:
			'Comma separated; the default takes the volume of each incoming backup result. Empty prunes every volume under the prefix.',
		displayOptions: show,
	},
	{
		displayName: 'Skip After a Failed Backup',
		name: 'skipFailed',
		type: 'boolean',
		default: true,
		description:
			'Whether to skip an incoming item that is a failed backup result (status error): a volume whose backup failed is never pruned',
		displayOptions: show,
	},
	{
		displayName: 'Keep Last',
		name: 'keepLast',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 7,
		description: 'Newest backups always kept (at least 1)',
		displayOptions: show,
	},
	{
		displayName: 'Keep Daily',
		name: 'keepDaily',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 7,
		description: 'Newest backup of each of the last N days with a backup',
		displayOptions: show,
	},
	{
		displayName: 'Keep Weekly',
		name: 'keepWeekly',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 4,
		displayOptions: show,
	},
	{
		displayName: 'Keep Monthly',
		name: 'keepMonthly',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 6,
		displayOptions: show,
	},
	{
		displayName: 'Max Age (Days)',
		name: 'maxAgeDays',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 0,
		description: 'Delete backups older than this unless among Keep Last; 0 = no limit',
		displayOptions: { show: { ...show.show, ...archiveOnly } },
	},
	{
		displayName: 'Dry Run',
		name: 'dryRun',
		type: 'boolean',
		default: false,
		description: 'Whether to only report what would be deleted',
		displayOptions: show,
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	if (isRestic(this)) return await restic.prune.call(this);
	return await itemsFrom(this, async (i) => await executeItem.call(this, i));
}

async function executeItem(this: IExecuteFunctions, itemIndex: number): Promise<NewFinding[]> {
	const input = this.getInputData()[itemIndex]?.json ?? {};
	if (
		(this.getNodeParameter('skipFailed', itemIndex, true) as boolean) &&
		input.check === 'volume-backup' &&
		input.status === 'error'
	) {
		return [
			{
				check: 'volume-prune',
				target: String(input.volume ?? input.target ?? ''),
				status: 'warning',
				summary: `Not pruning ${String(input.volume ?? '')}: its backup failed in this run`,
				skipped: true,
				volume: String(input.volume ?? ''),
			},
		];
	}
	// another execution holds the volume (its backup or restore runs now) and prunes after its own backup
	if (input.check === 'volume-backup' && input.lockedBy) {
		return [
			{
				check: 'volume-prune',
				target: String(input.volume ?? input.target ?? ''),
				status: 'warning',
				summary: `Not pruning ${String(input.volume ?? '')}: ${String(input.summary ?? 'another run holds it')}`,
				skipped: true,
				volume: String(input.volume ?? ''),
			},
		];
	}
	const target = await storageTarget(this, itemIndex);
	try {
		let volumes = splitList(String(this.getNodeParameter('volumes', itemIndex, '') ?? ''));
		if (!volumes.length) volumes = await listVolumeFolders(target.s3, target.bucket, target.prefix);
		const policy = {
			keepLast: this.getNodeParameter('keepLast', itemIndex, 7) as number,
			keepDaily: this.getNodeParameter('keepDaily', itemIndex, 0) as number,
			keepWeekly: this.getNodeParameter('keepWeekly', itemIndex, 0) as number,
			keepMonthly: this.getNodeParameter('keepMonthly', itemIndex, 0) as number,
			maxAgeDays: this.getNodeParameter('maxAgeDays', itemIndex, 0) as number,
		};
		const dryRun = this.getNodeParameter('dryRun', itemIndex, false) as boolean;
		const signing = await signingKey(this);
		const findings: NewFinding[] = [];
		for (const volume of volumes) {
			try {
				// an identity that does not parse must not quietly turn the signature check off
				if (signing.problem)
					throw new InfraOpsError(
						`Not pruning: ${signing.problem}`,
						'Fix the identity in the Backup Encryption credential, or set a Manifest Signing Secret',
					);
				const r = await pruneVolume(target, volume, policy, dryRun, new Date(), signing.key);
				findings.push({
					check: 'volume-prune',
					target: volume,
					status: r.failed.length
						? 'error'
						: r.futureDated.length || r.unsigned.length
							? 'warning'
							: 'ok',
					summary: `${dryRun ? 'Would delete' : 'Deleted'} ${r.deleted.length} backup(s) of ${volume}, kept ${r.kept.length}${r.failed.length ? `; ${r.failed.length} object(s) could not be deleted` : ''}${r.futureDated.length ? `; ${futureDatedNote(r.futureDated.map((key) => ({ key })))}` : ''}${r.unsigned.length ? `; ${r.unsigned.length} ${unsignedNote(r.unsigned)}` : ''}`,
					...(r.unsigned.length ? { hint: UNSIGNED_HINT } : {}),
					...(r.signatureChecked ? {} : { notes: [NO_SIGNING_KEY_NOTE] }),
					...r,
				});
			} catch (error) {
				findings.push({
					check: 'volume-prune',
					target: volume,
					status: 'error',
					summary: `Prune of ${volume} failed: ${errorMessage(error)}`,
					volume,
				});
			}
		}
		return findings;
	} finally {
		target.close();
	}
}
