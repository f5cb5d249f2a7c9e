/** Dependent containers: restarted through the Docker API, then waited on until running (and healthy,
 * when they have a health check); restarted again after a rollback. */
import type Dockerode from 'dockerode';

import { createDockerClient, type DockerClient, type DockerConnection } from '../../shared/docker';
import { errorMessage, InfraOpsError } from '../../shared/errors';
import type { RotationTarget } from '../rotation';

export interface ContainersOptions {
	docker: DockerConnection;
	names: string[];
	healthTimeoutMs: number;
	/** Seconds docker waits for a clean stop before killing. */
	stopTimeoutS?: number;
}

export async function waitHealthy(docker: Dockerode, name: string, timeoutMs: number, since: number): Promise<string> {
	const deadline = Date.now() + timeoutMs;
	let last = '';
	while (Date.now() < deadline) {
		const info = await docker.getContainer(name).inspect();
		const state = info.State;
		const started = Date.parse(state.StartedAt);
		const health = state.Health?.Status;
		last = `${state.Status}${health ? `/${health}` : ''}`;
		if (state.Running && started >= since - 1_000 && (!health || health === 'healthy')) return last;
		if (!state.Running && !state.Restarting && started >= since - 1_000) break;
		await new Promise((r) => setTimeout(r, 500));
	}
	throw new InfraOpsError(`${name} did not come back healthy within ${timeoutMs / 1000} s (state ${last})`, 'Check its logs: docker logs ' + name);
}

async function waitRunning(docker: Dockerode, name: string, timeoutMs: number): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if ((await docker.getContainer(name).inspect()).State.Running) return;
		await new Promise((r) => setTimeout(r, 500));
	}
	throw new InfraOpsError(`${name} is not running ${timeoutMs / 1000} s after the restart`);
}

export class ContainersTarget implements RotationTarget {
	readonly kind = 'containers';
	readonly phase = 'dependents' as const;
	readonly target: string;
	private client?: DockerClient;
	private restartedAt = 0;
	/** Containers that were not healthy before the rotation: after a rollback they only need to run. */
	private unhealthyBefore = new Set<string>();

	constructor(private readonly options: ContainersOptions) {
		if (options.names.length === 0) throw new InfraOpsError('No container to restart is named', 'Fill in "Containers"');
		this.target = `containers ${options.names.join(', ')}`;
	}

	async create(): Promise<string> {
		this.client = await createDockerClient(this.options.docker);
		const missing: string[] = [];
		for (const name of this.options.names) {
			try {
				const info = await this.client.docker.getContainer(name).inspect();
				if (info.State.Health?.Status && info.State.Health.Status !== 'healthy') this.unhealthyBefore.add(name);
			} catch (error) {
				if ((error as { statusCode?: number }).statusCode === 404) missing.push(name);
				else throw new InfraOpsError(`Docker at ${this.client.target}: cannot inspect ${name}: ${errorMessage(error)}`);
			}
		}
		if (missing.length) throw new InfraOpsError(`No container named ${missing.join(', ')} at ${this.client.target}`, 'Use the container names of `docker ps`');
		const unhealthy = [...this.unhealthyBefore];
		return `${this.options.names.length} container(s) found${unhealthy.length ? `; not healthy already: ${unhealthy.join(', ')}` : ''}`;
	}

	async set(): Promise<string> {
		return await this.restart();
	}

	async test(): Promise<string> {
		const docker = this.requireClient().docker;
		const states = await Promise.all(this.options.names.map((n) => waitHealthy(docker, n, this.options.healthTimeoutMs, this.restartedAt)));
		return `back up: ${this.options.names.map((n, i) => `${n} ${states[i]}`).join(', ')}`;
	}

	async finish(): Promise<string> {
		return 'done';
	}

	async rollback(): Promise<string> {
		const restarted = await this.restart();
		const docker = this.requireClient().docker;
		await Promise.all(
			this.options.names.map((n) =>
				this.unhealthyBefore.has(n) ? waitRunning(docker, n, this.options.healthTimeoutMs) : waitHealthy(docker, n, this.options.healthTimeoutMs, this.restartedAt),
			),
		);
		return `${restarted} on the restored configuration`;
	}

	async close(): Promise<void> {
		this.client?.close();
		this.client = undefined;
	}

	private async restart(): Promise<string> {
		const docker = this.requireClient().docker;
		this.restartedAt = Date.now();
		await Promise.all(this.options.names.map((n) => docker.getContainer(n).restart({ t: this.options.stopTimeoutS ?? 10 })));
		return `restarted ${this.options.names.join(', ')}`;
	}

	private requireClient(): DockerClient {
		if (!this.client) throw new InfraOpsError(`${this.target}: not connected (create did not run)`);
		return this.client;
	}
}
