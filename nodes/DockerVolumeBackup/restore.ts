/**
 * Restore of volume and host path backups. Destructive steps come last: the backup is read,
 * decrypted, hash-checked and written into a staging volume (and its tree read back) before the
 * live volume is touched; then it is copied into a hidden folder of the live volume and checked
 * again while the users still run; only the final swap, a handful of renames, runs with them stopped.
 * No n8n import.
 */
import { randomBytes } from 'node:crypto';
import type Dockerode from 'dockerode';

import { errorMessage, InfraOpsError } from '../shared/errors';
import { shellQuote, type SshSession } from '../shared/ssh';
import type { AgeDecryptKey } from './age';
import {
	createHelper,
	pickHelperImage,
	readVolumeArchive,
	removeQuietly,
	startContainers,
	stopContainers,
	volumeUsers,
} from './dockerVolumes';
import { inStep, StepError } from './errors';
import { isSafeName, type BackupManifest } from './manifest';
import { checkAgainstManifest, readBackupStream, requireDecryptKey } from './pipeline';
import { getStream, type StorageTarget } from './store';
import { putTree, rootFolderTar } from './tarPut';
import { TarScanner, type TarStats } from './tarScan';
import { resolveBackup, type TrustOptions } from './trust';

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

function treeProblems(manifest: BackupManifest, back: TarStats): string[] {
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

function throwIfFailed(result: StreamRestore): void {
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

async function volumeIsEmpty(docker: Dockerode, image: string, volume: string): Promise<boolean> {
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
async function runScript(
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

/**
 * Swaps the content of /dst for the content of /dst/$1 by renames only: the old entries go into
 * /dst/$2, the new ones up, then $2 is removed. Any failed rename moves everything back (exit 11, 12);
 * exit 13 means that did not work either and both sets are still there, under their names; exit 20:
 * swapped, but the old entries could not be deleted; 21: swapped, but the root's owner or mode not set.
 */
const SWAP_SCRIPT = `
in="/dst/$1"; old="/dst/$2"
# moves the entries of folder $1 (but $in and $old) into $2; straight from the glob, as a listing read
# back line by line would split a name holding a newline
move() { for f in "$1"/* "$1"/.[!.]* "$1"/..?*; do if [ -e "$f" ] || [ -L "$f" ]; then case "$f" in "$in"|"$old") ;; *) mv -- "$f" "$2"/ || return 1;; esac; fi; done; }
back() {
  if [ "$1" = 2 ]; then move /dst "$in" || exit 13; fi
  move "$old" /dst || exit 13
  rmdir -- "$old"
}
[ -d "$in" ] || exit 10
mkdir -- "$old" || exit 10
move /dst "$old" || { back 1; exit 11; }
move "$in" /dst || { back 2; exit 12; }
rmdir -- "$in"
rm -rf -- "$old" || exit 20
# the volume root takes the backed-up root's owner and mode, as a PUT straight into it would
if [ -n "$3" ]; then chown -- "$3" /dst && chmod -- "$4" /dst || exit 21; fi
`;

export interface RestoreOptions extends TrustOptions {
	volume: string;
	key?: string;
	targetVolume?: string;
	replace: boolean;
	helperImage?: string;
	decryptKey?: AgeDecryptKey;
	stopTimeoutS?: number;
}

export interface RestoreResult {
	volume: string;
	targetVolume: string;
	key: string;
	created: boolean;
	replaced: boolean;
	containersStopped: string[];
	entries: number;
	fileBytes: number;
	/** Symlinks pointing outside the volume, written after the archive (Docker's PUT refuses them). */
	linksOutside: number;
	durationMs: number;
	warnings: string[];
}

/**
 * Restores a backup into a volume. A new volume is written directly and removed again on any failure.
 * An existing one is only touched once the backup sits verified in a staging volume and in a hidden
 * folder of the target: a wrong key, a damaged object or a refused entry leaves it as it was.
 */
export async function restoreVolume(
	docker: Dockerode,
	target: StorageTarget,
	options: RestoreOptions,
): Promise<RestoreResult> {
	const t0 = Date.now();
	const { key, manifest, notes } = await resolveBackup(
		target,
		options.volume,
		options.key,
		options,
	);
	if (manifest.sourceKind !== 'volume')
		throw new InfraOpsError(
			`${key} is a host path backup`,
			'Turn on Host Path Backup and give a folder on the SSH host to unpack into',
		);
	const targetVolume = options.targetVolume?.trim() || options.volume;
	if (!isSafeName(targetVolume))
		throw new InfraOpsError(`"${targetVolume}" is not a valid volume name`);
	requireDecryptKey(manifest, options.decryptKey);
	const warnings: string[] = [...notes];
	let existing: Dockerode.VolumeInspectInfo | undefined;
	try {
		existing = await docker.getVolume(targetVolume).inspect();
	} catch {
		existing = undefined;
	}
	const users = existing ? await volumeUsers(docker, targetVolume) : [];
	const image = await pickHelperImage(docker, options.helperImage, users);
	const done = (
		r: StreamRestore,
		created: boolean,
		replaced: boolean,
		stopped: string[],
	): RestoreResult => ({
		volume: manifest.volume,
		targetVolume,
		key,
		created,
		replaced,
		containersStopped: stopped,
		entries: r.entries,
		fileBytes: r.fileBytes,
		linksOutside: r.linksOutside,
		durationMs: Date.now() - t0,
		warnings,
	});

	if (!existing) {
		await docker.createVolume({
			Name: targetVolume,
			Labels: manifest.labels ?? {},
			Driver: manifest.driver || 'local',
		});
		let helper: Dockerode.Container | undefined;
		try {
			helper = await createHelper(docker, image, [`${targetVolume}:/dst`]);
			const r = await restoreStream(target, key, manifest, options.decryptKey, helper, '/dst');
			throwIfFailed(r);
			// the volume root as backed up (a database's is 0700, owned by its user), as Replace sets it
			if (r.root)
				await inStep('write volume', () =>
					helper!.putArchive(rootFolderTar('dst', r.root!), { path: '/' }),
				);
			return done(r, true, false, []);
		} catch (error) {
			await removeQuietly(helper);
			// a half-written new volume would make the retry fail with "not empty"
			const removed = await docker
				.getVolume(targetVolume)
				.remove()
				.then(
					() => true,
					() => false,
				);
			if (!removed && error instanceof Error)
				error.message += ` (the new volume ${targetVolume} is left half-written: docker volume rm ${targetVolume} before a retry)`;
			throw error;
		} finally {
			await removeQuietly(helper);
		}
	}

	const wanted = manifest.labels ?? {};
	const have = existing.Labels ?? {};
	if (Object.keys(wanted).some((k) => have[k] !== wanted[k]))
		warnings.push('existing volume keeps its own labels (Docker cannot relabel a volume)');
	const empty = await volumeIsEmpty(docker, image, targetVolume);
	if (!empty && !options.replace)
		throw new InfraOpsError(
			`Volume "${targetVolume}" is not empty`,
			'Turn on Replace to replace its content, or restore into a new volume name',
		);

	// the caller holds this volume's lock, so a staging volume of it is a crashed run's (n8n killed
	// mid-restore): a full copy of some backup that nothing else would ever remove
	const stale = await docker
		.listVolumes({ filters: { label: [`${STAGING_LABEL}=${targetVolume}`] } })
		.catch(() => undefined);
	for (const v of stale?.Volumes ?? []) {
		const removed = await docker
			.getVolume(v.Name)
			.remove()
			.then(
				() => true,
				() => false,
			);
		warnings.push(
			removed
				? `removed ${v.Name}, the staging volume of an interrupted restore`
				: `${v.Name}, the staging volume of an interrupted restore, could not be removed`,
		);
	}

	const staging = `infra-ops-staging-${randomBytes(4).toString('hex')}`;
	const incoming = `.infra-ops-incoming-${randomBytes(4).toString('hex')}`;
	const previous = `.infra-ops-previous-${randomBytes(4).toString('hex')}`;
	const stopped: string[] = [];
	let stagingHelper: Dockerode.Container | undefined;
	let copyHelper: Dockerode.Container | undefined;
	let sourceHelper: Dockerode.Container | undefined;
	let incomingMade = false;
	/** Swapped, or left for the operator to sort out by hand: the hidden folder is not ours to delete then. */
	let keepIncoming = false;
	let failure: unknown;
	try {
		await docker.createVolume({ Name: staging, Labels: { [STAGING_LABEL]: targetVolume } });
		stagingHelper = await createHelper(docker, image, [`${staging}:/dst`]);
		const staged = await restoreStream(
			target,
			key,
			manifest,
			options.decryptKey,
			stagingHelper,
			'/dst',
		);
		throwIfFailed(staged);
		await removeQuietly(stagingHelper);
		stagingHelper = undefined;

		// staging → a hidden folder of the target, while its users still run; checked again there
		// reading and writing through two helpers: Docker holds a container's lock for as long as an
		// archive GET streams, so a PUT into the same container waits for a GET that waits for it
		// (any volume larger than the buffers in between hung until the API time-out)
		sourceHelper = await createHelper(docker, image, [`${staging}:/src:ro`]);
		copyHelper = await createHelper(docker, image, [`${targetVolume}:/dst`]);
		const mkdir = await inStep('write volume', () =>
			runScript(docker, image, [`${targetVolume}:/dst`], 'mkdir -m 0700 -- "/dst/$1"', [incoming]),
		);
		if (mkdir.code !== 0)
			throw new StepError(
				'write volume',
				new InfraOpsError(
					`cannot create a folder in ${targetVolume}: ${mkdir.output || `exit ${mkdir.code}`}`,
				),
			);
		incomingMade = true;
		const source = await readVolumeArchive(sourceHelper, '/src');
		const copy = putTree(copyHelper, `/dst/${incoming}`, source);
		await inStep('write volume', () => copy.done);
		const copied = await inStep('write volume', () => readTree(copyHelper!, `/dst/${incoming}`));
		const problems = treeProblems(manifest, copied);
		if (problems.length)
			throw new StepError(
				'write volume',
				new InfraOpsError(
					`the copy into ${targetVolume} does not match the backup: ${problems.join('; ')}`,
				),
			);
		await removeQuietly(copyHelper);
		copyHelper = undefined;
		await removeQuietly(sourceHelper);
		sourceHelper = undefined;

		await inStep('stop containers', () =>
			stopContainers(
				docker,
				users.filter((u) => u.running),
				options.stopTimeoutS ?? 30,
				stopped,
			),
		);
		const swap = await inStep('swap volume content', () =>
			runScript(docker, image, [`${targetVolume}:/dst`], SWAP_SCRIPT, [
				incoming,
				previous,
				...(staged.root
					? [`${staged.root.uid}:${staged.root.gid}`, staged.root.mode.toString(8)]
					: []),
			]),
		);
		if (swap.code === 20)
			warnings.push(
				`the old content could not be removed: it is in ${previous} inside ${targetVolume}`,
			);
		else if (swap.code === 21)
			warnings.push(
				`the volume root keeps its owner and mode: setting ${staged.root?.uid}:${staged.root?.gid} ${staged.root?.mode.toString(8)} failed`,
			);
		else if (swap.code !== 0) {
			keepIncoming = swap.code === 13;
			const state =
				swap.code === 13
					? `the old content is in ${previous} and the restored one in ${incoming} inside the volume: move them by hand`
					: swap.code === 10
						? 'nothing was moved'
						: 'every entry was moved back: the volume holds its old content';
			throw new StepError(
				'swap volume content',
				new InfraOpsError(
					`the swap script exited with ${swap.code}${swap.output ? ` (${swap.output.slice(-300)})` : ''}; ${state}`,
				),
			);
		}
		keepIncoming = true;
		return done(staged, false, !empty, stopped);
	} catch (error) {
		failure = error;
		throw error;
	} finally {
		await removeQuietly(stagingHelper);
		await removeQuietly(copyHelper);
		await removeQuietly(sourceHelper);
		const after: string[] = [];
		if (incomingMade && !keepIncoming) {
			const cleaned = await runScript(
				docker,
				image,
				[`${targetVolume}:/dst`],
				'rm -rf -- "/dst/$1"',
				[incoming],
			).catch(() => ({ code: -1, output: '' }));
			if (cleaned.code !== 0)
				after.push(`could not remove the folder ${incoming} inside ${targetVolume}`);
		}
		await docker
			.getVolume(staging)
			.remove()
			.catch(() => undefined);
		const failures = await startContainers(docker, stopped);
		if (failures.length) after.push(`restart failed: ${failures.join('; ')}`);
		// on failure these would be lost with the warnings: they go into the error instead
		if (failure instanceof Error && after.length) failure.message += `; ${after.join('; ')}`;
		else warnings.push(...after);
	}
}

export interface HostRestoreOptions extends TrustOptions {
	/** The backup's name (its folder under the prefix), e.g. traefik-stack. */
	name: string;
	key?: string;
	/** Absolute folder on the SSH host to unpack into; must not exist, or be empty. */
	folder: string;
	decryptKey?: AgeDecryptKey;
	/** Keep setuid/setgid bits on restored files (off: they are cleared before the folder appears). */
	keepSetid?: boolean;
}

export interface HostRestoreResult {
	name: string;
	key: string;
	host: string;
	folder: string;
	paths: string[];
	entries: number;
	fileBytes: number;
	/** Files whose setuid/setgid bits were cleared (first 50). */
	setidCleared: string[];
	/** Symlinks with an absolute target: they point into the host's tree, not into the restored folder (first 50). */
	absoluteLinks: string[];
	/** Block and character device nodes of the archive, removed before the folder appeared (first 50). */
	devicesRemoved: string[];
	warnings: string[];
	durationMs: number;
}

/**
 * Unpacks a host path backup over SSH into a new or empty folder, never over live files: the files
 * land under `folder` with their original paths (`<folder>/opt/traefik-stack/...`), for the operator
 * to compare and move. `tar -x` writes into a folder inside a 0700 staging folder beside it (an
 * archive's own `./` entry sets the mode of the folder it unpacks into, so that one cannot be the
 * guard); it is renamed into place only after the tar stream matched the manifest, setuid/setgid bits
 * were cleared unless kept and device nodes removed, and removed on any failure.
 */
export async function restoreHostPaths(
	ssh: SshSession,
	target: StorageTarget,
	options: HostRestoreOptions,
): Promise<HostRestoreResult> {
	const t0 = Date.now();
	const folder = options.folder.trim().replace(/\/+$/, '');
	if (!folder.startsWith('/') || folder.split('/').includes('..') || /[\n\0]/.test(folder)) {
		throw new InfraOpsError(
			`"${options.folder}" is not an absolute folder path`,
			'Give a new or empty folder such as /root/restore/traefik-stack',
		);
	}
	const { key, manifest } = await resolveBackup(target, options.name, options.key, options);
	if (manifest.sourceKind !== 'host-path')
		throw new InfraOpsError(
			`${key} is a volume backup`,
			'Restore it into a volume: turn off Host Path Backup',
		);
	const quoted = shellQuote(folder);
	const check = await ssh.exec(
		`if [ -e ${quoted} ]; then [ -d ${quoted} ] && [ -z "$(ls -A ${quoted})" ] || exit 3; fi`,
	);
	if (check.code === 3)
		throw new InfraOpsError(
			`${ssh.target}: ${folder} exists and is not an empty folder`,
			'Restore into a new folder and move what you need from there; live files are never overwritten',
		);
	if (check.code !== 0)
		throw new InfraOpsError(`${ssh.target}: cannot check ${folder}: ${check.stderr.trim()}`);
	const stagingPath = `${folder}.partial-${randomBytes(4).toString('hex')}`;
	const staging = shellQuote(stagingPath);
	const tree = shellQuote(`${stagingPath}/tree`);
	// 0700: no other user of the host reaches a setuid file or a device node before it is made safe
	const made = await ssh.exec(`mkdir -m 0700 -- ${staging} && mkdir -m 0700 -- ${tree}`);
	if (made.code !== 0)
		throw new InfraOpsError(
			`${ssh.target}: cannot create a folder beside ${folder}: ${made.stderr.trim()}`,
			'Check that the SSH user may write to its parent folder',
		);
	let placed = false;
	try {
		const { body } = await getStream(target.s3, target.bucket, key);
		const reading = readBackupStream(body, manifest, options.decryptKey);
		let writeError: unknown;
		const readFailed = new AbortController();
		reading.done.catch((error: Error) => readFailed.abort(error));
		await ssh
			.execWithInput(`tar -x -p --numeric-owner -f - -C ${tree}`, reading.tar, {
				signal: readFailed.signal,
			})
			.catch((error: unknown) => (writeError = error));
		await reading.done.catch((error: Error) => {
			throw new StepError('read backup', error);
		});
		if (writeError) throw new StepError('write host folder', writeError);
		const problems = checkAgainstManifest(manifest, reading.counter, reading.scanner.stats!);
		if (problems.length)
			throw new InfraOpsError(`Restored data does not match the manifest: ${problems.join('; ')}`);
		const warnings: string[] = [];
		let setidCleared: string[] = [];
		if (!options.keepSetid) {
			// directories keep setgid: there it only makes new files inherit the group
			const cleared = await ssh.exec(
				`cd ${tree} && find . ! -type d ! -type l \\( -perm -4000 -o -perm -2000 \\) -print -exec chmod ug-s {} +`,
			);
			if (cleared.code !== 0)
				throw new StepError(
					'clear setuid/setgid bits',
					new Error(cleared.stderr.trim() || `exit ${cleared.code}`),
				);
			const lines = cleared.stdout.split('\n').filter(Boolean).sort();
			setidCleared = lines.slice(0, 50).map((l) => `${folder}/${l.replace(/^\.\//, '')}`);
			if (lines.length)
				warnings.push(
					`setuid/setgid bits cleared on ${lines.length} file(s) (turn on Keep Setuid/Setgid Bits to keep them): ${setidCleared.slice(0, 10).join(', ')}${lines.length > 10 ? ', …' : ''}`,
				);
		}
		// a planted archive can carry a world-writable node of the host's disk or memory; a folder of
		// configuration files never needs one
		const devices = await ssh.exec(
			`cd ${tree} && find . \\( -type b -o -type c \\) -print -exec rm -f -- {} +`,
		);
		if (devices.code !== 0)
			throw new StepError(
				'remove device nodes',
				new Error(devices.stderr.trim() || `exit ${devices.code}`),
			);
		const deviceLines = devices.stdout.split('\n').filter(Boolean).sort();
		const devicesRemoved = deviceLines
			.slice(0, 50)
			.map((l) => `${folder}/${l.replace(/^\.\//, '')}`);
		if (deviceLines.length)
			warnings.push(
				`${deviceLines.length} device node(s) in the backup were not restored (a backup of host paths has no use for them; one planted in the bucket could expose a disk): ${devicesRemoved.slice(0, 10).join(', ')}${deviceLines.length > 10 ? ', …' : ''}`,
			);
		const absoluteLinks = reading.scanner.absoluteLinks.map((l) => `${folder}/${l}`);
		if (absoluteLinks.length)
			warnings.push(
				`${absoluteLinks.length}${absoluteLinks.length === 50 ? '+' : ''} symlink(s) with an absolute target point into the host's tree, not into ${folder}: ${absoluteLinks.slice(0, 10).join(', ')}${absoluteLinks.length > 10 ? ', …' : ''}`,
			);
		const moved = await ssh.exec(
			`{ [ ! -e ${quoted} ] || rmdir -- ${quoted}; } && mv -T -- ${tree} ${quoted}`,
		);
		if (moved.code !== 0) throw new StepError('move into place', new Error(moved.stderr.trim()));
		placed = true;
		return {
			name: manifest.volume,
			key,
			host: ssh.target,
			folder,
			paths: manifest.paths ?? [],
			entries: reading.scanner.stats!.entries,
			fileBytes: reading.scanner.stats!.fileBytes,
			setidCleared,
			absoluteLinks,
			devicesRemoved,
			warnings,
			durationMs: Date.now() - t0,
		};
	} finally {
		// once placed, only the empty staging folder is left
		await ssh.exec(placed ? `rmdir -- ${staging}` : `rm -rf -- ${staging}`).catch(() => undefined);
	}
}
