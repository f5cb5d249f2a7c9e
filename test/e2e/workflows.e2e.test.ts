/**
 * End-to-end: every workflow in workflows/ runs in a real n8n 2.x with the packed package installed as a
 * community package, against the harness's real services, and is opened in Chromium. A workflow file
 * without a scenario (test/e2e/scenarios/<name>.ts) fails. Before those, the suite proves itself with its
 * own test-only workflow (test/e2e/workflows/harness-probe.json) and checks that n8n lists our types.
 *
 * Prints `E2E <workflow file> ok <what was checked>` per workflow (and `E2E <workflow file> [<variant>] ok …` per
 * variant of its scenario) and `E2E workflows=<n> passed=<n> variants=<v> passed=<v>`: n counts workflow
 * files, a file passes when its run and all its variants passed; v counts the variant runs.
 *
 * `npm run test:e2e -- --queue` (INFRA_OPS_E2E_MODE=queue) runs the same against n8n in queue mode: Redis,
 * PostgreSQL, one main and two workers (scripts/n8n/queue.js), checks from the workers' logs that both ran
 * executions, and prints `E2E queue workers=2 workflows=<n> passed=<n>`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import * as n8n from '../../scripts/n8n/n8n';
import { services } from '../harness/services';
import { canvasProblems, startBrowser, type BrowserSession } from './browser';
import {
	QUEUE_WORKERS,
	startInstance,
	variantEntry,
	webhookNodes,
	WEBHOOK_HEADER,
	type E2eInstance,
	type E2eMode,
	type WorkflowEntry,
} from './instance';
import {
	loadScenario,
	scenarioPath,
	type Execution,
	type RunContext,
	type WorkflowJson,
} from './scenario';
import { overlapEntry } from './overlap';
import { startSinks, type Sinks } from './sinks';

jest.setTimeout(10 * 60_000);

const ROOT = path.resolve(__dirname, '../..');
const OUTPUT = path.join(ROOT, 'test-output', 'e2e');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
	name: string;
	n8n: { nodes: string[]; credentials: string[] };
};

const mode: E2eMode = process.env.INFRA_OPS_E2E_MODE === 'queue' ? 'queue' : 'regular';
const say = (line: string) => process.stdout.write(`${line}\n`);
const note = (line: string) => process.stderr.write(`[e2e] ${line}\n`);

const entry = (file: string): WorkflowEntry => ({
	file,
	label: path.relative(ROOT, file),
	json: JSON.parse(fs.readFileSync(file, 'utf8')) as WorkflowJson,
	scenario: loadScenario(file),
});

/** The files this suite must cover: all of workflows/*.json, as they arrive. */
const allWorkflows = n8n.workflowFiles().map(entry);
/** While developing one workflow: INFRA_OPS_E2E_ONLY=name[,name] runs only those (CI never sets it; the totals line says so). */
const only = (process.env.INFRA_OPS_E2E_ONLY ?? '')
	.split(',')
	.map((s) => s.trim())
	.filter(Boolean);
const repoWorkflows = only.length
	? allWorkflows.filter((e) => only.includes(path.basename(e.file, '.json')))
	: allWorkflows;
/** The scenarios' variants (e.g. the restic engine), each run after its workflow's own run. */
const variants = repoWorkflows.flatMap((e) =>
	(e.scenario?.variants ?? []).map((v) => variantEntry(e, v)),
);
const probe = entry(path.join(__dirname, 'workflows', 'harness-probe.json'));
/** A workflow with a node type nobody provides: the browser check must flag it. */
const canary: WorkflowJson = {
	name: 'E2E canary: unknown node',
	nodes: [
		{
			id: 'c0a1b2c3-d4e5-4f60-8172-839405a6b701',
			name: 'Start',
			type: 'n8n-nodes-base.manualTrigger',
			typeVersion: 1,
			position: [0, 0],
			parameters: {},
		},
		{
			id: 'c0a1b2c3-d4e5-4f60-8172-839405a6b702',
			name: 'Not a node',
			type: `${pkg.name}.noSuchNode`,
			typeVersion: 1,
			position: [240, 0],
			parameters: {},
		},
		// sticky notes the browser check must flag: one drawn over a node, one too small for its text
		{
			id: 'c0a1b2c3-d4e5-4f60-8172-839405a6b703',
			name: 'Over a node',
			type: 'n8n-nodes-base.stickyNote',
			typeVersion: 1,
			position: [200, -40],
			parameters: { content: '## Over a node', width: 200, height: 180 },
		},
		{
			id: 'c0a1b2c3-d4e5-4f60-8172-839405a6b704',
			name: 'Too small',
			type: 'n8n-nodes-base.stickyNote',
			typeVersion: 1,
			position: [0, 300],
			parameters: {
				content: `## Too small\n${'This note has far more text than its size can show. '.repeat(6)}`,
				width: 160,
				height: 80,
			},
		},
	],
	connections: { Start: { main: [[{ node: 'Not a node', type: 'main', index: 0 }]] } },
	settings: { executionOrder: 'v1' },
};
/** Queue mode: the certificate workflow's overlap test (test/e2e/overlap.ts). */
const overlap = mode === 'queue' ? overlapEntry() : undefined;
const canaryEntry: WorkflowEntry = {
	file: path.join(__dirname, 'workflows', 'canary.json'),
	label: 'canary',
	json: canary,
};

