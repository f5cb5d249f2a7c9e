/**
 * Real Prometheus and node_exporter (Debian's `prometheus`, `prometheus-node-exporter`) on loopback
 * ports with a generated config and a 1 s scrape interval, plus a cAdvisor STAND-IN that Prometheus
 * scrapes: cAdvisor is not packaged, so a small HTTP exporter serves series with cAdvisor's metric
 * names and labels (`container_memory_working_set_bytes{id,image,name,container_label_*}`,
 * `container_cpu_usage_seconds_total{...,cpu="total"}`, `container_spec_memory_limit_bytes`,
 * `container_spec_cpu_quota`, `container_spec_cpu_period`; see cAdvisor's docs/storage/prometheus.md).
 * Like cAdvisor it stamps each sample with its own timestamp, so a counter growing at r per second
 * gives rate() = r exactly. Prometheus, its scraping and PromQL stay real.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { Daemon, freePort, requireBinary, waitUntil } from './proc';

export interface StandInContainer {
	name: string;
	image: string;
	/** Docker labels, exposed as container_label_<key with . and - as _>. */
	labels?: Record<string, string>;
	workingSetBytes: number;
	/** Cores used: the CPU counter grows by this many seconds per second. */
	cpuCores: number;
	/** 0: no limit (cAdvisor reports 0 then). */
	memoryLimitBytes: number;
	/** CFS quota in µs per period; 0: no CPU limit. */
	cpuQuota: number;
	cpuPeriod?: number;
}

export interface PrometheusStack {
	/** http://127.0.0.1:<port> */
	url: string;
	nodeExporterUrl: string;
	cadvisorUrl: string;
	/** Instant query, the `result` array of a successful answer. */
	query(
		promql: string,
	): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
	/** Waits (by querying, not sleeping) until every stand-in container has `n` memory samples and
	 * node_exporter `n` CPU samples in Prometheus. */
	waitForSamples(n: number, timeoutMs?: number): Promise<void>;
	stop(): Promise<void>;
}

function labelName(key: string): string {
	return `container_label_${key.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** The exposition text cAdvisor would serve for these containers at time `now` (ms). */
export function cadvisorExposition(
	containers: StandInContainer[],
	startedAt: number,
	now: number,
): string {
	const lines: string[] = [];
	const series = (
		metric: string,
		help: string,
		type: 'gauge' | 'counter',
		value: (c: StandInContainer) => number,
		extra = '',
	) => {
		lines.push(`# HELP ${metric} ${help}`, `# TYPE ${metric} ${type}`);
		for (const c of containers) {
			const id = `/docker/${Buffer.from(c.name).toString('hex').padEnd(64, '0').slice(0, 64)}`;
			const labels = [
				...Object.entries(c.labels ?? {}).map(([k, v]) => `${labelName(k)}="${esc(v)}"`),
				...(extra ? [extra] : []),
				`id="${id}"`,
				`image="${esc(c.image)}"`,
				`name="${esc(c.name)}"`,
			].join(',');
			lines.push(`${metric}{${labels}} ${value(c)} ${now}`);
		}
	};
	const elapsed = (now - startedAt) / 1000;
	series(
		'container_cpu_usage_seconds_total',
		'Cumulative cpu time consumed in seconds.',
		'counter',
		(c) => c.cpuCores * elapsed,
		'cpu="total"',
	);
	series(
		'container_memory_working_set_bytes',
		'Current working set in bytes.',
		'gauge',
		(c) => c.workingSetBytes,
	);
	series(
		'container_spec_memory_limit_bytes',
		'Memory limit for the container.',
		'gauge',
		(c) => c.memoryLimitBytes,
	);
	series('container_spec_cpu_quota', 'CPU quota of the container.', 'gauge', (c) => c.cpuQuota);
	series(
		'container_spec_cpu_period',
		'CPU period of the container.',
		'gauge',
		(c) => c.cpuPeriod ?? 100_000,
	);
	return `${lines.join('\n')}\n`;
}

