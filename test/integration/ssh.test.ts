/** SSH transport against a real OpenSSH server started by the harness. */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

import { sshConnectionFrom } from '../../nodes/shared/connections';
import { HostKeyMismatchError, openSsh, withSsh, type SshConnection } from '../../nodes/shared/ssh';
import { services } from '../harness/services';

/**
 * A real TCP hop to the harness's sshd that drops the connection at a chosen point, as a network
 * failure would: once armed, the next bytes from the server are not forwarded and both sockets are
 * destroyed. Cutting on the first reply after arming (instead of after a timer) puts the cut at the
 * same protocol step however loaded the machine is.
 */
async function cuttingProxy(): Promise<{
	port: number;
	arm: () => void;
	cuts: () => number;
	close: () => Promise<void>;
}> {
	const { ssh } = services();
	const sockets = new Set<Socket>();
	let armed = false;
	let cuts = 0;
	const server = createServer((client) => {
		const upstream = connect(ssh.port, ssh.host);
		for (const socket of [client, upstream]) {
			sockets.add(socket);
			socket.on('error', () => undefined);
			socket.on('close', () => sockets.delete(socket));
		}
		client.pipe(upstream);
		upstream.on('data', (chunk: Buffer) => {
			if (!armed) return void client.write(chunk);
			armed = false;
			cuts++;
			client.destroy();
			upstream.destroy();
		});
		upstream.on('end', () => client.end());
		client.on('close', () => upstream.destroy());
		upstream.on('close', () => client.destroy());
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return {
		port: (server.address() as AddressInfo).port,
		arm: () => (armed = true),
		cuts: () => cuts,
		close: async () => {
			for (const socket of sockets) socket.destroy();
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
}

function keyConnection(overrides: Partial<SshConnection> = {}): SshConnection {
	const { ssh } = services();
	return {
		host: ssh.host,
		port: ssh.port,
		username: ssh.username,
		privateKey: ssh.privateKey,
		hostKeyFingerprints: [ssh.hostKeyFingerprint],
		...overrides,
	};
}

describe('SSH transport (real sshd)', () => {
	it('runs commands and returns output and exit status, non-zero included', async () => {
		await withSsh(keyConnection(), async (session) => {
			const ok = await session.exec('echo hello; echo oops >&2');
			expect(ok).toEqual({ code: 0, signal: undefined, stdout: 'hello\n', stderr: 'oops\n' });
			const failed = await session.exec('exit 3');
			expect(failed.code).toBe(3);
			const piped = await session.exec('cat', { stdin: 'from stdin' });
			expect(piped.stdout).toBe('from stdin');
		});
	});

	it('times out a command that hangs, and the session stays usable', async () => {
		await withSsh(keyConnection(), async (session) => {
			const started = Date.now();
			await expect(session.exec('sleep 30', { timeoutMs: 500 })).rejects.toThrow(
				/timed out after 500 ms/,
			);
			expect(Date.now() - started).toBeLessThan(5_000);
			expect((await session.exec('echo still')).stdout).toBe('still\n');
		});
	});

	it('refuses a host whose key does not match the pinned fingerprint, naming the key it saw', async () => {
		const wrong = 'SHA256:' + 'A'.repeat(43);
		const error = await openSsh(keyConnection({ hostKeyFingerprints: [wrong] })).catch(
			(e: unknown) => e,
		);
		expect(error).toBeInstanceOf(HostKeyMismatchError);
		expect((error as Error).message).toContain(services().ssh.hostKeyFingerprint);
		expect((error as Error).message).toMatch(/refusing to connect/);
	});

	it('logs in with a password (credential form), and says so when the password is wrong', async () => {
		const { ssh } = services();
		const data = {
			host: ssh.host,
			port: ssh.port,
			username: ssh.passwordUser,
			authentication: 'password',
			password: ssh.password,
			hostKeyFingerprint: ssh.hostKeyFingerprint,
		};
		await withSsh(sshConnectionFrom(data), async (session) => {
			expect((await session.exec('id -un')).stdout.trim()).toBe(ssh.passwordUser);
		});
		await expect(openSsh(sshConnectionFrom({ ...data, password: 'wrong' }))).rejects.toThrow(
			/authentication failed \(password refused\)/,
		);
	});

	it('reports a closed port as nothing listening', async () => {
		await expect(openSsh(keyConnection({ port: 1 }))).rejects.toThrow(
			/Cannot reach SSH .*ECONNREFUSED/,
		);
	});

	it('writes atomically: content replaced, mode and owner kept, no temp file left', async () => {
		const dir = `${services().ssh.dataDir}/atomic-${Date.now()}`;
		await withSsh(keyConnection(), async (session) => {
			expect(
				(
					await session.exec(
						`mkdir -p '${dir}' && printf 'old\\n' > '${dir}/app.env' && chmod 640 '${dir}/app.env'`,
					)
				).code,
			).toBe(0);
			await session.writeFileAtomic(`${dir}/app.env`, 'NEW=1\n');
			expect((await session.readFile(`${dir}/app.env`)).toString()).toBe('NEW=1\n');
			expect((await session.exec(`stat -c %a '${dir}/app.env'; ls -A '${dir}'`)).stdout).toBe(
				'640\napp.env\n',
			);

			await session.writeFileAtomic(`${dir}/new.yml`, Buffer.alloc(200_000, 'x'), { mode: 0o600 });
			const stats = await session.stat(`${dir}/new.yml`);
			expect(stats?.size).toBe(200_000);
			expect((stats!.mode & 0o777).toString(8)).toBe('600');
			expect(await session.stat(`${dir}/missing`)).toBeUndefined();
			await expect(session.readFile(`${dir}/missing`)).rejects.toThrow(/does not exist/);
		});
	});

	it('leaves the old file intact when the connection drops mid-write (cut by the network on the first reply after the write starts)', async () => {
		const dir = `${services().ssh.dataDir}/cut-${Date.now()}`;
		const proxy = await cuttingProxy();
		const session = await openSsh(keyConnection({ host: '127.0.0.1', port: proxy.port }));
		try {
			await session.exec(`mkdir -p '${dir}' && printf 'intact\\n' > '${dir}/dynamic.yml'`);
			await session.stat(dir);
			const write = session.writeFileAtomic(
				`${dir}/dynamic.yml`,
				Buffer.alloc(8 * 1024 * 1024, 'y'),
			);
			proxy.arm();
			await expect(write).rejects.toThrow(/closed/);
			expect(proxy.cuts()).toBe(1);
		} finally {
			session.close();
			await proxy.close();
		}
		await withSsh(keyConnection(), async (check) => {
			expect((await check.readFile(`${dir}/dynamic.yml`)).toString()).toBe('intact\n');
		});
	});

	it("a read or stat in flight when the connection drops (cut by the network after the read's first reply) fails saying the connection closed, instead of waiting forever", async () => {
		const dir = `${services().ssh.dataDir}/cut-read-${Date.now()}`;
		const proxy = await cuttingProxy();
		const session = await openSsh(keyConnection({ host: '127.0.0.1', port: proxy.port }));
		try {
			await session.exec(`mkdir -p '${dir}' && head -c 67108864 /dev/zero > '${dir}/big.yml'`);
			await session.stat(dir); // SFTP is up: the cut below lands inside the read, not in the subsystem start
			const read = session.readFile(`${dir}/big.yml`, 64 * 1024 * 1024);
			proxy.arm();
			await expect(read).rejects.toThrow(/the SSH connection closed/);
			expect(proxy.cuts()).toBe(1);
			await expect(session.stat(`${dir}/big.yml`)).rejects.toThrow(/closed/);
		} finally {
			session.close();
			await proxy.close();
		}
	}, 15_000);

	it('a connection that drops while the SFTP subsystem starts says the connection closed, not "SFTP is not available … sshd_config"', async () => {
		const proxy = await cuttingProxy();
		const session = await openSsh(keyConnection({ host: '127.0.0.1', port: proxy.port }));
		try {
			proxy.arm(); // the server's reply to the sftp channel open is the first byte after this: the cut lands there
			const error = await session.stat('/').then(
				() => undefined,
				(e: unknown) => e as Error & { hint?: string },
			);
			expect(proxy.cuts()).toBe(1);
			expect(error?.message).toMatch(/the SSH connection closed/);
			expect(error?.message).not.toMatch(/SFTP is not available/);
			expect(error?.hint ?? '').not.toMatch(/sshd_config/);
		} finally {
			session.close();
			await proxy.close();
		}
	}, 15_000);

	it("streams a command's stdout (tar of a folder) and reports its exit status", async () => {
		const dir = `${services().ssh.dataDir}/stream-${Date.now()}`;
		await withSsh(keyConnection(), async (session) => {
			await session.exec(`mkdir -p '${dir}' && head -c 3000000 /dev/urandom > '${dir}/blob'`);
			const { stdout, exit } = await session.execStream(`tar -C '${dir}' -cf - .`);
			let bytes = 0;
			for await (const chunk of stdout) bytes += (chunk as Buffer).length;
			await exit;
			expect(bytes).toBeGreaterThan(3_000_000);
			const failing = await session.execStream('tar -C /nonexistent -cf - .');
			for await (const _ of failing.stdout) void _;
			await expect(failing.exit).rejects.toThrow(/exited with 2/);
		});
	});
});
