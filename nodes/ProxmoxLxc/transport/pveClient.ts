/** Proxmox VE API client: token auth over the shared HTTPS transport (CA, fingerprint pin or
 * self-signed, checked before the token is sent), form-encoded bodies as PVE takes them, PVE's error
 * shapes turned into messages that say what to do, and tasks (UPIDs) polled until they stop. */
import type { HttpApiConnection } from '../../shared/connections';
import { errorMessage, InfraOpsError } from '../../shared/errors';
import { httpRequest } from '../../shared/http';

export type PveParams = Record<string, string | number | boolean | undefined>;

export interface PveClientOptions {
	/** Per HTTP request; default 30 s. */
	timeoutMs?: number;
	/** How long to wait for a task to stop; default 10 min. */
	taskTimeoutMs?: number;
	/** First poll interval; grows to 2 s. Default 250 ms. */
	pollMs?: number;
}

export interface TaskResult {
	upid: string;
	node: string;
	type: string;
	id: string;
	exitstatus: string;
	durationMs: number;
}

export class PveApiError extends InfraOpsError {
	constructor(
		message: string,
		hint: string | undefined,
		readonly status: number,
		/** PVE's per-parameter errors of a 400 "Parameter verification failed." */
		readonly errors?: Record<string, string>,
	) {
		super(message, hint);
		this.name = 'PveApiError';
	}
}

export class PveTaskError extends InfraOpsError {
	constructor(
		message: string,
		readonly task: TaskResult,
		readonly logTail: string[],
	) {
		super(
			message,
			"The lines above are the end of the task log; the full log is in the PVE web UI under the node's Task History",
		);
		this.name = 'PveTaskError';
	}
}

export interface Upid {
	node: string;
	type: string;
	id: string;
	user: string;
}

export function parseUpid(upid: string): Upid {
	const m =
		/^UPID:([a-zA-Z0-9\-.]+):[0-9A-Fa-f]{8,9}:[0-9A-Fa-f]{8,9}:(?:[0-9A-Fa-f]{8,9}:)?[0-9A-Fa-f]{8}:([^:\s]+):([^:\s]*):([^:\s]+):$/.exec(
			upid,
		);
	if (!m) throw new InfraOpsError(`"${upid}" is not a Proxmox task id (UPID)`);
	return { node: m[1], type: m[2], id: m[3], user: m[4] };
}

const ROOT_ONLY = /only allowed for root@pam/;
const EARLY_TASK_400_MS = 15_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref?.());

/** Request parameters whose values are secrets (create's root password). */
const SECRET_PARAMS = ['password'];
/** PVE's minimum password length; shorter strings would blank out ordinary words of a message. */
const MIN_REDACTED_LENGTH = 5;

function secretValues(params: PveParams): string[] {
	return SECRET_PARAMS.map((key) => params[key]).filter(
		(v): v is string => typeof v === 'string' && v.length > 0,
	);
}

export class PveClient {
	readonly baseUrl: string;
	/** USER@REALM of the token, e.g. to tell root-only options apart before sending. */
	readonly user: string;
	private readonly timeoutMs: number;
	private readonly taskTimeoutMs: number;
	private readonly pollMs: number;
	private readonly secret: string;

	constructor(
		private readonly conn: HttpApiConnection,
		options: PveClientOptions = {},
	) {
		this.baseUrl = conn.baseUrl.replace(/\/api2\/json$/, '');
		const auth = conn.headers.authorization ?? '';
		this.user = /^PVEAPIToken=([^!]+)!/.exec(auth)?.[1] ?? '';
		this.secret = auth.slice(auth.lastIndexOf('=') + 1);
		this.timeoutMs = options.timeoutMs ?? 30_000;
		this.taskTimeoutMs = options.taskTimeoutMs ?? 600_000;
		this.pollMs = options.pollMs ?? 250;
	}

	/** Never lets the token secret, or a secret the request carried (e.g. a container's root
	 * password), into a message, whatever a server echoes back. */
	private redact(text: string, requestSecrets: readonly string[] = []): string {
		let out = this.secret.length >= 8 ? text.split(this.secret).join('***') : text;
		for (const secret of requestSecrets)
			if (secret.length >= MIN_REDACTED_LENGTH) out = out.split(secret).join('***');
		return out;
	}

