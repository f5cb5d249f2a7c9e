/** Container Guard, Usage & Rightsizing, through n8n's own engine: real Prometheus and node_exporter
 * (Debian packages) scraping a cAdvisor STAND-IN (cAdvisor is not packaged; the stand-in serves its
 * metric names and labels), and the Docker stats path on the harness's real dockerd with a busy
 * container (CPU-limited), an idle one with a large memory limit and one without limits. */
import type Dockerode from 'dockerode';
import { createServer } from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { IDataObject, INode } from 'n8n-workflow';

import { ContainerGuard } from '../../nodes/ContainerGuard/ContainerGuard.node';
import { promQuery } from '../../nodes/ContainerGuard/prometheus';
import { MIB } from '../../nodes/ContainerGuard/rightsizing';
import { loadDockerode } from '../../nodes/shared/lazy';
import { startPrometheusStack, type PrometheusStack } from '../harness/prometheus';
import { services } from '../harness/services';
import { runWorkflow, startThen, type WorkflowJson } from '../support/workflowRunner';

jest.setTimeout(120_000);

const TYPE = 'n8n-nodes-infra-ops.containerGuard';

function workflow(parameters: IDataObject, continueOnFail = false): WorkflowJson {
	return startThen(
		{
			name: 'Guard',
			type: TYPE,
			parameters: { operation: 'usage', ...parameters } as INode['parameters'],
			credentials: { infraOpsDockerApi: { id: 'docker', name: 'docker' } },
		},
		continueOnFail,
	);
}

async function runGuard(
	parameters: IDataObject,
	opts: { continueOnFail?: boolean; staticData?: IDataObject } = {},
) {
	const result = await runWorkflow({
		workflow: workflow(parameters, opts.continueOnFail),
		nodeTypes: { [TYPE]: new ContainerGuard() },
		credentials: {
			infraOpsDockerApi: { connection: 'socket', socketPath: services().docker.socketPath },
		},
		staticData: opts.staticData,
	});
	const items = result.outputs.Guard?.[0] ?? [];
	return { ...result, items, json: items.map((i) => i.json) };
}

const GIB = 1024 * MIB;

/** A rightsizing finding as the tests read it. */
interface Rightsized {
	[detail: string]: unknown;
	status: string;
	summary: string;
	memory: Record<string, unknown> & { usedBytes: number };
	cpu: Record<string, unknown> & { usedCores: number };
}

