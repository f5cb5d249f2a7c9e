/** A private Docker Engine (Debian docker.io): vfs storage, no bridge or iptables, socket in the run's temp root. */
import Docker from 'dockerode';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Daemon, requireBinary, run, settleAll, waitUntil } from './proc';
import type { Services } from './services';

export const TEST_IMAGE = 'infra-ops-test/busybox:1';
/** Debian's restic (dynamically linked against libc only) with its loader, libc and the CA bundle. */
export const RESTIC_IMAGE = 'infra-ops-test/restic:0.14.0';

export interface DockerService {
	info: Services['docker'];
	stop(): Promise<void>;
}

export async function startDocker(root: string): Promise<DockerService> {
	const dockerd = requireBinary('dockerd', 'docker.io');
	const cli = requireBinary('docker', 'docker.io');
	requireBinary('containerd', 'containerd');
	requireBinary('runc', 'runc');
	const busybox = requireBinary('busybox', 'busybox-static', ['/bin']);
	const restic = requireBinary('restic', 'restic');

	const dir = path.join(root, 'docker');
	fs.mkdirSync(dir);
	const socketPath = path.join(root, 'docker.sock');
	// the host's /etc/docker/daemon.json could set options that clash with the flags below
	const configFile = path.join(dir, 'daemon.json');
	fs.writeFileSync(configFile, '{}\n');

	const daemon = new Daemon(
		'dockerd',
		dockerd,
		[
			'--config-file',
			configFile,
			'--storage-driver=vfs',
			'--iptables=false',
			'--ip6tables=false',
			'--bridge=none',
			'--shutdown-timeout=2',
			'-H',
			`unix://${socketPath}`,
			'--data-root',
			path.join(dir, 'data'),
			// containerd's socket lives under the exec root, and unix socket paths are limited to ~100 bytes
			'--exec-root',
			path.join(root, 'de'),
			'--pidfile',
			path.join(dir, 'docker.pid'),
		],
		{ logFile: path.join(dir, 'dockerd.log') },
	);

	const client = new Docker({ socketPath });
	const stop = async () => {
		if (daemon.running) {
			try {
				// running containers would hold dockerd's shutdown, and their shims outlive it
				const containers = await client.listContainers({ all: true });
				await Promise.all(
					containers.map((c) =>
						client
							.getContainer(c.Id)
							.remove({ force: true, v: true })
							.catch(() => undefined),
					),
				);
			} catch {
				// the daemon is unhealthy; the signals below still stop it
			}
		}
		await daemon.stop('SIGTERM', 20_000);
	};

	try {
		const [rootfsTar, resticTar] = await settleAll([
			buildRootfsTar(dir, busybox),
			buildResticRootfsTar(dir, restic, busybox),
			waitUntil(
				'dockerd to answer /_ping',
				async () => fs.existsSync(socketPath) && String(await client.ping()) === 'OK',
				{
					timeoutMs: 60_000,
					daemon,
				},
			),
		]);
		const env = {
			...process.env,
			DOCKER_HOST: `unix://${socketPath}`,
			DOCKER_CONFIG: path.join(dir, 'cli'),
		};
		await run(
			cli,
			[
				'import',
				'--change',
				'CMD ["/bin/sh"]',
				'--change',
				'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin',
				rootfsTar,
				TEST_IMAGE,
			],
			{ env },
		);
		await run(
			cli,
			[
				'import',
				'--change',
				'ENTRYPOINT ["/usr/bin/restic"]',
				'--change',
				'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin',
				resticTar,
				RESTIC_IMAGE,
			],
			{ env },
		);
	} catch (err) {
		await stop();
		throw err;
	}
	return { info: { socketPath, image: TEST_IMAGE, resticImage: RESTIC_IMAGE }, stop };
}

/** A root file system of busybox-static with one symlink per applet, packed for `docker import`. */
async function buildRootfsTar(dir: string, busybox: string): Promise<string> {
	const rootfs = path.join(dir, 'rootfs');
	await fillBusyboxRootfs(rootfs, busybox);
	const tar = path.join(dir, 'rootfs.tar');
	await run('tar', ['-C', rootfs, '--numeric-owner', '--owner=0', '--group=0', '-cf', tar, '.']);
	return tar;
}

async function fillBusyboxRootfs(rootfs: string, busybox: string): Promise<void> {
	for (const sub of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'tmp', 'root', 'data']) {
		await fs.promises.mkdir(path.join(rootfs, sub), { recursive: true });
	}
	await fs.promises.chmod(path.join(rootfs, 'tmp'), 0o1777);
	await fs.promises.copyFile(busybox, path.join(rootfs, 'bin/busybox'));
	await fs.promises.chmod(path.join(rootfs, 'bin/busybox'), 0o755);
	const applets = (await run(busybox, ['--list-full']))
		.split('\n')
		.filter((line) => line && line !== 'bin/busybox');
	await Promise.all(
		applets.map((applet) => fs.promises.symlink('/bin/busybox', path.join(rootfs, applet))),
	);
	await fs.promises.writeFile(
		path.join(rootfs, 'etc/passwd'),
		'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
	);
	await fs.promises.writeFile(path.join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
}

/**
 * restic, the loader and libc it links (ldd: nothing else), ssh with its libraries, and CA certificates, over the busybox root
 * file system: like restic/restic (Alpine) it has /bin/sh, and the archive engine's tests, which let
 * the node pick any image on the host as a helper, may pick it for the mkdir/mv of a Replace.
 */
async function buildResticRootfsTar(dir: string, restic: string, busybox: string): Promise<string> {
	const rootfs = path.join(dir, 'restic-rootfs');
	await fillBusyboxRootfs(rootfs, busybox);
	// the ssh client (as restic/restic has) for sftp repositories, with the libraries ldd names
	const ssh = requireBinary('ssh', 'openssh-client');
	const libs = new Set<string>();
	for (const binary of [restic, ssh]) {
		for (const match of (await run('ldd', [binary])).matchAll(/(\/\S+) \(0x/g)) libs.add(match[1]);
	}
	const copies: [string, string][] = [
		[restic, 'usr/bin/restic'],
		[ssh, 'usr/bin/ssh'],
		['/etc/ssl/certs/ca-certificates.crt', 'etc/ssl/certs/ca-certificates.crt'],
		...[...libs].map((lib): [string, string] => [lib, lib.slice(1)]),
	];
	for (const [from, to] of copies) {
		await fs.promises.mkdir(path.dirname(path.join(rootfs, to)), { recursive: true });
		await fs.promises.rm(path.join(rootfs, to), { force: true });
		await fs.promises.copyFile(from, path.join(rootfs, to));
	}
	await fs.promises.chmod(path.join(rootfs, 'usr/bin/restic'), 0o755);
	await fs.promises.chmod(path.join(rootfs, 'usr/bin/ssh'), 0o755);
	const tar = path.join(dir, 'restic-rootfs.tar');
	await run('tar', ['-C', rootfs, '--numeric-owner', '--owner=0', '--group=0', '-cf', tar, '.']);
	return tar;
}
