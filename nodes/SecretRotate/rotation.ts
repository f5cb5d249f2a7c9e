/**
 * The rotation engine, on the four steps of AWS Secrets Manager's rotation: create (check each target
 * and keep what restores it), set (every target), test (every target, with the new secret), finish
 * (retire the old one). A failure in set or test rolls every target that was set back, so the old
 * secret keeps working everywhere; the new secret only lives in memory during the run.
 */
import { errorMessage, InfraOpsError } from '../shared/errors';
import type { FindingStatus } from '../shared/findings';
import {
	acquireLocks,
	LockedError,
	type HeldLocks,
	type LeaseLock,
	type LockOwner,
} from '../shared/locks';
import type { GeneratedSecret } from './generate';

export type RotationStep = 'create' | 'set' | 'test' | 'finish' | 'rollback';

export interface RotationTarget {
	/** e.g. `postgres-role`, `env-file`. */
	kind: string;
	/** Where, for findings; never holds a secret. */
	target: string;
	/**
	 * `restorable` targets are set first; `late` ones (whose old value cannot be read back, such as an
	 * n8n credential) only after every other target passed its test; `dependents` restart services
	 * after the others changed, and once more after a rollback.
	 */
	phase: 'restorable' | 'dependents' | 'late';
	/** Checks access and records what restores the current state; changes nothing. Returns a summary. */
	create(secret: GeneratedSecret): Promise<string>;
	set(secret: GeneratedSecret): Promise<string>;
	test(secret: GeneratedSecret): Promise<string>;
	/** Retires the old secret (e.g. removes the old key). A failure here is a warning: the new one works. */
	finish(secret: GeneratedSecret): Promise<string>;
	/**
	 * Undoes what this run's set wrote, and only while the target still holds what it wrote; called on
	 * targets whose set was attempted. Throws RollbackLeftAlone when someone else changed it since.
	 */
	rollback(): Promise<string>;
	/** Locks on the target itself that the run holds from before create until the end. */
	locks?(): Promise<LeaseLock[]>;
	close(): Promise<void>;
}

/** A rollback that found the target changed by another writer since this run's set, and left it so. */
export class RollbackLeftAlone extends InfraOpsError {
	constructor(message: string) {
		super(
			message,
			'Another writer (another rotation?) changed it after this run: check which secret it holds now',
		);
		this.name = 'RollbackLeftAlone';
	}
}

export interface RotationLocking {
	owner: LockOwner;
	waitMs: number;
	leaseMs?: number;
}

export interface StepFinding {
	check: 'secret-rotation';
	target: string;
	targetKind: string;
	step: RotationStep | 'summary';
	/** The step: each step of a target keeps its own last state for `changed`. */
	stateKey?: string;
	status: FindingStatus;
	summary: string;
	secretFingerprint: string;
	[detail: string]: unknown;
}

export interface RotationOutcome {
	/**
	 * ok: rotated; warning: rotated, but retiring the old secret failed; critical: failed and rolled
	 * back (old secret still works), or a late target (n8n credential) failed its test after its update
	 * (rotated, old secret not retired); error: a rollback failed too (`restoreByHand` names where).
	 */
	status: FindingStatus;
	rotated: boolean;
	rolledBack: boolean;
	findings: StepFinding[];
}

export interface RotationLog {
	info(message: string): void;
	warn(message: string): void;
}

/**
 * Removes the secret from any text that might echo it (an error message quoting a statement, say),
 * also in the forms a service may echo it back in: JSON-escaped (a password with `"` or `\\`),
 * percent-encoded (a connection URL) and base64 (a Docker secret's Data).
 */
export function redact(text: string, secret: GeneratedSecret): string {
	const { value } = secret;
	const forms = [
		value,
		JSON.stringify(value).slice(1, -1),
		encodeURIComponent(value),
		Buffer.from(value, 'utf8').toString('base64'),
		...value.split('\n').filter((l) => l.length >= 16),
	];
	let out = text;
	// longest first, so a form that contains another is removed whole
	for (const s of [...new Set(forms)].sort((a, b) => b.length - a.length)) {
		if (s.length >= 4) out = out.split(s).join('[redacted]');
	}
	return out;
}

