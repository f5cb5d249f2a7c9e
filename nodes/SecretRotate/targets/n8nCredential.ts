/** A field of an n8n credential, through n8n's public API (PATCH /credentials/{id} with isPartialData).
 * The API never returns credential data, so the old value cannot be restored: this target is set
 * last, after every other target passed its test. */
import type { HttpApiConnection } from '../../shared/connections';
import { InfraOpsError } from '../../shared/errors';
import { httpRequest } from '../../shared/http';
import type { GeneratedSecret } from '../generate';
import type { RotationTarget } from '../rotation';

export interface N8nCredentialOptions {
	api: HttpApiConnection;
	credentialId: string;
	/** e.g. `password` of a Postgres credential, `privateKey` of an SSH one. */
	field: string;
	/** Run n8n's own credential test after the update (POST /credentials/{id}/test). */
	test: boolean;
}

export class N8nCredentialTarget implements RotationTarget {
	readonly kind = 'n8n-credential';
	readonly phase = 'late' as const;
	readonly target: string;
	private name = '';
	private changed = false;

	constructor(private readonly options: N8nCredentialOptions) {
		if (!options.credentialId.trim())
			throw new InfraOpsError(
				'No n8n credential ID is given',
				'Open the credential in n8n: its ID is the last part of the URL',
			);
		if (!options.field.trim())
			throw new InfraOpsError(
				'No credential field is named',
				'e.g. password, or privateKey for an SSH credential',
			);
		this.target = `n8n credential ${options.credentialId} field ${options.field}`;
	}

	async create(): Promise<string> {
		const credential = await this.call<{ name: string; type: string }>(
			'GET',
			`/credentials/${encodeURIComponent(this.options.credentialId)}`,
		);
		this.name = credential.name;
		const schema = await this.call<{ properties?: Record<string, unknown> }>(
			'GET',
			`/credentials/schema/${encodeURIComponent(credential.type)}`,
		);
		if (schema.properties && !(this.options.field in schema.properties)) {
			throw new InfraOpsError(
				`Credential "${credential.name}" (${credential.type}) has no field "${this.options.field}"`,
				`Its fields: ${Object.keys(schema.properties).join(', ')}`,
			);
		}
		return `"${credential.name}" (${credential.type}) found`;
	}

	async set(secret: GeneratedSecret): Promise<string> {
		await this.call('PATCH', `/credentials/${encodeURIComponent(this.options.credentialId)}`, {
			data: { [this.options.field]: secret.value },
			isPartialData: true,
		});
		this.changed = true;
		return `"${this.name}" updated`;
	}

	async test(): Promise<string> {
		if (!this.options.test) return 'not tested (credential test off)';
		const result = await this.call<{ status?: string; message?: string }>(
			'POST',
			`/credentials/${encodeURIComponent(this.options.credentialId)}/test`,
		);
		if (result.status !== 'OK')
			throw new InfraOpsError(
				`n8n's test of "${this.name}" failed: ${result.message ?? JSON.stringify(result).slice(0, 200)}`,
			);
		return `n8n's credential test passed${result.message ? `: ${result.message}` : ''}`;
	}

	async finish(): Promise<string> {
		return 'done';
	}

	async rollback(): Promise<string> {
		if (!this.changed) return 'not changed';
		throw new InfraOpsError(
			`"${this.name}" holds the new value and n8n's API cannot give back the old one: set it by hand`,
		);
	}

	async close(): Promise<void> {}

	private async call<T>(method: string, path: string, body?: object): Promise<T> {
		const { api } = this.options;
		const response = await httpRequest({
			method,
			url: api.baseUrl + path,
			headers: api.headers,
			tls: api.tls,
			body,
			timeoutMs: 30_000,
		});
		if (response.status === 401 || response.status === 403) {
			throw new InfraOpsError(
				`n8n API ${method} ${path} refused the API key (HTTP ${response.status})`,
				'The API key needs the credential:read and credential:update scopes',
			);
		}
		if (response.status === 404)
			throw new InfraOpsError(
				`n8n API ${method} ${path}: not found (HTTP 404)`,
				'Check the credential ID',
			);
		if (response.status >= 300)
			throw new InfraOpsError(
				`n8n API ${method} ${path} answered HTTP ${response.status}: ${response.text().slice(0, 300)}`,
			);
		return response.body.length ? response.json<T>() : ({} as T);
	}
}
