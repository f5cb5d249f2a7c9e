/** Docker side of backups: selecting volumes, the never-started helper container, stopping and
 * restarting users of a volume, exec hooks. Plain dockerode in, plain data out; no n8n import. */
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';

import { errorMessage, InfraOpsError, withTimeout } from '../shared/errors';

export const STOP_LABEL = 'infra-ops.backup.stop';
export const HELPER_LABEL = 'infra-ops.backup.helper';

export interface VolumeSelector {
	mode: 'names' | 'prefix' | 'regex' | 'label';
	names?: string[];
	prefix?: string;
	regex?: string;
	/** `key` or `key=value` */
	label?: string;
}

export interface VolumeInfo {
	name: string;
	driver: string;
	labels: Record<string, string>;
}

export async function selectVolumes(
	docker: Dockerode,
	selector: VolumeSelector,
): Promise<VolumeInfo[]> {
	const listed = await docker.listVolumes();
	const volumes = (listed.Volumes ?? []).map((v) => ({
		name: v.Name,
		driver: v.Driver,
		labels: (v.Labels ?? {}) as Record<string, string>,
	}));
	const byName = new Map(volumes.map((v) => [v.name, v]));
	switch (selector.mode) {
		case 'names': {
			const names = (selector.names ?? []).map((n) => n.trim()).filter(Boolean);
			const missing = names.filter((n) => !byName.has(n));
			if (missing.length) {
				throw new InfraOpsError(
					`No Docker volume named ${missing.map((n) => `"${n}"`).join(', ')}`,
					'Check the names with `docker volume ls`',
				);
			}
			return names.map((n) => byName.get(n)!);
		}
		case 'prefix': {
			const prefix = selector.prefix ?? '';
			return volumes
				.filter((v) => v.name.startsWith(prefix))
				.sort((a, b) => a.name.localeCompare(b.name));
		}
		case 'regex': {
			let re: RegExp;
			try {
				re = new RegExp(selector.regex ?? '');
			} catch (error) {
				throw new InfraOpsError(
					`The volume pattern is not a valid regular expression: ${errorMessage(error)}`,
				);
			}
			return volumes.filter((v) => re.test(v.name)).sort((a, b) => a.name.localeCompare(b.name));
		}
		case 'label': {
			const [key, ...rest] = (selector.label ?? '').split('=');
			const value = rest.length ? rest.join('=') : undefined;
			if (!key)
				throw new InfraOpsError(
					'No label to select volumes by',
					'Enter a label as key or key=value',
				);
			return volumes
				.filter((v) => key in v.labels && (value === undefined || v.labels[key] === value))
				.sort((a, b) => a.name.localeCompare(b.name));
		}
		default:
			throw new InfraOpsError(`Unknown volume selection "${String(selector.mode)}"`);
	}
}

export interface VolumeUser {
	id: string;
	name: string;
	running: boolean;
	image: string;
	stopLabel: boolean;
}

export async function volumeUsers(docker: Dockerode, volume: string): Promise<VolumeUser[]> {
	const containers = await docker.listContainers({ all: true, filters: { volume: [volume] } });
	return containers
		.filter((c) => !(c.Labels ?? {})[HELPER_LABEL])
		.map((c) => ({
			id: c.Id,
			name: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, ''),
			running: c.State === 'running',
			image: c.ImageID || c.Image,
			stopLabel: (c.Labels ?? {})[STOP_LABEL] === 'true',
		}));
}

/** An image already on the host to create the never-started helper from (nothing is pulled). */
export async function pickHelperImage(
	docker: Dockerode,
	configured: string | undefined,
	users: VolumeUser[],
): Promise<string> {
	if (configured?.trim()) {
		try {
			await docker.getImage(configured.trim()).inspect();
			return configured.trim();
		} catch {
			throw new InfraOpsError(
				`The helper image "${configured}" is not on the Docker host`,
				'Pull it first (docker pull …), or leave Helper Image empty to reuse an image already there',
			);
		}
	}
	if (users.length) return users[0].image;
	const images = await docker.listImages();
	const tagged = images.find((i) => (i.RepoTags ?? []).some((t) => t !== '<none>:<none>'));
	if (!tagged)
		throw new InfraOpsError(
			'There is no image on the Docker host to create the helper container from',
			'Pull a small image (docker pull busybox) or set Helper Image',
		);
	return tagged.Id;
}

