/**
 * The Traefik host's side of a deploy, over SSH: the watched dynamic folder as Traefik's file
 * provider reads it, and the kept previous versions beside it (never inside it: Traefik would load
 * them). No n8n import.
 */
import { posix } from 'node:path';

import { mapConcurrent } from '../shared/concurrency';
import { InfraOpsError } from '../shared/errors';
import { shellQuote, type SshSession } from '../shared/ssh';
import { isDynamicFileName, type DynamicFile } from './validate';

export interface Folder {
	/** The folder Traefik's file provider watches, e.g. /opt/traefik-stack/dynamic. */
	dynamicDir: string;
	/** Where previous versions are kept; must be outside dynamicDir. */
	backupDir: string;
	/** How many previous versions of each file to keep. */
	keep: number;
}

const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*\.ya?ml$/;
export const MAX_FILE_BYTES = 4 * 1024 * 1024;

export function checkFolder(folder: Folder): Folder {
	const dynamicDir = posix.normalize(folder.dynamicDir.trim()).replace(/\/+$/, '');
	const backupDir = posix.normalize(folder.backupDir.trim()).replace(/\/+$/, '');
	if (!posix.isAbsolute(dynamicDir) || !posix.isAbsolute(backupDir)) {
		throw new InfraOpsError(
			'The dynamic folder and the backup folder must be absolute paths',
			'E.g. /opt/traefik-stack/dynamic and /opt/traefik-stack/dynamic-history',
		);
	}
	const rel = posix.relative(dynamicDir, backupDir);
	if (rel === '' || (!rel.startsWith('..') && !posix.isAbsolute(rel))) {
		throw new InfraOpsError(
			`The backup folder ${backupDir} is inside the watched folder ${dynamicDir}`,
			'Traefik would load the kept versions as configuration (duplicate names): choose a folder beside it, e.g. /opt/traefik-stack/dynamic-history',
		);
	}
	const keep = Math.floor(Number(folder.keep));
	if (!Number.isFinite(keep) || keep < 1 || keep > 1000)
		throw new InfraOpsError(
			`Keep ${folder.keep} versions is out of range`,
			'Keep between 1 and 1000 previous versions',
		);
	return { dynamicDir, backupDir, keep };
}

export function checkFileName(name: string): string {
	const trimmed = name.trim();
	if (!FILE_NAME.test(trimmed)) {
		throw new InfraOpsError(
			`"${name}" is not a file name this node deploys`,
			'A plain name ending in .yml or .yaml, without folders (e.g. middlewares.yml)',
		);
	}
	return trimmed;
}

const MAX_SUBFOLDERS = 200;

/**
 * The dynamic files of the folder as Traefik's file provider reads them: every .yml/.yaml/.toml
 * (any case, hidden names and symlinked files included) and, recursively, those of its subfolders,
 * named by their path relative to the folder. Traefik merges them all, so all take part in the checks.
 */
export async function readFolder(session: SshSession, dynamicDir: string): Promise<DynamicFile[]> {
	const top = await session.readDir(dynamicDir);
	if (!top)
		throw new InfraOpsError(
			`${dynamicDir} does not exist on the Traefik host`,
			"Check the dynamic folder (providers.file.directory in Traefik's static configuration)",
		);
	const names: string[] = [];
	const pending: Array<{ rel: string; entries: NonNullable<typeof top> }> = [
		{ rel: '', entries: top },
	];
	let folders = 0;
	while (pending.length > 0) {
		const { rel, entries } = pending.shift()!;
		for (const e of entries) {
			const name = rel ? `${rel}/${e.name}` : e.name;
			if (e.isDirectory) {
				if (++folders > MAX_SUBFOLDERS) {
					throw new InfraOpsError(
						`${dynamicDir} has more than ${MAX_SUBFOLDERS} subfolders`,
						'Traefik reads every subfolder of its dynamic folder too: keep git checkouts, backups and other trees outside it',
					);
				}
				pending.push({
					rel: name,
					entries: (await session.readDir(posix.join(dynamicDir, name))) ?? [],
				});
			} else if ((e.isFile || e.isSymlink) && isDynamicFileName(e.name)) names.push(name);
		}
	}
	return await mapConcurrent(names, 4, async (name) => ({
		name,
		text: (await session.readFile(posix.join(dynamicDir, name), MAX_FILE_BYTES)).toString('utf8'),
	}));
}

function backupStamp(now: Date): string {
	return now.toISOString().replace(/[-:]/g, '').replace('.', '');
}

export async function listBackups(
	session: SshSession,
	backupDir: string,
	fileName: string,
): Promise<string[]> {
	const entries = (await session.readDir(backupDir)) ?? [];
	return (
		entries
			// exactly <file>.<stamp>.bak: a prefix match would take routers.yml.old.yml's versions for routers.yml's
			.filter(
				(e) =>
					e.isFile &&
					e.name.startsWith(`${fileName}.`) &&
					/^\d{8}T\d{9}Z\.bak$/.test(e.name.slice(fileName.length + 1)),
			)
			.map((e) => e.name)
			.sort()
			.reverse()
	);
}

/** Keeps `text` as the newest previous version of `fileName`, and drops versions beyond `keep`. */
export async function keepPrevious(
	session: SshSession,
	folder: Folder,
	fileName: string,
	text: string,
	now: Date,
): Promise<string> {
	const mkdir = await session.exec(`mkdir -p -- ${shellQuote(folder.backupDir)}`, {
		timeoutMs: 15_000,
	});
	if (mkdir.code !== 0)
		throw new InfraOpsError(
			`Cannot create the backup folder ${folder.backupDir}: ${mkdir.stderr.trim()}`,
			'Give the SSH user write access there, or choose another backup folder',
		);
	const path = posix.join(folder.backupDir, `${fileName}.${backupStamp(now)}.bak`);
	await session.writeFileAtomic(path, text, { mode: 0o600 });
	const all = await listBackups(session, folder.backupDir, fileName);
	for (const old of all.slice(folder.keep))
		await session.removeFile(posix.join(folder.backupDir, old));
	return path;
}

/** Puts back what a deploy wrote, newest first: the previous version, or no file where there was none. */
export async function putBack(
	session: SshSession,
	folder: Folder,
	written: string[],
	olds: Map<string, string | undefined>,
): Promise<void> {
	for (const name of [...written].reverse()) {
		const old = olds.get(name);
		const path = posix.join(folder.dynamicDir, name);
		if (old === undefined) await session.removeFile(path);
		else await session.writeFileAtomic(path, old);
	}
}
