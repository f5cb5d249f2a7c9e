/** Trivy Scan through n8n's own execution engine. Docker mode for real on the harness's dockerd (a
 * Trivy stand-in image: container create/start/wait, log demultiplexing, exit codes, the socket
 * mount and the cache volume are real), SSH mode on the harness's sshd, local mode on this host. The
 * stand-in prints Trivy's recorded golden reports (../shared/reference/trivy), read at test time. */
import Docker from 'dockerode';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { IDataObject } from 'n8n-workflow';

import { DockerTrivyRunner } from '../../nodes/TrivyScan/dockerRunner';
import { TrivyScan } from '../../nodes/TrivyScan/TrivyScan.node';
import { runTrivyScan, scanAll, trivyImageArgs } from '../../nodes/TrivyScan/trivyRun';
import { services } from '../harness/services';
import { harnessPostgres } from '../support/harnessPostgres';
import {
	buildTrivyStandInImage,
	installTrivyStandIn,
	TRIVY_REFERENCE_DIR,
	type StandInSpec,
} from '../harness/trivyStandIn';
import { describeWithReference } from '../support/reference';
import {
	runWorkflow,
	type RunResult,
	type WorkflowJson,
	startThen,
} from '../support/workflowRunner';

const TYPE = 'n8n-nodes-infra-ops.trivyScan';
const STAND_IN = 'infra-ops-test/trivy-standin:1';
const LABEL = 'io.infra-ops.test-trivy';
const TOKEN = 'trivy-server-token-4f1c9e';
const describeRef = describeWithReference('trivy');

const APP = {
	a: 'infra-ops-test/app-a:1',
	b: 'infra-ops-test/app-b:1',
	c: 'infra-ops-test/app-c:1',
};
const ALPINE_39 = 'ghcr.io/aquasecurity/trivy-test-images:alpine-39';
const spec: StandInSpec = {
	reports: {
		[APP.a]: 'alpine-39-high-critical.json.golden',
		[APP.b]: 'alpine-310.json.golden',
		[ALPINE_39]: 'alpine-39-high-critical.json.golden',
		'debian:buster': 'debian-buster-ignore-unfixed.json.golden',
	},
	expectedToken: TOKEN,
};

let work: string;
let docker: Docker;
const cacheVolume = `trivy-cache-test-${process.pid}`;

function workflow(
	parameters: IDataObject,
	continueOnFail = false,
	stateStore = false,
): WorkflowJson {
	return startThen(
		{
			name: 'Trivy Scan',
			type: TYPE,
			parameters,
			credentials: {
				infraOpsDockerApi: { id: 'docker', name: 'docker' },
				infraOpsSshApi: { id: 'ssh', name: 'ssh' },
				infraOpsTrivyServerApi: { id: 'trivy', name: 'trivy' },
				...(stateStore ? { infraOpsStateStoreApi: { id: 'state', name: 'state' } } : {}),
			},
		},
		continueOnFail,
	);
}

async function run(
	parameters: IDataObject,
	opts: {
		input?: IDataObject[];
		staticData?: IDataObject;
		continueOnFail?: boolean;
		token?: string;
		/** State Store credential data: CVE sets and `changed` then live in that PostgreSQL table. */
		stateStore?: Record<string, unknown>;
	} = {},
): Promise<RunResult & { findings: IDataObject[] }> {
	const { ssh, docker: d } = services();
	const result = await runWorkflow({
		workflow: workflow(parameters, opts.continueOnFail, opts.stateStore !== undefined),
		nodeTypes: { [TYPE]: new TrivyScan() },
		credentials: {
			infraOpsDockerApi: { connection: 'socket', socketPath: d.socketPath },
			infraOpsSshApi: {
				host: ssh.host,
				port: ssh.port,
				username: ssh.username,
				authentication: 'privateKey',
				privateKey: ssh.privateKey,
				hostKeyFingerprint: ssh.hostKeyFingerprint,
			},
			infraOpsTrivyServerApi: {
				url: 'http://trivy-server.invalid:4954',
				token: opts.token ?? TOKEN,
			},
			...(opts.stateStore ? { infraOpsStateStoreApi: opts.stateStore } : {}),
		},
		input: opts.input,
		staticData: opts.staticData,
	});
	return { ...result, findings: (result.outputs['Trivy Scan']?.[0] ?? []).map((i) => i.json) };
}

