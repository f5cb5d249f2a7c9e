/**
 * Container Guard → Error Logs against the harness's real dockerd (containers with and without a
 * TTY, so both the raw and the multiplexed log stream are read), and against a Loki STAND-IN: Loki
 * does not run here, so a small HTTP server answers /loki/api/v1/query_range in the response format
 * Loki's HTTP API documentation gives (`status`, `data.resultType: "streams"`, `data.result[].stream`
 * and `values: [["<ns>", "<line>"]]`, start inclusive, end exclusive, `limit`, `direction=forward`).
 * Waits are on what Docker reports (log lines present), never on sleeps.
 */
import Docker from 'dockerode';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IDataObject } from 'n8n-workflow';

import { ContainerGuard } from '../../nodes/ContainerGuard/ContainerGuard.node';
import { normaliseMessage } from '../../nodes/ContainerGuard/logDigest';
import { waitUntil } from '../harness/proc';
import { services } from '../harness/services';
import { harnessPostgres } from '../support/harnessPostgres';
import { runWorkflow, startThen } from '../support/workflowRunner';

const TYPE = 'n8n-nodes-infra-ops.containerGuard';
const LABEL = 'io.infra-ops.test-logs';
const RUN = `l${process.pid}`;

let docker: Docker;

async function run(
	parameters: IDataObject,
	staticData: IDataObject = {},
	continueOnFail = false,
	/** State Store credential data: cursors and `changed` then live in that PostgreSQL table. */
	stateStore?: Record<string, unknown>,
) {
	const result = await runWorkflow({
		workflow: startThen(
			{
				name: 'Logs',
				type: TYPE,
				parameters: { operation: 'errorLogs', ...parameters },
				credentials: {
					infraOpsDockerApi: { id: 'docker', name: 'docker' },
					...(stateStore ? { infraOpsStateStoreApi: { id: 'state', name: 'state' } } : {}),
				},
			},
			continueOnFail,
		),
		nodeTypes: { [TYPE]: new ContainerGuard() },
		credentials: {
			infraOpsDockerApi: { connection: 'socket', socketPath: services().docker.socketPath },
			...(stateStore ? { infraOpsStateStoreApi: stateStore } : {}),
		},
		staticData,
	});
	return {
		...result,
		out: (result.outputs.Logs?.[0] ?? []).map((i) => i.json),
		paired: (result.outputs.Logs?.[0] ?? []).map((i) => i.pairedItem),
	};
}

