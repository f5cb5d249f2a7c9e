/**
 * The n8n the end-to-end suite runs: the cached n8n 2.x with the packed package installed as n8n installs a
 * community package, credentials pointing at the harness's real services and at the alert sinks, every
 * workflow imported with `n8n import:workflow`, and an owner API key for the public API.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Client } from 'pg';

import * as n8n from '../../scripts/n8n/n8n';
import * as queue from '../../scripts/n8n/queue';
import type { Services } from '../harness/services';
import type {
	Execution,
	Prepared,
	Scenario,
	ScenarioVariant,
	SettingValue,
	WorkflowJson,
	WorkflowNode,
} from './scenario';
import type { Sinks } from './sinks';

export const WEBHOOK_HEADER = 'X-Infra-Ops-Token';

/** `npm run test:e2e -- --queue` (scripts/n8n/e2e.js) sets INFRA_OPS_E2E_MODE=queue. */
export type E2eMode = 'regular' | 'queue';
export const QUEUE_WORKERS = 2;
/** The credential type of the shared change-detection state; in queue mode every node of the pack gets one. */
export const STATE_STORE_TYPE = 'infraOpsStateStoreApi';
const PACK_PREFIX = `${n8n.PACKAGE_NAME}.`;

/** Whether this build of the pack has the State Store credential (package.json lists it). */
function packHasStateStore(): boolean {
	const pkg = JSON.parse(fs.readFileSync(path.join(n8n.ROOT, 'package.json'), 'utf8')) as {
		n8n: { credentials: string[] };
	};
	return pkg.n8n.credentials.some((c) => /InfraOpsStateStoreApi\.credentials\.js$/.test(c));
}

export interface WorkflowEntry {
	/** Absolute path. */
	file: string;
	/** workflows/<name>.json or test/e2e/workflows/<name>.json */
	label: string;
	json: WorkflowJson;
	scenario?: Scenario;
	prepared?: Prepared;
	/** Set once imported. */
	id?: string;
	/** A variant's entry: the workflow file's entry it varies (prepared before it) and the variant. */
	variantOf?: { entry: WorkflowEntry; variant: ScenarioVariant };
}

/** The entry of a variant: the workflow renamed `<name> [<variant>]`, its webhook paths suffixed `-<variant>`
 * (both are published; n8n refuses two workflows on one path), run by the variant's run(). */
export function variantEntry(base: WorkflowEntry, variant: ScenarioVariant): WorkflowEntry {
	const json = JSON.parse(JSON.stringify(base.json)) as WorkflowJson;
	json.name = `${json.name} [${variant.name}]`;
	delete json.id;
	for (const node of json.nodes) {
		if (node.type !== 'n8n-nodes-base.webhook') continue;
		node.parameters.path = `${String(node.parameters.path)}-${variant.name}`;
		if (node.webhookId) node.webhookId = n8n.stableId(`${base.file}#${variant.name}#${node.name}`);
	}
	return {
		file: base.file,
		label: `${base.label} [${variant.name}]`,
		json,
		scenario: { publish: base.scenario?.publish, run: variant.run },
		variantOf: { entry: base, variant },
	};
}

interface CredentialRecord {
	id: string;
	name: string;
	type: string;
	data: Record<string, unknown>;
}

export interface E2eInstance {
	mode: E2eMode;
	/** Queue mode: the `n8n worker` processes (their logs name the executions each ran). */
	workers: queue.WorkerHandle[];
	baseUrl: string;
	owner: { email: string; password: string };
	apiKey: string;
	cookie: string;
	install: n8n.N8nInstall;
	env: NodeJS.ProcessEnv;
	webhookToken: string;
	startedInMs: number;
	api<T = unknown>(method: string, apiPath: string, body?: unknown): Promise<T>;
	/** Imported workflows (entries and the scenarios' extra ones) by name. */
	workflowIds: Map<string, string>;
	/** The credential data each entry's workflow was imported with, by credential type. */
	credentialsOf(entry: WorkflowEntry): Map<string, Record<string, unknown>>;
	waitForExecution(workflowId: string, afterId: number, timeoutMs?: number): Promise<Execution>;
	lastExecutionId(workflowId: string): Promise<number>;
	stop(): Promise<void>;
}

