/** The Traefik Config node through n8n's own engine (WorkflowExecute): real sshd for the files, a
 * recorded-response Traefik API (../shared/reference/traefik/api/ bodies) for Get Status and the
 * deploy verification; parameters, continueOnFail, pairedItem and static data as n8n runs them. */
import { createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
	NodeConnectionTypes,
	type IDataObject,
	type INode,
	type INodeExecutionData,
} from 'n8n-workflow';

import { TraefikConfig } from '../../nodes/TraefikConfig/TraefikConfig.node';
import { services } from '../harness/services';
import {
	describeWithTraefikReference as describeRef,
	startTraefikReplay,
	type TraefikReplay,
} from '../support/traefikApiReplay';
import { runWorkflow, type RunResult, type WorkflowJson } from '../support/workflowRunner';

const TYPE = 'n8n-nodes-infra-ops.traefikConfig';

jest.setTimeout(30_000);

const replays: TraefikReplay[] = [];
afterAll(async () => {
	for (const r of replays) await r.close();
});

type Step = { name: string; parameters: IDataObject; continueOnFail?: boolean };

function workflow(steps: Step[]): WorkflowJson {
	const nodes: INode[] = [
		{
			id: '0',
			name: 'Start',
			type: 'test.start',
			typeVersion: 1,
			position: [0, 0],
			parameters: {},
		},
	];
	const connections: WorkflowJson['connections'] = {};
	let previous = 'Start';
	steps.forEach((step, k) => {
		nodes.push({
			id: String(k + 1),
			name: step.name,
			type: TYPE,
			typeVersion: 1,
			position: [200 * (k + 1), 0],
			parameters: step.parameters as INode['parameters'],
			...(step.continueOnFail ? { onError: 'continueRegularOutput' as const } : {}),
			credentials: {
				infraOpsSshApi: { id: 'ssh', name: 'ssh' },
				infraOpsTraefikApi: { id: 'traefik', name: 'traefik' },
				infraOpsGitWebhookApi: { id: 'hook', name: 'hook' },
			},
		});
		connections[previous] = {
			main: [[{ node: step.name, type: NodeConnectionTypes.Main, index: 0 }]],
		};
		previous = step.name;
	});
	return { name: 'traefik config test', nodes, connections, settings: { executionOrder: 'v1' } };
}

const WEBHOOK_SECRET = 'node-test-webhook-secret-0123456789';

async function run(
	steps: Step[],
	opts: {
		input?: IDataObject[] | INodeExecutionData[];
		traefikUrl?: string;
		traefikAuth?: IDataObject;
	} = {},
): Promise<RunResult & { out: (name: string) => IDataObject[] }> {
	const { ssh } = services();
	const result = await runWorkflow({
		workflow: workflow(steps),
		nodeTypes: { [TYPE]: new TraefikConfig() },
		credentials: {
			infraOpsSshApi: {
				host: ssh.host,
				port: ssh.port,
				username: ssh.username,
				authentication: 'privateKey',
				privateKey: ssh.privateKey,
				hostKeyFingerprint: ssh.hostKeyFingerprint,
			},
			infraOpsTraefikApi: {
				url: opts.traefikUrl ?? 'http://127.0.0.1:9',
				authentication: 'none',
				...(opts.traefikAuth ?? {}),
			},
			infraOpsGitWebhookApi: { secret: WEBHOOK_SECRET },
		},
		input: opts.input,
	});
	return { ...result, out: (name: string) => (result.outputs[name]?.[0] ?? []).map((i) => i.json) };
}

let counter = 0;
function folder() {
	const root = path.join(services().ssh.dataDir, `traefik-node-${process.pid}-${++counter}`);
	const dynamicDir = path.join(root, 'dynamic');
	fs.mkdirSync(dynamicDir, { recursive: true });
	return { root, dynamicDir, backupDir: path.join(root, 'history') };
}

const ROUTERS = `# hand-written, keep me
http:
  routers:
    n8n:
      rule: Host(\`n8n.example.com\`)
      service: n8n # the editor
    n8n-api:
      rule: Host(\`n8n.example.com\`) && PathPrefix(\`/api\`)
      service: n8n
  services:
    n8n:
      loadBalancer:
        servers:
          - url: http://n8n:5678
`;

const build = (name: string, parameters: IDataObject): Step => ({
	name,
	parameters: { resource: 'middleware', operation: 'buildMiddleware', ...parameters },
});

