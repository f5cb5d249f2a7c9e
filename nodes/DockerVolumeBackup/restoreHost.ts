/**
 * Restore of host path backups over SSH, into a new or empty folder only, never over live files.
 * No n8n import.
 */
import { randomBytes } from 'node:crypto';

import { InfraOpsError } from '../shared/errors';
import { shellQuote, type SshSession } from '../shared/ssh';
import type { AgeDecryptKey } from './age';
import { StepError } from './errors';
import { checkAgainstManifest, readBackupStream } from './pipeline';
import { getStream, type StorageTarget } from './store';
import { resolveBackup, type TrustOptions } from './trust';

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
