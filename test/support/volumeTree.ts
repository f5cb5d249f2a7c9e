/** A Docker volume's tree as a tar, and what of it a restore must reproduce, read with GNU tar. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';

import { services } from '../harness/services';

/** The volume's content through Docker's archive API, from a never-started reader container. */
export async function volumeTar(docker: Dockerode, name: string): Promise<Buffer> {
	const reader = await docker.createContainer({
		Image: services().docker.image,
		Cmd: ['true'],
		HostConfig: { Binds: [`${name}:/src:ro`], NetworkMode: 'none' },
	});
	try {
		const stream = (await reader.getArchive({ path: '/src/.' })) as unknown as Readable;
		const chunks: Buffer[] = [];
		for await (const c of stream) chunks.push(c as Buffer);
		return Buffer.concat(chunks);
	} finally {
		await reader.remove();
	}
}

/** `tar -tv` listing (owner, mode, size, link target, time, name) plus a hash of every file's content. */
export function describeTar(tar: Buffer): { listing: string[]; contentSha: string } {
	const listing = execFileSync('tar', ['-tvf', '-', '--numeric-owner', '--full-time'], {
		input: tar,
		maxBuffer: 1 << 28,
	})
		.toString()
		.trim()
		.split('\n')
		.map((l) => l.replace(/\s+/g, ' '))
		// the volume root's own times change when it is written to
		.filter((l) => !/ \.\/$/.test(l));
	const content = execFileSync('tar', ['-xOf', '-'], { input: tar, maxBuffer: 1 << 28 });
	return { listing, contentSha: createHash('sha256').update(content).digest('hex') };
}