/** Docker mode on the harness's engine: no bridge there, so the Trivy container runs without a network. */
const dockerMode = (more: IDataObject = {}): IDataObject => ({
	runner: 'docker',
	trivyImage: STAND_IN,
	...more,
	options: {
		networkMode: 'none',
		cacheVolume,
		skipDbUpdate: true,
		...((more.options as IDataObject) ?? {}),
	},
});

async function readCacheLog(): Promise<string[]> {
	const reader = await docker.createContainer({
		Image: services().docker.image,
		Cmd: ['sh', '-c', 'cat /cache/standin-scans.log 2>/dev/null; true'],
		HostConfig: { Binds: [`${cacheVolume}:/cache:ro`], NetworkMode: 'none' },
	});
	try {
		await reader.start();
		await reader.wait();
		const logs = (await reader.logs({ stdout: true, stderr: false })) as unknown as Buffer;
		// frames: 8-byte header + payload; the log lines are plain text
		const lines: string[] = [];
		let offset = 0;
		while (offset + 8 <= logs.length) {
			const length = logs.readUInt32BE(offset + 4);
			lines.push(logs.subarray(offset + 8, offset + 8 + length).toString());
			offset += 8 + length;
		}
		return lines.join('').split('\n').filter(Boolean);
	} finally {
		await reader.remove({ force: true });
	}
}

async function clearCacheLog(): Promise<void> {
	await docker
		.getVolume(cacheVolume)
		.remove()
		.catch(() => undefined);
}

async function startContainers(image: string, count: number, prefix: string): Promise<void> {
	for (let k = 0; k < count; k++) {
		const c = await docker.createContainer({
			Image: image,
			name: `${prefix}-${k + 1}`,
			Cmd: ['sleep', '3600'],
			Labels: { [LABEL]: 'yes' },
			HostConfig: { NetworkMode: 'none' },
		});
		await c.start();
	}
}