let sinks: Sinks | undefined;
let instance: E2eInstance | undefined;
let browser: BrowserSession | undefined;
let harnessOk = 0;
/** Labels of the runs that passed (a workflow file's own and its variants'). */
const passedRuns = new Set<string>();

beforeAll(async () => {
	const t0 = Date.now();
	fs.rmSync(OUTPUT, { recursive: true, force: true });
	fs.mkdirSync(OUTPUT, { recursive: true });
	sinks = await startSinks();
	instance = await startInstance({
		services: services(),
		sinks,
		entries: [probe, canaryEntry, ...repoWorkflows, ...variants, ...(overlap ? [overlap] : [])],
		log: note,
		mode,
	});
	browser = await startBrowser(instance.baseUrl, instance.owner, pkg.name);
	note(
		`ready in ${((Date.now() - t0) / 1000).toFixed(1)}s (n8n start ${(instance.startedInMs / 1000).toFixed(1)}s)`,
	);
}, 45 * 60_000);

afterAll(async () => {
	await browser?.close().catch((err: Error) => note(`browser close: ${err.message}`));
	await instance?.stop();
	for (const e of [probe, ...repoWorkflows, ...variants, ...(overlap ? [overlap] : [])])
		await e.prepared?.cleanup?.();
	const passed = repoWorkflows.filter(
		(e) =>
			passedRuns.has(e.label) &&
			variants.every((v) => v.variantOf!.entry !== e || passedRuns.has(v.label)),
	).length;
	const variantsPassed = variants.filter((v) => passedRuns.has(v.label)).length;
	await sinks?.close();
	say(`E2E harness passed=${harnessOk} of 3`);
	say(
		`E2E ${mode === 'queue' ? `queue workers=${QUEUE_WORKERS} ` : ''}workflows=${repoWorkflows.length} passed=${passed} variants=${variants.length} passed=${variantsPassed}${only.length ? ` (INFRA_OPS_E2E_ONLY: ${allWorkflows.length - repoWorkflows.length} not run)` : ''}`,
	);
}, 120_000);

