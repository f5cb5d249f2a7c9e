/** Dependent containers: restarted through the Docker API, then waited on until running (and healthy,
 * when they have a health check); restarted again after a rollback. */
import type Dockerode from 'dockerode';

import { createDockerClient, type DockerClient, type DockerConnection } from '../../shared/docker';
import { errorMessage, InfraOpsError } from '../../shared/errors';
import type { GeneratedSecret } from '../generate';
import type { RotationTarget } from '../rotation';

export interface ContainersOptions {
	docker: DockerConnection;
	names: string[];
	healthTimeoutMs: number;
	/** Seconds docker waits for a clean stop before killing. */
	stopTimeoutS?: number;
	/**
	 * restart keeps each container's environment; recreate makes a new container with the same
	 * configuration (compose labels included) whose environment has the new secret: entries named
	 * in envKeys get it, and the old value (read from the first of those keys a container has) is
	 * replaced wherever else it appears, e.g. inside DATABASE_URL.
	 */
	action: 'restart' | 'recreate';
	envKeys: string[];
	/**
	 * The current secret as another target read it (the .env file's value), asked at create when no
	 * container sets one of envKeys itself: compose often passes the secret on only inside other
	 * variables (GOTRUE_DB_DATABASE_URL, PGRST_DB_URI, …), which are then found by that value.
	 */
	currentValue?: () => string | undefined;
}

/** The environment with the new secret: named keys set, the old value replaced inside other entries. */
export function rotateEnv(
	env: string[],
	keys: string[],
	oldValue: string | undefined,
	newValue: string,
): { env: string[]; changed: number } {
	let changed = 0;
	const out = env.map((entry) => {
		const eq = entry.indexOf('=');
		const key = eq < 0 ? entry : entry.slice(0, eq);
		const value = eq < 0 ? '' : entry.slice(eq + 1);
		let next = value;
		if (keys.includes(key)) next = newValue;
		// short old values would match by accident elsewhere
		else if (oldValue && oldValue.length >= 8 && value.includes(oldValue))
			next = value.split(oldValue).join(newValue);
		if (next !== value) changed++;
		return next === value ? entry : `${key}=${next}`;
	});
	return { env: out, changed };
}

