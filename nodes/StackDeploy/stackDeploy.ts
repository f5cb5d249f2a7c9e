/**
 * Deploy a stack from Git on its host over SSH: in the repository folder, fetch the branch, check
 * out exactly the pushed commit (only one that is on the branch), run the stack's start command with
 * a time limit, and report. Roll Back checks out the commit the last deploy replaced and runs the
 * command again. Everything happens under a flock on the host (repoLock.ts); what a deploy must
 * remember (previous commit, webhook deliveries seen) lives beside it in the git folder, never in
 * n8n. Webhook data (commit, branch, delivery id) is validated and only ever passed as quoted words;
 * the folder and the command come from the workflow's Settings.
 */
import { posix } from 'node:path';

import { errorMessage, InfraOpsError, TimeoutError } from '../shared/errors';
import type { NewFinding } from '../shared/findings';
import { redactSecrets } from '../shared/secretShapes';
import { shellQuote, type SshSession } from '../shared/ssh';
import { holdRepoLock } from './repoLock';

export const DEFAULT_START_COMMAND =
	'python3 start_services.py --profile cpu --environment private';
export const STATE_FILE = 'infra-ops-deploy.json';
export const LOCK_FILE = 'infra-ops-deploy.lock';
const MAX_DELIVERIES = 500;
const GIT_TIMEOUT_S = 120;
const TAIL_LINES = 30;
const TAIL_CHARS = 3000;

const SHA = /^[0-9a-f]{40}$/;
const DELIVERY_ID = /^[A-Za-z0-9._:-]{1,200}$/;

export interface StackTarget {
	/** Absolute path of the working clone on the host. */
	repoDir: string;
	/** Run in the repository folder by `sh -c`, killed (with its process group) after `timeoutS`. */
	command: string;
	timeoutS: number;
	lockWaitS: number;
	/** Who holds the lock while this runs (n8n execution), shown to a run that is refused. */
	holder: string;
}

export interface DeployRequest extends StackTarget {
	branch: string;
	/** The pushed commit; empty deploys the head of the branch as fetched. */
	commit?: string;
	remote?: string;
	deliveryId?: string;
	/** Deploy a commit that is an ancestor of the checked-out one (a rollback by push). */
	allowOlderCommit?: boolean;
}

export interface DeployState {
	deployedCommit?: string;
	previousCommit?: string;
	deployedAt?: string;
	deliveries: Array<{ id: string; at: string }>;
}

interface CommandResult {
	exitStatus: number | null;
	timedOut: boolean;
	durationS: number;
	outputTail: string;
}

const short = (sha?: string) => (sha ? sha.slice(0, 12) : '(none)');

export function checkCommit(value: string, what: string): string {
	const sha = value.trim().toLowerCase();
	if (!SHA.test(sha))
		throw new InfraOpsError(
			`${what} "${value.slice(0, 80)}" is not a full commit id`,
			'A commit is 40 hexadecimal characters, e.g. the push payload\'s "after"',
		);
	return sha;
}

