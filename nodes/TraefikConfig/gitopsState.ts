/**
 * What a GitOps deploy remembers on the Traefik host, beside the kept versions (never in n8n's
 * memory: queue-mode workers share nothing): the commit deployed now and the webhook deliveries
 * already received. Read, checked and written under the folder's deploy lock, so two deliveries
 * of the same push, or an old push racing a new one, are decided one after the other.
 */
import { posix } from 'node:path';

import { errorMessage, InfraOpsError } from '../shared/errors';
import { shellQuote, type SshSession } from '../shared/ssh';

export interface GitOpsCheck {
	/** The full commit id the files come from (Fetch Git Files' "commit"). */
	commit?: string;
	/** The webhook delivery's id (X-GitHub-Delivery, X-Gitea-Delivery, X-Gitlab-Event-UUID). */
	deliveryId?: string;
	/** The staging checkout of Fetch Git Files, where the commits are compared. */
	stagingDir?: string;
	/** Deploy a commit older than the deployed one (a rollback by git, asked for by the operator). */
	allowOlderCommit?: boolean;
}

export interface GitOpsState {
	deployedCommit?: string;
	deployedAt?: string;
	/** Newest last; bounded, an old id that falls off is still stopped by the commit order. */
	deliveries: Array<{ id: string; at: string }>;
}

export const STATE_FILE = '.gitops-state.json';
export const MAX_DELIVERIES = 1000;
const MAX_STATE_BYTES = 1024 * 1024;
const FULL_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const DELIVERY_ID = /^[A-Za-z0-9._:-]{1,200}$/;

export function checkGitOps(g: GitOpsCheck | undefined): GitOpsCheck | undefined {
	const commit = (g?.commit ?? '').trim().toLowerCase();
	const deliveryId = (g?.deliveryId ?? '').trim();
	if (!commit && !deliveryId) return undefined;
	if (commit && !FULL_SHA.test(commit))
		throw new InfraOpsError(
			`"${commit.slice(0, 80)}" is not a full commit id`,
			'Map "Commit" to Fetch Git Files\' "commit" (40 hexadecimal characters)',
		);
	if (deliveryId && !DELIVERY_ID.test(deliveryId))
		throw new InfraOpsError(
			`The delivery id "${deliveryId.slice(0, 80)}" has unexpected characters`,
			'Map "Delivery ID" to Verify Webhook Signature\'s "deliveryId"',
		);
	const stagingDir = (g?.stagingDir ?? '').trim();
	if (stagingDir && !posix.isAbsolute(stagingDir))
		throw new InfraOpsError(
			`Staging folder "${stagingDir}" is not an absolute path`,
			'The staging folder of Fetch Git Files, e.g. /opt/traefik-stack/gitops-staging',
		);
	return {
		commit: commit || undefined,
		deliveryId: deliveryId || undefined,
		stagingDir: stagingDir ? posix.normalize(stagingDir) : undefined,
		allowOlderCommit: g?.allowOlderCommit === true,
	};
}

export async function readGitOpsState(
	session: SshSession,
	backupDir: string,
): Promise<GitOpsState> {
	const path = posix.join(backupDir, STATE_FILE);
	if (!(await session.stat(path))) return { deliveries: [] };
	const text = (await session.readFile(path, MAX_STATE_BYTES)).toString('utf8');
	const damaged = (why: string) =>
		new InfraOpsError(
			`The GitOps state ${path} is damaged (${why})`,
			'Check who wrote it; remove it to start over (the next deploy records the deployed commit again)',
		);
	let raw: unknown;
	try {
		raw = JSON.parse(text);
	} catch (error) {
		throw damaged(errorMessage(error));
	}
	const obj = raw as { deployedCommit?: unknown; deployedAt?: unknown; deliveries?: unknown };
	if (!obj || typeof obj !== 'object') throw damaged('not an object');
	if (
		obj.deployedCommit !== undefined &&
		(typeof obj.deployedCommit !== 'string' || !FULL_SHA.test(obj.deployedCommit))
	)
		throw damaged('deployedCommit is not a commit id');
	if (
		!Array.isArray(obj.deliveries) ||
		!obj.deliveries.every(
			(d: { id?: unknown; at?: unknown }) => typeof d?.id === 'string' && typeof d.at === 'string',
		)
	)
		throw damaged('deliveries is not a list of {id, at}');
	return {
		deployedCommit: obj.deployedCommit,
		deployedAt: typeof obj.deployedAt === 'string' ? obj.deployedAt : undefined,
		deliveries: (obj.deliveries as GitOpsState['deliveries']).map((d) => ({ id: d.id, at: d.at })),
	};
}

export async function writeGitOpsState(
	session: SshSession,
	backupDir: string,
	state: GitOpsState,
): Promise<void> {
	const bounded = { ...state, deliveries: state.deliveries.slice(-MAX_DELIVERIES) };
	await session.writeFileAtomic(
		posix.join(backupDir, STATE_FILE),
		`${JSON.stringify(bounded, null, 1)}\n`,
		{ mode: 0o600 },
	);
}

const short = (sha: string) => sha.slice(0, 12);

/** Why this change set must not be deployed (a replayed delivery, an older commit), or undefined. */
export async function gitOpsRefusal(
	session: SshSession,
	state: GitOpsState,
	check: GitOpsCheck,
): Promise<string | undefined> {
	if (check.deliveryId) {
		const seen = state.deliveries.find((d) => d.id === check.deliveryId);
		if (seen)
			return `webhook delivery ${check.deliveryId} was received before (${seen.at}): a replayed delivery is not deployed`;
	}
	const deployed = state.deployedCommit;
	if (!check.commit || !deployed || check.commit === deployed || check.allowOlderCommit)
		return undefined;
	if (!check.stagingDir) {
		throw new InfraOpsError(
			'A commit is given but no staging folder to compare it with the deployed one',
			'Set "Staging Folder" to Fetch Git Files\' staging folder',
		);
	}
	const result = await session.exec(
		`cd -- ${shellQuote(check.stagingDir)} && git merge-base --is-ancestor ${check.commit} ${deployed}`,
		{ timeoutMs: 30_000 },
	);
	if (result.code === 0) {
		return `commit ${short(check.commit)} is older than the deployed commit ${short(deployed)} (an ancestor of it): not deployed; turn on "Allow Older Commit" to roll back by git`;
	}
	if (result.code === 1) return undefined;
	throw new InfraOpsError(
		`Cannot compare commit ${short(check.commit)} with the deployed commit ${short(deployed)} in ${check.stagingDir}: ${result.stderr.trim().split('\n').slice(-2).join(' ').slice(0, 300)}`,
		'Fetch Git Files must run into the same staging folder first; if the deployed commit was force-pushed away, turn on "Allow Older Commit" once',
	);
}
