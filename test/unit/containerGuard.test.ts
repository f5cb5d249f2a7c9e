/** Container Guard's pure parts: sizes as operators write them, the policy parser's errors, and the
 * compose snippet's shape (its validation against the compose-spec schema is in the integration test). */
import { parse } from 'yaml';

import { composeSnippet, memoryInUse, updateBody } from '../../nodes/ContainerGuard/apply';
import type { InspectInfo } from '../../nodes/ContainerGuard/containers';
import { globToRegExp } from '../../nodes/ContainerGuard/containers';
import { parsePolicy, policyFor, DEFAULT_POLICY } from '../../nodes/ContainerGuard/policy';
import { composeBytes, humanBytes, parseBytes, parseCpus } from '../../nodes/ContainerGuard/sizes';

const MiB = 1024 * 1024;

describe('sizes', () => {
	it('reads docker-style sizes in binary units and writes the largest whole unit', () => {
		expect(parseBytes('512m', 'Memory')).toBe(512 * MiB);
		expect(parseBytes('1.5g', 'Memory')).toBe(1.5 * 1024 * MiB);
		expect(parseBytes('256MiB', 'Memory')).toBe(256 * MiB);
		expect(parseBytes(4096, 'Memory')).toBe(4096);
		expect(() => parseBytes('-1m', 'Memory')).toThrow('Memory: "-1m" is not a size');
		expect(() => parseBytes('5 parsecs', 'Memory')).toThrow(/not a size/);
		expect(parseCpus('0.5', 'CPUs')).toBe(5e8);
		expect(() => parseCpus('0', 'CPUs')).toThrow(/not a CPU count/);
		expect(composeBytes(2 * 1024 * MiB)).toBe('2G');
		expect(composeBytes(48 * MiB)).toBe('48M');
		expect(composeBytes(1000)).toBe('1000b');
		expect(humanBytes(40.25 * MiB)).toBe('40.3 MiB');
	});
});

describe('policy', () => {
	it('parses the default policy, and the first matching entry applies (name or compose project/service)', () => {
		const entries = parsePolicy(
			`- match: "shop/db"\n  memory: 2g\n${DEFAULT_POLICY.replace(/^#.*\n/, '')}`,
		);
		expect(entries).toHaveLength(2);
		expect(entries[0]).toMatchObject({ line: 1, memory: { required: true, max: 2048 * MiB } });
		expect(
			policyFor(entries, 'shop-db-1', { project: 'shop', service: 'db', configFiles: [] }),
		).toBe(entries[0]);
		expect(policyFor(entries, 'anything')).toBe(entries[1]);
	});

	it.each([
		[
			'- match: web\n  memory: lots\n',
			/^Policy, line 2: memory: "lots" is not a size; or "required"$/,
		],
		[
			'- match: web\n  healthcheck: yes please\n',
			/^Policy, line 2: healthcheck must be true or false$/,
		],
		['- memory: 1g\n', /^Policy, line 1: the entry has no "match"$/],
		['- match: web\n  severity: loud\n', /^Policy, line 2: severity must be warning or critical$/],
		['- match: [web\n', /^Policy, line \d: not valid YAML or JSON/],
		['[]', /^Policy, line 1: the policy has no entries$/],
		['- web\n', /^Policy, line 1: each entry must be a mapping/],
	])('refuses %j naming the line', (text, message) => {
		expect(() => parsePolicy(text)).toThrow(message);
	});

	it.each([
		[
			'- match: "*"\n  memory: 512\n',
			/^Policy, line 2: memory: 512 is below 6 MiB \(write a unit: 512m, 1g\)/,
		],
		[
			'- match: "*"\n  memoryReservation: 0\n',
			/^Policy, line 2: memoryReservation: 0 is below 6 MiB/,
		],
		['- match: "*"\n  cpus: 1e308\n', /^Policy, line 2: cpus: "1e\+308" is not a CPU count/],
		['- &d {match: "*", memory: 1g}\n- <<: *d\n  match: web\n', /^Policy, line 2: merge keys/],
	])('threat: a hostile or mistyped policy %j is refused naming the line', (text, message) => {
		expect(() => parsePolicy(text)).toThrow(message);
	});

	it('newcomer: anchors and aliases as in compose files are read, and an alias bomb is refused', () => {
		const entries = parsePolicy(
			'- match: web-*\n  restartPolicy: &restart [always, unless-stopped]\n  memory: &mem 1g\n- match: "*"\n  restartPolicy: *restart\n  memory: *mem\n',
		);
		expect(entries[1]).toMatchObject({
			restartPolicy: ['always', 'unless-stopped'],
			memory: { required: true, max: 1024 * MiB },
		});
		// each entry's list holds ten of the previous one: 10^6 strings if expanded without a bound
		const bomb = [0, 1, 2, 3, 4, 5]
			.map(
				(n) =>
					`- match: m${n}\n  restartPolicy: &x${n} [${Array(10)
						.fill(n ? `*x${n - 1}` : 'always')
						.join(', ')}]`,
			)
			.join('\n');
		expect(() => parsePolicy(bomb)).toThrow(/^Policy, line \d+: restartPolicy/);
	});

	it('reads a JSON policy too', () => {
		expect(parsePolicy('[{"match": "db-*", "pidsLimit": 100}]')[0]).toMatchObject({
			match: 'db-*',
			pidsLimit: { required: true, max: 100 },
		});
		expect(globToRegExp('db-?.x*').test('db-1.x-y')).toBe(true);
		expect(globToRegExp('db-?').test('db-12')).toBe(false);
	});
});

describe('apply', () => {
	const inspect = (host: Record<string, unknown>) =>
		({ HostConfig: host, Config: {} }) as unknown as InspectInfo;

	it('always sends memory+swap with a memory limit, as chosen', () => {
		expect(updateBody({ memory: 64 * MiB, swap: 'none' }, inspect({})).body).toEqual({
			Memory: 64 * MiB,
			MemorySwap: 64 * MiB,
		});
		expect(updateBody({ memory: 64 * MiB, swap: 'double' }, inspect({})).body.MemorySwap).toBe(
			128 * MiB,
		);
		expect(updateBody({ memory: 64 * MiB, swap: 'unlimited' }, inspect({})).body.MemorySwap).toBe(
			-1,
		);
		expect(updateBody({ nanoCpus: 5e8, swap: 'none' }, inspect({})).body).toEqual({
			NanoCpus: 5e8,
		});
		expect(() =>
			updateBody({ memory: 64 * MiB, swap: 'none' }, inspect({ MemoryReservation: 128 * MiB })),
		).toThrow(/reservation 128 MiB would be above the memory limit 64 MiB/);
	});

	it('counts memory as docker stats does: usage less inactive page cache (cgroup v1 and v2 names)', () => {
		expect(memoryInUse({ memory_stats: { usage: 100, stats: { total_inactive_file: 30 } } })).toBe(
			70,
		);
		expect(memoryInUse({ memory_stats: { usage: 100, stats: { inactive_file: 40 } } })).toBe(60);
		expect(memoryInUse({ memory_stats: {} })).toBeUndefined();
	});

	it('writes limits under deploy.resources and the pids limit as pids_limit', () => {
		expect(
			parse(
				composeSnippet({
					service: 'web',
					memory: 512 * MiB,
					memoryReservation: '256M',
					cpus: 0.5,
					pidsLimit: 100,
				}),
			),
		).toEqual({
			services: {
				web: {
					deploy: {
						resources: {
							limits: { cpus: '0.5', memory: '512M' },
							reservations: { memory: '256M' },
						},
					},
					pids_limit: 100,
				},
			},
		});
	});
});
