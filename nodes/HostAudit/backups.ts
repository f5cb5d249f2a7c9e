/**
 * Backups as a hardening control: the latest backup of each volume is younger than the schedule
 * allows and its manifest says encrypted. Read-only, through Docker Volume Backup's own store and
 * trust checks (resolveBackup): future-dated objects are ignored, and with a signing key "latest" is
 * the newest backup whose manifest signature verifies, so a planted object cannot pass for fresh.
 */
import { errorFields } from '../shared/errors';
import type { NewFinding } from '../shared/findings';
import {
	NO_SIGNING_KEY_NOTE,
	resolveBackup,
	type StorageTarget,
} from '../DockerVolumeBackup/engine';
import type { SigningKey } from '../DockerVolumeBackup/signing';
import { listVolumeFolders } from '../DockerVolumeBackup/store';
import { CHECKLIST } from './control';

export const BACKUP_CHECK = 'backup-encrypted-fresh';

export interface BackupAuditOptions {
	/** Volume names; every folder under the prefix when empty. */
	volumes: string[];
	maxAgeHours: number;
	signingKey?: SigningKey;
	allowUnsigned: boolean;
	now?: Date;
}

export async function auditBackups(
	target: StorageTarget,
	options: BackupAuditOptions,
): Promise<NewFinding[]> {
	const now = options.now ?? new Date();
	const volumes = options.volumes.length
		? options.volumes
		: await listVolumeFolders(target.s3, target.bucket, target.prefix);
	const findings: NewFinding[] = [];
	for (const volume of volumes) {
		const base = {
			check: BACKUP_CHECK,
			target: `s3://${target.bucket}/${target.prefix}${volume}`,
			volume,
			checklist: CHECKLIST[9],
		};
		try {
			const { key, manifest, notes } = await resolveBackup(target, volume, undefined, {
				signingKey: options.signingKey,
				allowUnsigned: options.allowUnsigned,
				now,
			});
			const ageMs = now.getTime() - Date.parse(manifest.createdAt);
			const ageHours = Math.round((ageMs / 3_600_000) * 10) / 10;
			const encryption = manifest.encryption.kind;
			if (!options.signingKey) notes.push(NO_SIGNING_KEY_NOTE);
			const problems: string[] = [];
			if (!(ageMs <= options.maxAgeHours * 3_600_000))
				problems.push(`the latest backup is ${ageHours} h old (allowed: ${options.maxAgeHours} h)`);
			if (encryption === 'none') problems.push('the latest backup is not encrypted');
			findings.push({
				...base,
				status: problems.length ? 'critical' : 'ok',
				result: problems.length ? 'fail' : 'pass',
				summary: problems.length
					? `${volume}: ${problems.join('; ')}`
					: `${volume}: latest backup ${ageHours} h old, encrypted (${encryption})`,
				key,
				createdAt: manifest.createdAt,
				ageHours,
				encryption,
				signed: Boolean(
					options.signingKey && !notes.some((n) => /unsigned|not validly signed/.test(n)),
				),
				notes,
				evidence: `${key}\nmanifest: createdAt ${manifest.createdAt}, encryption ${encryption}, compression ${manifest.compression}`,
				remediation: problems.length
					? 'Check the backup workflow ran (its executions and alerts); back up with Encryption set to recipients (age1… keys) in Docker Volume Backup'
					: '-',
			});
		} catch (error) {
			const { error: message, hint } = errorFields(error);
			findings.push({
				...base,
				status: 'critical',
				result: 'fail',
				summary: `${volume}: ${message}`,
				evidence: message,
				remediation: hint ?? 'Run Docker Volume Backup for this volume',
			});
		}
	}
	return findings;
}