const STANDARD_NAMES: Record<string, string> = {
	httpHeaderAuth: 'Webhook token (e2e)',
	smtp: 'SMTP sink (e2e)',
	slackApi: 'Slack sink (e2e)',
	infraOpsDockerApi: 'Docker Engine (e2e)',
	infraOpsSshApi: 'SSH host (e2e)',
	infraOpsS3Api: 'S3 bucket (e2e)',
	infraOpsPostgresApi: 'PostgreSQL admin (e2e)',
	infraOpsBackupEncryption: 'Backup encryption (e2e)',
	infraOpsN8nApi: 'n8n API (e2e)',
	[STATE_STORE_TYPE]: 'Infra Ops State Store (e2e)',
};

function ageKey(): { identity: string; recipient: string } {
	const text = execFileSync('age-keygen', {
		encoding: 'utf8',
		stdio: ['ignore', 'pipe', 'ignore'],
	});
	return { identity: text, recipient: /public key: (age1\S+)/.exec(text)![1] };
}

/** One credential per type, pointing at the harness's services and the sinks. Traefik, Proxmox and Vault
 * cannot run here: scenarios that need them bring their own (Prepared.credentials). */
function standardCredentials(
	services: Services,
	sinks: Sinks,
	baseUrl: string,
	webhookToken: string,
): Record<string, Record<string, unknown>> {
	const { ssh, s3, postgres, docker } = services;
	const age = ageKey();
	return {
		httpHeaderAuth: { name: WEBHOOK_HEADER, value: webhookToken },
		smtp: {
			user: '',
			password: '',
			host: sinks.smtp.host,
			port: sinks.smtp.port,
			secure: false,
			disableStartTls: true,
		},
		slackApi: { accessToken: sinks.slack.token },
		infraOpsDockerApi: { connection: 'socket', socketPath: docker.socketPath },
		infraOpsSshApi: {
			host: ssh.host,
			port: ssh.port,
			username: ssh.username,
			authentication: 'privateKey',
			privateKey: ssh.privateKey,
			hostKeyFingerprint: ssh.hostKeyFingerprint,
		},
		infraOpsS3Api: {
			provider: 'minio',
			endpoint: s3.endpoint,
			region: s3.region,
			bucket: s3.bucket,
			accessKeyId: s3.accessKeyId,
			secretAccessKey: s3.secretAccessKey,
			forcePathStyle: true,
		},
		infraOpsPostgresApi: {
			host: postgres.host,
			port: postgres.port,
			database: postgres.database,
			user: postgres.user,
			password: postgres.password,
			ssl: 'verify-full',
			ca: postgres.ssl.caPem,
		},
		infraOpsBackupEncryption: { recipients: age.recipient, secretKey: age.identity },
		// the key exists only once n8n runs; startInstance sets it then
		infraOpsN8nApi: { baseUrl, apiKey: 'set-after-start' },
		[STATE_STORE_TYPE]: {
			host: postgres.host,
			port: postgres.port,
			database: postgres.database,
			user: postgres.user,
			password: postgres.password,
			ssl: 'verify-full',
			ca: postgres.ssl.caPem,
			table: 'infra_ops_state',
		},
	};
}

/** A copy of the workflow with every credential reference pointed at the suite's credential of that type,
 * and the Settings node's fields set as the scenario asks. */
