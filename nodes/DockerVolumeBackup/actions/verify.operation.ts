import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { splitList } from '../../shared/lists';
import type { DockerClient } from '../../shared/docker';
import { errorMessage } from '../../shared/errors';
import type { NewFinding } from '../../shared/findings';
import { futureDatedBackups, futureDatedNote, NO_SIGNING_KEY_NOTE } from '../trust';
import { normalizePrefix } from '../manifest';
import { verifyBackup } from '../verify';
import { listVolumeFolders } from '../store';
import {
	allowUnencryptedOption,
	allowUnsignedOption,
	bytesText,
	decryptKey,
	helperImageOption,
	openDocker,
	signingKey,
	storageTarget,
} from './common';
import { archiveOnly, isRestic } from './engine';
import * as restic from './resticEngine';

const show = { show: { operation: ['verify'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Volumes',
		name: 'volumes',
		type: 'string',
		default: '',
		description:
			'Comma separated; empty verifies the latest backup of every volume under the prefix',
		displayOptions: show,
	},
	{
		displayName: 'Backup Key',
		name: 'backupKey',
		type: 'string',
		default: '',
		description: 'A specific backup (one volume only); empty takes the latest complete one',
		displayOptions: { show: { ...show.show, ...archiveOnly } },
	},
	{
		displayName: 'Scratch Restore',
		name: 'scratchRestore',
		type: 'boolean',
		default: false,
		description:
			'Whether to also restore into a temporary volume, compare the file tree, and delete it (needs the Docker credential)',
		displayOptions: show,
	},
	{
		displayName: 'Record in Manifest',
		name: 'recordInManifest',
		type: 'boolean',
		default: true,
		description:
			"Whether to write the result into the backup's manifest, so List shows it as verified",
		displayOptions: { show: { ...show.show, ...archiveOnly } },
	},
	{ ...allowUnencryptedOption, displayOptions: show },
	{ ...allowUnsignedOption, displayOptions: show },
	{
		...helperImageOption,
		displayOptions: { show: { operation: ['verify'], scratchRestore: [true] } },
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	if (isRestic(this)) return await restic.verify.call(this);
	return await itemsFrom(this, async (i) => await executeItem.call(this, i));
}

async function executeItem(this: IExecuteFunctions, itemIndex: number): Promise<NewFinding[]> {
	const target = await storageTarget(this, itemIndex);
	const scratchRestore = this.getNodeParameter('scratchRestore', itemIndex, false) as boolean;
	let docker: DockerClient | undefined;
	try {
		const key = await decryptKey(this);
		if (scratchRestore) docker = await openDocker(this);
		const backupKey =
			(this.getNodeParameter('backupKey', itemIndex, '') as string).trim() || undefined;
		let volumes = splitList(this.getNodeParameter('volumes', itemIndex, '') as string);
		// a key alone names its volume by its folder (resolveBackup checks the rest)
		if (!volumes.length && backupKey) volumes = [volumeOfKey(target.prefix, backupKey)];
		if (!volumes.length) volumes = await listVolumeFolders(target.s3, target.bucket, target.prefix);
		const allowUnencrypted = this.getNodeParameter('allowUnencrypted', itemIndex, false) as boolean;
		const allowUnsigned = this.getNodeParameter('allowUnsigned', itemIndex, false) as boolean;
		// an identity that does not parse gives no signing key; decryption then fails with the identity's own error
		const signing = await signingKey(this);
		const signingNotes = signing.key ? [] : [signing.problem ?? NO_SIGNING_KEY_NOTE];
		const findings: NewFinding[] = [];
		for (const volume of volumes) {
			try {
				if (!backupKey) {
					const future = await futureDatedBackups(target, volume);
					if (future.length) {
						findings.push({
							check: 'backup-verify',
							target: volume,
							stateKey: 'future-dated',
							status: 'warning',
							summary: futureDatedNote(future),
							volume,
							futureDated: future.map((b) => b.key),
						});
					}
				}
				const r = await verifyBackup(docker?.docker, target, {
					volume,
					key: backupKey,
					decryptKey: key,
					allowUnencrypted,
					signingKey: signing.key,
					allowUnsigned,
					scratchRestore,
					helperImage: (this.getNodeParameter('helperImage', itemIndex, '') as string) || undefined,
					recordInManifest: this.getNodeParameter('recordInManifest', itemIndex, true) as boolean,
				});
				findings.push({
					check: 'backup-verify',
					target: volume,
					status: r.ok ? 'ok' : 'critical',
					summary: r.ok
						? `Backup ${r.key} verified: ${r.entries} entries, ${bytesText(r.storedBytes)} read back${r.scratchRestore ? ', scratch restore matches' : ''}`
						: r.archiveOk
							? `Backup ${r.key}: archive intact, but RESTORE FAILED${r.scratchRestore ? ' (scratch restore)' : ''}: ${r.restoreProblems.join('; ')}`
							: `Backup ${r.key} FAILED verification: ${r.problems.join('; ')}`,
					...(signingNotes.length || r.notes.length
						? { notes: [...signingNotes, ...r.notes] }
						: {}),
					...r,
				});
			} catch (error) {
				findings.push({
					check: 'backup-verify',
					target: volume,
					status: 'error',
					summary: `Cannot verify backups of ${volume}: ${errorMessage(error)}`,
					volume,
				});
			}
		}
		return findings;
	} finally {
		docker?.close();
		target.close();
	}
}

function volumeOfKey(prefix: string, key: string): string {
	const base = normalizePrefix(prefix);
	const rest = base && key.startsWith(`${base}/`) ? key.slice(base.length + 1) : key;
	return rest.split('/')[0] ?? '';
}
