/** A private OpenSSH server on loopback: key login for the current user, password login for a second user. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import {
	Daemon,
	descendants,
	freePort,
	requireBinary,
	run,
	settleAll,
	signalPid,
	sleep,
	waitUntil,
} from './proc';
import type { SshInfo } from './services';

export const PASSWORD_USER = 'infraops-pw';
// a fixed password lets concurrent runs share the user; only this harness's sshd accepts passwords, on loopback
export const PASSWORD = 'infra-ops-test-password';

export interface SshService {
	info: SshInfo;
	stop(): Promise<void>;
}

export async function startSshd(root: string, dockerSocketPath: string): Promise<SshService> {
	const sshd = requireBinary('sshd', 'openssh-server');
	const keygen = requireBinary('ssh-keygen', 'openssh-client');

	const dir = path.join(root, 'ssh');
	const authorizedKeysDir = path.join(dir, 'authorized_keys');
	fs.mkdirSync(authorizedKeysDir, { recursive: true });
	// privilege separation directory; sshd refuses to start without it
	fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
	const dataDir = path.join(root, 'remote-data');
	fs.mkdirSync(dataDir);
	fs.chmodSync(dataDir, 0o1777);

	const hostKey = path.join(dir, 'host_ed25519');
	const userKey = path.join(dir, 'id_ed25519');
	const username = os.userInfo().username;
	assertNotLocked(username);
	await settleAll([
		run(keygen, ['-q', '-t', 'ed25519', '-N', '', '-C', 'infra-ops-test-host', '-f', hostKey]),
		run(keygen, ['-q', '-t', 'ed25519', '-N', '', '-C', 'infra-ops-test-user', '-f', userKey]),
		ensurePasswordUser(),
	]);
	const publicKey = fs.readFileSync(`${userKey}.pub`, 'utf8').trim();
	fs.writeFileSync(path.join(authorizedKeysDir, username), `${publicKey}\n`);

	let lastError: unknown;
	for (let attempt = 0; attempt < 3; attempt++) {
		const port = await freePort();
		const configFile = path.join(dir, 'sshd_config');
		fs.writeFileSync(
			configFile,
			[
				`Port ${port}`,
				'ListenAddress 127.0.0.1',
				`HostKey ${hostKey}`,
				`PidFile ${path.join(dir, 'sshd.pid')}`,
				`AuthorizedKeysFile ${authorizedKeysDir}/%u`,
				'UsePAM no',
				'StrictModes no',
				'PermitRootLogin prohibit-password',
				'PubkeyAuthentication yes',
				'PasswordAuthentication no',
				'KbdInteractiveAuthentication no',
				'PrintMotd no',
				'PrintLastLog no',
				'UseDNS no',
				'MaxStartups 100:30:200',
				'MaxSessions 100',
				'Subsystem sftp internal-sftp',
				// so `docker` run over ssh (and docker's ssh:// transport) reaches the harness's dockerd
				`SetEnv DOCKER_HOST=unix://${dockerSocketPath}`,
				`Match User ${PASSWORD_USER}`,
				'\tPasswordAuthentication yes',
				'',
			].join('\n'),
		);
		const daemon = new Daemon('sshd', sshd, ['-D', '-e', '-f', configFile], {
			logFile: path.join(dir, `sshd.${attempt}.log`),
		});
		try {
			await waitUntil('sshd to send its banner', () => readsBanner(port), {
				timeoutMs: 20_000,
				daemon,
				intervalMs: 50,
			});
		} catch (err) {
			await daemon.stop('SIGKILL', 1_000);
			lastError = err;
			if (/Address already in use/.test(daemon.logTail())) continue;
			throw err;
		}
		return {
			info: {
				host: '127.0.0.1',
				port,
				username,
				privateKey: fs.readFileSync(userKey, 'utf8'),
				publicKey,
				password: PASSWORD,
				passwordUser: PASSWORD_USER,
				hostKeyFingerprint: fingerprint(fs.readFileSync(`${hostKey}.pub`, 'utf8')),
				dataDir,
			},
			stop: async () => {
				// connection processes are sshd's children in sessions of their own, out of reach of a group kill
				const sessions = descendants(daemon.pid);
				await daemon.stop('SIGTERM', 5_000);
				for (const pid of sessions) signalPid(pid, 'SIGKILL');
			},
		};
	}
	throw lastError;
}

/** `SHA256:<base64, unpadded>` of an OpenSSH public key line, as `ssh-keygen -lf` prints it. */
export function fingerprint(publicKeyLine: string): string {
	const blob = Buffer.from(publicKeyLine.trim().split(/\s+/)[1], 'base64');
	return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
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

/** With UsePAM no, sshd refuses even key logins to an account whose shadow password starts with '!'. */
function assertNotLocked(name: string): void {
	let shadow = '';
	try {
		shadow = fs.readFileSync('/etc/shadow', 'utf8');
	} catch {
		return;
	}
	const hash = shadow
		.split('\n')
		.find((line) => line.startsWith(`${name}:`))
		?.split(':')[1];
	if (hash?.startsWith('!')) {
		throw new Error(
			`account ${name} is locked ('!' in /etc/shadow), so sshd would refuse its key login: run usermod -p '*' ${name}`,
		);
	}
}

function userExists(name: string): boolean {
	return fs
		.readFileSync('/etc/passwd', 'utf8')
		.split('\n')
		.some((line) => line.startsWith(`${name}:`));
}

async function ensurePasswordUser(): Promise<void> {
	if (!userExists(PASSWORD_USER)) {
		const useradd = requireBinary('useradd', 'passwd');
		try {
			await run(useradd, [
				'--create-home',
				'--shell',
				'/bin/sh',
				'--comment',
				'infra-ops test (password login)',
				PASSWORD_USER,
			]);
		} catch (err) {
			// a concurrent run may have created it first
			if (!userExists(PASSWORD_USER)) throw err;
		}
	}
	const chpasswd = requireBinary('chpasswd', 'passwd');
	for (let attempt = 1; ; attempt++) {
		try {
			await run(chpasswd, [], { input: `${PASSWORD_USER}:${PASSWORD}\n` });
			return;
		} catch (err) {
			// /etc/shadow is locked while another run sets the same password
			if (attempt >= 10) throw err;
			await sleep(200);
		}
	}
}
