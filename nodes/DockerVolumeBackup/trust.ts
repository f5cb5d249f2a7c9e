/**
 * Which stored backup to believe: the newest complete one not dated in the future (and, with a
 * signing key, validly signed), checked against what the operator asked for before Restore, Verify,
 * List or Prune act on it. Anyone with write access to the bucket can write a manifest. No n8n import.
 */
import { InfraOpsError } from '../shared/errors';
import type { AgeDecryptKey } from './age';
import { parseArchiveKey, volumeFolder, type BackupManifest, type ParsedKey } from './manifest';
import { checkSignature, type SigningKey } from './signing';
import { listBackups, readManifest, type StorageTarget, type StoredBackup } from './store';

/** How far a backup's stamp may be ahead of this host's clock before it counts as planted. */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** Backups dated after `now` + CLOCK_SKEW_MS: no run of this node wrote them (a run stamps its start). */
export function splitFutureDated<T extends { at: Date }>(
	all: T[],
	now: Date,
): { current: T[]; future: T[] } {
	const limit = now.getTime() + CLOCK_SKEW_MS;
	return {
		current: all.filter((b) => b.at.getTime() <= limit),
		future: all.filter((b) => b.at.getTime() > limit),
	};
}

export function futureDatedNote(future: { key: string }[]): string {
	return `future-dated backup: ${future.length} object(s) dated after now ignored for "latest" and retention (${future.map((b) => b.key).join(', ')}); no run of this node writes such keys, so someone with write access to the bucket (or a host with a wrong clock) put them there`;
}

/** The future-dated backups of a volume, for a warning finding. */
export async function futureDatedBackups(
	target: StorageTarget,
	volume: string,
	now = new Date(),
): Promise<StoredBackup[]> {
	return splitFutureDated(await listBackups(target.s3, target.bucket, target.prefix, volume), now)
		.future;
}

/** What Restore and Verify require of a backup beyond its folder; anyone with write access to the bucket can write a manifest. */
export interface TrustOptions {
	/** A configured identity or passphrase: the backup must be encrypted for that kind of key. */
	decryptKey?: AgeDecryptKey;
	/** Accept a backup stored without encryption although a key is configured. */
	allowUnencrypted?: boolean;
	/** With a key, "latest" is the newest backup whose manifest signature verifies, and an explicit key must verify. */
	signingKey?: SigningKey;
	/** Accept unsigned or forged manifests as before signing existed (backups written without a signing key). */
	allowUnsigned?: boolean;
	now?: Date;
}

export function unsignedNote(keys: { key: string; reason?: string }[]): string {
	return `unsigned or forged backup, not counted, not deleted: ${keys.map((k) => `${k.key}${k.reason ? ` (${k.reason})` : ''}`).join(', ')}`;
}

export const UNSIGNED_HINT =
	'Backups written before signing existed (or by a Backup whose credential had no signing secret or identity) look the same as planted ones. Check them, then delete them by hand (archive and .manifest.json), or turn on "Allow Unsigned Backups"; give the credential Backup uses the same Manifest Signing Secret';

export const NO_SIGNING_KEY_NOTE =
	'manifests are not signature-checked (the Backup Encryption credential has no signing secret, identity or passphrase here), so backups planted in the bucket cannot be told apart from real ones';

/**
 * The manifest and key must name the volume the operator asked for, and their encryption must be what
 * the configured key expects: a planted manifest could otherwise redirect a restore into another
 * volume, or have an unencrypted archive (which anyone can write) restored although the operator only
 * trusts data encrypted to their key.
 */
export function checkManifestTrust(
	manifest: BackupManifest,
	volume: string,
	key: string,
	parsed: ParsedKey,
	trust: TrustOptions,
): void {
	const refuse = (message: string, hint?: string) =>
		new InfraOpsError(`Refusing backup ${key}: ${message}`, hint);
	if (manifest.volume !== volume) {
		throw refuse(
			`its manifest names volume "${manifest.volume}", but the volume asked for (and the key's folder) is "${volume}"`,
			'The manifest was changed or copied from another backup; restore only what the manifest of the chosen volume describes',
		);
	}
	if (manifest.key !== undefined && manifest.key !== key)
		throw refuse(
			`its manifest belongs to another key (${manifest.key})`,
			'The manifest was copied or changed in the bucket',
		);
	const kind = manifest.encryption?.kind;
	if (kind !== 'none' && kind !== 'age-x25519' && kind !== 'age-scrypt')
		throw refuse(`its manifest names an unknown encryption "${String(kind)}"`);
	if ((kind !== 'none') !== parsed.encrypted || manifest.compression !== parsed.compression) {
		throw refuse(
			'its manifest and its key disagree on encryption or compression',
			'The manifest was changed in the bucket',
		);
	}
	const wanted = trust.decryptKey;
	if (!wanted) return;
	if (kind === 'none') {
		if (trust.allowUnencrypted) return;
		throw refuse(
			`it is not encrypted, but the Backup Encryption credential has ${wanted.kind === 'identity' ? 'an identity' : 'a passphrase'}: anyone with write access to the bucket can write an unencrypted backup`,
			'If this volume is backed up without encryption on purpose, turn on "Allow Unencrypted Backups"',
		);
	}
	if (wanted.kind === 'identity' && kind !== 'age-x25519') {
		throw refuse(
			'it is encrypted with a passphrase, and the credential holds an identity',
			'Use a Backup Encryption credential with the passphrase of this backup (and no identity)',
		);
	}
	if (wanted.kind === 'passphrase' && kind !== 'age-scrypt') {
		throw refuse(
			'it is encrypted to age recipients, and the credential holds only a passphrase',
			'Set the age identity (AGE-SECRET-KEY-1…) in the Backup Encryption credential',
		);
	}
}

