/**
 * Deploys one dynamic file over SSH: validate with the rest of the folder (an invalid file is never
 * written), keep the previous version outside the watched folder, replace atomically (temp file with
 * a non-config extension + rename, so Traefik's watcher never reads half a file), then, with API
 * access, wait until Traefik serves what the file says, and put the previous version back if not.
 */
import { posix } from 'node:path';

import { mapConcurrent } from '../shared/concurrency';
import { errorMessage, InfraOpsError } from '../shared/errors';
import { loadDiff } from '../shared/lazy';
import { shellQuote, type SshSession } from '../shared/ssh';
import { LOCK_MARGIN_MS, withFolderLock } from './deployLock';
import {
	checkGitOps,
	gitOpsRefusal,
	readGitOpsState,
	writeGitOpsState,
	type GitOpsCheck,
} from './gitopsState';
import { waitUntilLoaded, type LoadCheck, type TraefikApi } from './traefikApi';
import {
	isDynamicFileName,
	loadedNames,
	validateFiles,
	type ConfigProblem,
	type DynamicFile,
} from './validate';

export interface Folder {
	/** The folder Traefik's file provider watches, e.g. /opt/traefik-stack/dynamic. */
	dynamicDir: string;
	/** Where previous versions are kept; must be outside dynamicDir. */
	backupDir: string;
	/** How many previous versions of each file to keep. */
	keep: number;
}

export interface Verification {
	ok: boolean;
	waitedMs: number;
	checks: LoadCheck[];
}

export interface DeployOutcome {
	file: string;
	path: string;
	status: 'ok' | 'warning' | 'critical';
	action: 'written' | 'unchanged' | 'rejected' | 'rolledBack' | 'dryRun' | 'refused';
	summary: string;
	diff: string;
	problems: ConfigProblem[];
	backup?: string;
	verification?: Verification;
	/** After an automatic rollback: whether the restored version is served again. */
	restoredVerification?: Verification;
}

export interface VerifyOptions {
	api: TraefikApi;
	timeoutMs: number;
	intervalMs?: number;
}

const PASSWORD_HASHES = [
	/\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}/g, // bcrypt (htpasswd -B, what Build Middleware writes)
	/\$(?:apr1|1)\$[./0-9A-Za-z]{1,8}\$[./0-9A-Za-z]{22}/g, // MD5-crypt (htpasswd -m)
	/\$[56]\$(?:rounds=\d+\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{43,86}/g, // SHA-crypt
	/\{SHA\}[A-Za-z0-9+/]{27}=/g, // htpasswd -s
];
const KEY_BEGIN = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const KEY_END = /-----END [A-Z0-9 ]*PRIVATE KEY-----/;

/**
 * The diff goes to Slack, email and n8n's execution log, further than the file itself: password
 * hashes (enough to guess weak passwords offline) keep only their last characters, so a changed
 * hash still shows as a changed line, and inline private keys are masked line by line.
 */
export function redactDiff(diff: string): string {
	let inKey = false;
	return diff
		.split('\n')
		.map((line) => {
			if (inKey) {
				if (KEY_END.test(line)) {
					inKey = false;
					return line;
				}
				return line.replace(/^([ +-]?\s*)\S.*$/, '$1(private key redacted)');
			}
			if (KEY_BEGIN.test(line)) {
				inKey = !KEY_END.test(line);
				return line.replace(/(-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----).*$/, '$1 (redacted)');
			}
			return PASSWORD_HASHES.reduce(
				(text, re) => text.replace(re, (hash) => `<password hash …${hash.slice(-4)}>`),
				line,
			);
		})
		.join('\n');
}

const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*\.ya?ml$/;
const MAX_FILE_BYTES = 4 * 1024 * 1024;

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

