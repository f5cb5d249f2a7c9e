/** Types for n8n.js (plain CommonJS, so `npm run dev` runs without a build step). */
import type { ChildProcess } from 'node:child_process';

export interface N8nInstall {
	dir: string;
	/** node_modules/n8n/bin/n8n, run with the Node 24 from node24Bin(). */
	bin: string;
	version: string;
}

export interface Owner {
	email: string;
	password?: string;
	passwordHash?: string;
	firstName?: string;
	lastName?: string;
}

export interface N8nHandle {
	child: ChildProcess;
	/** http://127.0.0.1:<port> */
	baseUrl: string;
	startedInMs: number;
	stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
	/** The last 200 kB of its stdout and stderr (empty with stdio 'inherit'). */
	output(): string;
}

export const ROOT: string;
export const PACKAGE_NAME: string;
export const N8N_VERSION: string;
export function cacheRoot(): string;
export function node24Bin(): string;
export function toolEnv(extra?: Record<string, string>): NodeJS.ProcessEnv;
export function n8nDir(version?: string): string;
export function ensureN8n(options?: { version?: string }): N8nInstall;
export function installedN8n(options?: { version?: string }): N8nInstall;
export function buildPackage(): void;
export function installPackage(
	userFolder: string,
	options?: { reuseDependencies?: boolean },
): string;
export function hashPassword(password: string, dir?: string): string;
export function n8nEnv(options: {
	userFolder: string;
	port?: number;
	brokerPort?: number;
	host?: string;
	listen?: string;
	owner?: Owner;
	logLevel?: 'error' | 'warn' | 'info' | 'debug';
	extra?: Record<string, string>;
}): NodeJS.ProcessEnv;
export function n8nCli(
	install: N8nInstall,
	args: string[],
	env: NodeJS.ProcessEnv,
	options?: { timeoutMs?: number },
): Promise<string>;
export function freePort(): Promise<number>;
export function waitReady(
	baseUrl: string,
	options?: { timeoutMs?: number; child?: ChildProcess },
): Promise<void>;
export function startN8n(
	install: N8nInstall,
	env: NodeJS.ProcessEnv,
	options?: {
		stdio?: 'pipe' | 'inherit';
		onOutput?: (chunk: string) => void;
		timeoutMs?: number;
		graceMs?: number;
		/** 'worker' runs `n8n worker` (env needs QUEUE_HEALTH_CHECK_ACTIVE and QUEUE_HEALTH_CHECK_PORT). */
		command?: 'start' | 'worker';
		args?: string[];
	},
): Promise<N8nHandle>;
export function login(baseUrl: string, email: string, password: string): Promise<string>;
export function createApiKey(baseUrl: string, cookie: string, label?: string): Promise<string>;
export function stableId(seed: string): string;
export function workflowFiles(): string[];
export function importWorkflows(
	install: N8nInstall,
	env: NodeJS.ProcessEnv,
	entries: { file: string; workflow: object }[],
): Promise<Record<string, string>>;
export function importCredentials(
	install: N8nInstall,
	env: NodeJS.ProcessEnv,
	credentials: { id: string; name: string; type: string; data: Record<string, unknown> }[],
): Promise<void>;