export function patchWorkflow(
	json: WorkflowJson,
	credentialFor: (type: string) => CredentialRecord | undefined,
	settings: Record<string, SettingValue> = {},
	label = json.name,
	/** Credentials attached to every node of the pack (queue mode: the State Store), unless it has one of that type. */
	attachToPack: CredentialRecord[] = [],
): WorkflowJson {
	const copy = JSON.parse(JSON.stringify(json)) as WorkflowJson;
	for (const node of copy.nodes) {
		if (node.type.startsWith(PACK_PREFIX))
			for (const credential of attachToPack)
				node.credentials = { [credential.type]: credential, ...node.credentials };
		// scenarios run each workflow through its webhook; a schedule firing mid-suite (GitOps runs every
		// 15 minutes) would add alerts to another scenario's sinks at a moment the clock decides
		if (node.type === 'n8n-nodes-base.scheduleTrigger') node.disabled = true;
		for (const type of Object.keys(node.credentials ?? {})) {
			const credential = credentialFor(type);
			if (!credential) {
				throw new Error(
					`${label}: node "${node.name}" uses a ${type} credential, which the e2e suite has none of; return it from the scenario's prepare() as credentials.${type}`,
				);
			}
			node.credentials![type] = { id: credential.id, name: credential.name };
		}
	}
	const names = Object.keys(settings);
	if (names.length > 0) {
		const node = copy.nodes.find((n) => n.name === 'Settings' && n.type === 'n8n-nodes-base.set');
		if (!node)
			throw new Error(
				`${label}: the scenario sets ${names.join(', ')}, but the workflow has no "Settings" Set node`,
			);
		const assignments =
			(
				node.parameters.assignments as
					| { assignments?: { name: string; value: unknown; type: string }[] }
					| undefined
			)?.assignments ?? [];
		for (const name of names) {
			const assignment = assignments.find((a) => a.name === name);
			if (!assignment)
				throw new Error(
					`${label}: the Settings node has no field "${name}" (it has ${assignments.map((a) => a.name).join(', ')})`,
				);
			const value = settings[name];
			assignment.value = value;
			assignment.type =
				typeof value === 'number' ? 'number' : typeof value === 'boolean' ? 'boolean' : 'string';
		}
	}
	return copy;
}

