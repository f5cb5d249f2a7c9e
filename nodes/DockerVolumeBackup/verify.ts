/**
 * Verify: reads a backup back and checks it against its manifest, optionally through the same
 * restore path Restore uses (into a scratch volume). It keeps two verdicts apart: a damaged archive,
 * and an intact archive this node cannot restore. No n8n import.
 */
import { randomBytes } from 'node:crypto';
import type Dockerode from 'dockerode';

import { errorMessage } from '../shared/errors';
import type { AgeDecryptKey } from './age';
import { createHelper, pickHelperImage, removeQuietly } from './dockerVolumes';
import { manifestKey } from './manifest';
import { checkAgainstManifest, readBackupStream } from './pipeline';
import { restoreStream } from './stage';
import { getStream, putJson, type StorageTarget } from './store';
import { resolveBackup, type TrustOptions } from './trust';

export interface VerifyResult {
	volume: string;
	key: string;
	ok: boolean;
	/** Every problem, archive ones first. */
	problems: string[];
	/** The stored object reads, decrypts, decompresses and matches its manifest. */
	archiveOk: boolean;
	/** The archive is intact, but restoring it (scratch restore, or an entry Restore cannot reproduce) fails. */
	restoreProblems: string[];
	scratchRestore: boolean;
	entries: number;
	storedBytes: number;
	durationMs: number;
	/** Unsigned or forged backups passed over for "latest", or an unsigned one accepted (see resolveBackup). */
	notes: string[];
}

/** Reads a backup back, decrypts, decompresses and checks it against its manifest; optionally
 * restores it into a scratch volume, compares the file tree, and deletes the scratch volume. */
export async function verifyBackup(
	docker: Dockerode | undefined,
	target: StorageTarget,
	options: TrustOptions & {
		volume: string;
		key?: string;
		decryptKey?: AgeDecryptKey;
		scratchRestore: boolean;
		helperImage?: string;
		recordInManifest: boolean;
	},
): Promise<VerifyResult> {
	const t0 = Date.now();
	const { key, manifest, notes } = await resolveBackup(
		target,
		options.volume,
		options.key,
		options,
	);
	const archiveProblems: string[] = [];
	const restoreProblems: string[] = [];
	let entries = 0;
	let storedBytes = 0;
	let unrestorable: string[] = [];
	let scratch: string | undefined;
	let helper: Dockerode.Container | undefined;
	try {
		if (options.scratchRestore && docker) {
			scratch = `infra-ops-verify-${randomBytes(4).toString('hex')}`;
			const image = await pickHelperImage(docker, options.helperImage, []);
			await docker.createVolume({ Name: scratch, Labels: { 'infra-ops.backup.scratch': 'true' } });
			helper = await createHelper(docker, image, [`${scratch}:/dst`]);
			const r = await restoreStream(target, key, manifest, options.decryptKey, helper, '/dst');
			archiveProblems.push(...r.archiveProblems);
			restoreProblems.push(...r.restoreProblems);
			({ entries, storedBytes } = r);
			unrestorable = r.unrestorable;
		} else {
			const { body } = await getStream(target.s3, target.bucket, key);
			const reading = readBackupStream(body, manifest, options.decryptKey);
			reading.tar.resume();
			await reading.done.catch((error: unknown) =>
				archiveProblems.push(`reading the backup failed: ${errorMessage(error)}`),
			);
			if (reading.scanner.stats)
				archiveProblems.push(
					...checkAgainstManifest(manifest, reading.counter, reading.scanner.stats),
				);
			entries = reading.scanner.stats?.entries ?? 0;
			storedBytes = reading.counter.bytes;
			unrestorable = reading.scanner.unrestorable;
		}
	} finally {
		await removeQuietly(helper);
		if (scratch && docker)
			await docker
				.getVolume(scratch)
				.remove()
				.catch(() => undefined);
	}
	if (!archiveProblems.length && unrestorable.length && !restoreProblems.length) {
		restoreProblems.push(`Restore cannot reproduce: ${unrestorable.join('; ')}`);
	}
	const problems = [...archiveProblems, ...restoreProblems];
	const ok = problems.length === 0;
	if (options.recordInManifest) {
		const message = archiveProblems.length
			? archiveProblems.join('; ')
			: restoreProblems.length
				? `archive intact, restore failed: ${restoreProblems.join('; ')}`
				: undefined;
		manifest.verified = {
			at: new Date().toISOString(),
			ok,
			scratchRestore: Boolean(scratch),
			message,
		};
		// `verified` is outside the signed bytes (signing.ts): this rewrite keeps the signature valid
		await putJson(target.s3, target.bucket, manifestKey(key), manifest).catch(() => undefined);
	}
	return {
		volume: manifest.volume,
		key,
		ok,
		problems,
		archiveOk: archiveProblems.length === 0,
		restoreProblems,
		scratchRestore: Boolean(scratch),
		entries,
		storedBytes,
		durationMs: Date.now() - t0,
		notes: notes.filter((n) => !n.startsWith('future-dated')),
	};
}