describe('Traefik Config node (n8n engine, real sshd)', () => {
	it('Build Middleware: basic auth output has bcrypt hashes and never the password; pairedItem on every item', async () => {
		const password = 'n8n-node-test-password';
		const result = await run(
			[
				build('Auth', {
					middlewareType: 'basicAuth',
					middlewareName: 'ops-auth',
					users: { user: [{ name: 'ops', password }] },
					realm: 'ops',
				}),
			],
			{ input: [{ a: 1 }, { a: 2 }] },
		);
		expect(result.error).toBeUndefined();
		const items = result.outputs.Auth[0];
		expect(items.map((i) => i.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
		expect(items[0].json.content).toMatch(/ops:\$2[aby]\$10\$/);
		expect(JSON.stringify(result.outputs)).not.toContain(password);
	});

	it('Build Middleware chains into one file; bad input is a NodeOperationError, or an error item with continueOnFail', async () => {
		const result = await run([
			build('General', {
				middlewareType: 'rateLimit',
				middlewareName: 'general-ratelimit',
				average: 100,
				period: '1m',
				sourceCriterion: 'ipDepth',
				depth: 1,
			}),
			build('API', {
				middlewareType: 'rateLimit',
				middlewareName: 'api-ratelimit',
				average: 10,
				period: '1m',
				sourceCriterion: 'ipDepth',
				depth: 1,
				combineWithInput: true,
			}),
			build('Headers', {
				middlewareType: 'secureHeaders',
				middlewareName: 'secure-headers',
				headersPreset: 'moderate',
				combineWithInput: true,
			}),
		]);
		const [out] = result.out('Headers');
		expect(out.file).toBe('infra-ops-middlewares.yml');
		expect(out.middlewares).toEqual(['general-ratelimit', 'api-ratelimit', 'secure-headers']);
		expect(Object.keys((out.config as { http: { middlewares: object } }).http.middlewares)).toEqual(
			['general-ratelimit', 'api-ratelimit', 'secure-headers'],
		);

		const bad = await run([
			build('Bad', {
				middlewareType: 'rateLimit',
				middlewareName: 'x',
				average: 10,
				period: 'soon',
			}),
		]);
		expect(bad.error?.name).toBe('NodeOperationError');
		expect(bad.error?.message).toMatch(/Period "soon" is not a duration/);
		expect(bad.error?.description).toMatch(/Go duration/);
		const tolerated = await run([
			{
				...build('Bad', {
					middlewareType: 'rateLimit',
					middlewareName: 'x',
					average: 10,
					period: 'soon',
				}),
				continueOnFail: true,
			},
		]);
		expect(tolerated.error).toBeUndefined();
		expect(tolerated.outputs.Bad[0]).toEqual([
			{
				json: {
					error: expect.stringMatching(/not a duration/),
					hint: 'Use Go duration syntax: 1s, 1m, 10m, 1h',
				},
				pairedItem: { item: 0 },
			},
		]);
	});

	it('Attach → Validate → Deploy (no API): comments kept, file written, previous version kept, diff out', async () => {
		const f = folder();
		fs.writeFileSync(path.join(f.dynamicDir, 'routers.yml'), ROUTERS);
		const result = await run([
			build('General', {
				middlewareType: 'rateLimit',
				middlewareName: 'general-ratelimit',
				average: 100,
				period: '1m',
				sourceCriterion: 'ipDepth',
				depth: 1,
			}),
			{
				name: 'Deploy Middlewares',
				parameters: {
					resource: 'dynamicFile',
					operation: 'deploy',
					dynamicDir: f.dynamicDir,
					backupDir: f.backupDir,
					verifyWithApi: false,
				},
			},
			{
				name: 'Attach',
				parameters: {
					resource: 'middleware',
					operation: 'attachMiddlewares',
					dynamicDir: f.dynamicDir,
					routersFile: 'routers.yml',
					attachMiddlewareNames: 'general-ratelimit',
					routerSelection: 'all',
				},
			},
			{
				name: 'Validate',
				parameters: {
					resource: 'dynamicFile',
					operation: 'validate',
					dynamicDir: f.dynamicDir,
					validateSource: 'input',
					fileName: '={{ $json.file }}',
					content: '={{ $json.content }}',
				},
			},
			{
				name: 'Deploy Routers',
				parameters: {
					resource: 'dynamicFile',
					operation: 'deploy',
					dynamicDir: f.dynamicDir,
					backupDir: f.backupDir,
					verifyWithApi: false,
					deployFileName: "={{ $('Attach').item.json.file }}",
					deployContent: "={{ $('Attach').item.json.content }}",
				},
			},
		]);
		expect(result.error).toBeUndefined();
		expect(result.out('Deploy Middlewares')).toEqual([
			expect.objectContaining({
				check: 'traefik-deploy',
				status: 'ok',
				action: 'written',
				changed: false,
			}),
		]);
		expect(result.out('Validate')).toEqual([
			expect.objectContaining({
				check: 'traefik-config',
				status: 'ok',
				summary: 'routers.yml: valid',
				target: expect.stringMatching(/\/routers\.yml$/),
			}),
		]);
		const [deployed] = result.out('Deploy Routers');
		expect(deployed).toMatchObject({ status: 'ok', action: 'written', file: 'routers.yml' });
		expect(deployed.diff).toMatch(/^\+\s+- general-ratelimit$/m);
		const written = fs.readFileSync(path.join(f.dynamicDir, 'routers.yml'), 'utf8');
		expect(written).toContain('# hand-written, keep me');
		expect(written).toContain('service: n8n # the editor');
		expect(fs.readFileSync(String(deployed.backup), 'utf8')).toBe(ROUTERS);
		expect(fs.readdirSync(f.dynamicDir).sort()).toEqual([
			'infra-ops-middlewares.yml',
			'routers.yml',
		]);
	});

	it('Build basic auth → Deploy: the file gets the bcrypt hash, the diff that goes to alerts does not', async () => {
		const f = folder();
		const password = 'deploy-diff-test-password';
		const result = await run([
			build('Auth', {
				middlewareType: 'basicAuth',
				middlewareName: 'ops-auth',
				users: { user: [{ name: 'ops', password }] },
			}),
			{
				name: 'Deploy',
				parameters: {
					resource: 'dynamicFile',
					operation: 'deploy',
					dynamicDir: f.dynamicDir,
					backupDir: f.backupDir,
					verifyWithApi: false,
				},
			},
		]);
		expect(result.error).toBeUndefined();
		const hash = /ops:(\$2[aby]\$10\$\S{53})/.exec(
			fs.readFileSync(path.join(f.dynamicDir, 'infra-ops-middlewares.yml'), 'utf8'),
		)![1];
		const [deployed] = result.out('Deploy');
		expect(deployed).toMatchObject({ status: 'ok', action: 'written' });
		expect(deployed.diff).toMatch(/^\+\s+- ops:<password hash …/m);
		expect(JSON.stringify(deployed)).not.toContain(hash);
		expect(JSON.stringify(result.outputs)).not.toContain(password);
	});

	it('Deploy refuses an invalid file with a critical finding (not an exception), writing nothing', async () => {
		const f = folder();
		const result = await run(
			[
				{
					name: 'Deploy',
					parameters: {
						resource: 'dynamicFile',
						operation: 'deploy',
						dynamicDir: f.dynamicDir,
						backupDir: f.backupDir,
						verifyWithApi: false,
					},
				},
			],
			{
				input: [
					{
						file: 'broken.yml',
						content:
							'http:\n  middlewares:\n    x:\n      rateLimit:\n        average: 10\n        burst: "many"\n',
					},
				],
			},
		);
		expect(result.out('Deploy')).toEqual([
			expect.objectContaining({
				status: 'critical',
				action: 'rejected',
				summary: expect.stringMatching(/burst must be a number/),
			}),
		]);
		expect(fs.readdirSync(f.dynamicDir)).toEqual([]);
	});

	it('Verify Webhook Signature: GitHub HMAC over the raw body; a wrong one is reported invalid without the secret', async () => {
		// indented, as Gitea sends it: JSON.stringify of the parsed body would not be these bytes
		const body = JSON.stringify(
			{ ref: 'refs/heads/main', after: '0123456789abcdef0123456789abcdef01234567' },
			null,
			2,
		);
		expect(JSON.stringify(JSON.parse(body))).not.toBe(body);
		const good = 'sha256=' + createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex');
		const item = (signature: string): INodeExecutionData => ({
			json: {
				headers: {
					'x-hub-signature-256': signature,
					'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
				},
				body: JSON.parse(body) as IDataObject,
			},
			binary: {
				data: { data: Buffer.from(body).toString('base64'), mimeType: 'application/json' },
			},
		});
		const result = await run(
			[
				{
					name: 'Verify',
					parameters: { resource: 'git', operation: 'verifyWebhookSignature', gitHost: 'github' },
				},
			],
			{ input: [item(good), item('sha256=' + '0'.repeat(64))] },
		);
		expect(
			result.out('Verify').map((j) => [j.signatureValid, j.ref, j.commit, j.deliveryId]),
		).toEqual([
			[
				true,
				'refs/heads/main',
				'0123456789abcdef0123456789abcdef01234567',
				'72d3162e-cc78-11e3-81ab-4c9367dc0958',
			],
			[
				false,
				'refs/heads/main',
				'0123456789abcdef0123456789abcdef01234567',
				'72d3162e-cc78-11e3-81ab-4c9367dc0958',
			],
		]);
		expect(JSON.stringify(result.outputs)).not.toContain(WEBHOOK_SECRET);
		// the first item's own header carries the right signature; the second item's output must not reveal it
		expect(JSON.stringify(result.out('Verify')[1])).not.toContain(good.slice(7));
	});
});

describeRef('Traefik Config node with a recorded-response Traefik API', () => {
	it('Get Status: recorded overview and entries become findings; basic auth is sent, never output', async () => {
		const replay = await startTraefikReplay({
			basicAuth: { username: 'admin', password: 'traefik-api-password' },
		});
		replays.push(replay);
		const result = await run(
			[
				{
					name: 'Status',
					parameters: { resource: 'traefik', operation: 'getStatus', onlyProblems: false },
				},
			],
			{
				traefikUrl: replay.url,
				traefikAuth: {
					authentication: 'basic',
					username: 'admin',
					password: 'traefik-api-password',
				},
			},
		);
		expect(result.error).toBeUndefined();
		const findings = result.out('Status');
		// overview-dynamic.json records 1 error per kind
		expect(findings[0]).toMatchObject({
			check: 'traefik-status',
			status: 'critical',
			errors: 6,
			summary: expect.stringMatching(/http routers: 1 error, 1 warning/),
		});
		expect(findings.map((f) => f.name)).toEqual(
			expect.arrayContaining([
				'bar@myprovider',
				'test@myprovider',
				'auth@myprovider',
				'canary@myprovider',
			]),
		);
		expect(findings.filter((f) => f.name).every((f) => f.status === 'ok')).toBe(true);
		expect(JSON.stringify(result.outputs)).not.toContain('traefik-api-password');

		const refused = await run(
			[{ name: 'Status', parameters: { resource: 'traefik', operation: 'getStatus' } }],
			{ traefikUrl: replay.url },
		);
		expect(refused.error?.message).toMatch(/refused the credential \(HTTP 401\)/);
	});

	it('Deploy with verification: the deployed routers are served enabled; a router Traefik reports with errors is rolled back (critical)', async () => {
		const f = folder();
		const replay = await startTraefikReplay({ watchDir: f.dynamicDir, loadDelayMs: 200 });
		replays.push(replay);
		const deploy: Step = {
			name: 'Deploy',
			parameters: {
				resource: 'dynamicFile',
				operation: 'deploy',
				dynamicDir: f.dynamicDir,
				backupDir: f.backupDir,
				verifyWithApi: true,
				deployOptions: { verifyTimeoutSeconds: 3 },
			},
		};
		const ok = await run([deploy], {
			input: [{ file: 'routers.yml', content: ROUTERS }],
			traefikUrl: replay.url,
		});
		expect(ok.out('Deploy')).toEqual([
			expect.objectContaining({
				status: 'ok',
				action: 'written',
				verification: expect.objectContaining({ ok: true }),
			}),
		]);

		replay.options.failRouters = new Set(['n8n-api']);
		const changed = ROUTERS.replace('PathPrefix(`/api`)', 'PathPrefix(`/api/v1`)');
		const bad = await run([deploy], {
			input: [{ file: 'routers.yml', content: changed }],
			traefikUrl: replay.url,
		});
		const [finding] = bad.out('Deploy');
		expect(finding).toMatchObject({ status: 'critical', action: 'rolledBack', changed: true });
		expect(finding.summary).toMatch(/rolled back.*n8n-api@file/);
		expect(fs.readFileSync(path.join(f.dynamicDir, 'routers.yml'), 'utf8')).toBe(ROUTERS);
	});
});