	async request<T = unknown>(
		method: 'GET' | 'POST' | 'PUT' | 'DELETE',
		apiPath: string,
		params: PveParams = {},
	): Promise<T> {
		const form = new URLSearchParams();
		for (const [key, value] of Object.entries(params)) {
			if (value === undefined) continue;
			form.append(key, typeof value === 'boolean' ? (value ? '1' : '0') : String(value));
		}
		const inQuery = method === 'GET' || method === 'DELETE';
		const query = inQuery && [...form.keys()].length > 0 ? `?${form.toString()}` : '';
		const body = inQuery ? undefined : form.toString();
		const secrets = secretValues(params);
		let response;
		try {
			response = await httpRequest({
				method,
				url: `${this.baseUrl}/api2/json${apiPath}${query}`,
				headers: {
					...this.conn.headers,
					...(body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
				},
				body,
				timeoutMs: this.timeoutMs,
				tls: this.conn.tls,
			});
		} catch (error) {
			if (error instanceof InfraOpsError)
				throw new InfraOpsError(this.redact(error.message, secrets), error.hint, { cause: error });
			throw new InfraOpsError(
				this.redact(`Proxmox VE at ${this.baseUrl}: ${errorMessage(error)}`, secrets),
			);
		}
		let parsed: { data?: unknown; message?: string; errors?: Record<string, string> } = {};
		try {
			parsed = JSON.parse(response.text() || '{}') as typeof parsed;
		} catch {
			if (response.status < 300)
				throw new InfraOpsError(
					`Proxmox VE answered ${method} ${apiPath} with something that is not JSON`,
					'Check that the URL points at the PVE API (https://host:8006)',
				);
		}
		if (response.status >= 200 && response.status < 300) return parsed.data as T;
		throw this.describeError(
			method,
			apiPath,
			response.status,
			response.statusMessage ?? '',
			parsed,
			secrets,
		);
	}

	private describeError(
		method: string,
		apiPath: string,
		status: number,
		statusMessage: string,
		body: { message?: string; errors?: Record<string, string> },
		secrets: readonly string[],
	): PveApiError {
		const message = this.redact(
			(body.message ?? '').trim() || statusMessage.trim() || `HTTP ${status}`,
			secrets,
		);
		const where = `${method} ${apiPath}`;
		if (status === 401) {
			return new PveApiError(
				`Proxmox VE refused the API token (401 ${message})`,
				'Check the token ID (USER@REALM!TOKENID) and secret in the credential, and that the token has not expired or been removed',
				status,
			);
		}
		if (status === 403) {
			if (ROOT_ONLY.test(message)) {
				return new PveApiError(
					`${where}: only root@pam may do this (${message}); no API token can, whatever its role (PVE compares the user literally, and a token is USER@REALM!TOKEN)`,
					'Feature flags other than nesting (keyctl, fuse, mknod, mount), bind mounts, device passthrough and hookscripts: set them once on the node (pct set <vmid> --features keyctl=1,nesting=1), or leave them out of this request',
					status,
				);
			}
			return new PveApiError(
				`${where}: permission denied (${message})`,
				"Give the token's user (and, with privilege separation, the token itself) the needed role on the path, e.g. PVEVMAdmin on /vms",
				status,
			);
		}
		if (status === 400 && body.errors) {
			// PVE quotes the refused value in some of these (enum, format), so they are redacted too
			const errors = Object.fromEntries(
				Object.entries(body.errors).map(([k, v]) => [k, this.redact(String(v).trim(), secrets)]),
			);
			const detail = Object.entries(errors)
				.map(([k, v]) => `${k}: ${v}`)
				.join('; ');
			return new PveApiError(
				`${where}: Proxmox VE refused the parameters (${detail})`,
				'Fix the named parameter(s); the PVE API viewer lists what each accepts',
				status,
				errors,
			);
		}
		if (/detected modified configuration/.test(message)) {
			return new PveApiError(
				`${where}: the container's configuration changed since it was read (digest mismatch), so the update was refused`,
				'Someone or something else changed it meanwhile: read it again (Get) and re-apply, or run Ensure again',
				status,
			);
		}
		return new PveApiError(`${where}: ${message} (HTTP ${status})`, undefined, status);
	}

	/**
	 * Like request, for create/clone: PVE answers 400/500 "can't lock file ... got timeout" while
	 * another task holds the storage or the VMID lock; like the bpg/proxmox provider, try again a few
	 * times before giving up.
	 */
	async requestRetryingBusy<T = unknown>(
		method: 'POST' | 'PUT',
		apiPath: string,
		params: PveParams,
		attempts = 4,
	): Promise<T> {
		for (let attempt = 1; ; attempt++) {
			try {
				return await this.request<T>(method, apiPath, params);
			} catch (error) {
				const busy =
					error instanceof PveApiError &&
					(error.status === 400 || error.status === 500) &&
					!error.errors &&
					/can't lock file|got timeout|is locked/.test(error.message);
				if (!busy || attempt >= attempts) throw error;
				await sleep(this.pollMs * 2 ** attempt);
			}
		}
	}

	/** Polls a task until it stops; a task whose exit status is not OK throws with the tail of its log.
	 * `requestSecrets`: secrets of the call that started the task, kept out of that log tail. */
	async waitTask(
		upid: string,
		timeoutMs = this.taskTimeoutMs,
		requestSecrets: readonly string[] = [],
	): Promise<TaskResult> {
		const { node, type, id } = parseUpid(upid);
		const started = Date.now();
		const base = `/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(upid)}`;
		let delay = this.pollMs;
		for (;;) {
			let status: { status: string; exitstatus?: string };
			try {
				status = await this.request<{ status: string; exitstatus?: string }>(
					'GET',
					`${base}/status`,
				);
			} catch (error) {
				// Right after a task starts, its status may not be readable yet and PVE answers 400 (the
				// bpg/proxmox provider retries this too); keep polling for a while before believing it
				if (
					error instanceof PveApiError &&
					error.status === 400 &&
					Date.now() - started < EARLY_TASK_400_MS
				) {
					await sleep(delay);
					continue;
				}
				throw error;
			}
			if (status.status === 'stopped') {
				const result: TaskResult = {
					upid,
					node,
					type,
					id,
					exitstatus: status.exitstatus ?? '',
					durationMs: Date.now() - started,
				};
				// PVE ends tasks that succeeded with warnings as "WARNINGS: n": done, not failed
				if (result.exitstatus === 'OK' || /^WARNINGS: \d+$/.test(result.exitstatus)) return result;
				const log = await this.request<{ n: number; t: string }[]>('GET', `${base}/log`, {
					start: 0,
					limit: 500,
				}).catch(() => []);
				const tail = log.slice(-10).map((l) => this.redact(l.t, requestSecrets));
				const failed = { ...result, exitstatus: this.redact(result.exitstatus, requestSecrets) };
				throw new PveTaskError(
					`Proxmox task ${type} ${id} on ${node} failed: ${failed.exitstatus}\n${tail.join('\n')}`,
					failed,
					tail,
				);
			}
			if (Date.now() - started > timeoutMs) {
				throw new InfraOpsError(
					`Proxmox task ${type} ${id} on ${node} still running after ${timeoutMs < 10_000 ? `${timeoutMs} ms` : `${Math.round(timeoutMs / 1000)} s`}`,
					`It goes on in PVE (${upid}); raise the task timeout or look at the node's Task History`,
				);
			}
			await sleep(delay);
			delay = Math.min(delay * 1.5, 2000);
		}
	}

	/** A call that answers with a UPID, and the wait for that task. */
	async runTask(
		method: 'POST' | 'PUT' | 'DELETE',
		apiPath: string,
		params: PveParams = {},
		options: { retryBusy?: boolean; timeoutMs?: number } = {},
	): Promise<TaskResult> {
		const upid =
			options.retryBusy && method !== 'DELETE'
				? await this.requestRetryingBusy<string>(method, apiPath, params)
				: await this.request<string>(method, apiPath, params);
		if (typeof upid !== 'string' || !upid.startsWith('UPID:'))
			throw new InfraOpsError(
				`${method} ${apiPath}: Proxmox VE did not answer with a task id (got ${JSON.stringify(upid)?.slice(0, 100)})`,
			);
		return await this.waitTask(upid, options.timeoutMs, secretValues(params));
	}
}