export async function startPrometheusStack(
	containers: StandInContainer[],
): Promise<PrometheusStack> {
	const prometheusBin = requireBinary('prometheus', 'prometheus');
	const nodeExporterBin = requireBinary('prometheus-node-exporter', 'prometheus-node-exporter');
	const parent = process.env.INFRA_OPS_SERVICES
		? path.dirname(process.env.INFRA_OPS_SERVICES)
		: os.tmpdir();
	const dir = fs.mkdtempSync(path.join(parent, 'prometheus-'));

	const startedAt = Date.now();
	const sockets = new Set<Socket>();
	const standIn = http.createServer((req, res) => {
		if (req.url !== '/metrics') return void res.writeHead(404).end();
		res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
		res.end(cadvisorExposition(containers, startedAt, Date.now()));
	});
	standIn.on('connection', (s: Socket) => {
		sockets.add(s);
		s.once('close', () => sockets.delete(s));
	});
	await new Promise<void>((resolve) => standIn.listen(0, '127.0.0.1', resolve));
	const cadvisorPort = (standIn.address() as AddressInfo).port;

	const daemons: Daemon[] = [];
	const stop = async () => {
		await Promise.allSettled(daemons.map((d) => d.stop()));
		for (const s of sockets) s.destroy();
		await new Promise<void>((resolve) => standIn.close(() => resolve()));
		fs.rmSync(dir, { recursive: true, force: true });
	};

	try {
		const nodePort = await freePort();
		const nodeExporter = new Daemon(
			'node_exporter',
			nodeExporterBin,
			[
				`--web.listen-address=127.0.0.1:${nodePort}`,
				// only what the host findings read: quicker scrapes, no hardware probing
				'--collector.disable-defaults',
				'--collector.cpu',
				'--collector.meminfo',
				'--collector.filesystem',
			],
			{ logFile: path.join(dir, 'node_exporter.log') },
		);
		daemons.push(nodeExporter);

		const promPort = await freePort();
		const config = [
			'global:',
			'  scrape_interval: 1s',
			'  evaluation_interval: 1s',
			'scrape_configs:',
			'  - job_name: cadvisor',
			'    static_configs:',
			`      - targets: ['127.0.0.1:${cadvisorPort}']`,
			'  - job_name: node',
			'    static_configs:',
			`      - targets: ['127.0.0.1:${nodePort}']`,
			'',
		].join('\n');
		fs.writeFileSync(path.join(dir, 'prometheus.yml'), config);
		const prometheus = new Daemon(
			'prometheus',
			prometheusBin,
			[
				`--config.file=${path.join(dir, 'prometheus.yml')}`,
				`--storage.tsdb.path=${path.join(dir, 'data')}`,
				`--web.listen-address=127.0.0.1:${promPort}`,
				'--storage.tsdb.retention.time=1h',
			],
			{ logFile: path.join(dir, 'prometheus.log') },
		);
		daemons.push(prometheus);

		const url = `http://127.0.0.1:${promPort}`;
		const get = async (u: string) =>
			await new Promise<{ status: number; body: string }>((resolve, reject) => {
				http
					.get(u, (res) => {
						let body = '';
						res.setEncoding('utf8');
						res.on('data', (c: string) => (body += c));
						res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
					})
					.on('error', reject);
			});
		await waitUntil(
			'node_exporter',
			async () => (await get(`http://127.0.0.1:${nodePort}/metrics`)).status === 200,
			{
				timeoutMs: 30_000,
				daemon: nodeExporter,
			},
		);
		await waitUntil('prometheus ready', async () => (await get(`${url}/-/ready`)).status === 200, {
			timeoutMs: 60_000,
			daemon: prometheus,
		});

		const query: PrometheusStack['query'] = async (promql) => {
			const { body } = await get(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
			const parsed = JSON.parse(body) as {
				status: string;
				error?: string;
				data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
			};
			if (parsed.status !== 'success') throw new Error(`${promql}: ${parsed.error}`);
			return parsed.data.result;
		};
		const waitForSamples = async (n: number, timeoutMs = 60_000) => {
			await waitUntil(
				`${n} scrapes of the cAdvisor stand-in and node_exporter`,
				async () => {
					const memory = await query('count_over_time(container_memory_working_set_bytes[10m])');
					const cpu = await query('count_over_time(node_cpu_seconds_total{mode="idle"}[10m])');
					return (
						memory.length === containers.length &&
						memory.every((r) => Number(r.value[1]) >= n) &&
						cpu.length > 0 &&
						cpu.every((r) => Number(r.value[1]) >= n)
					);
				},
				{ timeoutMs, daemon: prometheus, intervalMs: 250 },
			);
		};
		return {
			url,
			nodeExporterUrl: `http://127.0.0.1:${nodePort}`,
			cadvisorUrl: `http://127.0.0.1:${cadvisorPort}`,
			query,
			waitForSamples,
			stop,
		};
	} catch (error) {
		await stop();
		throw error;
	}
}
