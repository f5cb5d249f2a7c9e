/** The rightsizing rule: memory p95 × 1.3 up to 64 MiB steps, CPU p95 × 1.5 up to 0.1, verdicts. */
import { coresBetween, parseStats } from '../../nodes/ContainerGuard/dockerStats';
import {
	adviseCpu,
	adviseMemory,
	formatBytes,
	MIB,
	readRules,
	rightsizingFinding,
} from '../../nodes/ContainerGuard/rightsizing';

describe('rightsizing rule', () => {
	it('rounds recommendations up with headroom, never below one step', () => {
		expect(adviseMemory({ name: 'a', memoryBytes: 100 * MIB }).recommended).toBe(192 * MIB);
		expect(adviseMemory({ name: 'a', memoryBytes: 1 }).recommended).toBe(64 * MIB);
		// exactly on a step stays there: 64 MiB / 1.3 × 1.3 = 64 MiB
		expect(adviseMemory({ name: 'a', memoryBytes: (64 * MIB) / 1.3 }).recommended).toBe(64 * MIB);
		expect(adviseCpu({ name: 'a', cpuCores: 0.1 }).recommended).toBe(0.2);
		expect(adviseCpu({ name: 'a', cpuCores: 0 }).recommended).toBe(0.1);
		expect(adviseCpu({ name: 'a', cpuCores: 1.2 }).recommended).toBe(1.8);
	});

	it('verdicts: under at 90 % of the limit, over at 2 × the recommendation, unlimited, unknown', () => {
		const m = (used: number, limit?: number) =>
			adviseMemory({ name: 'a', memoryBytes: used * MIB, memoryLimitBytes: limit && limit * MIB });
		expect(m(461, 512)).toMatchObject({ verdict: 'under', freeable: 0 });
		expect(m(460, 512)).toMatchObject({ verdict: 'ok' });
		expect(m(100, 384)).toMatchObject({ verdict: 'over', freeable: 192 * MIB });
		expect(m(100, 383)).toMatchObject({ verdict: 'ok' });
		expect(m(100)).toMatchObject({ verdict: 'unlimited', recommended: 192 * MIB });
		expect(adviseMemory({ name: 'a' })).toEqual({ verdict: 'unknown' });
	});

	it('finding: worst of both, memory under is critical, CPU under a warning; changeKey is the verdicts', () => {
		const f = rightsizingFinding(
			{
				name: 'db',
				memoryBytes: 500 * MIB,
				memoryLimitBytes: 512 * MIB,
				cpuCores: 0.5,
				cpuLimitCores: 1,
			},
			'p95 over 7d from Prometheus',
		);
		expect(f).toMatchObject({ status: 'critical', changeKey: 'under|ok', target: 'db' });
		expect(f.summary).toBe(
			'db: memory 500 MiB of 512 MiB: under-provisioned (raise to 704 MiB); CPU 0.5 CPU of 1 CPU: ok (p95 over 7d from Prometheus)',
		);
		const cpuOnly = rightsizingFinding(
			{
				name: 'x',
				memoryBytes: 300 * MIB,
				memoryLimitBytes: 512 * MIB,
				cpuCores: 0.95,
				cpuLimitCores: 1,
			},
			'b',
		);
		expect(cpuOnly.status).toBe('warning');
	});

	it('rules from options are checked', () => {
		expect(readRules({ memoryHeadroom: '1.5' }).memoryHeadroom).toBe(1.5);
		expect(() => readRules({ underFraction: 1.5 })).toThrow(/at most 1/);
		expect(() => readRules({ cpuHeadroom: -1 })).toThrow(/CPU Headroom must be a number above 0/);
	});

	it('formats sizes', () => {
		expect(formatBytes(704 * MIB)).toBe('704 MiB');
		expect(formatBytes(1536 * MIB)).toBe('1.5 GiB');
		expect(formatBytes(0)).toBe('0 B');
	});
});

describe('Docker stats arithmetic (fields as the Engine API documents them)', () => {
	it('working set is usage minus inactive file (cgroup v2 and v1 names); cores over host CPU time', () => {
		const v2 = parseStats({ memory_stats: { usage: 100, stats: { inactive_file: 30 } } });
		expect(v2.workingSetBytes).toBe(70);
		const v1 = parseStats({ memory_stats: { usage: 100, stats: { total_inactive_file: 40 } } });
		expect(v1.workingSetBytes).toBe(60);
		const a = parseStats({
			cpu_stats: { cpu_usage: { total_usage: 1e9 }, system_cpu_usage: 100e9, online_cpus: 4 },
		});
		const b = parseStats({
			cpu_stats: { cpu_usage: { total_usage: 2e9 }, system_cpu_usage: 108e9, online_cpus: 4 },
		});
		// 1 s of CPU while the 4-core host ran 8 s of CPU time (2 s wall): half a core
		expect(coresBetween(a, b)).toBeCloseTo(0.5, 6);
	});
});