describe('Usage & Rightsizing from Prometheus (real Prometheus + node_exporter, cAdvisor stand-in)', () => {
	let stack: PrometheusStack;
	beforeAll(async () => {
		stack = await startPrometheusStack([
			{
				name: 'web',
				image: 'ghcr.io/open-webui/open-webui:main',
				labels: { 'com.docker.compose.project': 'ai', 'com.docker.compose.service': 'open-webui' },
				workingSetBytes: 200 * MIB,
				cpuCores: 0.1,
				memoryLimitBytes: GIB,
				cpuQuota: 200_000,
			},
			{
				name: 'db',
				image: 'postgres:16',
				labels: { 'com.docker.compose.project': 'ai', 'com.docker.compose.service': 'postgres' },
				workingSetBytes: 480 * MIB,
				cpuCores: 0.99,
				memoryLimitBytes: 512 * MIB,
				cpuQuota: 100_000,
			},
			{
				name: 'worker',
				image: 'n8nio/n8n:2.41.1',
				workingSetBytes: 100 * MIB,
				cpuCores: 0.5,
				memoryLimitBytes: 0,
				cpuQuota: 0,
			},
			{
				name: 'qdrant',
				image: 'qdrant/qdrant',
				workingSetBytes: 300 * MIB,
				cpuCores: 0.4,
				memoryLimitBytes: 512 * MIB,
				cpuQuota: 50_000,
			},
		]);
		// enough points for rate() over 5 s at a 1 s scrape interval: counted, not slept
		await stack.waitForSamples(8);
	});
	afterAll(async () => {
		await stack?.stop();
	});

	const base = () => ({
		usageSource: 'prometheus',
		prometheusUrl: stack.url,
		period: '1m',
		usageOptions: { rateWindow: '5s', step: '1s' },
	});

	it('p95 per container against its limits: over, under, no limit and right-sized, with recommendations and memory to free', async () => {
		const { json, error } = await runGuard({
			...base(),
			usageOptions: { rateWindow: '5s', step: '1s', includeHost: false },
		});
		expect(error).toBeUndefined();
		expect(json.map((j) => j.target)).toEqual(['db', 'qdrant', 'web', 'worker']);
		const by = new Map(json.map((j) => [j.target, j as unknown as Rightsized]));

		const web = by.get('web')!;
		expect(web).toMatchObject({
			check: 'rightsizing',
			status: 'warning',
			changed: true,
			image: 'ghcr.io/open-webui/open-webui:main',
			composeProject: 'ai',
			composeService: 'open-webui',
			basis: 'p95 over 1m from Prometheus',
		});
		// memory 200 MiB × 1.3 = 260 MiB → 320 MiB (5 × 64); the 1 GiB limit frees 704 MiB
		expect(web.memory).toMatchObject({
			verdict: 'over',
			usedBytes: 200 * MIB,
			limitBytes: GIB,
			recommendedBytes: 320 * MIB,
			freeableBytes: 704 * MIB,
			freeable: '704 MiB',
		});
		expect(web.cpu.verdict).toBe('over');
		expect(web.cpu.usedCores).toBeCloseTo(0.1, 3);
		expect(web.cpu).toMatchObject({ limitCores: 2, recommendedCores: 0.2 });
		expect(web.summary).toContain('over-provisioned (lower to 320 MiB, frees 704 MiB)');

		// 480 MiB of 512 MiB is above 90 %: an OOM kill is near
		const db = by.get('db')!;
		expect(db.status).toBe('critical');
		expect(db.memory).toMatchObject({
			verdict: 'under',
			recommendedBytes: 640 * MIB,
			freeableBytes: 0,
		});
		expect(db.cpu).toMatchObject({ verdict: 'under', limitCores: 1, recommendedCores: 1.5 });

		const worker = by.get('worker')!;
		expect(worker.status).toBe('warning');
		expect(worker.memory).toMatchObject({
			verdict: 'unlimited',
			limitBytes: null,
			recommendedBytes: 192 * MIB,
		});
		expect(worker.cpu).toMatchObject({ verdict: 'unlimited', recommendedCores: 0.8 });

		const qdrant = by.get('qdrant')!;
		expect(qdrant).toMatchObject({ status: 'ok', changed: false });
		expect(qdrant.memory).toMatchObject({ verdict: 'ok', recommendedBytes: 448 * MIB });
		expect(qdrant.cpu).toMatchObject({ verdict: 'ok', limitCores: 0.5, recommendedCores: 0.6 });
		// labels are for selecting only, never in the item
		expect(JSON.stringify(json)).not.toContain('container_label_');
	});

	it('selection by name pattern and compose project applies to cAdvisor series; changed follows verdicts only', async () => {
		const first = await runGuard({
			...base(),
			composeProject: 'ai',
			usageOptions: { rateWindow: '5s', step: '1s', includeHost: false },
		});
		expect(first.json.map((j) => j.target)).toEqual(['db', 'web']);
		const named = await runGuard({
			...base(),
			containerNames: 'w*',
			usageOptions: { rateWindow: '5s', step: '1s', includeHost: false },
		});
		expect(named.json.map((j) => j.target)).toEqual(['web', 'worker']);
		const none = await runGuard({
			...base(),
			containerNames: 'nope-*',
			usageOptions: { rateWindow: '5s', step: '1s', includeHost: false },
		});
		expect(none.json).toHaveLength(1);
		expect(none.json[0]).toMatchObject({ status: 'warning', target: 'containers' });
		expect(none.json[0].summary).toMatch(
			/^No container matching names nope-\* in cAdvisor's series/,
		);
		const again = await runGuard(
			{
				...base(),
				composeProject: 'ai',
				usageOptions: { rateWindow: '5s', step: '1s', includeHost: false },
			},
			{ staticData: first.staticData },
		);
		expect(again.json.map((j) => j.changed)).toEqual([false, false]);
	});

	it('host CPU, memory and every disk from node_exporter; the free-space floor decides disk status', async () => {
		const disks = await stack.query(
			'node_filesystem_avail_bytes{fstype!~"tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|proc|sysfs|cgroup2?|autofs|fuse[.].*"}',
		);
		const devices = new Set(disks.map((d) => d.metric.device));
		const low = await runGuard({
			...base(),
			usageOptions: { rateWindow: '5s', step: '1s', includeContainers: false, diskMinFreeGb: 1e9 },
		});
		expect(low.error).toBeUndefined();
		const instance = stack.nodeExporterUrl.replace('http://', '');
		const cpu = low.json.find((j) => j.check === 'host-cpu')!;
		expect(cpu).toMatchObject({ target: instance, thresholdPercent: 80 });
		expect(cpu.cpuPercent as number).toBeGreaterThanOrEqual(0);
		expect(cpu.cpuPercent as number).toBeLessThanOrEqual(100);
		expect(typeof cpu.cpuP95Percent).toBe('number');
		const memory = low.json.find((j) => j.check === 'host-memory')!;
		expect(memory.memoryPercent as number).toBeGreaterThan(0);
		expect(memory.memoryTotalBytes as number).toBeGreaterThan(0);
		const lowDisks = low.json.filter((j) => j.check === 'host-disk');
		expect(lowDisks).toHaveLength(devices.size);
		for (const d of lowDisks) {
			expect(d.status).toBe('critical');
			expect(d.summary).toMatch(/free of .* below/);
		}

		const fine = await runGuard({
			...base(),
			usageOptions: {
				rateWindow: '5s',
				step: '1s',
				includeContainers: false,
				diskMinFreeGb: 0,
				hostCpuWarnPercent: 101,
				hostMemoryWarnPercent: 101,
			},
		});
		const fineDisks = fine.json.filter((j) => j.check === 'host-disk');
		expect(fineDisks).toHaveLength(devices.size);
		for (const d of fineDisks) expect(d.status).toBe('ok');
		expect(fine.json.find((j) => j.check === 'host-memory')!.status).not.toBe('warning');
	});

	it('a Prometheus that is down, a query Prometheus rejects, and a URL that is not Prometheus are error findings', async () => {
		const probe = net.createServer();
		await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
		const port = (probe.address() as net.AddressInfo).port;
		await new Promise<void>((resolve) => probe.close(() => resolve()));

		const down = await runGuard({ ...base(), prometheusUrl: `http://127.0.0.1:${port}` });
		expect(down.json).toHaveLength(1);
		expect(down.json[0]).toMatchObject({ check: 'rightsizing', status: 'error', changed: true });
		expect(down.json[0].summary).toMatch(
			/Prometheus at http:\/\/127\.0\.0\.1:\d+ cannot be queried: .*ECONNREFUSED/,
		);
		expect(down.json[0].hint).toMatch(/Prometheus runs/);

		// a real error answer of Prometheus: an invalid regular expression in a label matcher
		const rejected = await runGuard({
			...base(),
			usageOptions: { rateWindow: '5s', step: '1s', containerMatchers: 'name=~"("' },
		});
		expect(rejected.json[0]).toMatchObject({ status: 'error' });
		expect(rejected.json[0].summary).toMatch(/answered 400 bad_data: .*/);
		expect(rejected.json[0].hint).toMatch(/label matchers/);

		const notProm = await runGuard({
			...base(),
			prometheusUrl: `${stack.nodeExporterUrl}/metrics`,
		});
		expect(notProm.json[0].summary).toMatch(/not the Prometheus API/);

		const badPeriod = await runGuard({ ...base(), period: 'a week' }, { continueOnFail: true });
		expect(badPeriod.json[0].error).toContain('Period "a week" is not a Prometheus duration');
		expect(badPeriod.json[0].hint).toMatch(/7d/);
		const badRule = await runGuard({ ...base(), usageOptions: { underFraction: 2 } });
		expect(badRule.error?.message).toContain(
			'Under-Provisioned Fraction must be a number above 0 and at most 1',
		);
	});
});

