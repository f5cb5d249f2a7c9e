/**
 * Reads a backup into a folder of a helper container and checks it there: the stored object is
 * hashed, decrypted, decompressed and scanned on its way in, then the written tree is read back and
 * compared with the manifest. Restore stages into a staging volume this way before it touches the
 * live volume; Verify restores into a scratch volume. No n8n import.
 */
import type Dockerode from 'dockerode';

import { errorMessage, InfraOpsError } from '../shared/errors';
import type { AgeDecryptKey } from './age';
import { createHelper, readVolumeArchive, removeQuietly } from './dockerVolumes';
import { StepError } from './errors';
import type { BackupManifest } from './manifest';
import { checkAgainstManifest, readBackupStream } from './pipeline';
import { getStream, type StorageTarget } from './store';
import { putTree } from './tarPut';
import { TarScanner, type TarStats } from './tarScan';

export const STAGING_LABEL = 'infra-ops.backup.staging';

/** Reads a volume folder back through the archive API and returns what the scanner saw. */
export async function readTree(helper: Dockerode.Container, path: string): Promise<TarStats> {
	const stream = await readVolumeArchive(helper, path);
	const scanner = new TarScanner();
	await new Promise<void>((resolve, reject) => {
		stream.on('error', reject);
		scanner.on('finish', resolve).on('error', reject);
		scanner.resume();
		stream.pipe(scanner);
	});
	return scanner.stats!;
}

export function treeProblems(manifest: BackupManifest, back: TarStats): string[] {
	const problems: string[] = [];
	if (back.treeSha256 !== manifest.tar.treeSha256)
		problems.push(
			'the restored file tree differs from the backed-up one (names, modes, owners, sizes, link targets or times)',
		);
	if (back.fileBytes !== manifest.tar.fileBytes)
		problems.push(
			`restored ${back.fileBytes} file bytes, the manifest says ${manifest.tar.fileBytes}`,
		);
	return problems;
}

export interface StreamRestore {
	/** The stored object failed to read, decrypt or decompress, or does not match its manifest. */
	archiveProblems: string[];
	/** The archive is intact, but writing it into the volume (or reading it back) failed. */
	restoreProblems: string[];
	entries: number;
	fileBytes: number;
	storedBytes: number;
	linksOutside: number;
	/** Entries the scanner knows this restore path cannot reproduce. */
	unrestorable: string[];
	/** The backed-up volume root's mode, owner and time. */
	root?: { mode: number; uid: string; gid: string; mtime: number };
}

/**
 * Backup object → decrypt → decompress → PUT into `dest` of the helper, then the tree read back and
 * compared with the manifest. Never throws for a bad archive or a failed write: it says which one.
 */
export async function restoreStream(
	target: StorageTarget,
	key: string,
	manifest: BackupManifest,
	decryptKey: AgeDecryptKey | undefined,
	helper: Dockerode.Container,
	dest: string,
): Promise<StreamRestore> {
	const { body } = await getStream(target.s3, target.bucket, key);
	let reading: ReturnType<typeof readBackupStream>;
	try {
		reading = readBackupStream(body, manifest, decryptKey);
	} catch (error) {
		body.destroy();
		throw error;
	}
	const archiveProblems: string[] = [];
	const restoreProblems: string[] = [];
	const write = putTree(helper, dest, reading.tar);
	try {
		// a damaged archive fails the read first; waiting for Docker's PUT then would hang until its timeout
		await reading.done;
	} catch (error) {
		archiveProblems.push(`reading the backup failed: ${errorMessage(error)}`);
		// an error (not a plain destroy) makes docker-modem abort the PUT instead of leaving it waiting
		write.filter.destroy(error as Error);
	}
	if (reading.scanner.stats)
		archiveProblems.push(...checkAgainstManifest(manifest, reading.counter, reading.scanner.stats));
	try {
		await write.done;
	} catch (error) {
		if (!archiveProblems.length)
			restoreProblems.push(`writing into the volume failed: ${errorMessage(error)}`);
	}
	if (!archiveProblems.length && !restoreProblems.length) {
		try {
			restoreProblems.push(...treeProblems(manifest, await readTree(helper, dest)));
		} catch (error) {
			restoreProblems.push(`reading the restored tree back failed: ${errorMessage(error)}`);
		}
	}
	return {
		archiveProblems,
		restoreProblems,
		entries: reading.scanner.stats?.entries ?? 0,
		fileBytes: reading.scanner.stats?.fileBytes ?? 0,
		storedBytes: reading.counter.bytes,
		linksOutside: write.filter.held.length,
		unrestorable: reading.scanner.unrestorable,
		root: reading.scanner.root && {
			mode: reading.scanner.root.mode,
			uid: reading.scanner.root.uid,
			gid: reading.scanner.root.gid,
			mtime: reading.scanner.root.mtime,
		},
	};
}

