/**
 * Retention planning on plain data: which backups to keep and why, which to delete. Pure: the
 * clock is an argument. No n8n import.
 */

export interface RetentionPolicy {
	/** Newest backups always kept; never below 1. */
	keepLast: number;
	/** Newest backup of each of the last N UTC days / ISO weeks / months that have a backup. */
	keepDaily: number;
	keepWeekly: number;
	keepMonthly: number;
	/** Backups older than this many days are deleted unless among keepLast; 0 = no limit. Set alone
	 * (no tier), everything younger than it is kept. */
	maxAgeDays: number;
}

export interface RetentionItem {
	key: string;
	at: Date;
}

export interface RetentionDecision<T extends RetentionItem> {
	item: T;
	keep: boolean;
	reasons: string[];
}

const DAY = 86_400_000;

function dayKey(d: Date): string {
	return d.toISOString().slice(0, 10);
}

function isoWeekKey(d: Date): string {
	const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
	const dayNum = t.getUTCDay() || 7;
	t.setUTCDate(t.getUTCDate() + 4 - dayNum);
	const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
	const week = Math.ceil(((t.getTime() - yearStart) / DAY + 1) / 7);
	return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

function monthKey(d: Date): string {
	return d.toISOString().slice(0, 7);
}

export function normalizePolicy(policy: Partial<RetentionPolicy>): RetentionPolicy {
	const n = (v: unknown) =>
		Number.isFinite(Number(v)) && Number(v) > 0 ? Math.floor(Number(v)) : 0;
	return {
		keepLast: Math.max(1, n(policy.keepLast)),
		keepDaily: n(policy.keepDaily),
		keepWeekly: n(policy.keepWeekly),
		keepMonthly: n(policy.keepMonthly),
		maxAgeDays: n(policy.maxAgeDays),
	};
}

export function planRetention<T extends RetentionItem>(
	items: T[],
	rawPolicy: Partial<RetentionPolicy>,
	now: Date,
): RetentionDecision<T>[] {
	const policy = normalizePolicy(rawPolicy);
	const sorted = [...items].sort((a, b) => b.at.getTime() - a.at.getTime());
	const reasons = new Map<T, string[]>(sorted.map((item) => [item, []]));
	sorted
		.slice(0, policy.keepLast)
		.forEach((item, i) => reasons.get(item)!.push(`last ${i + 1}/${policy.keepLast}`));
	const tier = (count: number, label: string, bucket: (d: Date) => string) => {
		if (count <= 0) return;
		const seen = new Set<string>();
		for (const item of sorted) {
			const b = bucket(item.at);
			if (seen.has(b)) continue;
			if (seen.size >= count) break;
			seen.add(b);
			if (policy.maxAgeDays > 0 && now.getTime() - item.at.getTime() > policy.maxAgeDays * DAY)
				continue;
			reasons.get(item)!.push(`${label} ${b}`);
		}
	};
	if (policy.maxAgeDays > 0 && !policy.keepDaily && !policy.keepWeekly && !policy.keepMonthly) {
		// max age alone: keep everything younger than it
		for (const item of sorted) {
			if (now.getTime() - item.at.getTime() <= policy.maxAgeDays * DAY)
				reasons.get(item)!.push(`within ${policy.maxAgeDays} days`);
		}
	}
	tier(policy.keepDaily, 'daily', dayKey);
	tier(policy.keepWeekly, 'weekly', isoWeekKey);
	tier(policy.keepMonthly, 'monthly', monthKey);
	return sorted.map((item) => {
		const r = reasons.get(item)!;
		return {
			item,
			keep: r.length > 0,
			reasons: r.length
				? r
				: [
						policy.maxAgeDays > 0 && now.getTime() - item.at.getTime() > policy.maxAgeDays * DAY
							? `older than ${policy.maxAgeDays} days`
							: 'outside every retention tier',
					],
		};
	});
}