async function logsOf(c: Docker.Container): Promise<string> {
	const buf = (await c.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
	return buf.toString('latin1');
}

/** Starts a container and waits until its logs contain `marker` (it printed everything before it). */
async function start(name: string, script: string, marker: string, tty = false) {
	const c = await docker.createContainer({
		name: `${RUN}-${name}`,
		Image: services().docker.image,
		Cmd: ['sh', '-c', script],
		Tty: tty,
		Labels: { [LABEL]: RUN },
		HostConfig: { NetworkMode: 'none' },
	});
	await c.start();
	await waitUntil(`${name} to log ${marker}`, async () => (await logsOf(c)).includes(marker), {
		timeoutMs: 60_000,
		intervalMs: 100,
	});
	return c;
}

/** Containers start and log on a loaded 2-core machine. */
const SLOW = 120_000;

const byTarget = (out: IDataObject[]) => Object.fromEntries(out.map((f) => [String(f.target), f]));

beforeAll(() => {
	docker = new Docker({ socketPath: services().docker.socketPath });
});

afterAll(async () => {
	const mine = await docker.listContainers({ all: true, filters: { label: [`${LABEL}=${RUN}`] } });
	await Promise.all(mine.map((c) => docker.getContainer(c.Id).remove({ force: true })));
});

describe('normaliseMessage', () => {
	it('masks numbers, ids, addresses and timestamps so repeats group together', () => {
		expect(
			normaliseMessage(
				'2026-12-04T10:00:01.123Z ERROR request 3f2a9c1e7b failed after 1500ms from 10.0.3.7:5432 (trace 0b7e2f4c-1d2a-4b3c-9d8e-7f6a5b4c3d2e)',
			),
		).toBe('<time> ERROR request <id> failed after <n>ms from <ip> (trace <uuid>)');
	});
});

describe('Error Logs from Docker (real dockerd)', () => {
	it(
		'digests new error lines per container, with and without a TTY, and a second run sees only new lines',
		async () => {
			// no TTY: the log stream is multiplexed (stdout and stderr frames)
			await start(
				'api',
				[
					'echo "level=info msg=\\"listening on :8080\\""',
					'echo "level=error msg=\\"db timeout after 3012ms\\" req=a1b2c3d4e5" >&2',
					'echo "level=error msg=\\"db timeout after 15ms\\" req=ffee00112233"',
					'echo "level=error msg=\\"db timeout after 99ms\\" req=0a0b0c0d0e0f" >&2',
					'echo "Traceback (most recent call last):"',
					'echo "phase1-done"',
					'while [ ! -f /tmp/go ]; do sleep 0.1; done',
					'echo "FATAL: could not open file \\"base/16384/2619\\": No such file"',
					'echo "phase2-done"',
					'exec sleep 3600',
				].join('\n'),
				'phase1-done',
			);
			// TTY: the log stream is raw, lines end in \r\n
			const worker = await start(
				'worker',
				[
					'echo "panic: runtime error: index out of range [5] with length 3"',
					'echo "everything fine"',
					'echo "phase1-done"',
					'exec sleep 3600',
				].join('\n'),
				'phase1-done',
				true,
			);
			await start('quiet', 'echo "all good"; echo phase1-done; exec sleep 3600', 'phase1-done');

			const params = { containerLabels: `${LABEL}=${RUN}`, logHost: 'h1', topMessages: 3 };
			const first = await run(params);
			expect(first.error).toBeUndefined();
			const f1 = byTarget(first.out);
			expect(Object.keys(f1).sort()).toEqual([`h1/${RUN}-api`, `h1/${RUN}-worker`]);
			const api = f1[`h1/${RUN}-api`];
			expect(api).toMatchObject({
				check: 'log-errors',
				status: 'warning',
				changed: true,
				errorLines: 4,
				linesRead: 6,
				source: 'docker',
				truncated: false,
			});
			const top = api.topMessages as IDataObject[];
			expect(top[0]).toMatchObject({
				message: 'level=error msg="db timeout after <n>ms" req=<id>',
				count: 3,
			});
			expect(Date.parse(String(top[0].first))).toBeLessThanOrEqual(Date.parse(String(top[0].last)));
			expect(top[1]).toMatchObject({ message: 'Traceback (most recent call last):', count: 1 });
			expect(api.summary).toContain('4 new error lines');
			expect(f1[`h1/${RUN}-worker`]).toMatchObject({
				errorLines: 1,
				topMessages: [
					expect.objectContaining({
						example: 'panic: runtime error: index out of range [5] with length 3',
					}),
				],
			});
			expect(first.paired).toEqual(first.out.map(() => ({ item: 0 })));
			const cursors = (first.staticData.node as IDataObject | undefined) ?? first.staticData;
			expect(JSON.stringify(cursors)).toContain('infraOpsLogCursors');

			// nothing new: no item at all, so a workflow sends nothing
			const second = await run(params, first.staticData);
			expect(second.error).toBeUndefined();
			expect(second.out).toEqual([]);

			// new lines in one container: only those
			const apiC = docker.getContainer(`${RUN}-api`);
			const exec = await apiC.exec({ Cmd: ['touch', '/tmp/go'] });
			await exec.start({ Detach: true });
			await waitUntil(
				'api to log phase2-done',
				async () => (await logsOf(apiC)).includes('phase2-done'),
				{
					timeoutMs: 60_000,
					intervalMs: 100,
				},
			);
			const third = await run(params, second.staticData);
			expect(third.out).toHaveLength(1);
			expect(third.out[0]).toMatchObject({
				target: `h1/${RUN}-api`,
				errorLines: 1,
				linesRead: 2,
				changed: true,
				topMessages: [
					expect.objectContaining({
						message: 'FATAL: could not open file "base/<n>/<n>": No such file',
						count: 1,
					}),
				],
			});
			expect(await worker.inspect()).toMatchObject({
				Config: expect.objectContaining({ Tty: true }),
			});
		},
		SLOW,
	);

	it(
		'reads at most Max KiB per container and run, and the next runs continue where it stopped',
		async () => {
			await start(
				'noisy',
				[
					'i=0',
					'while [ $i -lt 300 ]; do echo "ERROR job $i failed: connection refused by upstream service at the usual place"; i=$((i+1)); done',
					'echo noisy-done',
					'exec sleep 3600',
				].join('\n'),
				'noisy-done',
			);
			const params = { containerNames: `${RUN}-noisy`, maxKib: 4, criticalAbove: 20 };
			let staticData: IDataObject = {};
			let total = 0;
			const runs: IDataObject[] = [];
			for (let n = 0; n < 20; n++) {
				const r = await run(params, staticData);
				expect(r.error).toBeUndefined();
				staticData = r.staticData;
				if (!r.out.length) break;
				runs.push(r.out[0]);
				total += Number(r.out[0].errorLines);
			}
			expect(runs.length).toBeGreaterThan(2);
			expect(runs[0]).toMatchObject({ truncated: true, status: 'critical' });
			expect(Number(runs[0].errorLines)).toBeLessThan(300);
			// every line exactly once over the runs: none lost at the byte bound, none read twice
			expect(total).toBe(300);
		},
		SLOW,
	);

	for (const tty of [false, true])
		it(
			`threat: one log line longer than Max KiB (${tty ? 'TTY' : 'no TTY'}) does not stall the cursor: the error after it is reported`,
			async () => {
				// 200 KB without a newline (a minified JSON dump, a base64 blob), then an error line
				await start(
					`long-${tty ? 'tty' : 'plain'}`,
					[
						"head -c 200000 /dev/zero | tr '\\0' a",
						'echo',
						'echo "ERROR after the long line"',
						'echo long-done',
						'exec sleep 3600',
					].join('\n'),
					'long-done',
					tty,
				);
				const params = { containerNames: `${RUN}-long-${tty ? 'tty' : 'plain'}`, maxKib: 8 };
				let staticData: IDataObject = {};
				const seen: string[] = [];
				for (let n = 0; n < 6 && !seen.some((s) => s.includes('after the long line')); n++) {
					const r = await run(params, staticData);
					expect(r.error).toBeUndefined();
					staticData = r.staticData;
					for (const f of r.out) seen.push(JSON.stringify(f.topMessages ?? f.summary));
				}
				expect(seen.join('\n')).toContain('ERROR after the long line');
			},
			SLOW,
		);

	it('refuses an invalid error pattern with a hint, and continueOnFail turns it into an error item', async () => {
		const failed = await run({ containerNames: 'none', errorPattern: '(unclosed' });
		expect(failed.error?.message).toMatch(/not a valid regular expression/);
		const soft = await run({ containerNames: 'none', errorPattern: '(unclosed' }, {}, true);
		expect(soft.out).toEqual([
			expect.objectContaining({ error: expect.stringMatching(/not a valid regular expression/) }),
		]);
		expect(soft.out[0].hint).toMatch(/regular expression/);
	});
});

describe('Error Logs from a Loki stand-in (documented query_range format; Loki does not run here)', () => {
	let server: Server;
	let url = '';
	const queries: URLSearchParams[] = [];
	const now = BigInt(Date.now()) * 1_000_000n;
	const entries: { stream: Record<string, string>; ns: bigint; line: string }[] = [
		{
			stream: { container: 'flowise', job: 'docker' },
			ns: now - 50_000_000_000n,
			line: 'ERROR upstream 502 from 10.0.0.5:3000',
		},
		{
			stream: { container: 'flowise', job: 'docker' },
			ns: now - 40_000_000_000n,
			line: 'ERROR upstream 504 from 10.0.0.6:3000',
		},
		{ stream: { container: 'flowise', job: 'docker' }, ns: now - 30_000_000_000n, line: 'info ok' },
		{
			stream: { container: 'qdrant', job: 'docker' },
			ns: now - 20_000_000_000n,
			line: 'panic: disk full',
		},
	];

	beforeAll(async () => {
		server = createServer((req, res) => {
			const u = new URL(req.url ?? '/', 'http://stand-in');
			if (u.pathname !== '/loki/api/v1/query_range') {
				res.writeHead(404).end('404 page not found');
				return;
			}
			queries.push(u.searchParams);
			const start = BigInt(u.searchParams.get('start') ?? '0');
			const end = BigInt(u.searchParams.get('end') ?? String(now));
			const limit = Number(u.searchParams.get('limit') ?? 100);
			const selected = entries
				.filter((e) => e.ns >= start && e.ns < end)
				.sort((a, b) => (a.ns < b.ns ? -1 : 1))
				.slice(0, limit);
			const streams = new Map<
				string,
				{ stream: Record<string, string>; values: [string, string][] }
			>();
			for (const e of selected) {
				const key = JSON.stringify(e.stream);
				const s = streams.get(key) ?? { stream: e.stream, values: [] };
				s.values.push([String(e.ns), e.line]);
				streams.set(key, s);
			}
			res.writeHead(200, { 'content-type': 'application/json' });
			res.end(
				JSON.stringify({
					status: 'success',
					data: { resultType: 'streams', result: [...streams.values()], stats: {} },
				}),
			);
		});
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	});

	afterAll(async () => {
		await new Promise((resolve) => server.close(resolve));
	});

	it('groups error lines per container label and moves its cursor past what it reported', async () => {
		const params = {
			logSource: 'loki',
			lokiUrl: url,
			lokiQuery: '{job="docker"}',
			lokiTenant: 't1',
		};
		const first = await run(params);
		expect(first.error).toBeUndefined();
		const f = byTarget(first.out);
		expect(Object.keys(f).sort()).toEqual(['loki/flowise', 'loki/qdrant']);
		expect(f['loki/flowise']).toMatchObject({
			errorLines: 2,
			linesRead: 3,
			source: 'loki',
			topMessages: [expect.objectContaining({ message: 'ERROR upstream <n> from <ip>', count: 2 })],
		});
		expect(queries[0].get('direction')).toBe('forward');
		expect(queries[0].get('query')).toBe('{job="docker"}');

		const second = await run(params, first.staticData);
		expect(second.out).toEqual([]);
		expect(BigInt(queries[1].get('start') ?? '0')).toBe(now - 20_000_000_000n + 1n);

		entries.push({
			stream: { container: 'qdrant', job: 'docker' },
			ns: BigInt(Date.now()) * 1_000_000n - 1_000_000n,
			line: 'panic: disk full',
		});
		const third = await run(params, second.staticData);
		expect(third.out).toEqual([
			expect.objectContaining({ target: 'loki/qdrant', errorLines: 1, changed: true }),
		]);
	});

	it('with the State Store and static data empty on every run, the cursor holds and overlapping runs report new lines once', async () => {
		const stateStore = harnessPostgres({
			table: `guard_logs_${process.pid}`,
		});
		// its own query, so its own cursor (the stand-in answers every query alike)
		const params = { logSource: 'loki', lokiUrl: url, lokiQuery: '{job="docker",via="store"}' };
		const first = await run(params, {}, false, stateStore);
		expect(first.error).toBeUndefined();
		expect(first.staticData).toEqual({});
		expect(Object.keys(byTarget(first.out)).sort()).toEqual(['loki/flowise', 'loki/qdrant']);
		const second = await run(params, {}, false, stateStore);
		expect(second.out).toEqual([]);

		entries.push({
			stream: { container: 'flowise', job: 'docker' },
			ns: BigInt(Date.now()) * 1_000_000n - 1_000_000n,
			line: 'ERROR upstream 500 from 10.0.0.7:3000',
		});
		const overlapping = await Promise.all(
			Array.from({ length: 5 }, async () => await run(params, {}, false, stateStore)),
		);
		const reported = overlapping.flatMap((r) => r.out).filter((f) => f.changed === true);
		expect(reported).toEqual([
			expect.objectContaining({ target: 'loki/flowise', errorLines: 1, changed: true }),
		]);
		// and the cursor moved past it for good
		expect((await run(params, {}, false, stateStore)).out).toEqual([]);
	});

	it('says what is wrong when Loki answers an error', async () => {
		const r = await run({ logSource: 'loki', lokiUrl: `${url}/nope`, lokiQuery: '{job="x"}' });
		expect(r.error?.message).toMatch(/answered 404/);
		const bad = await run({ logSource: 'loki', lokiUrl: url, lokiQuery: 'rate(x)' });
		expect(bad.error?.message).toMatch(/stream selector/);
	});
});