export async function createHelper(
	docker: Dockerode,
	image: string,
	binds: string[],
	cmd: string[] = ['/infra-ops-helper-never-started'],
): Promise<Dockerode.Container> {
	return await docker.createContainer({
		Image: image,
		Entrypoint: [],
		Cmd: cmd,
		// root, whatever the image's USER: a helper started from the users' own image (mkdir and mv
		// of the Replace swap) must reach every entry of the volume, as Docker's archive API does
		User: '0:0',
		Labels: { [HELPER_LABEL]: 'true' },
		NetworkDisabled: true,
		HostConfig: { Binds: binds, NetworkMode: 'none', AutoRemove: false },
	});
}

export async function removeQuietly(container: Dockerode.Container | undefined): Promise<void> {
	if (!container) return;
	try {
		await container.remove({ force: true, v: false });
	} catch {
		// already gone
	}
}

/** The volume's content as a tar stream (Docker's archive API on a created, never-started container). */
export async function readVolumeArchive(
	helper: Dockerode.Container,
	mountPath: string,
): Promise<Readable> {
	return (await helper.getArchive({ path: `${mountPath}/.` })) as unknown as Readable;
}

/** Stops the running ones, pushing each name into `stopped` as soon as it is stopped (so a failure halfway still restarts them). */
export async function stopContainers(
	docker: Dockerode,
	users: VolumeUser[],
	timeoutS = 30,
	stopped: string[] = [],
): Promise<string[]> {
	for (const user of users) {
		if (!user.running) continue;
		try {
			await docker.getContainer(user.id).stop({ t: timeoutS });
		} catch (error) {
			if ((error as { statusCode?: number }).statusCode !== 304) {
				throw new InfraOpsError(
					`Cannot stop container ${user.name}: ${errorMessage(error)}`,
					undefined,
					{ cause: error },
				);
			}
		}
		stopped.push(user.name);
	}
	return stopped;
}

/** Starts each named container; collects failures instead of stopping at the first. */
export async function startContainers(docker: Dockerode, names: string[]): Promise<string[]> {
	const failures: string[] = [];
	for (const name of names) {
		try {
			await docker.getContainer(name).start();
		} catch (error) {
			if ((error as { statusCode?: number }).statusCode !== 304)
				failures.push(`${name}: ${errorMessage(error)}`);
		}
	}
	return failures;
}

export interface ExecHook {
	container: string;
	command: string;
	/** Only for this volume; empty = every volume of the run. */
	volume?: string;
}

/** Runs `sh -c command` in a running container; a non-zero exit throws with the output's tail. */
export async function runHook(
	docker: Dockerode,
	hook: ExecHook,
	timeoutMs = 10 * 60_000,
): Promise<{ exitCode: number; output: string }> {
	const container = docker.getContainer(hook.container);
	let exec: Dockerode.Exec;
	try {
		exec = await container.exec({
			Cmd: ['sh', '-c', hook.command],
			AttachStdout: true,
			AttachStderr: true,
		});
	} catch (error) {
		throw new InfraOpsError(
			`Cannot run a command in container ${hook.container}: ${errorMessage(error)}`,
			'The container must exist and be running, and have /bin/sh',
		);
	}
	const stream = await exec.start({ hijack: true, stdin: false });
	const chunks: Buffer[] = [];
	let kept = 0;
	const sink = {
		write: (chunk: Buffer) => {
			if (kept < 64 * 1024) {
				chunks.push(chunk);
				kept += chunk.length;
			}
			return true;
		},
	};
	docker.modem.demuxStream(stream, sink as never, sink as never);
	await withTimeout(
		new Promise<void>((resolve, reject) => {
			stream.on('end', resolve);
			stream.on('close', resolve);
			stream.on('error', reject);
		}),
		timeoutMs,
		`command in ${hook.container}`,
	);
	const info = await exec.inspect();
	const output = Buffer.concat(chunks).toString('utf8').trim();
	const exitCode = info.ExitCode ?? -1;
	if (exitCode !== 0) {
		throw new InfraOpsError(
			`Command "${hook.command.slice(0, 80)}" in ${hook.container} exited with ${exitCode}${output ? `: ${output.slice(-500)}` : ''}`,
			'Fix the command, or remove it from the backup hooks',
		);
	}
	return { exitCode, output };
}
