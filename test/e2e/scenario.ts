/**
 * What an end-to-end scenario is. Every file in workflows/ needs one, in test/e2e/scenarios/<file name
 * without .json>.ts, default-exporting a Scenario; the suite fails for a workflow file without it.
 * See test/e2e/README.md.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { Services } from '../harness/services';
import type { Sinks } from './sinks';

export type SettingValue = string | number | boolean;

export interface WorkflowNode {
	id: string;
	name: string;
	type: string;
	typeVersion: number;
	parameters: Record<string, unknown>;
	credentials?: Record<string, { id: string | null; name: string }>;
	[key: string]: unknown;
}

export interface WorkflowJson {
	id?: string;
	name: string;
	nodes: WorkflowNode[];
	connections: Record<string, unknown>;
	settings?: Record<string, unknown>;
	[key: string]: unknown;
}

export interface PrepareContext {
	/** The real services the harness started (dockerd, sshd, s3rver, PostgreSQL). */
	services: Services;
	/** Where alerts land: sinks.smtp (the SMTP credential points here), sinks.slack.webhookUrl. */
	sinks: Sinks;
	/** http://127.0.0.1:<port> of the n8n that will run the workflow. */
	n8nBaseUrl: string;
	/** Absolute path of the workflow file. */
	file: string;
}

export interface Prepared {
	/** Values for the fields of the workflow's "Settings" Set node, by field name; a name the node lacks fails the run. */
	settings?: Record<string, SettingValue>;
	/** Credential data by credential type, for types the suite's standard set lacks or that need other values here. */
	credentials?: Record<string, Record<string, unknown>>;
	/** More workflows to import (unpublished), e.g. something for the workflow to act on. */
	workflows?: WorkflowJson[];
	/** Runs after the whole suite. */
	cleanup?(): Promise<void>;
}

export interface Execution {
	id: string;
	status: string;
	finished: boolean;
	mode: string;
	data?: {
		resultData: {
			error?: { message: string; node?: { name: string } };
			lastNodeExecuted?: string;
			runData: Record<
				string,
				{
					data?: { main?: ({ json: Record<string, unknown> }[] | null)[] };
					error?: { message: string };
				}[]
			>;
		};
	};
}

export interface WebhookResponse {
	status: number;
	body: string;
}

export interface WebhookCallOptions {
	body?: unknown;
	auth?: boolean;
	/** Which Webhook node by its path; a path may also name a Webhook without header auth (e.g. a Git host's signed push). */
	path?: string;
	/** Extra request headers, e.g. a Git host's signature. */
	headers?: Record<string, string>;
	/** Sent as is instead of JSON.stringify(body), for signatures over the exact bytes. */
	rawBody?: string;
}

export interface RunContext extends PrepareContext {
	workflow: { id: string; name: string; json: WorkflowJson };
	/** The public API (/api/v1) with an owner API key; throws on a non-2xx answer. */
	api<T = unknown>(method: string, apiPath: string, body?: unknown): Promise<T>;
	/** Calls the workflow's header-authenticated Webhook trigger (the only one unless `path` says which). */
	webhook(options?: WebhookCallOptions): Promise<WebhookResponse>;
	/** webhook() with the header, then waits for the execution it started to finish, and returns it with its data. */
	runWebhook(
		options?: Omit<WebhookCallOptions, 'auth'> & { timeoutMs?: number },
	): Promise<Execution>;
	/** Output items of a node in an execution (first run, given output). */
	outputOf(execution: Execution, nodeName: string, output?: number): Record<string, unknown>[];
	/** Id of an imported workflow by its name. */
	workflowIdByName(name: string): string;
	/** The data of the credential of this type that the workflow was imported with (e.g. the age identity, to decrypt a backup). */
	credential(type: string): Record<string, unknown>;
	/** Queue mode (`npm run test:e2e -- --queue`): the n8n workers, each with the execution ids its log names; empty otherwise. */
	workers: { name: string; executionIds(): string[] }[];
}

/**
 * The same workflow run again with other settings: imported as a workflow of its own (name and webhook
 * paths suffixed ` [<name>]` / `-<name>`), after the scenario's own run, with its own E2E line
 * `E2E workflows/<file> [<name>] ok …`. E.g. Docker Volume Backup's restic engine.
 */
export interface ScenarioVariant {
	/** Short, path-safe: `restic`. */
	name: string;
	/** Before n8n starts. `settings` are laid over the scenario's own; `credentials` of a type no node uses
	 * are attached to every node of the pack (the mode the settings switch on needs them); `nodeParameters`
	 * (by node type) are set on every node of that type. */
	prepare(ctx: PrepareContext): Promise<VariantPrepared> | VariantPrepared;
	run(ctx: RunContext): Promise<string>;
}

export interface VariantPrepared extends Omit<Prepared, 'workflows'> {
	nodeParameters?: Record<string, Record<string, unknown>>;
}

export interface Scenario {
	/** Runs of the workflow with other settings (see ScenarioVariant). */
	variants?: ScenarioVariant[];
	/** Before n8n starts (credentials and workflows are imported then). */
	prepare?(ctx: PrepareContext): Promise<Prepared> | Prepared;
	/** Publish the workflow before run() (default true). */
	publish?: boolean;
	/** Drives the workflow and asserts on what it did in the world; returns what was checked, for the E2E line. */
	run(ctx: RunContext): Promise<string>;
}

export const SCENARIO_DIR = path.join(__dirname, 'scenarios');

/** Where the scenario of a workflow file lives: test/e2e/scenarios/<name>.ts for workflows/<name>.json;
 * beside the file (<name>.scenario.ts) for the suite's own test-only workflows under test/e2e/. */
export function scenarioPath(workflowFile: string): string {
	const base = path.basename(workflowFile, '.json');
	if (path.resolve(workflowFile).startsWith(`${__dirname}${path.sep}`))
		return path.join(path.dirname(workflowFile), `${base}.scenario.ts`);
	return path.join(SCENARIO_DIR, `${base}.ts`);
}

export function loadScenario(workflowFile: string): Scenario | undefined {
	const file = scenarioPath(workflowFile);
	if (!fs.existsSync(file)) return undefined;
	const mod = require(file) as { default?: Scenario };
	if (!mod.default || typeof mod.default.run !== 'function')
		throw new Error(`${file} must default-export a Scenario with run()`);
	return mod.default;
}
