/** Docker Engine client for the three connection kinds: unix socket, TCP with TLS client certs, SSH. */
import { Agent, type AgentOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import type Dockerode from 'dockerode';

import { describeConnectError, InfraOpsError, withTimeout } from './errors';
import { loadDockerode } from './lazy';
import { connectSsh, type SshConnection } from './ssh';

export type DockerConnection =
	| { kind: 'socket'; socketPath: string }
	| {
			kind: 'tcp';
			host: string;
			port: number;
			tls: boolean;
			ca?: string;
			cert?: string;
			key?: string;
	  }
	| { kind: 'ssh'; ssh: SshConnection };

export interface DockerClient {
	docker: Dockerode;
	/** Where it points, for messages; never holds a secret. */
	target: string;
	close(): void;
}

const DEFAULT_TIMEOUT_MS = 60_000;

export function describeDockerTarget(conn: DockerConnection): string {
	if (conn.kind === 'socket') return `unix://${conn.socketPath}`;
	if (conn.kind === 'tcp') return `${conn.tls ? 'https' : 'http'}://${conn.host}:${conn.port}`;
	return `ssh://${conn.ssh.username}@${conn.ssh.host}:${conn.ssh.port}`;
}

/**
 * An http.Agent whose sockets are `docker system dial-stdio` channels on one pinned SSH connection,
 * so every API call reuses that connection (docker-modem's own ssh mode opens a new one per request
 * and cannot pin the host key).
 */
class DockerOverSshAgent extends Agent {
	constructor(
		private readonly channel: () => Promise<Duplex>,
		options?: AgentOptions,
	) {
		super(options);
	}

	override createConnection(
		_options: unknown,
		callback?: (error: Error | null, socket: Duplex) => void,
	): Duplex | null | undefined {
		this.channel().then(
			(stream) => {
				// http's client calls these socket methods; an SSH channel has no TCP options to set
				const socketLike = stream as Duplex & Record<string, unknown>;
				socketLike.setTimeout ??= () => socketLike;
				socketLike.setNoDelay ??= () => socketLike;
				socketLike.setKeepAlive ??= () => socketLike;
				callback?.(null, stream);
			},
			(error: Error) => callback?.(error, undefined as unknown as Duplex),
		);
		return undefined;
	}
}

export async function createDockerClient(
	conn: DockerConnection,
	timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<DockerClient> {
	const Docker = loadDockerode();
	const target = describeDockerTarget(conn);
	if (conn.kind === 'socket') {
		return {
			docker: new Docker({ socketPath: conn.socketPath, timeout: timeoutMs }),
			target,
			close: () => undefined,
		};
	}
	if (conn.kind === 'tcp') {
		if (conn.tls && !(conn.cert && conn.key)) {
			throw new InfraOpsError(
				`Docker at ${target}: TLS needs a client certificate and key`,
				'Paste cert.pem and key.pem (and ca.pem) made for the Docker daemon, or use the SSH connection',
			);
		}
		const docker = new Docker({
			host: conn.host,
			port: conn.port,
			protocol: conn.tls ? 'https' : 'http',
			ca: conn.ca || undefined,
			cert: conn.cert || undefined,
			key: conn.key || undefined,
			timeout: timeoutMs,
		});
		return { docker, target, close: () => undefined };
	}
	const client = await connectSsh(conn.ssh);
	const agent = new DockerOverSshAgent(
		() =>
			new Promise<Duplex>((resolve, reject) =>
				client.exec('docker system dial-stdio', (error, channel) =>
					error
						? reject(
								new InfraOpsError(
									`Docker at ${target}: cannot run "docker system dial-stdio": ${error.message}`,
								),
							)
						: resolve(channel),
				),
			),
	);
	const docker = new Docker({
		host: 'docker',
		port: 80,
		protocol: 'http',
		agent,
		timeout: timeoutMs,
	} as Dockerode.DockerOptions);
	return {
		docker,
		target,
		close: () => {
			agent.destroy();
			client.end();
		},
	};
}

/** Opens a client for `fn` and always closes it. */
export async function withDocker<T>(
	conn: DockerConnection,
	fn: (client: DockerClient) => Promise<T>,
): Promise<T> {
	const client = await createDockerClient(conn);
	try {
		return await fn(client);
	} finally {
		client.close();
	}
}

export interface DockerEngineInfo {
	version: string;
	apiVersion: string;
	os: string;
	arch: string;
}

/** Ping + version: the credential test, and the first call of every Docker operation. */
export async function pingDocker(
	client: DockerClient,
	timeoutMs = 15_000,
): Promise<DockerEngineInfo> {
	try {
		await withTimeout(client.docker.ping(), timeoutMs, `Docker ping at ${client.target}`);
		const version = await withTimeout(
			client.docker.version(),
			timeoutMs,
			`Docker version at ${client.target}`,
		);
		return {
			version: version.Version,
			apiVersion: version.ApiVersion,
			os: version.Os,
			arch: version.Arch,
		};
	} catch (error) {
		if (error instanceof InfraOpsError) throw error;
		const status = (error as { statusCode?: number }).statusCode;
		if (status === 403) {
			throw new InfraOpsError(
				`Docker at ${client.target} refused the call (403)`,
				'A docker-socket-proxy in front of the socket must allow this endpoint (see docs/deploy.md)',
			);
		}
		throw describeConnectError(`Docker at ${client.target}`, error);
	}
}