describeRef('Trivy Scan (stand-in Trivy printing recorded reports)', () => {
	beforeAll(async () => {
		work = fs.mkdtempSync(path.join(os.tmpdir(), 'trivy-test-'));
		docker = new Docker({ socketPath: services().docker.socketPath });
		await buildTrivyStandInImage(services().docker.socketPath, work, STAND_IN, spec);
		// three distinct app images (distinct IDs): commits of the busybox test image with a label each
		const base = await docker.createContainer({
			Image: services().docker.image,
			Cmd: ['true'],
			HostConfig: { NetworkMode: 'none' },
		});
		try {
			for (const [key, ref] of Object.entries(APP)) {
				const [repo, tag] = ref.split(':');
				await base.commit({ repo, tag, changes: [`LABEL app=${key}`] } as never);
			}
		} finally {
			await base.remove({ force: true });
		}
		await startContainers(APP.a, 3, 'web');
		await startContainers(APP.b, 2, 'worker');
		await startContainers(APP.c, 1, 'legacy');
	}, 120_000);

	afterAll(async () => {
		const mine = await docker.listContainers({ all: true, filters: { label: [LABEL] } });
		await Promise.all(mine.map((c) => docker.getContainer(c.Id).remove({ force: true })));
		await clearCacheLog();
		fs.rmSync(work, { recursive: true, force: true });
	});

	it('Scan Running Containers (Docker mode): one scan per distinct image, results mapped back to the containers', async () => {
		await clearCacheLog();
		const { findings, error, staticData, outputs } = await run(
			dockerMode({
				operation: 'scanRunningContainers',
				options: { containerLabel: LABEL, concurrency: 2 },
			}),
		);
		expect(error).toBeUndefined();
		expect(findings).toHaveLength(3);
		const byTarget = Object.fromEntries(findings.map((f) => [f.target as string, f]));
		expect(byTarget[APP.a]).toMatchObject({
			check: 'trivy-image',
			status: 'critical',
			changed: true,
			counts: { CRITICAL: 1, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 },
			fixable: 1,
			newCves: ['CVE-2019-14697'],
			topCves: [
				expect.objectContaining({
					id: 'CVE-2019-14697',
					installedVersion: '1.1.20-r4',
					fixedVersion: '1.1.20-r5',
					packages: ['musl', 'musl-utils'],
				}),
			],
			containers: [
				expect.objectContaining({ name: 'web-1', image: APP.a }),
				expect.objectContaining({ name: 'web-2' }),
				expect.objectContaining({ name: 'web-3' }),
			],
		});
		expect(String(byTarget[APP.a].imageId)).toMatch(/^sha256:[0-9a-f]{64}$/);
		expect(byTarget[APP.a].summary).toBe(
			`${APP.a}: 1 CRITICAL (1 fixable): CVE-2019-14697 [new: CVE-2019-14697] (alpine 3.9.4 is end of life) — used by web-1, web-2, web-3`,
		);
		expect(byTarget[APP.b]).toMatchObject({
			status: 'ok',
			changed: false,
			total: 0,
			containers: [
				expect.objectContaining({ name: 'worker-1' }),
				expect.objectContaining({ name: 'worker-2' }),
			],
		});
		// the stand-in knows no report for app-c: it fails like Trivy (exit 1), which is an error, never "no vulnerabilities"
		expect(byTarget[APP.c]).toMatchObject({
			status: 'error',
			changed: true,
			exitCode: 1,
			containers: [expect.objectContaining({ name: 'legacy-1' })],
		});
		expect(byTarget[APP.c].summary).toMatch(
			/scan failed: Trivy exited with 1 on infra-ops-test\/trivy-standin:1 on unix:\/\/.*FATAL\tunable to find the image "infra-ops-test\/app-c:1"/,
		);
		expect(byTarget[APP.c]).not.toHaveProperty('counts');
		expect(
			outputs['Trivy Scan'][0].every((i) => JSON.stringify(i.pairedItem) === '{"item":0}'),
		).toBe(true);
		// the cache volume is real: the stand-in logged each scan in it, one per distinct image
		expect((await readCacheLog()).sort()).toEqual([APP.a, APP.b, APP.c]);
		// no Trivy container is left behind
		expect(
			await docker.listContainers({ all: true, filters: { label: ['io.infra-ops.trivy-scan'] } }),
		).toEqual([]);

		// the next run: nothing new, nothing changed
		const again = await run(
			dockerMode({ operation: 'scanRunningContainers', options: { containerLabel: LABEL } }),
			{ staticData },
		);
		expect(again.findings.map((f) => [f.target, f.status, f.changed, f.newCves])).toEqual(
			expect.arrayContaining([
				[APP.a, 'critical', false, []],
				[APP.b, 'ok', false, []],
				[APP.c, 'error', false, undefined],
			]),
		);
		// MEDIUM now counts: app-b gains two CVEs, so it changed; app-a did not gain any
		const wider = await run(
			dockerMode({
				operation: 'scanRunningContainers',
				severities: ['MEDIUM', 'HIGH', 'CRITICAL'],
				options: { containerLabel: LABEL },
			}),
			{ staticData: again.staticData },
		);
		const b = wider.findings.find((f) => f.target === APP.b)!;
		expect(b).toMatchObject({
			status: 'warning',
			changed: true,
			newCves: ['CVE-2019-1549', 'CVE-2019-1551'],
		});
		expect(wider.findings.find((f) => f.target === APP.a)).toMatchObject({
			changed: false,
			newCves: [],
		});
	}, 120_000);

	it('Scan Images (Docker mode): per-vulnerability items, ignore list, server token through the config file only', async () => {
		const { findings, error } = await run(
			dockerMode({
				operation: 'scanImages',
				images: `${ALPINE_39}, debian:buster\n${ALPINE_39}`,
				useServer: true,
				ignoreList: {
					rules: [{ id: 'CVE-2019-18224', reason: 'libidn2 not reachable', expires: '2999-01-01' }],
				},
				options: { perVulnerability: true },
			}),
		);
		expect(error).toBeUndefined();
		expect(findings.map((f) => [f.check, f.target, f.status])).toEqual([
			['trivy-image', ALPINE_39, 'critical'],
			['trivy-image', 'debian:buster', 'ok'],
			['trivy-vulnerability', `${ALPINE_39} CVE-2019-14697 musl`, 'critical'],
			['trivy-vulnerability', `${ALPINE_39} CVE-2019-14697 musl-utils`, 'critical'],
		]);
		expect(findings[1]).toMatchObject({
			ignored: [{ id: 'CVE-2019-18224', reason: 'libidn2 not reachable', expires: '2999-01-01' }],
			summary: 'debian:buster: no HIGH/CRITICAL vulnerabilities (1 ignored)',
		});
		expect(findings[2]).toMatchObject({
			vulnerabilityId: 'CVE-2019-14697',
			installedVersion: '1.1.20-r4',
			fixedVersion: '1.1.20-r5',
			changed: true,
		});
		expect(JSON.stringify(findings)).not.toContain(TOKEN);

		const wrong = await run(
			dockerMode({ operation: 'scanImages', images: ALPINE_39, useServer: true }),
			{ token: 'not-the-token' },
		);
		expect(wrong.findings[0]).toMatchObject({ status: 'error', exitCode: 1 });
		expect(wrong.findings[0].summary).toMatch(/invalid token/);
		expect(JSON.stringify(wrong.findings)).not.toMatch(/not-the-token|trivy-server-token/);
	}, 120_000);

	it('a bad image name or a Trivy image that is not there: an error finding, or a clear node error', async () => {
		const bad = await run(dockerMode({ operation: 'scanImages', images: 'nosuch/image:1, -oops' }));
		expect(bad.findings.map((f) => [f.target, f.status])).toEqual([
			['nosuch/image:1', 'error'],
			['-oops', 'error'],
		]);
		expect(bad.findings[0].summary).toMatch(
			/Trivy exited with 1 .*unable to find the image "nosuch\/image:1"/,
		);
		expect(bad.findings[1].summary).toBe('-oops: scan failed: "-oops" is not an image reference');

		const absent = await run(
			dockerMode({
				operation: 'scanImages',
				images: ALPINE_39,
				trivyImage: 'infra-ops-test/no-such-trivy:9',
			}),
		);
		expect(absent.error?.name).toBe('NodeOperationError');
		expect(absent.error?.message).toMatch(
			/^The Trivy image infra-ops-test\/no-such-trivy:9 is not on the Docker host and cannot be pulled: /,
		);
		expect(absent.error?.description).toBe(
			'Pull it on the Docker host (docker pull infra-ops-test/no-such-trivy:9), or set Trivy Image to an image that is there',
		);

		const continued = await run(
			dockerMode({
				operation: 'scanImages',
				images: ALPINE_39,
				trivyImage: 'infra-ops-test/no-such-trivy:9',
			}),
			{ continueOnFail: true, input: [{ a: 1 }, { a: 2 }] },
		);
		expect(
			continued.outputs['Trivy Scan'][0].map((i) => [
				i.pairedItem,
				String(i.json.error).slice(0, 40),
			]),
		).toEqual([
			[{ item: 0 }, 'The Trivy image infra-ops-test/no-such-t'],
			[{ item: 1 }, 'The Trivy image infra-ops-test/no-such-t'],
		]);
		// the error item says what to do, as the error would
		expect(continued.outputs['Trivy Scan'][0][0].json.hint).toBe(
			'Pull it on the Docker host (docker pull infra-ops-test/no-such-trivy:9), or set Trivy Image to an image that is there',
		);

		const badIgnore = await run({
			operation: 'parseReport',
			reportText: '{"SchemaVersion":2}',
			ignoreList: { rules: [{ id: 'CVE-1', expires: 'soon' }] },
		});
		expect(badIgnore.error?.message).toBe(
			'The ignore rule for CVE-1 has an expiry "soon" that is not a date',
		);
	}, 120_000);

	it("Docker mode: a scan longer than the Docker client's request timeout still completes; one past the scan timeout is killed and removed", async () => {
		const slow = 'infra-ops-test/trivy-standin-slow:1';
		await buildTrivyStandInImage(
			services().docker.socketPath,
			fs.mkdtempSync(path.join(work, 'slow-')),
			slow,
			{ ...spec, scanSeconds: 12 },
		);
		// Docker's wait is a long poll: with a 2 s client timeout it is cut several times during a 12 s scan
		const impatient = new Docker({ socketPath: services().docker.socketPath, timeout: 2000 });
		// its own volume: the killed stand-in leaves its scan cache lock behind
		const runner = new DockerTrivyRunner(
			impatient,
			{
				trivyImage: slow,
				hostSocketPath: services().docker.socketPath,
				cacheVolume: `${cacheVolume}-killed`,
				networkMode: 'none',
			},
			'test',
		);
		const options = {
			severities: ['HIGH' as const, 'CRITICAL' as const],
			ignoreUnfixed: false,
			skipDbUpdate: true,
			timeoutSeconds: 60,
			cacheDir: '/root/.cache/trivy',
		};
		const done = await runTrivyScan(runner, ALPINE_39, options);
		expect(done.ok ? 'ok' : done.error).toBe('ok');
		expect(done).toMatchObject({ ok: true, image: ALPINE_39 });
		expect(done.seconds).toBeGreaterThanOrEqual(12);

		const started = Date.now();
		const killed = await runner
			.run(trivyImageArgs(ALPINE_39, options), {}, 1500)
			.catch((error: Error) => error);
		expect((killed as Error).message).toBe(
			'Trivy in infra-ops-test/trivy-standin-slow:1 on test did not finish within 1500 ms',
		);
		// killed, not waited for: well before the 12 s scan would end
		expect(Date.now() - started).toBeLessThan(10_000);
		expect(
			await docker.listContainers({ all: true, filters: { label: ['io.infra-ops.trivy-scan'] } }),
		).toEqual([]);
		await docker
			.getVolume(`${cacheVolume}-killed`)
			.remove()
			.catch(() => undefined);
	}, 60_000);

	it('threat: the Trivy Server token cannot be read with `docker inspect` of the scan container (not in its Env, Cmd or Args), yet Trivy gets it', async () => {
		const held = 'infra-ops-test/trivy-standin-held:1';
		// each scan stops after its token check until released, so the container is inspected while it runs
		await buildTrivyStandInImage(
			services().docker.socketPath,
			fs.mkdtempSync(path.join(work, 'held-')),
			held,
			{ ...spec, holdUntilReleased: true },
		);
		const scan = run(
			dockerMode({ operation: 'scanImages', images: ALPINE_39, useServer: true, trivyImage: held }),
		);
		let running: Docker.ContainerInfo | undefined;
		for (let i = 0; i < 600 && !running; i++) {
			[running] = await docker.listContainers({
				filters: { label: ['io.infra-ops.trivy-scan'], ancestor: [held], status: ['running'] },
			});
			if (!running) await new Promise((r) => setTimeout(r, 100));
		}
		expect(running).toBeDefined();
		const container = docker.getContainer(running!.Id);
		try {
			const inspected = await container.inspect();
			const raw = JSON.stringify(inspected);
			expect(raw).not.toContain(TOKEN);
			expect(inspected.Config.Env.filter((e) => e.startsWith('TRIVY_TOKEN'))).toEqual([]);
			expect(inspected.Args).toEqual(
				expect.arrayContaining(['--server', '--config', '/tmp/infra-ops-trivy/trivy.yaml']),
			);
			// the file itself: root only, mode 0400 (the stand-in refuses any other mode)
			const archive = (await container.getArchive({
				path: '/tmp/infra-ops-trivy/trivy.yaml',
			})) as unknown as NodeJS.ReadableStream;
			const chunks: Buffer[] = [];
			for await (const chunk of archive) chunks.push(Buffer.from(chunk as Buffer));
			const tar = Buffer.concat(chunks);
			expect(parseInt(tar.subarray(100, 107).toString(), 8) & 0o7777).toBe(0o400);
		} finally {
			const release = await container.exec({ Cmd: ['touch', '/tmp/standin-release'] });
			await release.start({ Detach: true });
		}
		const { findings, error } = await scan;
		expect(error).toBeUndefined();
		// the stand-in compares the token it read with the expected one and fails "invalid token" otherwise
		expect(findings.map((f) => [f.target, f.status])).toEqual([[ALPINE_39, 'critical']]);
		expect(JSON.stringify(findings)).not.toContain(TOKEN);
		expect(
			await docker.listContainers({ all: true, filters: { label: ['io.infra-ops.trivy-scan'] } }),
		).toEqual([]);
	}, 120_000);

	it("Docker mode, concurrent scans on one cache volume: none waits for or fails on Trivy's scan cache lock", async () => {
		const locking = 'infra-ops-test/trivy-standin-8s:1';
		const volume = `${cacheVolume}-lock`;
		// each scan holds the stand-in's scan cache lock for 8 s, longer than the 5 s Trivy waits for it
		await buildTrivyStandInImage(
			services().docker.socketPath,
			fs.mkdtempSync(path.join(work, 'lock-')),
			locking,
			{ ...spec, scanSeconds: 8 },
		);
		const runner = new DockerTrivyRunner(
			docker,
			{
				trivyImage: locking,
				hostSocketPath: services().docker.socketPath,
				cacheVolume: volume,
				networkMode: 'none',
			},
			'test',
		);
		const options = {
			severities: ['HIGH' as const, 'CRITICAL' as const],
			ignoreUnfixed: false,
			skipDbUpdate: false,
			timeoutSeconds: 60,
			cacheDir: '/root/.cache/trivy',
		};
		try {
			const outcomes = await scanAll(runner, [ALPINE_39, 'debian:buster', APP.a], options, 3);
			expect(outcomes.map((o) => (o.ok ? 'ok' : o.error))).toEqual(['ok', 'ok', 'ok']);
			// the stand-in does enforce the lock: two scans on the fs scan cache at once, and the second fails as Trivy does
			const clash = await Promise.all(
				[ALPINE_39, 'debian:buster'].map(
					async (image) => await runTrivyScan(runner, image, options),
				),
			);
			expect(clash.filter((o) => !o.ok).map((o) => !o.ok && o.error)).toEqual([
				expect.stringMatching(/cache may be in use by another process: timeout$/),
			]);
		} finally {
			await docker
				.getVolume(volume)
				.remove()
				.catch(() => undefined);
		}
	}, 120_000);

	it('SSH mode: trivy (the stand-in) on the remote host; a missing trivy is an error finding', async () => {
		const trivyPath = installTrivyStandIn(
			path.join(services().ssh.dataDir, `trivy-${process.pid}`),
			spec,
		);
		const { findings, error } = await run({
			operation: 'scanImages',
			runner: 'ssh',
			trivyPath,
			images: `${ALPINE_39}\nnosuch:1`,
			useServer: true,
		});
		expect(error).toBeUndefined();
		expect(findings.map((f) => [f.target, f.status, f.scannedOn])).toEqual([
			[ALPINE_39, 'critical', `${services().ssh.username}@127.0.0.1:${services().ssh.port}`],
			['nosuch:1', 'error', `${services().ssh.username}@127.0.0.1:${services().ssh.port}`],
		]);
		expect(JSON.stringify(findings)).not.toContain(TOKEN);

		const missing = await run({
			operation: 'scanImages',
			runner: 'ssh',
			trivyPath: '/nonexistent/trivy',
			images: ALPINE_39,
		});
		expect(missing.findings[0]).toMatchObject({ status: 'error', exitCode: 127 });
		expect(missing.findings[0].summary).toMatch(/trivy was not found on/);
	}, 60_000);

	it('Local mode: the trivy program on the n8n host', async () => {
		const trivyPath = installTrivyStandIn(path.join(work, 'local'), spec);
		const { findings } = await run({
			operation: 'scanImages',
			runner: 'local',
			trivyPath,
			images: 'debian:buster',
		});
		expect(findings[0]).toMatchObject({
			status: 'critical',
			counts: expect.objectContaining({ CRITICAL: 1 }),
			topCves: [
				expect.objectContaining({
					id: 'CVE-2019-18224',
					title: 'libidn2: heap-based buffer overflow in idn2_to_ascii_4i in lib/lookup.c',
				}),
			],
		});
		const absent = await run({
			operation: 'scanImages',
			runner: 'local',
			trivyPath: '/nonexistent/trivy',
			images: 'debian:buster',
		});
		expect(absent.findings[0]).toMatchObject({ status: 'error' });
		expect(absent.findings[0].summary).toMatch(
			/\/nonexistent\/trivy was not found on the n8n host/,
		);
	}, 60_000);

	it('Parse Report: a recorded report from binary input or text, changed only when a CVE is new', async () => {
		const text = fs.readFileSync(path.join(TRIVY_REFERENCE_DIR, 'alpine-310.json.golden'));
		const binary = await run(
			{ operation: 'parseReport', reportSource: 'binary', severities: ['MEDIUM'] },
			{
				input: [
					{
						json: {},
						binary: {
							data: {
								data: text.toString('base64'),
								mimeType: 'application/json',
								fileName: 'report.json',
							},
						},
					} as unknown as IDataObject,
				],
			},
		);
		expect(binary.findings).toEqual([
			expect.objectContaining({
				target: 'ghcr.io/aquasecurity/trivy-test-images:alpine-310',
				status: 'warning',
				changed: true,
				total: 2,
				newCves: ['CVE-2019-1549', 'CVE-2019-1551'],
			}),
		]);
		const again = await run(
			{ operation: 'parseReport', reportText: text.toString('utf8'), severities: ['MEDIUM'] },
			{ staticData: binary.staticData },
		);
		expect(again.findings[0]).toMatchObject({ changed: false, newCves: [] });
		const notJson = await run({ operation: 'parseReport', reportText: 'Total: 3 (HIGH: 3)' });
		expect(notJson.error?.message).toMatch(/^Report JSON is not JSON/);
		expect(notJson.error?.description).toMatch(/--format json/);
	});
});

