/**
 * Listing and inspecting containers: one list call, then at most one inspect per container, with a
 * bound on concurrent inspects. Compose-managed containers are named by their compose labels.
 */
import type Dockerode from 'dockerode';

import { mapConcurrent } from '../shared/concurrency';
import { describeConnectError, InfraOpsError, withTimeout } from '../shared/errors';

export interface ContainerSelection {
	/** Name patterns (`*` and `?`); empty: every container. */
	names: string[];
	/** `key` or `key=value`; all must match. */
	labels: string[];
	composeProject: string;
}

export interface ComposeIdentity {
	project: string;
	service: string;
	/** The compose files the project was started from, as the label gives them. */
	configFiles: string[];
	workingDir?: string;
}

export interface ListedContainer {
	id: string;
	name: string;
	state: string;
	image: string;
	labels: Record<string, string>;
	compose?: ComposeIdentity;
}

export type InspectInfo = Dockerode.ContainerInspectInfo;

const TIMEOUT_MS = 30_000;

export function globToRegExp(pattern: string): RegExp {
	const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&');
	return new RegExp(`^${escaped.replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

export function composeIdentity(
	labels: Record<string, string> | undefined,
): ComposeIdentity | undefined {
	const project = labels?.['com.docker.compose.project'];
	const service = labels?.['com.docker.compose.service'];
	if (!project || !service) return undefined;
	const files = labels['com.docker.compose.project.config_files'] ?? '';
	return {
		project,
		service,
		configFiles: files
			.split(',')
			.map((f) => f.trim())
			.filter(Boolean),
		workingDir: labels['com.docker.compose.project.working_dir'] || undefined,
	};
}

/** `compose.yaml › web` for compose containers, else the container name. */
export function describeContainer(c: { name: string; compose?: ComposeIdentity }): string {
	if (!c.compose) return c.name;
	const file = c.compose.configFiles[0] ?? `project ${c.compose.project}`;
	return `${c.name} (${file} › service ${c.compose.service})`;
}

function dockerError(what: string, target: string, error: unknown): Error {
	if (error instanceof InfraOpsError) return error;
	const status = (error as { statusCode?: number }).statusCode;
	if (status === 403)
		return new InfraOpsError(
			`Docker at ${target} refused ${what} (403)`,
			'A docker-socket-proxy in front of the socket must allow CONTAINERS (and POST for Apply Limits)',
		);
	return describeConnectError(`${what} at Docker ${target}`, error);
}

/** One list call (stopped containers too), filtered by labels on the daemon and names here. */
export async function listContainers(
	docker: Dockerode,
	target: string,
	selection: ContainerSelection,
): Promise<ListedContainer[]> {
	const label = [...selection.labels];
	if (selection.composeProject)
		label.push(`com.docker.compose.project=${selection.composeProject}`);
	let listed: Dockerode.ContainerInfo[];
	try {
		listed = await withTimeout(
			docker.listContainers({ all: true, filters: label.length ? { label } : {} }),
			TIMEOUT_MS,
			`listing containers at Docker ${target}`,
		);
	} catch (error) {
		throw dockerError('listing containers', target, error);
	}
	const patterns = selection.names.map(globToRegExp);
	return listed
		.map((c) => ({
			id: c.Id,
			name: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, ''),
			state: c.State,
			image: c.Image,
			labels: c.Labels ?? {},
			compose: composeIdentity(c.Labels),
		}))
		.filter((c) => !patterns.length || patterns.some((p) => p.test(c.name)))
		.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Inspects each listed container once (8 at a time: over SSH every request is its own session, and
 * sshd allows 10 per connection by default). A container removed between the list and its inspect
 * is left out: it no longer exists.
 */
export async function inspectAll(
	docker: Dockerode,
	target: string,
	containers: ListedContainer[],
	concurrency = 8,
): Promise<Array<{ listed: ListedContainer; info: InspectInfo }>> {
	const results = await mapConcurrent(containers, concurrency, async (listed) => {
		try {
			const info = await withTimeout(
				docker.getContainer(listed.id).inspect(),
				TIMEOUT_MS,
				`inspecting ${listed.name} at Docker ${target}`,
			);
			return { listed, info };
		} catch (error) {
			if ((error as { statusCode?: number }).statusCode === 404) return undefined;
			throw dockerError(`inspecting ${listed.name}`, target, error);
		}
	});
	return results.filter((r): r is { listed: ListedContainer; info: InspectInfo } => !!r);
}

/** One container by name or ID, inspected; a clear error when there is none. */
export async function inspectOne(
	docker: Dockerode,
	target: string,
	nameOrId: string,
): Promise<{ listed: ListedContainer; info: InspectInfo }> {
	const ref = nameOrId.trim().replace(/^\//, '');
	if (!ref)
		throw new InfraOpsError('No container given', 'Set Container to a container name or ID');
	let info: InspectInfo;
	try {
		info = await withTimeout(
			docker.getContainer(ref).inspect(),
			TIMEOUT_MS,
			`inspecting ${ref} at Docker ${target}`,
		);
	} catch (error) {
		if ((error as { statusCode?: number }).statusCode === 404)
			throw new InfraOpsError(
				`No container "${ref}" at Docker ${target}`,
				'Check the name (docker ps -a) or use the container ID',
			);
		throw dockerError(`inspecting ${ref}`, target, error);
	}
	const name = info.Name.replace(/^\//, '');
	// Docker also resolves the start of an ID: a mistyped name such as "cafe" must not change another
	// container whose ID happens to begin with it
	if (name !== ref && !(ref.length >= 12 && info.Id.startsWith(ref)))
		throw new InfraOpsError(
			`No container named "${ref}" at Docker ${target} (it matches only the start of ${name}'s ID)`,
			'Give the exact container name, or at least 12 characters of the ID (docker ps)',
		);
	const labels = info.Config?.Labels ?? {};
	return {
		listed: {
			id: info.Id,
			name,
			state: info.State.Status,
			image: info.Config?.Image ?? '',
			labels,
			compose: composeIdentity(labels),
		},
		info,
	};
}