export async function waitHealthy(
	docker: Dockerode,
	name: string,
	timeoutMs: number,
	since: number,
): Promise<string> {
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
	throw new InfraOpsError(
		`${name} did not come back healthy within ${timeoutMs / 1000} s (state ${last})`,
		'Check its logs: docker logs ' + name,
	);
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
	private inspected = new Map<string, Dockerode.ContainerInspectInfo>();
	/** Recreate: the previous containers, renamed and stopped, kept until finish for the rollback. */
	private retired = new Map<string, string>();

	constructor(private readonly options: ContainersOptions) {
		if (options.names.length === 0)
			throw new InfraOpsError('No container to restart is named', 'Fill in "Containers"');
		this.target = `containers ${options.names.join(', ')}`;
	}

	async create(): Promise<string> {
		this.client = await createDockerClient(this.options.docker);
		const missing: string[] = [];
		for (const name of this.options.names) {
			try {
				const info = await this.client.docker.getContainer(name).inspect();
				this.inspected.set(name, info);
				if (info.State.Health?.Status && info.State.Health.Status !== 'healthy')
					this.unhealthyBefore.add(name);
			} catch (error) {
				if ((error as { statusCode?: number }).statusCode === 404) missing.push(name);
				else
					throw new InfraOpsError(
						`Docker at ${this.client.target}: cannot inspect ${name}: ${errorMessage(error)}`,
					);
			}
		}
		if (missing.length)
			throw new InfraOpsError(
				`No container named ${missing.join(', ')} at ${this.client.target}`,
				'Use the container names of `docker ps`',
			);
		if (this.options.action === 'recreate') {
			// a recreate that changes no variable puts the old secret back into a new container: the
			// service then fails against the rotated server, possibly after its health check passed
			const oldValue = this.oldValue();
			const unchanged = this.options.names.filter(
				(name) =>
					rotateEnv(
						this.inspected.get(name)!.Config.Env ?? [],
						this.options.envKeys,
						oldValue,
						'\0',
					).changed === 0,
			);
			if (unchanged.length) {
				throw new InfraOpsError(
					`Recreating ${unchanged.join(', ')} would not change the secret: ${oldValue ? 'no variable holds the current value' : `none of ${this.options.envKeys.join(', ') || '(no Environment Keys)'} is set, and the current value is not known`}`,
					'List in "Environment Keys" the variable that holds the secret in each container (or rotate the .env file in the same run, so its value is found inside URLs); use Restart for containers that read it from a file',
				);
			}
		}
		const unhealthy = [...this.unhealthyBefore];
		return `${this.options.names.length} container(s) found${unhealthy.length ? `; not healthy already: ${unhealthy.join(', ')}` : ''}`;
	}

	async set(secret: GeneratedSecret): Promise<string> {
		if (this.options.action === 'restart') return await this.restart();
		if (secret.kind === 'sshKey')
			throw new InfraOpsError(
				'Containers get a password or token in their environment, not an SSH key pair',
			);
		const docker = this.requireClient().docker;
		this.restartedAt = Date.now();
		const oldValue = this.oldValue();
		const notes: string[] = [];
		for (const name of this.options.names) {
			const info = this.inspected.get(name)!;
			const { env, changed } = rotateEnv(
				info.Config.Env ?? [],
				this.options.envKeys,
				oldValue,
				secret.value,
			);
			const retiredName = `${name.replace(/^\//, '')}-infra-ops-old-${this.restartedAt}`;
			await docker
				.getContainer(info.Id)
				.stop({ t: this.options.stopTimeoutS ?? 10 })
				.catch((error: { statusCode?: number }) => {
					if (error.statusCode !== 304) throw error;
				});
			await docker.getContainer(info.Id).rename({ name: retiredName });
			this.retired.set(name, info.Id);
			const networks = info.NetworkSettings?.Networks ?? {};
			const created = await docker.createContainer({
				...info.Config,
				name,
				Env: env,
				HostConfig: info.HostConfig,
				NetworkingConfig: {
					EndpointsConfig: Object.fromEntries(
						Object.entries(networks).map(([net, ep]) => [
							net,
							{
								Aliases: ep.Aliases ?? undefined,
								IPAMConfig: ep.IPAMConfig ?? undefined,
								Links: ep.Links ?? undefined,
							},
						]),
					),
				},
			} as Dockerode.ContainerCreateOptions);
			await created.start();
			notes.push(`${name} (${changed} variable(s))`);
		}
		return `recreated with the new secret: ${notes.join(', ')}; old containers kept stopped until finish`;
	}

	/** The secret the containers hold now: the first env key of the list that a container sets, else what another target read. */
	private oldValue(): string | undefined {
		for (const key of this.options.envKeys) {
			for (const info of this.inspected.values()) {
				const entry = (info.Config.Env ?? []).find((e) => e.startsWith(`${key}=`));
				if (entry) return entry.slice(key.length + 1);
			}
		}
		return this.options.currentValue?.() || undefined;
	}

	async test(): Promise<string> {
		const docker = this.requireClient().docker;
		const states = await Promise.all(
			this.options.names.map((n) =>
				waitHealthy(docker, n, this.options.healthTimeoutMs, this.restartedAt),
			),
		);
		return `back up: ${this.options.names.map((n, i) => `${n} ${states[i]}`).join(', ')}`;
	}

	async finish(): Promise<string> {
		const docker = this.requireClient().docker;
		for (const id of this.retired.values()) await docker.getContainer(id).remove({ force: true });
		const count = this.retired.size;
		this.retired.clear();
		return count ? `${count} old container(s) removed` : 'done';
	}

	async rollback(): Promise<string> {
		const docker = this.requireClient().docker;
		if (this.options.action === 'recreate') {
			for (const [name, id] of this.retired) {
				await docker
					.getContainer(name)
					.remove({ force: true })
					.catch((error: { statusCode?: number }) => {
						if (error.statusCode !== 404) throw error;
					});
				await docker.getContainer(id).rename({ name });
			}
			this.retired.clear();
		}
		// restarted in both cases: env-file targets were restored before this runs
		const restarted = await this.restart();
		await Promise.all(
			this.options.names.map((n) =>
				this.unhealthyBefore.has(n)
					? waitRunning(docker, n, this.options.healthTimeoutMs)
					: waitHealthy(docker, n, this.options.healthTimeoutMs, this.restartedAt),
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
		await Promise.all(
			this.options.names.map((n) =>
				docker.getContainer(n).restart({ t: this.options.stopTimeoutS ?? 10 }),
			),
		);
		return `restarted ${this.options.names.join(', ')}`;
	}

	private requireClient(): DockerClient {
		if (!this.client) throw new InfraOpsError(`${this.target}: not connected (create did not run)`);
		return this.client;
	}
}