describeRef('Trivy Scan Parse Report with the State Store (recorded report)', () => {
	it('of 10 overlapping runs seeing the same new CVEs, one reports them; static data stays empty', async () => {
		const stateStore = harnessPostgres({
			table: `trivy_state_${process.pid}`,
		});
		const text = fs.readFileSync(path.join(TRIVY_REFERENCE_DIR, 'alpine-310.json.golden'), 'utf8');
		const params = { operation: 'parseReport', reportText: text, severities: ['MEDIUM'] };
		const runs = await Promise.all(
			Array.from({ length: 10 }, async () => await run(params, { stateStore, staticData: {} })),
		);
		for (const r of runs) expect(r.staticData).toEqual({});
		const reported = runs.flatMap((r) => r.findings).filter((f) => f.changed === true);
		expect(reported).toEqual([
			expect.objectContaining({
				target: 'ghcr.io/aquasecurity/trivy-test-images:alpine-310',
				newCves: ['CVE-2019-1549', 'CVE-2019-1551'],
			}),
		]);
		// the next run knows them: nothing new, nothing changed
		const again = await run(params, { stateStore, staticData: {} });
		expect(again.findings[0]).toMatchObject({ changed: false, newCves: [] });
	});
});

describe('Trivy Scan Running Containers with nothing to scan', () => {
	it('says so as an error finding that alerts once, instead of no items; Trivy is not started', async () => {
		const label = `${LABEL}=nobody-${process.pid}`;
		const parameters = {
			operation: 'scanRunningContainers',
			runner: 'docker',
			trivyImage: 'infra-ops-test/no-such-trivy:9',
			options: { containerLabel: label },
		};
		const first = await run(parameters, { input: [{ a: 1 }] });
		expect(first.error).toBeUndefined();
		expect(first.findings).toEqual([
			expect.objectContaining({
				check: 'trivy-image',
				target: `unix://${services().docker.socketPath}`,
				status: 'error',
				changed: true,
				summary: `No running container on unix://${services().docker.socketPath} has the label ${label}: no image was scanned`,
				labelFilter: label,
				containers: [],
			}),
		]);
		expect(first.outputs['Trivy Scan'][0].map((i) => i.pairedItem)).toEqual([{ item: 0 }]);
		const again = await run(parameters, { staticData: first.staticData });
		expect(again.findings.map((f) => [f.status, f.changed])).toEqual([['error', false]]);
	});
});
