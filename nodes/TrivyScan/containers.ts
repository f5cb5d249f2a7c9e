/** What runs: running containers grouped by the image they run (its ID), each image with a reference
 * that names exactly that image. No n8n import. */
import type Dockerode from 'dockerode';

import { errorMessage, InfraOpsError } from '../shared/errors';

export interface ContainerRef {
	id: string;
	name: string;
	/** The image as the container was started (e.g. `nginx:latest`), which may now name a newer image. */
	image: string;
}

export interface RunningImage {
	imageId: string;
	/** A tag that points at this image ID now, else the short image ID (so a moved tag is never scanned instead). */
	reference: string;
	tags: string[];
	containers: ContainerRef[];
}

/** Set on the Trivy containers this node starts, so a scan running meanwhile does not scan Trivy itself. */
export const RUNNER_LABEL = 'io.infra-ops.trivy-scan';

export function groupByImage(
	containers: (Pick<Dockerode.ContainerInfo, 'Id' | 'Names' | 'Image' | 'ImageID'> & {
		Labels?: Record<string, string>;
	})[],
	images: Pick<Dockerode.ImageInfo, 'Id' | 'RepoTags'>[],
): RunningImage[] {
	const tagsById = new Map(
		images.map((i) => [i.Id, (i.RepoTags ?? []).filter((t) => t && t !== '<none>:<none>')]),
	);
	const groups = new Map<string, RunningImage>();
	for (const c of containers) {
		if (c.Labels?.[RUNNER_LABEL]) continue;
		const imageId = c.ImageID || c.Image;
		let group = groups.get(imageId);
		if (!group) {
			const tags = tagsById.get(imageId) ?? [];
			group = { imageId, reference: '', tags, containers: [] };
			groups.set(imageId, group);
		}
		group.containers.push({
			id: c.Id.slice(0, 12),
			name: (c.Names?.[0] ?? '').replace(/^\//, '') || c.Id.slice(0, 12),
			image: c.Image,
		});
	}
	for (const group of groups.values()) {
		// prefer the name the containers were started with, when it still points at this very image
		const started = group.containers
			.map((c) => c.image)
			.find((i) => group.tags.includes(i) || group.tags.includes(`${i}:latest`));
		const fromTags = started
			? group.tags.find((t) => t === started || t === `${started}:latest`)
			: undefined;
		group.reference =
			fromTags ?? group.tags[0] ?? group.imageId.replace(/^sha256:/, '').slice(0, 12);
		group.containers.sort((a, b) => a.name.localeCompare(b.name));
	}
	return [...groups.values()].sort((a, b) => a.reference.localeCompare(b.reference));
}

export async function listRunningImages(
	docker: Dockerode,
	target: string,
	labelFilter: string[] = [],
): Promise<RunningImage[]> {
	try {
		const [containers, images] = await Promise.all([
			docker.listContainers(labelFilter.length ? { filters: { label: labelFilter } } : {}),
			docker.listImages(),
		]);
		return groupByImage(containers, images);
	} catch (error) {
		throw new InfraOpsError(
			`Cannot list the running containers of Docker at ${target}: ${errorMessage(error)}`,
			'A socket proxy must allow GET /containers/json and /images/json',
			{ cause: error },
		);
	}
}
