/**
 * The prune phase: applies the retention policy to the complete backups of one volume and deletes
 * only archive + manifest pairs it named. No n8n import.
 */
import { InfraOpsError } from '../shared/errors';
import { manifestKey } from './manifest';
import { planRetention, type RetentionPolicy } from './retention';
import { checkSignature, type SigningKey } from './signing';
import { deleteKeys, listBackups, readManifest, type StorageTarget } from './store';
import { splitFutureDated } from './trust';

export interface PruneResult {
	volume: string;
	dryRun: boolean;
	kept: { key: string; reasons: string[] }[];
	deleted: { key: string; reasons: string[] }[];
	failed: string[];
	incomplete: string[];
	/** Backups dated after now: neither counted in any tier nor deleted (see pruneVolume). */
	futureDated: string[];
	/** With a signing key: complete backups whose manifest signature does not verify, neither counted nor deleted. */
	unsigned: { key: string; reason?: string }[];
	/** Whether manifests were signature-checked (a signing key was given). */
	signatureChecked: boolean;
}

/**
 * Applies the retention policy to complete backups; deletes only archive + manifest pairs it named.
 * Future-dated backups (planted, or from a host with a wrong clock) take no place in "last N" or any
 * tier: counted, a handful of them would push every real backup out of every tier, and Prune would
 * delete the real ones for objects it never wrote. They are not deleted either (they are not known to
 * be ours); the caller reports them as a warning.
 */
export async function pruneVolume(
	target: StorageTarget,
	volume: string,
	policy: Partial<RetentionPolicy>,
	dryRun: boolean,
	now = new Date(),
	signingKey?: SigningKey,
): Promise<PruneResult> {
	const all = await listBackups(target.s3, target.bucket, target.prefix, volume);
	const { current, future } = splitFutureDated(all, now);
	const unsigned: { key: string; reason?: string }[] = [];
	let complete = current.filter((b) => b.complete);
	if (signingKey) {
		// past-dated planted pairs would take keep-last and tier places just as future-dated ones do:
		// only backups whose signed manifest names this volume and key count, and only they are deleted
		const signed: typeof complete = [];
		for (const b of complete) {
			const manifest = await readManifest(target.s3, target.bucket, b.key).catch(() => undefined);
			const check = checkSignature(manifest, b.key, signingKey);
			if (check.state === true && manifest?.volume === volume) signed.push(b);
			else
				unsigned.push({
					key: b.key,
					reason:
						check.state === true
							? `its signed manifest names volume "${manifest?.volume}"`
							: check.reason,
				});
		}
		complete = signed;
	}
	const plan = planRetention(complete, policy, now);
	const kept = plan.filter((d) => d.keep).map((d) => ({ key: d.item.key, reasons: d.reasons }));
	const deleted = plan.filter((d) => !d.keep).map((d) => ({ key: d.item.key, reasons: d.reasons }));
	if (complete.length && !kept.length)
		throw new InfraOpsError('Retention would delete every backup: refusing');
	let failed: string[] = [];
	if (!dryRun && deleted.length) {
		failed = await deleteKeys(
			target.s3,
			target.bucket,
			deleted.flatMap((d) => [d.key, manifestKey(d.key)]),
		);
	}
	return {
		volume,
		dryRun,
		kept,
		deleted,
		failed,
		incomplete: current.filter((b) => !b.complete).map((b) => b.key),
		futureDated: future.map((b) => b.key),
		unsigned,
		signatureChecked: Boolean(signingKey),
	};
}