async function keepPrevious(
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

const problemKey = (p: ConfigProblem) => `${p.file}|${p.path}|${p.message}`;

/** Problems that stop a deploy: any in the file itself, new ones elsewhere, and anything that makes Traefik drop the whole update. */
function blocking(
	before: ConfigProblem[],
	after: ConfigProblem[],
	fileNames: string[],
): ConfigProblem[] {
	const existed = new Set(before.map(problemKey));
	return after.filter(
		(p) =>
			p.status === 'critical' &&
			(fileNames.includes(p.file) || p.fatal || !existed.has(problemKey(p))),
	);
}

export async function verifyLoaded(
	verify: VerifyOptions,
	text: string,
): Promise<Verification | undefined> {
	const expected = loadedNames(text);
	if (Object.keys(expected.routers).length + Object.keys(expected.middlewares).length === 0)
		return undefined;
	return await waitUntilLoaded(verify.api, expected, {
		timeoutMs: verify.timeoutMs,
		intervalMs: verify.intervalMs,
	});
}

/** A Traefik API that cannot be asked (refused, unreachable) is a failed verification, so the files already written are put back. */
async function verifyOrFail(
	verify: VerifyOptions,
	text: string,
): Promise<Verification | undefined> {
	const started = Date.now();
	try {
		return await verifyLoaded(verify, text);
	} catch (error) {
		return {
			ok: false,
			waitedMs: Date.now() - started,
			checks: [{ name: 'Traefik', kind: 'api', ok: false, reason: errorMessage(error) }],
		};
	}
}

const failedChecks = (v: Verification) =>
	v.checks
		.filter((c) => !c.ok)
		.map((c) => `${c.kind} ${c.name}: ${c.reason}`)
		.join('; ');

export interface FileChange {
	fileName: string;
	content: string;
}

export interface DeployOptions {
	behindProxy?: boolean;
	verify?: VerifyOptions;
	dryRun?: boolean;
	now?: Date;
	label?: string;
	/** How long to wait for another deploy to the same folder (a push during a scheduled run). */
	lockWaitMs?: number;
	/** Who deploys, shown to a run that finds the folder locked (e.g. "n8n execution 42"). */
	lockOwner?: string;
	/** Where the files come from in git: a replayed delivery or an older commit is refused. */
	gitops?: GitOpsCheck;
}

/**
 * Deploys a set of files as one change: validated together with the rest of the folder, written
 * only if all are valid, verified together, and all put back if Traefik does not serve them.
 */
export async function deployFiles(
	session: SshSession,
	folderIn: Folder,
	changesIn: FileChange[],
	options: DeployOptions = {},
): Promise<DeployOutcome[]> {
	const folder = checkFolder(folderIn);
	// checked before anything is written: verification runs only after the write
	const timeoutMs = options.verify?.timeoutMs;
	if (
		timeoutMs !== undefined &&
		(!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > 3_600_000)
	) {
		throw new InfraOpsError(
			`The verification timeout ${String(timeoutMs)} ms is not between 1 ms and 1 hour`,
			'Set "Verify Timeout (Seconds)" to a number of seconds, e.g. 30',
		);
	}
	const gitops = checkGitOps(options.gitops);
	if (options.dryRun) {
		const refusal = gitops
			? await gitOpsRefusal(session, await readGitOpsState(session, folder.backupDir), gitops)
			: undefined;
		return refusal
			? refusedOutcomes(folder, changesIn, refusal)
			: await deployUnlocked(session, folder, changesIn, options);
	}
	// Every file may wait the whole timeout (4 side by side), then again for its restored version
	const rounds = Math.ceil(Math.max(1, changesIn.length) / 4);
	const leaseMs = 2 * rounds * (timeoutMs ?? 0) + LOCK_MARGIN_MS;
	const lock = {
		waitMs: options.lockWaitMs ?? 120_000,
		leaseMs,
		owner: options.lockOwner,
		target: folder.dynamicDir,
	};
	return await withFolderLock(session, folder.backupDir, lock, async () => {
		if (!gitops) return await deployUnlocked(session, folder, changesIn, options);
		const state = await readGitOpsState(session, folder.backupDir);
		const refusal = await gitOpsRefusal(session, state, gitops);
		if (gitops.deliveryId && !state.deliveries.some((d) => d.id === gitops.deliveryId)) {
			// recorded before anything is written: a run that dies midway still makes its delivery a replay
			state.deliveries.push({ id: gitops.deliveryId, at: new Date().toISOString() });
			await writeGitOpsState(session, folder.backupDir, state);
		}
		if (refusal) return refusedOutcomes(folder, changesIn, refusal);
		const outcomes = await deployUnlocked(session, folder, changesIn, options);
		if (
			gitops.commit &&
			outcomes.every(
				(o) => o.status === 'ok' && (o.action === 'written' || o.action === 'unchanged'),
			)
		) {
			state.deployedCommit = gitops.commit;
			state.deployedAt = new Date().toISOString();
			await writeGitOpsState(session, folder.backupDir, state);
		}
		return outcomes;
	});
}

function refusedOutcomes(folder: Folder, changes: FileChange[], refusal: string): DeployOutcome[] {
	return changes.map((c) => {
		const file = c.fileName.trim();
		return {
			file,
			path: posix.join(folder.dynamicDir, file),
			status: 'warning',
			action: 'refused',
			summary: `${file} not deployed: ${refusal}`,
			diff: '',
			problems: [],
		};
	});
}

async function deployUnlocked(
	session: SshSession,
	folder: Folder,
	changesIn: FileChange[],
	options: DeployOptions,
): Promise<DeployOutcome[]> {
	const label = options.label ?? 'deploy';
	const changes = changesIn.map((c) => ({
		fileName: checkFileName(c.fileName),
		content: c.content.endsWith('\n') || c.content === '' ? c.content : `${c.content}\n`,
	}));
	const names = changes.map((c) => c.fileName);
	if (new Set(names).size !== names.length)
		throw new InfraOpsError(
			`A file is given twice in one deploy: ${names.join(', ')}`,
			'Give each file once',
		);
	const folderFiles = await readFolder(session, folder.dynamicDir);
	const others = folderFiles.filter((f) => !names.includes(f.name));
	const olds = new Map<string, string | undefined>();
	for (const c of changes)
		olds.set(c.fileName, folderFiles.find((f) => f.name === c.fileName)?.text);

	const beforeFiles = [
		...others,
		...changes.flatMap((c) =>
			olds.get(c.fileName) === undefined ? [] : [{ name: c.fileName, text: olds.get(c.fileName)! }],
		),
	];
	const afterFiles = [...others, ...changes.map((c) => ({ name: c.fileName, text: c.content }))];
	const before = validateFiles(beforeFiles, { behindProxy: options.behindProxy });
	const after = validateFiles(afterFiles, { behindProxy: options.behindProxy });
	const stop = blocking(before.problems, after.problems, names);

	const outcomes: DeployOutcome[] = changes.map((c) => {
		const old = olds.get(c.fileName);
		const path = posix.join(folder.dynamicDir, c.fileName);
		const diff = redactDiff(
			loadDiff().createTwoFilesPatch(
				`a/${c.fileName}`,
				`b/${c.fileName}`,
				old ?? '',
				c.content,
				old === undefined ? 'new file' : undefined,
				undefined,
				{ context: 3 },
			),
		);
		const own = stop.filter((p) => p.file === c.fileName);
		const warnings = after.problems.filter((p) => p.file === c.fileName && p.status === 'warning');
		return {
			file: c.fileName,
			path,
			diff,
			problems: [...own, ...warnings],
			status: warnings.length ? 'warning' : 'ok',
			action: old === c.content ? 'unchanged' : 'written',
			summary: '',
		};
	});
	if (stop.length > 0) {
		for (const o of outcomes) {
			const own = stop.filter((p) => p.file === o.file);
			const first = own[0] ?? stop[0];
			if (o.action === 'unchanged' && own.length === 0) {
				o.summary = `${o.file} is unchanged (the change set was refused because of ${first.file})`;
				continue;
			}
			o.status = 'critical';
			o.action = 'rejected';
			o.problems = [...new Set([...own, ...stop])];
			o.summary = `${o.file} was not written: ${own.length ? `${own.length} problem${own.length === 1 ? '' : 's'} in it` : 'the change set has problems'} (${first.file}: ${first.message})`;
		}
		return outcomes;
	}
	const toWrite = changes.filter((c) => olds.get(c.fileName) !== c.content);
	for (const o of outcomes) {
		if (o.action === 'unchanged') o.summary = `${o.file} is already up to date on the Traefik host`;
	}
	if (options.dryRun || toWrite.length === 0) {
		for (const o of outcomes) {
			if (o.action !== 'unchanged') {
				o.action = 'dryRun';
				o.summary = `${o.file} is valid; dry run, nothing written`;
			}
		}
		return outcomes;
	}
	const now = options.now ?? new Date();
	const written: string[] = [];
	try {
		// Files that define middlewares or services go first, so a router never points at nothing in between
		const ordered = [...toWrite].sort(
			(a, b) => Number(/\brouters:/.test(a.content)) - Number(/\brouters:/.test(b.content)),
		);
		for (const c of ordered) {
			const old = olds.get(c.fileName);
			const outcome = outcomes.find((o) => o.file === c.fileName)!;
			if (old !== undefined)
				outcome.backup = await keepPrevious(session, folder, c.fileName, old, now);
			await session.writeFileAtomic(outcome.path, c.content);
			written.push(c.fileName);
		}
	} catch (error) {
		await restore(session, folder, written, olds);
		throw error;
	}

	// Files are verified side by side: each may wait the whole timeout, and they do not depend on each other
	const verifications = new Map<string, Verification | undefined>();
	const verify = options.verify;
	if (verify) {
		const results = await mapConcurrent(
			toWrite,
			4,
			async (c) => await verifyOrFail(verify, c.content),
		);
		toWrite.forEach((c, k) => verifications.set(c.fileName, results[k]));
	}
	const failed = [...verifications.entries()].filter(([, v]) => v && !v.ok);
	if (failed.length > 0) {
		let restoreError: string | undefined;
		const restored = new Map<string, Verification | undefined>();
		try {
			await restore(session, folder, written, olds);
			const back = await mapConcurrent(written, 4, async (name) => {
				const old = olds.get(name);
				return old !== undefined && verify ? await verifyOrFail(verify, old) : undefined;
			});
			written.forEach((name, k) => restored.set(name, back[k]));
		} catch (error) {
			restoreError = errorMessage(error);
		}
		const cause = failed.map(([name, v]) => `${name}: ${failedChecks(v!)}`).join('; ');
		const apiFailed = failed.some(([, v]) => v!.checks.some((c) => c.kind === 'api'));
		for (const o of outcomes) {
			if (!written.includes(o.file)) continue;
			const v = verifications.get(o.file);
			const back = restored.get(o.file);
			o.status = 'critical';
			o.action = 'rolledBack';
			o.verification = v;
			o.restoredVerification = back;
			o.summary =
				`${label} of ${o.file} rolled back: ${apiFailed ? 'the Traefik API could not confirm the change' : `Traefik did not serve the change within ${Math.round((options.verify?.timeoutMs ?? 0) / 1000)} s`} (${cause})` +
				(restoreError
					? `; restoring the previous version FAILED: ${restoreError}`
					: olds.get(o.file) === undefined
						? '; the new file was removed'
						: back && !back.ok
							? '; the previous version is back but not served cleanly either'
							: '; the previous version is back');
		}
		return outcomes;
	}
	for (const o of outcomes) {
		if (!written.includes(o.file)) continue;
		const v = verifications.get(o.file);
		o.verification = v;
		const verified = v
			? `, served by Traefik after ${(v.waitedMs / 1000).toFixed(1)} s`
			: options.verify
				? ''
				: ', not verified (no Traefik API credential)';
		o.summary = `${o.file} ${label === 'deploy' ? 'deployed' : 'restored'}${o.backup ? ` (previous version kept as ${posix.basename(o.backup)})` : ' (new file)'}${verified}`;
	}
	return outcomes;
}

async function restore(
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

/** Restores a kept version (the newest that differs from the current file, unless one is named) with the same checks as a deploy. */
export async function rollbackFile(
	session: SshSession,
	folderIn: Folder,
	fileNameIn: string,
	options: {
		version?: string;
		behindProxy?: boolean;
		verify?: VerifyOptions;
		now?: Date;
		lockOwner?: string;
	} = {},
): Promise<DeployOutcome & { restoredFrom: string }> {
	const folder = checkFolder(folderIn);
	const fileName = checkFileName(fileNameIn);
	const backups = await listBackups(session, folder.backupDir, fileName);
	if (backups.length === 0)
		throw new InfraOpsError(
			`No kept version of ${fileName} in ${folder.backupDir}`,
			'Versions are kept by Deploy; check the backup folder setting',
		);
	const currentStat = await session.stat(posix.join(folder.dynamicDir, fileName));
	const current = currentStat
		? (await session.readFile(posix.join(folder.dynamicDir, fileName), MAX_FILE_BYTES)).toString(
				'utf8',
			)
		: undefined;
	let chosen: string | undefined;
	let text: string | undefined;
	if (options.version && options.version !== 'latest') {
		chosen = backups.find(
			(b) => b === options.version || b === `${fileName}.${options.version}.bak`,
		);
		if (!chosen)
			throw new InfraOpsError(
				`No kept version "${options.version}" of ${fileName}`,
				`Kept versions: ${backups.slice(0, 10).join(', ')}`,
			);
		text = (await session.readFile(posix.join(folder.backupDir, chosen), MAX_FILE_BYTES)).toString(
			'utf8',
		);
	} else {
		for (const b of backups) {
			const candidate = (
				await session.readFile(posix.join(folder.backupDir, b), MAX_FILE_BYTES)
			).toString('utf8');
			if (candidate !== current) {
				chosen = b;
				text = candidate;
				break;
			}
		}
		if (!chosen || text === undefined)
			throw new InfraOpsError(
				`Every kept version of ${fileName} equals the current file`,
				'Nothing to roll back to',
			);
	}
	const [outcome] = await deployFiles(session, folder, [{ fileName, content: text! }], {
		behindProxy: options.behindProxy,
		verify: options.verify,
		now: options.now,
		label: 'rollback',
		lockOwner: options.lockOwner,
	});
	return { ...outcome, restoredFrom: chosen };
}
