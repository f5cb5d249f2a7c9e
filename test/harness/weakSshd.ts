/**
 * A second OpenSSH server on loopback with a weak configuration (password login on, root login yes,
 * empty passwords permitted), for tests that must see sshd hardening controls fail. It reuses the
 * harness's host key and authorized keys, and runs without the audit capabilities, as a container
 * does (Docker's default capability set has no AUDIT_CONTROL), so root sessions on it see the
 * kernel refuse audit requests. Its sessions get APT_CONFIG pointing at a configuration that reads no
 * apt.conf.d parts, as on a host where automatic upgrades were never set up.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Daemon, descendants, freePort, requireBinary, signalPid, waitUntil } from './proc';
import { services } from './services';
import * as net from 'node:net';

export interface WeakSshd {
	port: number;
	configFile: string;
	stop(): Promise<void>;
}

function readsBanner(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const socket = net.connect({ host: '127.0.0.1', port });
		const done = (ok: boolean) => {
			socket.destroy();
			resolve(ok);
		};
		socket.setTimeout(2_000, () => done(false));
		socket.once('error', () => done(false));
		socket.once('data', (data) => done(data.toString('latin1').startsWith('SSH-2.0-')));
	});
}

export async function startWeakSshd(name: string): Promise<WeakSshd> {
	const sshd = requireBinary('sshd', 'openssh-server');
	const setpriv = requireBinary('setpriv', 'util-linux');
	const { root } = services();
	const harnessDir = path.join(root, 'ssh');
	const dir = fs.mkdtempSync(path.join(root, `${name}-`));
	const configFile = path.join(dir, 'sshd_config');
	const noParts = path.join(dir, 'apt.conf.d');
	fs.mkdirSync(noParts);
	fs.writeFileSync(path.join(dir, 'apt.conf'), `Dir::Etc::Parts "${noParts}";\n`);
	for (let attempt = 0; ; attempt++) {
		const port = await freePort();
		fs.writeFileSync(
			configFile,
			[
				`Port ${port}`,
				'ListenAddress 127.0.0.1',
				`HostKey ${path.join(harnessDir, 'host_ed25519')}`,
				`PidFile ${path.join(dir, 'sshd.pid')}`,
				`AuthorizedKeysFile ${path.join(harnessDir, 'authorized_keys')}/%u`,
				'UsePAM no',
				'StrictModes no',
				'PermitRootLogin yes',
				'PubkeyAuthentication yes',
				'PasswordAuthentication yes',
				'PermitEmptyPasswords yes',
				'KbdInteractiveAuthentication no',
				'PrintMotd no',
				'UseDNS no',
				'MaxSessions 100',
				`SetEnv APT_CONFIG=${path.join(dir, 'apt.conf')}`,
				'',
			].join('\n'),
		);
		const daemon = new Daemon(
			name,
			setpriv,
			[
				'--bounding-set',
				'-audit_control,-audit_read,-audit_write',
				'--',
				sshd,
				'-D',
				'-e',
				'-f',
				configFile,
			],
			{ logFile: path.join(dir, `sshd.${attempt}.log`) },
		);
		try {
			await waitUntil(`${name} to send its banner`, () => readsBanner(port), {
				timeoutMs: 20_000,
				daemon,
				intervalMs: 50,
			});
		} catch (err) {
			await daemon.stop('SIGKILL', 1_000);
			if (attempt < 2 && /Address already in use/.test(daemon.logTail())) continue;
			throw err;
		}
		return {
			port,
			configFile,
			stop: async () => {
				const sessions = descendants(daemon.pid);
				await daemon.stop('SIGTERM', 5_000);
				for (const pid of sessions) signalPid(pid, 'SIGKILL');
			},
		};
	}
}
