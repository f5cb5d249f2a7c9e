/** Types for queue.js (plain CommonJS, like n8n.js). */
import type { N8nHandle, N8nInstall } from './n8n';

export interface RedisHandle {
	host: string;
	port: number;
	pid: number;
	stop(): Promise<unknown>;
}

export interface QueuePostgres {
	host: string;
	port: number;
	user: string;
	password: string;
	database: string;
}

export interface WorkerHandle extends N8nHandle {
	name: string;
	env: NodeJS.ProcessEnv;
	/** Execution ids this worker started ("Worker started execution <id>" in its log). */
	executionIds(): string[];
}

export function startRedis(dir: string): Promise<RedisHandle>;
export function startPostgres(
	dir: string,
	options?: { port?: number },
): Promise<QueuePostgres & { pid: number; stop(): Promise<unknown> }>;
export function queueEnv(options: {
	redis: { host: string; port: number };
	postgres: QueuePostgres;
	encryptionKey: string;
}): Record<string, string>;
export interface CredentialRecord {
	id: string;
	name: string;
	type: string;
	data: Record<string, unknown>;
}
export function stateStoreCredential(
	postgres: QueuePostgres,
	options?: { name?: string; ssl?: 'disable' | 'require' | 'verify-full'; ca?: string },
): CredentialRecord;
export function attachToPack<T extends { nodes: { type: string }[] }>(
	workflow: T,
	credential: { id: string; name: string; type: string },
): T;
export function shareNodesFolder(mainFolder: string, folder: string): void;
export function startWorker(
	install: N8nInstall,
	baseEnv: NodeJS.ProcessEnv,
	options: {
		root: string;
		mainFolder: string;
		index: number;
		concurrency?: number;
		stdio?: 'pipe' | 'inherit';
	},
): Promise<WorkerHandle>;
export function cpuSeconds(pid: number): number;
