/**
 * One deploy per folder at a time, across n8n executions and workers: a lock directory on the
 * Traefik host (`mkdir` is atomic) holding an owner file `<token> <lease end, host epoch s> <who>`.
 * The lease covers the longest a run can take (every verification round, its rollback's, plus a
 * margin), so a deploy waiting an hour for Traefik is never taken over; only an expired lease is.
 * A run removes the lock only while the owner token is still its own.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';

import { InfraOpsError } from '../shared/errors';
import { shellQuote, type SshSession } from '../shared/ssh';

/** A lock directory without a readable lease (left by a version before leases, or by a run that died between mkdir and writing it) is taken over after this long. */
export const LOCK_NO_OWNER_STALE_SECONDS = 600;
/** Added to the longest verification time: SSH round trips, reading and writing the files. */
export const LOCK_MARGIN_MS = 10 * 60_000;

export interface LockOptions {
	/** How long to wait for another deploy to the same folder (a push during a scheduled run). */
	waitMs: number;
	/** How long this run may hold the lock before another may take it over. */
	leaseMs: number;
	/** What is locked, for messages (the dynamic folder). */
	target: string;
	/** Who holds it, for the message another run shows (e.g. "n8n execution 42"). */
	owner?: string;
}

export const lockPath = (backupDir: string) => posix.join(backupDir, '.deploy.lock');

const ownerText = (owner: string | undefined) =>
	(owner ?? 'a deploy').replace(/[^\w .:@#/-]/g, '').slice(0, 120) || 'a deploy';

/**
 * Takes the folder's lock: a fresh mkdir wins; an existing lock is taken over only when its lease
 * has ended (host clock on both sides). Takeover renames the old lock aside and checks that what
 * it moved is the lock it judged expired: of two runs that both found it expired, the second
 * moves the winner's fresh lock, sees a token it did not expect, and puts it back.
 */
function takeScript(lock: string, token: string, leaseSeconds: number, owner: string): string {
	const L = shellQuote(lock);
	const A = shellQuote(`${lock}.stale.${token}`);
	return [
		'set -f',
		`write_owner() { printf '%s %s %s\\n' ${token} "$(( $(date +%s) + ${leaseSeconds} ))" ${shellQuote(owner)} > ${L}/owner.${token} && mv -f -- ${L}/owner.${token} ${L}/owner; }`,
		`if mkdir -- ${L} 2>/dev/null; then write_owner && echo taken; exit 0; fi`,
		`cur=$(head -n 1 -- ${L}/owner 2>/dev/null)`,
		`set -- $cur`,
		`case "$2" in`,
		`  ''|*[!0-9]*) [ -n "$(find ${L} -maxdepth 0 -mmin +${LOCK_NO_OWNER_STALE_SECONDS / 60} 2>/dev/null)" ] || { echo busy; exit 0; };;`,
		`  *) [ "$2" -le "$(date +%s)" ] || { echo "busy $cur"; exit 0; };;`,
		`esac`,
		`mv -- ${L} ${A} 2>/dev/null || { echo busy; exit 0; }`,
		`if [ "$(head -n 1 -- ${A}/owner 2>/dev/null)" != "$cur" ]; then [ -e ${L} ] || mv -- ${A} ${L}; echo busy; exit 0; fi`,
		`rm -rf -- ${A}`,
		`if mkdir -- ${L} 2>/dev/null; then write_owner && echo "taken over $cur"; else echo busy; fi`,
	].join('\n');
}

/** Removes the lock if its owner token is still ours; renamed aside first and checked there, so a lock another run took over meanwhile is put back, never removed. */
function releaseScript(lock: string, token: string): string {
	const L = shellQuote(lock);
	const A = shellQuote(`${lock}.released.${token}`);
	return [
		'set -f',
		`set -- $(head -n 1 -- ${L}/owner 2>/dev/null)`,
		`[ "$1" = ${token} ] || { echo "not ours: $*"; exit 0; }`,
		`mv -- ${L} ${A} 2>/dev/null || { echo gone; exit 0; }`,
		`set -- $(head -n 1 -- ${A}/owner 2>/dev/null)`,
		`if [ "$1" = ${token} ]; then rm -rf -- ${A}; echo released; else [ -e ${L} ] || mv -- ${A} ${L}; echo "not ours: $*"; fi`,
	].join('\n');
}

function describeHolder(busy: string): string {
	const [, , until, ...who] = busy.trim().split(/\s+/);
	const end = Number(until);
	if (!Number.isFinite(end) || end <= 0) return '';
	return ` by ${who.join(' ') || 'another run'} (lease until ${new Date(end * 1000).toISOString()})`;
}

export async function withFolderLock<T>(
	session: SshSession,
	backupDir: string,
	options: LockOptions,
	fn: () => Promise<T>,
): Promise<T> {
	const lock = lockPath(backupDir);
	const token = randomBytes(12).toString('hex');
	const leaseSeconds = Math.ceil(options.leaseMs / 1000);
	const mkdir = await session.exec(`mkdir -p -- ${shellQuote(backupDir)}`, { timeoutMs: 15_000 });
	if (mkdir.code !== 0)
		throw new InfraOpsError(
			`Cannot create the backup folder ${backupDir}: ${mkdir.stderr.trim()}`,
			'Give the SSH user write access there, or choose another backup folder',
		);
	const deadline = Date.now() + options.waitMs;
	for (;;) {
		const take = await session.exec(
			takeScript(lock, token, leaseSeconds, ownerText(options.owner)),
			{ timeoutMs: 15_000 },
		);
		const answer = take.stdout.trim();
		if (answer.startsWith('taken')) break;
		if (take.code !== 0 || !answer.startsWith('busy')) {
			throw new InfraOpsError(
				`Cannot take the deploy lock ${lock}: ${(take.stderr.trim() || answer).slice(0, 300)}`,
				'Give the SSH user write access to the backup folder',
			);
		}
		if (Date.now() >= deadline) {
			throw new InfraOpsError(
				`Another deploy to ${options.target} is running (lock ${lock}${describeHolder(answer)})`,
				'Run again when it has finished; a lock left by a crashed run is taken over once its lease ends (the longest verification plus 10 minutes)',
			);
		}
		await new Promise((resolve) => setTimeout(resolve, 1000));
	}
	try {
		return await fn();
	} finally {
		await session.exec(releaseScript(lock, token), { timeoutMs: 15_000 }).catch(() => undefined);
	}
}
