/** A Docker swarm secret: secrets are immutable, so a new versioned one is created, the services are
 * switched to it (same file name in /run/secrets), and the old one is removed after the rollout. */
import type Dockerode from 'dockerode';

import { createDockerClient, type DockerClient, type DockerConnection } from '../../shared/docker';
import { errorMessage, InfraOpsError } from '../../shared/errors';
import { DockerLock, type LeaseLock } from '../../shared/locks';
import type { GeneratedSecret } from '../generate';
import type { RotationTarget } from '../rotation';

export interface SwarmSecretOptions {
	docker: DockerConnection;
	/** Base name: the services' secret is `<base>` or `<base>_v<time>`. */
	secretName: string;
	services: string[];
	rolloutTimeoutMs: number;
}

interface SecretRef {
	SecretID: string;
	SecretName: string;
	File?: { Name: string; UID: string; GID: string; Mode: number };
}

export class SwarmSecretTarget implements RotationTarget {
	readonly kind = 'swarm-secret';
	readonly phase = 'restorable' as const;
	readonly target: string;
	private client?: DockerClient;
	private oldRefs = new Map<string, SecretRef>();
	private newSecret?: { id: string; name: string };

	constructor(private readonly options: SwarmSecretOptions) {
		if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(options.secretName)) {
			throw new InfraOpsError(
				`"${options.secretName}" is not a valid swarm secret name`,
				'Letters, digits, _ . -',
			);
		}
		if (options.services.length === 0)
			throw new InfraOpsError(
				'No swarm service is named',
				'Fill in "Services": the services that use the secret',
			);
		this.target = `swarm secret ${options.secretName} for ${options.services.join(', ')}`;
	}

	private matches(name: string): boolean {
		return (
			name === this.options.secretName ||
			new RegExp(`^${this.options.secretName.replace(/[.]/g, '\\.')}_v\\d+$`).test(name)
		);
	}

	async create(secret: GeneratedSecret): Promise<string> {
		this.client ??= await createDockerClient(this.options.docker);
		const docker = this.client.docker;
		const info = (await docker.info()) as {
			Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean };
		};
		if (info.Swarm?.LocalNodeState !== 'active') {
			throw new InfraOpsError(
				`Docker at ${this.client.target} is not in swarm mode (node state "${info.Swarm?.LocalNodeState ?? 'unknown'}"): swarm secrets need a swarm`,
				'Point the Docker credential at a swarm manager, or rotate the .env value and recreate the containers instead',
			);
		}
		if (!info.Swarm.ControlAvailable)
			throw new InfraOpsError(
				`Docker at ${this.client.target} is a swarm worker`,
				'Secrets are managed on a manager node',
			);
		if (Buffer.byteLength(secret.value) > 500 * 1024)
			throw new InfraOpsError('The secret is larger than the 500 KB swarm allows');
		for (const name of this.options.services) {
			const spec = await this.inspect(docker, name);
			const refs =
				(spec.Spec.TaskTemplate as { ContainerSpec?: { Secrets?: SecretRef[] } }).ContainerSpec
					?.Secrets ?? [];
			const ref = refs.find((r) => this.matches(r.SecretName));
			if (!ref)
				throw new InfraOpsError(
					`Service ${name} uses no secret named ${this.options.secretName}[_v…]`,
					`Its secrets: ${refs.map((r) => r.SecretName).join(', ') || 'none'}`,
				);
			this.oldRefs.set(name, ref);
		}
		return `services use ${[...new Set([...this.oldRefs.values()].map((r) => r.SecretName))].join(', ')}`;
	}

	/** A never-started container named infra-ops-lock-swarm-secret-<name> on the manager. */
	async locks(): Promise<LeaseLock[]> {
		this.client ??= await createDockerClient(this.options.docker);
		return [new DockerLock(this.client.docker, `swarm-secret-${this.options.secretName}`)];
	}

	async set(secret: GeneratedSecret): Promise<string> {
		const docker = this.requireClient().docker;
		const name = `${this.options.secretName}_v${Date.now()}`;
		const created = (await docker.createSecret({
			Name: name,
			Labels: {
				'org.infra-ops.secret': this.options.secretName,
				'org.infra-ops.fingerprint': secret.metadata.fingerprint,
			},
			Data: Buffer.from(secret.value, 'utf8').toString('base64'),
		} as never)) as unknown as { id: string };
		this.newSecret = { id: created.id, name };
		for (const service of this.options.services) {
			await this.switchTo(docker, service, (old) => ({
				...old,
				SecretID: created.id,
				SecretName: name,
			}));
		}
		return `created ${name}; services updated`;
	}

	async test(): Promise<string> {
		const docker = this.requireClient().docker;
		const done = await Promise.all(
			this.options.services.map((s) => this.waitRollout(docker, s, this.newSecret!.id)),
		);
		return `rolled out: ${done.join(', ')}`;
	}

	async finish(): Promise<string> {
		const docker = this.requireClient().docker;
		const removed: string[] = [];
		const failed: string[] = [];
		// every old secret is tried: one still in use elsewhere must not keep the others around
		for (const ref of new Map([...this.oldRefs.values()].map((r) => [r.SecretID, r])).values()) {
			try {
				await docker.getSecret(ref.SecretID).remove();
				removed.push(ref.SecretName);
			} catch (error) {
				failed.push(`${ref.SecretName} (${errorMessage(error)})`);
			}
		}
		if (failed.length) {
			throw new InfraOpsError(
				`old secret(s) not removed: ${failed.join('; ')}${removed.length ? `; removed: ${removed.join(', ')}` : ''}`,
				'Another service may still use it: docker secret rm once it is free',
			);
		}
		return `old secret removed: ${removed.join(', ')}`;
	}

	async rollback(): Promise<string> {
		const docker = this.requireClient().docker;
		for (const service of this.options.services) {
			const old = this.oldRefs.get(service)!;
			await this.switchTo(docker, service, () => old);
		}
		await Promise.all(
			this.options.services.map((s) => this.waitRollout(docker, s, this.oldRefs.get(s)!.SecretID)),
		);
		if (this.newSecret)
			await docker
				.getSecret(this.newSecret.id)
				.remove()
				.catch(() => undefined);
		return 'services back on the old secret; new secret removed';
	}

	async close(): Promise<void> {
		this.client?.close();
		this.client = undefined;
	}

	private async inspect(docker: Dockerode, name: string) {
		try {
			return (await docker.getService(name).inspect()) as {
				ID: string;
				Version: { Index: number };
				Spec: Record<string, unknown> & { TaskTemplate: Record<string, unknown> };
			};
		} catch (error) {
			if ((error as { statusCode?: number }).statusCode === 404)
				throw new InfraOpsError(
					`No swarm service named ${name}`,
					'Use the names of `docker service ls`',
				);
			throw error;
		}
	}

	private async switchTo(
		docker: Dockerode,
		service: string,
		replace: (old: SecretRef) => SecretRef,
	): Promise<void> {
		const current = await this.inspect(docker, service);
		const task = current.Spec.TaskTemplate as {
			ContainerSpec: { Secrets?: SecretRef[] };
			ForceUpdate?: number;
		};
		const secrets = (task.ContainerSpec.Secrets ?? []).map((r) =>
			this.matches(r.SecretName) ? replace(r) : r,
		);
		const spec = {
			...current.Spec,
			TaskTemplate: { ...task, ContainerSpec: { ...task.ContainerSpec, Secrets: secrets } },
		};
		await docker.getService(service).update({ version: current.Version.Index, ...spec } as never);
	}

	/** Until the service's running tasks all use `secretId` (and its update, if any, completed). */
	private async waitRollout(docker: Dockerode, service: string, secretId: string): Promise<string> {
		const deadline = Date.now() + this.options.rolloutTimeoutMs;
		let last = '';
		while (Date.now() < deadline) {
			const current = (await docker.getService(service).inspect()) as {
				UpdateStatus?: { State?: string; Message?: string };
			};
			const state = current.UpdateStatus?.State;
			if (state === 'paused' || state === 'rollback_completed' || state === 'rollback_paused') {
				throw new InfraOpsError(
					`${service}: the update ${state}: ${current.UpdateStatus?.Message ?? ''}`,
					'docker service ps --no-trunc ' + service,
				);
			}
			const tasks = (await docker.listTasks({
				filters: { service: [service], 'desired-state': ['running'] },
			})) as Array<{
				Status?: { State?: string };
				Spec?: { ContainerSpec?: { Secrets?: SecretRef[] } };
			}>;
			const running = tasks.filter((t) => t.Status?.State === 'running');
			const onSecret = running.filter((t) =>
				(t.Spec?.ContainerSpec?.Secrets ?? []).some((r) => r.SecretID === secretId),
			);
			last = `${onSecret.length}/${tasks.length} tasks running on it, update ${state ?? 'none'}`;
			if (tasks.length > 0 && onSecret.length === tasks.length && (!state || state === 'completed'))
				return `${service} (${running.length} task(s))`;
			await new Promise((r) => setTimeout(r, 500));
		}
		throw new InfraOpsError(
			`${service} did not roll out within ${this.options.rolloutTimeoutMs / 1000} s (${last})`,
			'docker service ps --no-trunc ' + service,
		);
	}

	private requireClient(): DockerClient {
		if (!this.client) throw new InfraOpsError(`${this.target}: not connected (create did not run)`);
		return this.client;
	}
}