function context(e: WorkflowEntry): RunContext {
	const inst = instance!;
	const hooks = webhookNodes(e.json).filter((n) => n.parameters.authentication === 'headerAuth');
	const webhook: RunContext['webhook'] = async ({
		body,
		auth = true,
		path: which,
		headers,
		rawBody,
	} = {}) => {
		const node = which
			? (hooks.find((n) => n.parameters.path === which) ??
				webhookNodes(e.json).find((n) => n.parameters.path === which))
			: hooks.length === 1
				? hooks[0]
				: undefined;
		if (!node)
			throw new Error(
				`${e.label}: ${which ? `no header-auth Webhook with path ${which}` : `expected one header-auth Webhook trigger, found ${hooks.length}`}`,
			);
		const method = String(node.parameters.httpMethod ?? 'GET');
		const res = await fetch(`${inst.baseUrl}/webhook/${String(node.parameters.path)}`, {
			method,
			headers: {
				...(auth ? { [WEBHOOK_HEADER]: inst.webhookToken } : {}),
				...((body === undefined && rawBody === undefined) || method === 'GET'
					? {}
					: { 'content-type': 'application/json' }),
				...(headers ?? {}),
			},
			body:
				method === 'GET'
					? undefined
					: (rawBody ?? (body === undefined ? undefined : JSON.stringify(body))),
		});
		return { status: res.status, body: await res.text() };
	};
	return {
		services: services(),
		sinks: sinks!,
		n8nBaseUrl: inst.baseUrl,
		file: e.file,
		workflow: { id: e.id!, name: e.json.name, json: e.json },
		api: inst.api,
		webhook,
		runWebhook: async ({ body, path: which, timeoutMs, headers, rawBody } = {}) => {
			const before = await inst.lastExecutionId(e.id!);
			const res = await webhook({ body, path: which, headers, rawBody });
			if (res.status !== 200)
				throw new Error(`${e.label}: webhook answered HTTP ${res.status}: ${res.body}`);
			return await inst.waitForExecution(e.id!, before, timeoutMs);
		},
		outputOf: (execution: Execution, nodeName: string, output = 0) => {
			const runs = execution.data?.resultData.runData[nodeName];
			if (!runs) {
				const error = execution.data?.resultData.error;
				throw new Error(
					`node "${nodeName}" did not run in execution #${execution.id} (${execution.status}${error ? `: ${error.message}` : ''})`,
				);
			}
			return (runs[0].data?.main?.[output] ?? []).map((item) => item.json);
		},
		credential: (type: string) => {
			const data = inst.credentialsOf(e).get(type);
			if (!data) throw new Error(`no ${type} credential in the suite`);
			return data;
		},
		workers: inst.workers,
		workflowIdByName: (name: string) => {
			const id = inst.workflowIds.get(name);
			if (!id) throw new Error(`no imported workflow named "${name}"`);
			return id;
		},
	};
}

async function runEntry(e: WorkflowEntry): Promise<string> {
	if (!e.scenario) {
		throw new Error(
			`${e.label} has no end-to-end scenario: add ${path.relative(ROOT, scenarioPath(e.file))} (see test/e2e/README.md)`,
		);
	}
	const checks: string[] = [];
	if (e.scenario.publish !== false) {
		await instance!.api('POST', `/workflows/${e.id}/publish`, {});
		checks.push('published');
		// n8n registers a published workflow's webhooks asynchronously: until then they answer 404
		const ctx = context(e);
		const hooks = webhookNodes(e.json).filter((n) => n.parameters.authentication === 'headerAuth');
		for (const hook of hooks) {
			const deadline = Date.now() + 30_000;
			let res = await ctx.webhook({ auth: false, path: String(hook.parameters.path), body: {} });
			while (res.status === 404 && Date.now() < deadline) {
				await new Promise((r) => setTimeout(r, 200));
				res = await ctx.webhook({ auth: false, path: String(hook.parameters.path), body: {} });
			}
			// n8n's Webhook node answers 403 (not 401) to a missing or wrong header
			if (res.status !== 403)
				throw new Error(
					`${e.label}: Webhook "${hook.name}" without the ${WEBHOOK_HEADER} header answered HTTP ${res.status}, expected 403: ${res.body}`,
				);
		}
		if (hooks.length > 0)
			checks.push(
				`${hooks.length === 1 ? 'webhook refuses' : `${hooks.length} webhooks refuse`} a call without the header (403)`,
			);
	}
	checks.push(await e.scenario.run(context(e)));
	// a variant is the same canvas as its workflow's, checked in that run
	if (e.variantOf) return checks.join('; ');
	checks.push(
		await browser!.checkWorkflow(
			e.id!,
			e.json,
			path.join(OUTPUT, `${path.basename(e.file, '.json')}.png`),
			// the workflows of workflows/ explain themselves: a visible "Start here" note (workflows/README.md)
			{ startNote: e !== probe },
		),
	);
	return checks.join('; ');
}

