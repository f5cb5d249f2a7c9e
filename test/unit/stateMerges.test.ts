/**
 * How overlapping runs' writes of one value combine in the shared State Store (nodes/shared/nodeState.ts
 * merges on a lost compare-and-set): each merge is a pure function of what is stored now, what this
 * run computed, and what it read. The store itself is tested on a real PostgreSQL
 * (test/integration/stateStore.test.ts).
 */
import { mergeLatestExpiry } from '../../nodes/CertExpiry/judge';
import { mergeHealth } from '../../nodes/ContainerGuard/health';
import { mergeCursors } from '../../nodes/ContainerGuard/logDigest';
import { mergeCveState } from '../../nodes/TrivyScan/assess';
import { isTransition, markChanged, type NewFinding } from '../../nodes/shared/findings';
import { isImageChange } from '../../nodes/TrivyScan/imageFinding';

describe('State Store merges', () => {
	it('log cursors: the later cursor wins per source; a cursor this run dropped stays dropped unless moved', () => {
		const base = { 'docker a': { c1: '100', gone: '50', moved: '70' } };
		const current = {
			'docker a': { c1: '300', gone: '50', moved: '80', other: '5' },
			'loki x': { q: '9' },
		};
		const mine = { 'docker a': { c1: '200', fresh: '10' } };
		expect(mergeCursors(current, mine, base)).toEqual({
			'docker a': { c1: '300', moved: '80', other: '5', fresh: '10' },
			'loki x': { q: '9' },
		});
		// cursors are nanoseconds beyond Number's precision: compared as BigInt
		expect(
			mergeCursors({ s: { c: '1733313600000000001' } }, { s: { c: '1733313600000000002' } }, {}),
		).toEqual({ s: { c: '1733313600000000002' } });
	});

	it('health: the later sighting wins per container; one this run forgot stays forgotten unless seen since', () => {
		const seen = (lastSeen: string, condition = 'up') => ({
			id: 'x',
			samples: [],
			lastSeen,
			condition,
		});
		const base = { s: { web: seen('t1'), old: seen('t1', 'gone'), back: seen('t1', 'gone') } };
		const current = { s: { web: seen('t3', 'down'), old: seen('t1', 'gone'), back: seen('t4') } };
		const mine = { s: { web: seen('t2') } };
		expect(mergeHealth(current, mine, base)).toEqual({
			s: { web: seen('t3', 'down'), back: seen('t4') },
		});
	});

	it('Trivy CVE sets: the higher generation wins, so a claimed change key is never handed out again', () => {
		const current = { img: { ids: ['CVE-1'], generation: 3 } };
		expect(mergeCveState(current, { img: { ids: [], generation: 2 } })).toEqual(current);
		expect(mergeCveState(current, { img: { ids: ['CVE-1', 'CVE-2'], generation: 4 } })).toEqual({
			img: { ids: ['CVE-1', 'CVE-2'], generation: 4 },
		});
	});

	it('certificate latest expiry: the later date wins per target', () => {
		expect(
			mergeLatestExpiry(
				{ a: '2027-01-01', b: '2026-01-01' },
				{ a: '2026-06-01', b: '2026-09-01', c: '2026-02-01' },
			),
		).toEqual({ a: '2027-01-01', b: '2026-09-01', c: '2026-02-01' });
	});
});

describe('one change rule for both stores', () => {
	const finding = (status: NewFinding['status'], extra: Partial<NewFinding> = {}): NewFinding => ({
		check: 'c',
		target: 't',
		status,
		summary: '',
		...extra,
	});

	it('isTransition: first sighting news unless ok; then a status or change key difference', () => {
		expect(isTransition(undefined, finding('ok'))).toBe(false);
		expect(isTransition(undefined, finding('warning'))).toBe(true);
		const before = { status: 'warning' as const, changeKey: 'k', at: '' };
		expect(isTransition(before, finding('warning', { changeKey: 'k' }))).toBe(false);
		expect(isTransition(before, finding('warning', { changeKey: 'k2' }))).toBe(true);
		expect(isTransition(before, finding('ok', { changeKey: 'k' }))).toBe(true);
	});

	it('markChanged (static data) applies the rule it is given', () => {
		const store = {};
		const f = finding('critical', { newCves: ['CVE-1'], changeKey: 'cves:1' });
		expect(markChanged([f], store, new Date(0), isImageChange)[0].changed).toBe(true);
		// the same change key again (another run already reported these CVEs): no news
		expect(markChanged([f], store, new Date(1), isImageChange)[0].changed).toBe(false);
		expect(
			markChanged(
				[finding('warning', { newCves: [], changeKey: 'cves:1' })],
				store,
				new Date(2),
				isImageChange,
			)[0].changed,
		).toBe(false);
	});
});
