/** The one output shape every check emits (DESIGN.md, "Findings"), and the `changed` flag computed
 * against the previous run so active workflows can alert on transitions only. */

export type FindingStatus = 'ok' | 'warning' | 'critical' | 'error';

export interface Finding {
	check: string;
	target: string;
	status: FindingStatus;
	summary: string;
	changed: boolean;
	[detail: string]: unknown;
}

export type NewFinding = Omit<Finding, 'changed'> & {
	/** What else, besides status, counts as a change (e.g. a certificate fingerprint, a CVE list).
	 * Kept in the state store only; never copied into the item. */
	changeKey?: string;
	/** Tells apart findings that share check and target (e.g. Secret Rotate's steps), so each keeps its
	 * own last state. Kept in the state store's key only; never copied into the item. */
	stateKey?: string;
};

const SEVERITY: Record<FindingStatus, number> = { ok: 0, warning: 1, critical: 2, error: 3 };

export function worstStatus(statuses: Iterable<FindingStatus>): FindingStatus {
	let worst: FindingStatus = 'ok';
	for (const s of statuses) if (SEVERITY[s] > SEVERITY[worst]) worst = s;
	return worst;
}

/** What a store keeps of a finding's last run, per check+target (+ state key). */
export interface PreviousState {
	status: FindingStatus;
	changeKey?: string;
	/** ISO time of the observation that wrote it. */
	at: string;
}

/** Previous state per check+target (+ state key), as kept in workflow static data. */
export type FindingState = Record<string, PreviousState>;

/** Decides whether a finding is news given what its store kept of the last run (undefined: never seen). */
export type ChangeRule = (before: PreviousState | undefined, finding: NewFinding) => boolean;

const STATE_KEY = 'infraOpsFindings';

/** The key a finding's last state is kept under, in every store. */
export function findingStateKey(finding: NewFinding): string {
	return `${String(finding.check)}|${String(finding.target)}${finding.stateKey ? `|${finding.stateKey}` : ''}`;
}

/**
 * The one rule both stores apply: news when the status or change key differs from the last run's.
 * A target seen for the first time counts as changed only when it is not ok, so a new workflow does
 * not alert on every healthy target.
 */
export const isTransition = (
	before: PreviousState | undefined,
	finding: { status?: unknown; changeKey?: string },
): boolean =>
	before
		? before.status !== finding.status || (before.changeKey ?? '') !== (finding.changeKey ?? '')
		: finding.status !== 'ok';

/** The finding as an item: `changed` set, the store-only fields dropped. */
export function asFinding(finding: NewFinding, changed: boolean): Finding {
	// eslint-disable-next-line @typescript-eslint/no-unused-vars
	const { changeKey, stateKey, ...rest } = finding;
	return { ...rest, changed } as Finding;
}

/**
 * Marks each finding `changed` by `rule` (default: isTransition) against the last run's state in
 * `store` (an n8n workflow static data object, or any plain object), stores the new state there,
 * and returns the findings. The shared PostgreSQL store (stateStore.ts) applies the same rule.
 */
export function markChanged(
	findings: NewFinding[],
	store: Record<string, unknown>,
	now: Date = new Date(),
	rule: ChangeRule = isTransition,
): Finding[] {
	const state = ((store[STATE_KEY] as FindingState | undefined) ?? {}) as FindingState;
	const out = findings.map((finding) => {
		const key = findingStateKey(finding);
		const changed = rule(state[key], finding);
		state[key] = {
			status: finding.status as FindingStatus,
			changeKey: finding.changeKey,
			at: now.toISOString(),
		};
		return asFinding(finding, changed);
	});
	store[STATE_KEY] = state;
	return out;
}