describe('harness', () => {
	it('n8n lists our node and credential types, and their icons load in Chromium', async () => {
		const types = await browser!.packTypes(pkg.name);
		const credentialNames = types.credentials.map((t) => t.name).sort();
		expect(credentialNames).toHaveLength(pkg.n8n.credentials.length);
		expect(credentialNames.every((n) => n.startsWith('infraOps'))).toBe(true);
		// n8n adds an AI-agent tool variant (<name>Tool) of each node that is usableAsTool
		const names = new Set(types.nodes.map((t) => t.name));
		const nodes = types.nodes.filter(
			(t) => !(t.name.endsWith('Tool') && names.has(t.name.slice(0, -4))),
		);
		expect(nodes).toHaveLength(pkg.n8n.nodes.length);
		for (const t of [...types.nodes, ...types.credentials]) {
			expect({
				type: t.name,
				icons: t.icons.length > 0 && t.icons.every((i) => i.width > 0),
			}).toEqual({ type: t.name, icons: true });
		}
		say(
			`E2E harness pack ok ${nodes.length} node types (${nodes.map((t) => t.displayName).join(', ') || 'none yet'}; ` +
				`+${types.nodes.length - nodes.length} AI tool variants) and ` +
				`${types.credentials.length} credential types of ${pkg.name} listed by n8n, every icon loaded in Chromium`,
		);
		harnessOk++;
	});

	it('the browser check flags a node type n8n does not know', async () => {
		const error = await browser!
			.checkWorkflow(canaryEntry.id!, canary, path.join(OUTPUT, 'harness-canary.png'), {
				startNote: true,
			})
			.then(
				() => undefined,
				(err: Error) => err,
			);
		expect(error?.message).toContain(`node "Not a node" (${pkg.name}.noSuchNode) shows as unknown`);
		expect(error?.message).toContain('no sticky note named "Start here"');
		expect(error?.message).toContain('sticky note "Over a node" covers node "Not a node"');
		expect(error?.message).toContain('sticky note "Too small" cuts off its text');
		expect(
			canvasProblems(
				[
					{
						name: 'x',
						type: `${pkg.name}.x`,
						notInstalled: false,
						placeholderIcon: false,
						issues: false,
						icon: { src: '/x.svg', loaded: false },
					},
				],
				pkg.name,
			),
		).toEqual([`node "x" (${pkg.name}.x): icon did not render (/x.svg)`]);
		say(
			'E2E harness canary ok an unknown node type, a missing Start here note, a note over a node and a note that cuts off its text each fail the browser check',
		);
		harnessOk++;
	});

	it(probe.label, async () => {
		const checked = await runEntry(probe);
		say(`E2E harness ${probe.label} ok ${checked}`);
		harnessOk++;
	});
});

describe('workflows/', () => {
	if (repoWorkflows.length === 0) {
		it('has no workflow files yet: nothing to run', () => {
			expect(repoWorkflows).toEqual([]);
		});
	}
	for (const e of [...repoWorkflows, ...variants]) {
		it(e.label, async () => {
			const checked = await runEntry(e);
			say(`E2E ${e.label} ok ${checked}`);
			passedRuns.add(e.label);
		});
	}
});

if (mode === 'queue') {
	describe('queue mode', () => {
		it(overlap!.label, async () => {
			const checked = await runEntry(overlap!);
			say(`E2E ${overlap!.label} ok ${checked}`);
		});

		// after every workflow ran: n8n's execution records do not say which worker ran an execution, but each
		// worker logs "Worker started execution <id>" (info level, its own output); every id it names must be a
		// finished execution record, none may appear in two workers' logs, and each worker must have run some
		it(`the ${QUEUE_WORKERS} workers both ran executions`, async () => {
			const inst = instance!;
			const byWorker = inst.workers.map((w) => ({ name: w.name, ids: w.executionIds() }));
			const all = byWorker.flatMap((w) => w.ids);
			expect(new Set(all).size).toBe(all.length);
			for (const id of all) {
				const record = await inst.api<{ id: string; finished: boolean; status: string }>(
					'GET',
					`/executions/${id}`,
				);
				expect({ id: record.id, status: record.status }).toEqual({
					id,
					status: expect.stringMatching(/^(success|error|canceled)$/),
				});
			}
			expect(byWorker.map((w) => ({ name: w.name, ran: w.ids.length > 0 }))).toEqual(
				byWorker.map((w) => ({ name: w.name, ran: true })),
			);
			say(
				`E2E queue executions ${byWorker.map((w) => `${w.name}=${w.ids.length}`).join(' ')} (from each worker's "Worker started execution <id>" log lines, each a finished execution record)`,
			);
		});
	});
}
