/** Docker transport against a real dockerd started by the harness (vfs, no bridge). */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

import {
	createDockerClient,
	pingDocker,
	withDocker,
	type DockerConnection,
} from '../../nodes/shared/docker';
import { HostKeyMismatchError } from '../../nodes/shared/ssh';
import { services } from '../harness/services';

const socket = (): DockerConnection => ({
	kind: 'socket',
	socketPath: services().docker.socketPath,
});

/** Lists a tar stream with GNU tar, the way an operator would. */
async function tarList(stream: Readable): Promise<string[]> {
	const tar = spawn('tar', ['-tvf', '-', '--numeric-owner'], {
		stdio: ['pipe', 'pipe', 'inherit'],
	});
	stream.pipe(tar.stdin);
	let out = '';
	tar.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
	await new Promise<void>((resolve, reject) =>
		tar.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar exited ${code}`)))),
	);
	return out.trim().split('\n');
}

describe('Docker transport (real dockerd)', () => {
	it('pings over the unix socket and reports the engine version', async () => {
		const info = await withDocker(socket(), (client) => pingDocker(client));
		expect(info.version).toMatch(/^\d+\.\d+/);
		expect(info.apiVersion).toMatch(/^1\.\d+$/);
		expect(info.os).toBe('linux');
	});

	it('creates and inspects a volume, and reads it through the archive API of a never-started container', async () => {
		await withDocker(socket(), async ({ docker }) => {
			const name = `infra-ops-test-${Date.now()}`;
			await docker.createVolume({ Name: name, Labels: { 'infra-ops.test': 'yes' } });
			const writer = await docker.createContainer({
				Image: services().docker.image,
				Cmd: [
					'sh',
					'-c',
					'mkdir -p /v/sub/empty && printf hello > /v/sub/a.txt && ln -s sub/a.txt /v/link && chown 1234:5678 /v/sub/a.txt',
				],
				HostConfig: { Binds: [`${name}:/v`], NetworkMode: 'none' },
			});
			await writer.start();
			expect((await writer.wait()).StatusCode).toBe(0);
			await writer.remove();

			const volume = await docker.getVolume(name).inspect();
			expect(volume.Labels).toEqual({ 'infra-ops.test': 'yes' });

			const reader = await docker.createContainer({
				Image: services().docker.image,
				Cmd: ['true'],
				HostConfig: { Binds: [`${name}:/src:ro`], NetworkMode: 'none' },
			});
			try {
				const archive = (await reader.getArchive({ path: '/src/.' })) as unknown as Readable;
				const listing = await tarList(archive);
				expect(listing.some((l) => /1234\/5678 .* \.\/sub\/a\.txt$/.test(l))).toBe(true);
				expect(listing.some((l) => /\.\/link -> sub\/a\.txt$/.test(l))).toBe(true);
				expect(listing.some((l) => /\.\/sub\/empty\/$/.test(l))).toBe(true);
			} finally {
				await reader.remove();
				await docker.getVolume(name).remove();
			}
		});
	});

	it('talks Docker over SSH through one pinned connection (docker system dial-stdio)', async () => {
		const { ssh } = services();
		const conn: DockerConnection = {
			kind: 'ssh',
			ssh: {
				host: ssh.host,
				port: ssh.port,
				username: ssh.username,
				privateKey: ssh.privateKey,
				hostKeyFingerprints: [ssh.hostKeyFingerprint],
			},
		};
		await withDocker(conn, async (client) => {
			expect(client.target).toBe(`ssh://${ssh.username}@${ssh.host}:${ssh.port}`);
			const info = await pingDocker(client);
			expect(info.os).toBe('linux');
			const images = await client.docker.listImages();
			expect(images.some((i) => (i.RepoTags ?? []).includes(services().docker.image))).toBe(true);
		});
		await expect(
			createDockerClient({
				kind: 'ssh',
				ssh: { ...conn.ssh, hostKeyFingerprints: ['SHA256:' + 'B'.repeat(43)] },
			}),
		).rejects.toBeInstanceOf(HostKeyMismatchError);
	});

	it('says what is wrong with a missing socket', async () => {
		const error = await withDocker(
			{ kind: 'socket', socketPath: `${services().root}/nope.sock` },
			(client) => pingDocker(client),
		).catch((e: unknown) => e);
		expect((error as Error).message).toMatch(/Cannot reach Docker at unix:\/\/.*nope\.sock/);
		expect((error as { hint?: string }).hint).toMatch(/socket file does not exist/);
	});

	it('refuses TLS over TCP without client certificates', async () => {
		await expect(
			createDockerClient({ kind: 'tcp', host: '127.0.0.1', port: 2376, tls: true }),
		).rejects.toThrow(/TLS needs a client certificate/);
	});
});
