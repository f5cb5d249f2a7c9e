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

/** Previous state per check+target (+ state key), as kept in workflow static data. */
export type FindingState = Record<
	string,
	{ status: FindingStatus; changeKey?: string; at: string }
>;

const STATE_KEY = 'infraOpsFindings';

/**
 * Marks each finding `changed` when its status or change key differs from the last run's, stores
 * the new state in `store` (an n8n workflow static data object, or any plain object), and returns
 * the findings. A target seen for the first time counts as changed only when it is not ok, so a
 * new workflow does not alert on every healthy target.
 */
export function markChanged(
	findings: NewFinding[],
	store: Record<string, unknown>,
	now: Date = new Date(),
): Finding[] {
	const state = ((store[STATE_KEY] as FindingState | undefined) ?? {}) as FindingState;
	const out = findings.map(({ changeKey, stateKey, ...finding }) => {
		const key = `${finding.check}|${finding.target}${stateKey ? `|${stateKey}` : ''}`;
		const before = state[key];
		const changed = before
			? before.status !== (finding.status as FindingStatus) ||
				(before.changeKey ?? '') !== (changeKey ?? '')
			: finding.status !== 'ok';
		state[key] = { status: finding.status as FindingStatus, changeKey, at: now.toISOString() };
		return { ...finding, changed } as Finding;
	});
	store[STATE_KEY] = state;
	return out;
}
