/** HashiCorp Vault KV v2: the new secret as a new version written with check-and-set; rollback writes
 * the old data back as a newer version (as `vault kv rollback` does). */
import type { HttpApiConnection } from '../../shared/connections';
import { InfraOpsError } from '../../shared/errors';
import { httpRequest } from '../../shared/http';
import type { GeneratedSecret } from '../generate';
import type { RotationTarget } from '../rotation';

export interface VaultKvOptions {
	api: HttpApiConnection;
	/** The KV v2 engine's mount, e.g. `secret`. */
	mount: string;
	path: string;
	field: string;
}

interface KvRead {
	data: Record<string, unknown>;
	version: number;
	/** The latest version is soft-deleted: Vault answers 404 but still counts it for check-and-set. */
	deleted: boolean;
}

export class VaultKvTarget implements RotationTarget {
	readonly kind = 'vault-kv';
	readonly phase = 'restorable' as const;
	readonly target: string;
	private old?: KvRead;
	private written?: number;

	constructor(private readonly options: VaultKvOptions) {
		const clean = (s: string) => s.trim().replace(/^\/+|\/+$/g, '');
		this.options = { ...options, mount: clean(options.mount), path: clean(options.path) };
		if (!this.options.mount || !this.options.path || !options.field.trim()) {
			throw new InfraOpsError(
				'Vault KV needs a mount, a path and a field',
				'e.g. mount secret, path stack/postgres, field password',
			);
		}
		this.target = `vault ${options.api.baseUrl} ${this.options.mount}/${this.options.path}#${options.field}`;
	}

	async create(): Promise<string> {
		this.old = await this.read();
		if (this.old.deleted)
			return `latest version ${this.old.version} is deleted: the new one goes on top, a rollback deletes it again`;
		return this.old.version
			? `current version ${this.old.version} kept for rollback`
			: 'no version yet: the first will be written';
	}

	async set(secret: GeneratedSecret): Promise<string> {
		const old = this.requireOld();
		const data = { ...old.data, [this.options.field]: secret.value };
		this.written = await this.write(data, old.version);
		return `version ${this.written} written (check-and-set on version ${old.version})`;
	}

	async test(secret: GeneratedSecret): Promise<string> {
		const now = await this.read();
		if (now.version !== this.written || now.data[this.options.field] !== secret.value) {
			throw new InfraOpsError(
				`${this.options.mount}/${this.options.path} reads back as version ${now.version} without the new value`,
			);
		}
		return `version ${now.version} reads back with the new value`;
	}

	async finish(): Promise<string> {
		return `older versions stay in Vault per the engine's max_versions`;
	}

	async rollback(): Promise<string> {
		const old = this.requireOld();
		const current = await this.read();
		if (current.version === old.version) return 'unchanged';
		if (old.version === 0) {
			await this.request('DELETE', `/v1/${this.options.mount}/metadata/${this.options.path}`);
			return 'the secret did not exist before: removed';
		}
		if (old.deleted) {
			// soft-deletes the latest version, ours: the secret reads as deleted again, as before the run
			await this.request('DELETE', `/v1/${this.options.mount}/data/${this.options.path}`);
			return `version ${current.version} deleted: the secret reads as deleted again, as before`;
		}
		const version = await this.write(old.data, current.version);
		return `old data written back as version ${version}`;
	}

	async close(): Promise<void> {}

	private requireOld(): KvRead {
		if (!this.old) throw new InfraOpsError(`${this.target}: create did not run`);
		return this.old;
	}

	private async read(): Promise<KvRead> {
		const response = await this.request(
			'GET',
			`/v1/${this.options.mount}/data/${this.options.path}`,
			undefined,
			[404],
		);
		type Body = {
			data?: { data?: Record<string, unknown> | null; metadata?: { version?: number } };
		};
		if (response.status === 404) {
			// a deleted latest version answers 404 with its metadata; a path never written, with none
			let version = 0;
			try {
				version = response.json<Body>().data?.metadata?.version ?? 0;
			} catch {
				version = 0;
			}
			return { data: {}, version, deleted: version > 0 };
		}
		const body = response.json<Body>();
		return {
			data: body.data?.data ?? {},
			version: body.data?.metadata?.version ?? 0,
			deleted: false,
		};
	}

	private async write(data: Record<string, unknown>, cas: number): Promise<number> {
		const response = await this.request(
			'POST',
			`/v1/${this.options.mount}/data/${this.options.path}`,
			{ options: { cas }, data },
		);
		return response.json<{ data?: { version?: number } }>().data?.version ?? 0;
	}

	private async request(method: string, path: string, body?: object, allow: number[] = []) {
		const { api } = this.options;
		const response = await httpRequest({
			method,
			url: api.baseUrl + path,
			headers: api.headers,
			tls: api.tls,
			body,
			timeoutMs: 30_000,
		});
		if (response.status < 300 || allow.includes(response.status)) return response;
		const errors = (() => {
			try {
				return response.json<{ errors?: string[] }>().errors?.join('; ');
			} catch {
				return response.text().slice(0, 200);
			}
		})();
		if (response.status === 403)
			throw new InfraOpsError(
				`Vault ${method} ${path}: permission denied`,
				"The token's policy needs read and create/update on this path (data/ and metadata/)",
			);
		if (response.status === 400 && /check-and-set/i.test(errors ?? '')) {
			throw new InfraOpsError(
				`Vault ${method} ${path}: ${errors}`,
				'Someone wrote a newer version meanwhile: run the rotation again',
			);
		}
		throw new InfraOpsError(`Vault ${method} ${path} answered HTTP ${response.status}: ${errors}`);
	}
}