export async function rotate(
	targets: RotationTarget[],
	secret: GeneratedSecret,
	log: RotationLog,
	locking?: RotationLocking,
): Promise<RotationOutcome> {
	const findings: StepFinding[] = [];
	const fingerprint = secret.metadata.fingerprint;
	const record = (
		t: RotationTarget,
		step: RotationStep,
		status: FindingStatus,
		summary: string,
	) => {
		const clean = redact(summary, secret);
		findings.push({
			check: 'secret-rotation',
			target: t.target,
			stateKey: step,
			targetKind: t.kind,
			step,
			status,
			summary: `${t.target}: ${clean}`,
			secretFingerprint: fingerprint,
		});
		(status === 'ok' ? log.info : log.warn)(
			`secret rotation ${step} ${t.kind} ${t.target}: ${status}: ${clean}`,
		);
	};
	const ordered = [
		...targets.filter((t) => t.phase === 'restorable'),
		...targets.filter((t) => t.phase === 'dependents'),
		...targets.filter((t) => t.phase === 'late'),
	];
	const attempted: RotationTarget[] = [];
	let failure: string | undefined;

	const runStep = async (
		t: RotationTarget,
		step: 'create' | 'set' | 'test',
		fn: () => Promise<string>,
	): Promise<boolean> => {
		try {
			record(t, step, 'ok', await fn());
			return true;
		} catch (error) {
			const hint = error instanceof InfraOpsError && error.hint ? ` (${error.hint})` : '';
			record(t, step, 'critical', `${step} failed: ${errorMessage(error)}${hint}`);
			failure = `${t.target}: ${step} failed`;
			return false;
		}
	};

	/** Targets whose rollback failed: what the operator has to put back by hand. */
	const unrestored: string[] = [];
	/** Targets another writer changed after this run's set: not rolled back, so that change stays. */
	const leftAlone: string[] = [];
	const rollbackAll = async (): Promise<boolean> => {
		// newest first, dependents last so they restart on the restored configuration
		const order = [...attempted].reverse();
		for (const t of [
			...order.filter((x) => x.phase !== 'dependents'),
			...order.filter((x) => x.phase === 'dependents'),
		]) {
			try {
				record(t, 'rollback', 'ok', await t.rollback());
			} catch (error) {
				if (error instanceof RollbackLeftAlone) {
					leftAlone.push(t.target);
					record(t, 'rollback', 'warning', errorMessage(error));
					continue;
				}
				unrestored.push(t.target);
				record(t, 'rollback', 'error', `rollback failed, restore by hand: ${errorMessage(error)}`);
			}
		}
		return unrestored.length === 0;
	};

	let held: HeldLocks | undefined;
	try {
		if (locking) {
			const locks: LeaseLock[] = [];
			for (const t of ordered) {
				try {
					if (t.locks) locks.push(...(await t.locks()));
				} catch (error) {
					record(t, 'create', 'critical', `cannot reach it to lock it: ${errorMessage(error)}`);
					failure = `${t.target}: lock failed`;
					return summarise('critical', false, false);
				}
			}
			try {
				held = await acquireLocks(locks, locking.owner, {
					waitMs: locking.waitMs,
					leaseMs: locking.leaseMs,
				});
			} catch (error) {
				if (!(error instanceof LockedError)) throw error;
				return locked(error);
			}
		}
		for (const t of ordered) {
			if (!(await runStep(t, 'create', () => t.create(secret))))
				return summarise('critical', false, false);
		}
		const early = ordered.filter((t) => t.phase !== 'late');
		const late = ordered.filter((t) => t.phase === 'late');
		let ok = true;
		for (const t of early) {
			attempted.push(t);
			if (!(ok = await runStep(t, 'set', () => t.set(secret)))) break;
		}
		if (ok)
			for (const t of early) if (!(ok = await runStep(t, 'test', () => t.test(secret)))) break;
		if (ok) {
			for (const t of late) {
				attempted.push(t);
				if (!(ok = await runStep(t, 'set', () => t.set(secret)))) break;
			}
		}
		if (!ok) {
			const clean = await rollbackAll();
			return summarise(clean ? 'critical' : 'error', false, true);
		}
		const lateTestsFailed: string[] = [];
		for (const t of late) {
			// the credential already holds the new secret, which every other target accepted: rolling
			// those back would break it for certain, so a failed test here is reported, not rolled back
			if (!(await runStep(t, 'test', () => t.test(secret)))) lateTestsFailed.push(t.target);
		}
		if (lateTestsFailed.length) {
			// finish retires the old secret (removes the old SSH key, say): while the updated credential
			// is in doubt, the old secret must keep working so nothing that used it is locked out
			for (const t of ordered) {
				record(
					t,
					'finish',
					'warning',
					`skipped: the old secret is not retired while ${lateTestsFailed.join(', ')} fails its test`,
				);
			}
			return summarise('critical', true, false, lateTestsFailed);
		}
		let finishWarnings = false;
		for (const t of ordered) {
			try {
				record(t, 'finish', 'ok', await t.finish(secret));
			} catch (error) {
				finishWarnings = true;
				record(
					t,
					'finish',
					'warning',
					`the new secret is in place, but finishing failed: ${errorMessage(error)}`,
				);
			}
		}
		return summarise(finishWarnings ? 'warning' : 'ok', true, false);
	} finally {
		// before close: the SSH and PostgreSQL locks live on the targets' own connections
		if (held) for (const note of await held.release()) log.warn(`secret rotation lock: ${note}`);
		await Promise.all(ordered.map((t) => t.close().catch(() => undefined)));
	}

	function locked(error: LockedError): RotationOutcome {
		findings.push({
			check: 'secret-rotation',
			target: 'rotation',
			targetKind: 'summary',
			step: 'summary',
			status: 'warning',
			summary: `${error.message}: rotation not started (${error.lockKey}); nothing was changed`,
			secretFingerprint: fingerprint,
			rotated: false,
			rolledBack: false,
			targets: ordered.map((t) => t.target),
			restoreByHand: [],
			lockedBy: error.holder ? { ...error.holder, token: undefined } : undefined,
			lock: error.lockKey,
		});
		return { status: 'warning', rotated: false, rolledBack: false, findings };
	}

	function summarise(
		status: FindingStatus,
		rotated: boolean,
		rolledBack: boolean,
		lateTestsFailed: string[] = [],
	): RotationOutcome {
		const summary = rotated
			? `Rotated ${secret.metadata.kind} ${fingerprint} on ${ordered.length} target(s)` +
				(status === 'ok'
					? ''
					: lateTestsFailed.length
						? ` but ${lateTestsFailed.join(', ')} failed its test after the update: check it by hand; the old secret was not retired (finish skipped)`
						: ' with warnings when finishing')
			: rolledBack
				? status === 'error'
					? `Rotation failed (${failure}) and the rollback failed on ${unrestored.join(', ')}: restore those by hand (see their rollback findings); the other targets were rolled back`
					: leftAlone.length
						? `Rotation failed (${failure}); rolled back, except ${leftAlone.join(', ')}: another writer changed it after this run, so its value was left alone (see its rollback finding)`
						: `Rotation failed (${failure}); every target was rolled back, the old secret still works`
				: `Rotation not started: ${failure}; nothing was changed`;
		findings.push({
			check: 'secret-rotation',
			target: 'rotation',
			targetKind: 'summary',
			step: 'summary',
			status,
			summary: redact(summary, secret),
			secretFingerprint: fingerprint,
			rotated,
			rolledBack,
			targets: ordered.map((t) => t.target),
			restoreByHand: unrestored,
			leftAlone,
		});
		return { status, rotated, rolledBack, findings };
	}
}