/**
 * Picks the backup: an explicit key (which must lie in the volume's folder), or the newest complete
 * one not dated in the future; then checks its manifest against what was asked (checkManifestTrust).
 * `notes` carry the future-dated backups that were passed over.
 */
export async function resolveBackup(
	target: StorageTarget,
	volume: string,
	key?: string,
	trust: TrustOptions = {},
): Promise<{ key: string; manifest: BackupManifest; all: StoredBackup[]; notes: string[] }> {
	const all = await listBackups(target.s3, target.bucket, target.prefix, volume);
	const { current, future } = splitFutureDated(all, trust.now ?? new Date());
	const explicit = key?.trim();
	const passedOver: { key: string; reason?: string }[] = [];
	let chosen = explicit || undefined;
	let chosenManifest: BackupManifest | undefined;
	if (!explicit && trust.signingKey && !trust.allowUnsigned) {
		// a planted pair dated "now" would otherwise be the one restored
		for (const b of current.filter((c) => c.complete)) {
			const manifest = await readManifest(target.s3, target.bucket, b.key).catch(() => undefined);
			const check = checkSignature(manifest, b.key, trust.signingKey);
			if (check.state === true) {
				chosen = b.key;
				chosenManifest = manifest;
				break;
			}
			passedOver.push({ key: b.key, reason: check.reason });
		}
	} else if (!explicit) {
		chosen = current.find((b) => b.complete)?.key;
	}
	if (
		!chosen &&
		passedOver.length &&
		passedOver.every((p) => p.reason?.startsWith('signed with key id'))
	) {
		// every backup verifies under some other key: the credential is not the one Backup signed with
		throw new InfraOpsError(
			`No complete backup of "${volume}" is signed with this credential's key (id ${trust.signingKey!.keyId}): ${unsignedNote(passedOver)}`,
			"A wrong identity, passphrase or Manifest Signing Secret gives another key: use the credential's values that Backup used",
		);
	}
	if (!chosen) {
		throw new InfraOpsError(
			`No complete ${trust.signingKey && !trust.allowUnsigned ? 'signed ' : ''}backup of "${volume}" under ${target.prefix || '(bucket root)'}${future.length ? ` (${future.length} future-dated object(s) ignored)` : ''}${passedOver.length ? ` (${unsignedNote(passedOver)})` : ''}`,
			passedOver.length
				? UNSIGNED_HINT
				: 'Check the volume name and the prefix, or run a backup first',
		);
	}
	const parsed = parseArchiveKey(target.prefix, volume, chosen);
	if (!parsed) {
		throw new InfraOpsError(
			`Backup key ${chosen} is not a backup of "${volume}": its keys are ${volumeFolder(target.prefix, volume)}${volume}-<time>.tar…`,
			'Give a key that List shows for this volume, or set Volume to the volume the key belongs to',
		);
	}
	const manifest = chosenManifest ?? (await readManifest(target.s3, target.bucket, chosen));
	const notes = !explicit && future.length ? [futureDatedNote(future)] : [];
	if (passedOver.length) notes.push(`newer ${unsignedNote(passedOver)}`);
	if (trust.signingKey && !chosenManifest) {
		const check = checkSignature(manifest, chosen, trust.signingKey);
		if (check.state !== true) {
			if (!trust.allowUnsigned) {
				throw new InfraOpsError(
					`Refusing backup ${chosen}: its manifest is ${check.state === false ? 'not signed' : `signed, but the signature does not verify: ${check.reason}`}; anyone with write access to the bucket can write a backup`,
					UNSIGNED_HINT,
				);
			}
			notes.push(
				`backup ${chosen} is ${check.state === false ? 'unsigned' : `not validly signed (${check.reason})`}, accepted because "Allow Unsigned Backups" is on`,
			);
		}
	}
	checkManifestTrust(manifest, volume, chosen, parsed, trust);
	return { key: chosen, manifest, all, notes };
}