export function webhookNodes(json: WorkflowJson): WorkflowNode[] {
	return json.nodes.filter((n) => n.type === 'n8n-nodes-base.webhook' && !n.disabled);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FINISHED = new Set(['success', 'error', 'crashed', 'canceled']);

/** Queue mode's own database in the harness's PostgreSQL (n8n's tables beside the tests' would collide). */
async function createDatabase(services: Services, name: string): Promise<queue.QueuePostgres> {
	const { postgres } = services;
	const client = new Client({
		host: postgres.host,
		port: postgres.port,
		user: postgres.user,
		password: postgres.password,
		database: postgres.database,
		ssl: { ca: postgres.ssl.caPem },
		connectionTimeoutMillis: 10_000,
	});
	await client.connect();
	try {
		await client.query(`DROP DATABASE IF EXISTS ${name}`);
		await client.query(`CREATE DATABASE ${name}`);
	} finally {
		await client.end();
	}
	return { ...postgres, database: name };
}

export async function startInstance(opts: {
	services: Services;
	sinks: Sinks;
	entries: WorkflowEntry[];
	log: (line: string) => void;
	mode?: E2eMode;
}): Promise<E2eInstance> {
	const { services, sinks, entries, log, mode = 'regular' } = opts;
	// installed before jest starts (scripts/n8n/ensure.js), never under the hook's timeout
	const install = n8n.installedN8n();
	const userFolder = path.join(services.root, 'n8n');
	fs.mkdirSync(userFolder, { recursive: true });
	n8n.installPackage(userFolder);

	// queue mode: Redis, a database of its own, one encryption key for main and workers
	const queued =
		mode === 'queue'
			? await (async () => {
					const redis = await queue.startRedis(path.join(services.root, 'redis'));
					const postgres = await createDatabase(services, 'n8n_e2e_queue');
					const encryptionKey = randomBytes(24).toString('base64url');
					return { redis, postgres, env: queue.queueEnv({ redis, postgres, encryptionKey }) };
				})()
			: undefined;

	const [port, brokerPort] = [await n8n.freePort(), await n8n.freePort()];
	const baseUrl = `http://127.0.0.1:${port}`;
	const owner = {
		email: 'e2e-owner@example.com',
		password: `E2e-${randomBytes(9).toString('base64url')}9`,
	};
	const env = n8n.n8nEnv({
		userFolder,
		port,
		brokerPort,
		host: '127.0.0.1',
		listen: '127.0.0.1',
		owner,
		logLevel: 'warn',
		extra: {
			// slack.com reaches the Slack sink, whose test CA n8n trusts (see sinks.ts)
			NODE_OPTIONS: `--require ${path.join(__dirname, 'preload', 'redirect-tls.js')}`,
			INFRA_OPS_E2E_TLS_REDIRECT: JSON.stringify(sinks.slack.redirects),
			NODE_EXTRA_CA_CERTS: sinks.slack.caFile,
			GENERIC_TIMEZONE: 'UTC',
			TZ: 'UTC',
			...queued?.env,
		},
	});

	const nodeParameters = new Map<WorkflowEntry, Record<string, Record<string, unknown>>>();
	for (const entry of entries) {
		const prepareCtx = { services, sinks, n8nBaseUrl: baseUrl, file: entry.file };
		if (entry.variantOf) {
			const {
				settings,
				nodeParameters: params,
				...rest
			} = await entry.variantOf.variant.prepare(prepareCtx);
			entry.prepared = {
				...rest,
				settings: { ...entry.variantOf.entry.prepared?.settings, ...settings },
			};
			if (params) nodeParameters.set(entry, params);
		} else entry.prepared = entry.scenario?.prepare ? await entry.scenario.prepare(prepareCtx) : {};
	}

	const webhookToken = randomBytes(18).toString('base64url');
	const standard = new Map<string, CredentialRecord>(
		Object.entries(standardCredentials(services, sinks, baseUrl, webhookToken)).map(
			([type, data]) => [
				type,
				{ id: n8n.stableId(`credential:${type}`), name: STANDARD_NAMES[type], type, data },
			],
		),
	);
	// queue mode: change detection keeps its state in PostgreSQL, shared by every worker (the harness's, its
	// own database); attached to every node of the pack, as docs/deploy.md tells a queue-mode deployment to
	const stateStore = queued && packHasStateStore() ? standard.get(STATE_STORE_TYPE) : undefined;
	if (!stateStore) standard.delete(STATE_STORE_TYPE);
	const credentials = [...standard.values()];
	const workflows: { file: string; workflow: object }[] = [];
	const ownCredentials = new Map<WorkflowEntry, Map<string, CredentialRecord>>();
	for (const entry of entries) {
		const own = new Map<string, CredentialRecord>();
		for (const [type, data] of Object.entries(entry.prepared?.credentials ?? {})) {
			const record = {
				id: n8n.stableId(`credential:${entry.label}:${type}`),
				name: `${type} for ${path.basename(entry.label)} (e2e)`,
				type,
				data,
			};
			own.set(type, record);
			credentials.push(record);
		}
		ownCredentials.set(entry, own);
		const credentialFor = (type: string) => own.get(type) ?? standard.get(type);
		// a variant's credentials of a type no node uses are for the mode its settings switch on: every pack node gets them
		const used = new Set(entry.json.nodes.flatMap((n) => Object.keys(n.credentials ?? {})));
		const attach = [
			...(stateStore ? [stateStore] : []),
			...(entry.variantOf ? [...own.values()].filter((c) => !used.has(c.type)) : []),
		];
		// a workflow without a scenario is imported as it is (its test fails anyway), so the browser can still show it
		const workflow = entry.scenario
			? patchWorkflow(entry.json, credentialFor, entry.prepared?.settings, entry.label, attach)
			: entry.json;
		for (const node of workflow.nodes)
			Object.assign(node.parameters, nodeParameters.get(entry)?.[node.type]);
		entry.id =
			entry.json.id ||
			n8n.stableId(
				`${path.basename(entry.file)}${entry.variantOf ? `#${entry.variantOf.variant.name}` : ''}`,
			);
		workflows.push({
			file: entry.variantOf ? `${entry.file}#${entry.variantOf.variant.name}` : entry.file,
			workflow: { ...workflow, id: entry.id },
		});
		for (const extra of entry.prepared?.workflows ?? []) {
			const patched = patchWorkflow(
				extra,
				credentialFor,
				{},
				`${entry.label} (extra workflow "${extra.name}")`,
				stateStore ? [stateStore] : [],
			);
			workflows.push({
				file: `${entry.file}#${extra.name}`,
				workflow: { ...patched, id: extra.id || n8n.stableId(`${entry.file}#${extra.name}`) },
			});
		}
	}

	let t0 = Date.now();
	await n8n.importCredentials(install, env, credentials);
	const ids = await n8n.importWorkflows(install, env, workflows);
	log(
		`imported ${credentials.length} credentials and ${workflows.length} workflows in ${((Date.now() - t0) / 1000).toFixed(1)}s`,
	);

	t0 = Date.now();
	const workers: queue.WorkerHandle[] = [];
	let handle: n8n.N8nHandle | undefined;
	const stopAll = async () => {
		await Promise.all(workers.map((w) => w.stop()));
		await handle?.stop();
		await queued?.redis.stop();
	};
	try {
		handle = await n8n.startN8n(install, env);
		log(
			`n8n ${install.version} ${mode === 'queue' ? 'main (queue mode) ' : ''}ready at ${baseUrl} in ${(handle.startedInMs / 1000).toFixed(1)}s`,
		);
		// workers after the main: it runs the database migrations they would otherwise race for
		for (let i = 1; queued && i <= QUEUE_WORKERS; i++) {
			const worker = await queue.startWorker(install, env, {
				root: services.root,
				mainFolder: userFolder,
				index: i,
				concurrency: 5,
			});
			workers.push(worker);
			log(`n8n worker-${i} ready in ${(worker.startedInMs / 1000).toFixed(1)}s`);
		}
	} catch (err) {
		await stopAll();
		throw err;
	}
	try {
		const cookie = await n8n.login(baseUrl, owner.email, owner.password);
		const apiKey = await n8n.createApiKey(baseUrl, cookie, 'e2e');
		const api = async <T>(method: string, apiPath: string, body?: unknown): Promise<T> => {
			const res = await fetch(`${baseUrl}/api/v1${apiPath}`, {
				method,
				headers: {
					'X-N8N-API-KEY': apiKey,
					...(body === undefined ? {} : { 'content-type': 'application/json' }),
				},
				body: body === undefined ? undefined : JSON.stringify(body),
			});
			const text = await res.text();
			if (!res.ok) throw new Error(`${method} /api/v1${apiPath}: HTTP ${res.status} ${text}`);
			return (text ? JSON.parse(text) : undefined) as T;
		};
		const n8nApi = standard.get('infraOpsN8nApi')!;
		await api('PATCH', `/credentials/${n8nApi.id}`, { data: { baseUrl, apiKey } });

		const workflowIds = new Map<string, string>();
		for (const { file, workflow } of workflows)
			workflowIds.set((workflow as WorkflowJson).name, ids[file]);

		const lastExecutionId = async (workflowId: string): Promise<number> => {
			const list = await api<{ data: { id: string }[] }>(
				'GET',
				`/executions?workflowId=${workflowId}&limit=20`,
			);
			return Math.max(0, ...list.data.map((e) => Number(e.id)));
		};
		const waitForExecution = async (
			workflowId: string,
			afterId: number,
			timeoutMs = 60_000,
		): Promise<Execution> => {
			const deadline = Date.now() + timeoutMs;
			for (;;) {
				const list = await api<{ data: Execution[] }>(
					'GET',
					`/executions?workflowId=${workflowId}&limit=20`,
				);
				const newer = list.data
					.filter((e) => Number(e.id) > afterId)
					.sort((a, b) => Number(a.id) - Number(b.id))[0];
				if (newer && FINISHED.has(newer.status))
					return await api<Execution>('GET', `/executions/${newer.id}?includeData=true`);
				if (Date.now() > deadline) {
					throw new Error(
						`no finished execution of workflow ${workflowId} after #${afterId} within ${timeoutMs / 1000}s${newer ? ` (#${newer.id} is ${newer.status})` : ''}`,
					);
				}
				await sleep(250);
			}
		};
		return {
			mode,
			workers,
			baseUrl,
			owner,
			apiKey,
			cookie,
			install,
			env,
			webhookToken,
			startedInMs: handle.startedInMs,
			api,
			workflowIds,
			credentialsOf: (entry: WorkflowEntry) =>
				new Map(
					[...standard.values(), ...(ownCredentials.get(entry)?.values() ?? [])].map((c) => [
						c.type,
						c.data,
					]),
				),
			waitForExecution,
			lastExecutionId,
			stop: stopAll,
		};
	} catch (err) {
		await stopAll();
		throw new Error(
			`${(err as Error).message}\n--- n8n output ---\n${handle.output().slice(-6000)}`,
		);
	}
}