/** A branch name as git accepts it, further limited so it can never read as an option or a path trick. */
export function checkBranch(value: string): string {
	const branch = value.trim().replace(/^refs\/heads\//, '');
	if (
		!/^[A-Za-z0-9._/-]{1,200}$/.test(branch) ||
		/^[-/.]|\/\/|\.\.|@\{|[/.]$|\.lock(?:\/|$)|\/\./.test(branch)
	)
		throw new InfraOpsError(
			`"${value.slice(0, 80)}" is not a branch name this deploy accepts`,
			'Letters, digits, ".", "_", "-" and "/" between parts, e.g. main or release/2026-12',
		);
	return branch;
}

function checkTarget(t: StackTarget): void {
	if (!posix.isAbsolute(t.repoDir.trim()))
		throw new InfraOpsError(
			`Repository folder "${t.repoDir}" is not an absolute path`,
			'The working clone on the host, e.g. /opt/local-ai-packaged',
		);
	if (!t.command.trim())
		throw new InfraOpsError('The start command is empty', `e.g. ${DEFAULT_START_COMMAND}`);
	if (!(t.timeoutS > 0))
		throw new InfraOpsError(`Command timeout ${t.timeoutS} is not a positive number of seconds`);
}

/** Text copied from the host into a finding: escapes stripped, secrets masked, the last lines only. */
export function outputTail(text: string): string {
	const lines = redactSecrets(
		text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r(?!\n)/g, '\n'),
	)
		.replace(/\s+$/, '')
		.split('\n')
		.slice(-TAIL_LINES)
		.join('\n');
	return lines.length > TAIL_CHARS ? lines.slice(-TAIL_CHARS) : lines;
}

const q = (words: string[]) => words.map(shellQuote).join(' ');

class Repo {
	constructor(
		readonly session: SshSession,
		readonly dir: string,
	) {}

	/** git in the repository, never prompting, bounded by `timeout` on the host as well. */
	async git(args: string[], timeoutS = GIT_TIMEOUT_S) {
		return await this.session.exec(
			`cd -- ${shellQuote(this.dir)} && GIT_TERMINAL_PROMPT=0 timeout -k 5 ${timeoutS} git ${q(args)} </dev/null`,
			{ timeoutMs: (timeoutS + 15) * 1000 },
		);
	}

	async gitOk(args: string[], what: string, hint?: string): Promise<string> {
		const r = await this.git(args);
		if (r.code !== 0)
			throw new InfraOpsError(
				`${this.session.target}: ${what} failed in ${this.dir} (exit ${r.code}): ${outputTail(
					r.stderr || r.stdout,
				)
					.split('\n')
					.slice(-3)
					.join(' ')}`,
				hint,
			);
		return r.stdout.trim();
	}

	async head(): Promise<string | undefined> {
		const r = await this.git(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']);
		return r.code === 0 && SHA.test(r.stdout.trim()) ? r.stdout.trim() : undefined;
	}

	async hasCommit(sha: string): Promise<boolean> {
		return (await this.git(['cat-file', '-e', `${sha}^{commit}`])).code === 0;
	}

	/** True when `ancestor` is reachable from `ref`; an error when git cannot tell. */
	async isAncestor(ancestor: string, ref: string): Promise<boolean> {
		const r = await this.git(['merge-base', '--is-ancestor', ancestor, ref]);
		if (r.code === 0) return true;
		if (r.code === 1) return false;
		throw new InfraOpsError(
			`${this.session.target}: cannot compare ${short(ancestor)} with ${ref}: ${outputTail(r.stderr).slice(-300)}`,
		);
	}

	async checkout(sha: string): Promise<void> {
		await this.gitOk(
			['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', sha],
			`checking out ${short(sha)}`,
			'Local changes to tracked files block the checkout: commit them upstream or discard them on the host (untracked files such as .env are kept)',
		);
	}

	async readState(gitDir: string): Promise<DeployState> {
		const path = posix.join(gitDir, STATE_FILE);
		if (!(await this.session.stat(path))) return { deliveries: [] };
		const damaged = (why: string) =>
			new InfraOpsError(
				`The deploy state ${path} is damaged (${why})`,
				'Remove it to start over: the next deploy records the checked-out commit again',
			);
		let raw: Partial<DeployState>;
		try {
			raw = JSON.parse((await this.session.readFile(path, 256 * 1024)).toString('utf8'));
		} catch (error) {
			throw damaged(errorMessage(error));
		}
		const shaOrNone = (v: unknown) => v === undefined || (typeof v === 'string' && SHA.test(v));
		if (!raw || typeof raw !== 'object' || !Array.isArray(raw.deliveries)) throw damaged('no list');
		if (!shaOrNone(raw.deployedCommit) || !shaOrNone(raw.previousCommit))
			throw damaged('a commit is not a commit id');
		return {
			deployedCommit: raw.deployedCommit,
			previousCommit: raw.previousCommit,
			deployedAt: typeof raw.deployedAt === 'string' ? raw.deployedAt : undefined,
			deliveries: raw.deliveries
				.filter((d) => typeof d?.id === 'string' && typeof d.at === 'string')
				.map((d) => ({ id: d.id, at: d.at })),
		};
	}

	async writeState(gitDir: string, state: DeployState): Promise<void> {
		const bounded = { ...state, deliveries: state.deliveries.slice(-MAX_DELIVERIES) };
		await this.session.writeFileAtomic(
			posix.join(gitDir, STATE_FILE),
			`${JSON.stringify(bounded, null, 1)}\n`,
			{ mode: 0o600 },
		);
	}

	/** The start command under coreutils `timeout`, which kills the command's whole process group. */
	async runCommand(command: string, timeoutS: number): Promise<CommandResult> {
		const started = Date.now();
		const limit = Math.ceil(timeoutS);
		let r;
		try {
			r = await this.session.exec(
				`cd -- ${shellQuote(this.dir)} && exec timeout -k 10 ${limit} sh -c ${shellQuote(command)} </dev/null 2>&1`,
				{ timeoutMs: (limit + 30) * 1000 },
			);
		} catch (error) {
			if (!(error instanceof TimeoutError)) throw error;
			return { exitStatus: null, timedOut: true, durationS: limit, outputTail: '' };
		}
		const durationS = Math.round((Date.now() - started) / 100) / 10;
		const timedOut = (r.code === 124 || r.code === 137) && durationS >= limit - 1;
		return { exitStatus: r.code, timedOut, durationS, outputTail: outputTail(r.stdout + r.stderr) };
	}
}

async function withRepo<T>(
	session: SshSession,
	t: StackTarget,
	fn: (repo: Repo, gitDir: string) => Promise<T>,
): Promise<T> {
	checkTarget(t);
	const repo = new Repo(session, posix.normalize(t.repoDir.trim()));
	const gitDir = await repo.gitOk(
		['rev-parse', '--absolute-git-dir'],
		'finding the git folder',
		'The repository folder must be a git clone (git clone <url> <folder>) readable by the SSH user',
	);
	const lock = await holdRepoLock(session, posix.join(gitDir, LOCK_FILE), t.lockWaitS, t.holder);
	try {
		return await fn(repo, gitDir);
	} finally {
		await lock.release();
	}
}

function commandFinding(
	session: SshSession,
	t: StackTarget,
	base: { action: string; what: string; fromCommit?: string; toCommit: string },
	extra: Record<string, unknown>,
	run: CommandResult,
): NewFinding {
	const ok = run.exitStatus === 0 && !run.timedOut;
	const move = `${short(base.fromCommit)} → ${short(base.toCommit)}`;
	const summary = ok
		? `${base.what} ${move}: the start command succeeded in ${run.durationS} s`
		: run.timedOut
			? `${base.what} ${move}: the start command did not finish within ${Math.ceil(t.timeoutS)} s and was killed`
			: `${base.what} ${move}: the start command failed with exit status ${run.exitStatus}`;
	return {
		check: 'stack-deploy',
		target: `${session.target}:${t.repoDir}`,
		status: ok ? 'ok' : 'critical',
		summary,
		action: ok ? base.action : 'failed',
		fromCommit: base.fromCommit ?? null,
		toCommit: base.toCommit,
		...extra,
		exitStatus: run.exitStatus,
		timedOut: run.timedOut,
		durationS: run.durationS,
		outputTail: run.outputTail,
		changeKey: base.toCommit,
	};
}

/** Fetch, check out the pushed commit and start the stack; a refusal before checkout changes nothing. */
export async function deployCommit(session: SshSession, req: DeployRequest): Promise<NewFinding> {
	const branch = checkBranch(req.branch);
	const remote = (req.remote ?? '').trim() || 'origin';
	if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(remote))
		throw new InfraOpsError(`"${remote.slice(0, 80)}" is not a git remote name`, 'e.g. origin');
	const wanted = req.commit?.trim() ? checkCommit(req.commit, 'Commit') : undefined;
	const deliveryId = req.deliveryId?.trim() || undefined;
	if (deliveryId && !DELIVERY_ID.test(deliveryId))
		throw new InfraOpsError(
			`The delivery id "${deliveryId.slice(0, 80)}" has unexpected characters`,
			'Map "Delivery ID" to Verify Webhook Signature\'s "deliveryId"',
		);
	return await withRepo(session, req, async (repo, gitDir) => {
		const state = await repo.readState(gitDir);
		const target = `${session.target}:${req.repoDir}`;
		const refused = (summary: string, extra: Record<string, unknown> = {}): NewFinding => ({
			check: 'stack-deploy',
			target,
			status: 'warning',
			summary,
			action: 'refused',
			branch,
			deliveryId: deliveryId ?? null,
			...extra,
			changeKey: 'refused',
		});
		const seen = deliveryId && state.deliveries.find((d) => d.id === deliveryId);
		if (seen)
			return refused(
				`webhook delivery ${deliveryId} was received before (${seen.at}): a replayed delivery is not deployed`,
			);
		const remoteRef = `refs/remotes/${remote}/${branch}`;
		await repo.gitOk(
			['fetch', '--quiet', '--no-tags', '--', remote, `+refs/heads/${branch}:${remoteRef}`],
			`git fetch of ${remote} ${branch}`,
			'Check that the host can reach the remote with its own deploy key, and that the branch exists there',
		);
		const sha =
			wanted ?? (await repo.gitOk(['rev-parse', '--verify', remoteRef], 'reading ' + remoteRef));
		if (!(await repo.hasCommit(sha)) || !(await repo.isAncestor(sha, remoteRef)))
			throw new InfraOpsError(
				`Commit ${short(sha)} is not on branch ${branch} of ${remote}: refusing to deploy it (nothing changed)`,
				"Only commits reachable from the pushed branch are deployed; check the webhook's branch and the repository it comes from",
			);
		const from = await repo.head();
		if (from && sha !== from && !req.allowOlderCommit && (await repo.isAncestor(sha, from)))
			return refused(
				`commit ${short(sha)} is older than the checked-out ${short(from)}: not deployed; turn on "Allow Older Commit" to roll back by push`,
				{ fromCommit: from, toCommit: sha },
			);
		await repo.checkout(sha);
		await repo.writeState(gitDir, {
			deployedCommit: sha,
			previousCommit: from && from !== sha ? from : state.previousCommit,
			deployedAt: new Date().toISOString(),
			deliveries: deliveryId
				? [...state.deliveries, { id: deliveryId, at: new Date().toISOString() }]
				: state.deliveries,
		});
		const run = await repo.runCommand(req.command, req.timeoutS);
		return commandFinding(
			session,
			req,
			{ action: 'deployed', what: `Deployed ${branch}`, fromCommit: from, toCommit: sha },
			{ branch, deliveryId: deliveryId ?? null },
			run,
		);
	});
}

/** Check out the commit the last deploy replaced (or `commit`) and run the start command again. */
export async function rollBack(
	session: SshSession,
	t: StackTarget & { commit?: string },
): Promise<NewFinding> {
	const asked = t.commit?.trim() ? checkCommit(t.commit, 'Commit') : undefined;
	return await withRepo(session, t, async (repo, gitDir) => {
		const state = await repo.readState(gitDir);
		const sha = asked ?? state.previousCommit;
		if (!sha)
			throw new InfraOpsError(
				`No previous commit is recorded in ${posix.join(gitDir, STATE_FILE)}: nothing to roll back to`,
				'Roll Back follows a Deploy of this node; to go to a given commit, set "Commit"',
			);
		if (!(await repo.hasCommit(sha)))
			throw new InfraOpsError(
				`Commit ${short(sha)} is not in the repository at ${t.repoDir}: nothing changed`,
				'Fetch it first, or choose a commit the clone has',
			);
		const from = await repo.head();
		await repo.checkout(sha);
		await repo.writeState(gitDir, {
			...state,
			deployedCommit: sha,
			deployedAt: new Date().toISOString(),
		});
		const run = await repo.runCommand(t.command, t.timeoutS);
		return commandFinding(
			session,
			t,
			{ action: 'rolled-back', what: 'Rolled back', fromCommit: from, toCommit: sha },
			{},
			run,
		);
	});
}