export function throwIfFailed(result: StreamRestore): void {
	if (result.archiveProblems.length) {
		const text = result.archiveProblems
			.map((p) => p.replace(/^reading the backup failed: /, ''))
			.join('; ');
		throw new StepError(
			'read backup',
			new InfraOpsError(
				text,
				'Check the key in the Backup Encryption credential, or restore an older backup',
			),
		);
	}
	if (result.restoreProblems.length) {
		throw new StepError(
			'write volume',
			new InfraOpsError(
				result.restoreProblems.join('; '),
				'The backup itself is intact: it can be unpacked by hand with age -d | zstd -d | tar -x',
			),
		);
	}
}

export async function volumeIsEmpty(
	docker: Dockerode,
	image: string,
	volume: string,
): Promise<boolean> {
	const helper = await createHelper(docker, image, [`${volume}:/dst:ro`]);
	try {
		const stream = await readVolumeArchive(helper, '/dst');
		const scanner = new TarScanner();
		return await new Promise<boolean>((resolve, reject) => {
			stream.on('error', reject);
			scanner.on('data', () => {
				if ((scanner as unknown as { entries: number }).entries > 1) {
					stream.destroy();
					resolve(false);
				}
			});
			scanner.on('end', () => resolve((scanner.stats?.entries ?? 0) <= 1));
			stream.pipe(scanner);
		});
	} finally {
		await removeQuietly(helper);
	}
}

/** The text of Docker's multiplexed log frames (8-byte header: stream, 0, 0, 0, big-endian size). */
function demuxLogs(raw: Buffer): string {
	const parts: Buffer[] = [];
	let at = 0;
	while (at + 8 <= raw.length) {
		const size = raw.readUInt32BE(at + 4);
		parts.push(raw.subarray(at + 8, at + 8 + size));
		at += 8 + size;
	}
	return Buffer.concat(parts).toString('utf8').trim();
}

/** Runs a shell script in a short-lived helper; returns its exit code and the tail of its output. */
export async function runScript(
	docker: Dockerode,
	image: string,
	binds: string[],
	script: string,
	args: string[],
): Promise<{ code: number; output: string }> {
	const helper = await createHelper(docker, image, binds, ['/bin/sh', '-c', script, 'sh', ...args]);
	try {
		try {
			await helper.start();
		} catch (error) {
			throw new InfraOpsError(
				`Cannot run /bin/sh in the helper image: ${errorMessage(error)}`,
				'Restoring into an existing volume runs mkdir and mv in a helper container: set Helper Image to one with /bin/sh (e.g. busybox or alpine). The volume was not changed.',
				{ cause: error },
			);
		}
		const { StatusCode } = (await helper.wait()) as { StatusCode: number };
		const logs = (await helper.logs({ stdout: true, stderr: true, tail: 20 })) as unknown as Buffer;
		return {
			code: StatusCode,
			output: demuxLogs(Buffer.isBuffer(logs) ? logs : Buffer.from(String(logs))),
		};
	} finally {
		await removeQuietly(helper);
	}
}