describe('Usage & Rightsizing from Docker stats (real dockerd)', () => {
	let docker: Dockerode;
	const made: Dockerode.Container[] = [];
	const tag = `usage-${process.pid}`;
	beforeAll(async () => {
		const Docker = loadDockerode();
		docker = new Docker({ socketPath: services().docker.socketPath });
		const start = async (name: string, cmd: string[], host: Dockerode.HostConfig) => {
			const c = await docker.createContainer({
				name: `${tag}-${name}`,
				Image: services().docker.image,
				Cmd: cmd,
				Labels: { 'infra-ops.test': tag },
				HostConfig: { NetworkMode: 'none', ...host },
			});
			made.push(c);
			await c.start();
		};
		await start('busy', ['sh', '-c', 'while :; do :; done'], {
			NanoCpus: 500_000_000,
			Memory: 64 * MIB,
		});
		await start('idle', ['sleep', '3600'], { NanoCpus: 1_000_000_000, Memory: 512 * MIB });
		await start('free', ['sleep', '3600'], {});
	});
	afterAll(async () => {
		for (const c of made) await c.remove({ force: true }).catch(() => undefined);
	});

	it('two samples a window apart: the busy container uses CPU within its limit, the idle one frees memory, the free one has no limits', async () => {
		const { json, error } = await runGuard({
			usageSource: 'docker',
			containerLabels: `infra-ops.test=${tag}`,
			sampleSeconds: 2,
		});
		expect(error).toBeUndefined();
		expect(json.map((j) => j.target)).toEqual([`${tag}-busy`, `${tag}-free`, `${tag}-idle`]);
		const [busy, free, idle] = json as unknown as Rightsized[];
		expect(busy.basis).toBe('Docker stats over 2 s');
		expect(busy.cpu.limitCores).toBe(0.5);
		expect(busy.cpu.usedCores).toBeGreaterThan(idle.cpu.usedCores);
		expect(busy.cpu.usedCores).toBeGreaterThan(0.02);
		// CFS enforces the limit; a little over it is the measuring window's edges
		expect(busy.cpu.usedCores).toBeLessThan(0.5 * 1.25);
		expect(busy.memory.limitBytes).toBe(64 * MIB);

		expect(idle.cpu.usedCores).toBeLessThan(0.02);
		expect(idle.memory).toMatchObject({
			verdict: 'over',
			limitBytes: 512 * MIB,
			recommendedBytes: 64 * MIB,
			freeableBytes: 448 * MIB,
		});
		expect(idle.cpu).toMatchObject({ verdict: 'over', limitCores: 1, recommendedCores: 0.1 });
		expect(idle.status).toBe('warning');

		expect(free.memory).toMatchObject({ verdict: 'unlimited', limitBytes: null });
		expect(free.cpu).toMatchObject({ verdict: 'unlimited', limitCores: null });
		expect(free.memory.usedBytes).toBeGreaterThan(0);

		const none = await runGuard({ usageSource: 'docker', containerNames: `${tag}-nothing` });
		expect(none.json[0]).toMatchObject({ status: 'warning', target: 'containers' });
		expect(none.json[0].summary).toContain(
			`No container matching names ${tag}-nothing running at unix://`,
		);
	});
});

describe('a Prometheus that drips its answer', () => {
	it('threat: an answer trickling one byte at a time ends at the query timeout, not never', async () => {
		// a stuck proxy in front of Prometheus: headers at once, then a byte every 100 ms, never done
		const timers = new Set<NodeJS.Timeout>();
		const server = createServer((_req, res) => {
			res.writeHead(200, { 'content-type': 'application/json' });
			const t = setInterval(() => res.write(' '), 100);
			timers.add(t);
			res.on('close', () => clearInterval(t));
		});
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		try {
			const { port } = server.address() as AddressInfo;
			const outcome = await promQuery(
				{ url: `http://127.0.0.1:${port}`, timeoutMs: 1_500 },
				'up',
			).then(
				() => 'answered',
				(error: Error) => error.message,
			);
			expect(outcome).toMatch(
				/^Prometheus at http:\/\/127\.0\.0\.1:\d+ cannot be queried: .*timed out after 1500 ms/,
			);
		} finally {
			for (const t of timers) clearInterval(t);
			server.closeAllConnections();
			await new Promise((resolve) => server.close(resolve));
		}
	}, 20_000);
});
