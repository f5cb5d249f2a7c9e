import { markChanged, worstStatus, type NewFinding } from '../../nodes/shared/findings';

const finding = (target: string, status: NewFinding['status'], changeKey?: string): NewFinding => ({
	check: 'cert-expiry',
	target,
	status,
	summary: `${target} is ${status}`,
	changeKey,
});

describe('findings', () => {
	it('flags only non-ok targets on the first run, then transitions only', () => {
		const store: Record<string, unknown> = {};
		const first = markChanged([finding('a:443', 'ok'), finding('b:443', 'critical')], store);
		expect(first.map((f) => f.changed)).toEqual([false, true]);

		const second = markChanged([finding('a:443', 'ok'), finding('b:443', 'critical')], store);
		expect(second.map((f) => f.changed)).toEqual([false, false]);

		const third = markChanged([finding('a:443', 'warning'), finding('b:443', 'ok')], store);
		expect(third.map((f) => f.changed)).toEqual([true, true]);
	});

	it('treats a new change key (e.g. a renewed certificate) as a change, and never outputs the key', () => {
		const store: Record<string, unknown> = {};
		markChanged([finding('a:443', 'ok', 'fp1')], store);
		const [renewed] = markChanged([finding('a:443', 'ok', 'fp2')], store);
		expect(renewed.changed).toBe(true);
		expect(renewed).not.toHaveProperty('changeKey');
		expect(renewed).toMatchObject({
			check: 'cert-expiry',
			target: 'a:443',
			status: 'ok',
			summary: 'a:443 is ok',
		});
	});

	it('keeps state for check+target separately and survives JSON round trips (workflow static data)', () => {
		let store: Record<string, unknown> = {};
		markChanged([{ ...finding('x', 'warning'), check: 'trivy' }, finding('x', 'ok')], store);
		store = JSON.parse(JSON.stringify(store)) as Record<string, unknown>;
		const again = markChanged(
			[{ ...finding('x', 'warning'), check: 'trivy' }, finding('x', 'ok')],
			store,
		);
		expect(again.map((f) => f.changed)).toEqual([false, false]);
	});

	it("keeps a state per state key when findings share check and target (Secret Rotate's steps), and never outputs the key", () => {
		const store: Record<string, unknown> = {};
		const steps = (set: NewFinding['status'], test: NewFinding['status']) => [
			{ ...finding('db:5432', set), check: 'secret-rotation', stateKey: 'set' },
			{ ...finding('db:5432', test), check: 'secret-rotation', stateKey: 'test' },
		];
		markChanged(steps('ok', 'critical'), store);
		const again = markChanged(steps('ok', 'critical'), store);
		// keyed by check+target alone, "set ok" would have overwritten "test critical": both would flip every run
		expect(again.map((f) => f.changed)).toEqual([false, false]);
		expect(again[0]).not.toHaveProperty('stateKey');
		expect(markChanged(steps('ok', 'ok'), store).map((f) => f.changed)).toEqual([false, true]);
	});

	it('orders statuses by severity', () => {
		expect(worstStatus([])).toBe('ok');
		expect(worstStatus(['ok', 'warning', 'ok'])).toBe('warning');
		expect(worstStatus(['critical', 'error', 'warning'])).toBe('error');
	});
});
