/** Secret Rotate's other targets against real services: SSH authorized keys on the harness's sshd,
 * containers and a swarm secret on the harness's dockerd, and Vault KV v2 against a local server
 * answering as Vault's documented KV v2 API (Vault itself cannot run here). */
// n8n's log lines are asserted on: its logger must not be silent (before n8n-core loads)
import { capturedOutput as output } from '../support/debugLogging';
import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import Docker from 'dockerode';

import { SecretRotate } from '../../nodes/SecretRotate/SecretRotate.node';
import { generateSecret } from '../../nodes/SecretRotate/generate';
import { VaultKvTarget } from '../../nodes/SecretRotate/targets/vaultKv';
import { openSsh } from '../../nodes/shared/ssh';
import { services } from '../harness/services';
import { startVaultKv, type VaultKvServer } from '../harness/vaultKv';
import { runWorkflow, type WorkflowJson, startThen } from '../support/workflowRunner';

jest.setTimeout(240_000);

const NODE_TYPE = 'n8n-nodes-infra-ops.secretRotate';
const nodeTypes = { [NODE_TYPE]: new SecretRotate() };
const run = randomBytes(3).toString('hex');
let vault: VaultKvServer;
let docker: Docker;

beforeAll(async () => {
	vault = await startVaultKv();
	docker = new Docker({ socketPath: services().docker.socketPath });
});
afterAll(async () => {
	await vault?.close();
});

function workflow(parameters: Record<string, unknown>): WorkflowJson {
	return startThen({
		name: 'Rotate',
		type: NODE_TYPE,
		parameters: { operation: 'rotate', ...parameters },
		credentials: {
			infraOpsSshApi: { id: '1', name: 'ssh' },
			infraOpsVaultApi: { id: '2', name: 'vault' },
			infraOpsDockerApi: { id: '3', name: 'docker' },
		},
	});
}

function credentials(privateKey: string) {
	const ssh = services().ssh;
	return {
		infraOpsSshApi: {
			host: ssh.host,
			port: ssh.port,
			username: ssh.username,
			authentication: 'privateKey',
			privateKey,
			hostKeyFingerprint: ssh.hostKeyFingerprint,
		},
		infraOpsVaultApi: { url: vault.url, token: vault.token, namespace: '', tls: 'system' },
		infraOpsDockerApi: { connection: 'socket', socketPath: services().docker.socketPath },
	};
}

async function canLogin(privateKey: string): Promise<boolean> {
	const { ssh } = services();
	try {
		const session = await openSsh({
			host: ssh.host,
			port: ssh.port,
			username: ssh.username,
			privateKey,
			hostKeyFingerprints: [ssh.hostKeyFingerprint],
		});
		session.close();
		return true;
	} catch (error) {
		if (/authentication failed/.test((error as Error).message)) return false;
		throw error;
	}
}

const latest = (path: string) => {
	const list = vault.versions.get(`secret/${path}`) ?? [];
	return { version: list.length, data: list.at(-1)?.data ?? {} };
};

/** A container that exits at once on SIGTERM, with a health check that passes or fails. */
async function container(
	name: string,
	healthy: boolean,
	env: string[] = [],
	labels: Record<string, string> = {},
) {
	const created = await docker.createContainer({
		name,
		Env: env,
		Labels: labels,
		Image: services().docker.image,
		Cmd: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'],
		HostConfig: { NetworkMode: 'none' },
		Healthcheck: {
			Test: ['CMD', 'sh', '-c', healthy ? 'true' : 'false'],
			Interval: 500_000_000,
			Timeout: 1_000_000_000,
			Retries: 1,
			StartPeriod: 0,
		},
	});
	await created.start();
	return created;
}

describe('Rotate: SSH authorized key, with the new private key kept in Vault KV v2', () => {
	const authorizedKeys = () =>
		join(services().root, 'ssh', 'authorized_keys', services().ssh.username);
	let oldKey: ReturnType<typeof generateSecret>;

	beforeEach(() => {
		oldKey = generateSecret({ kind: 'sshKey', algorithm: 'ed25519', comment: `deploy-${run}` });
		// the deploy key beside the harness's own key, with options that must carry over to the new key
		appendFileSync(authorizedKeys(), `no-agent-forwarding ${oldKey.publicKey}\n`);
	});

	it('adds the new key, logs in with it, stores it, then removes the old one; items and logs never hold the private key', async () => {
		const before = readFileSync(authorizedKeys(), 'utf8');
		const { outputs, error } = await runWorkflow({
			workflow: workflow({
				targetKinds: ['sshAuthorizedKey', 'vaultKv'],
				secretType: 'sshKey',
				authorizedKeysPath: authorizedKeys(),
				vaultPath: `deploy-${run}`,
				vaultField: 'privateKey',
			}),
			nodeTypes,
			credentials: credentials(oldKey.value),
		});
		expect(error).toBeUndefined();
		const findings = outputs.Rotate[0].map((i) => i.json);
		expect(findings.map((f) => `${f.step} ${f.targetKind} ${f.status}`)).toEqual([
			'create vault-kv ok',
			'create ssh-authorized-key ok',
			'set vault-kv ok',
			'set ssh-authorized-key ok',
			'test vault-kv ok',
			'test ssh-authorized-key ok',
			'finish vault-kv ok',
			'finish ssh-authorized-key ok',
			'summary summary ok',
		]);
		const newKey = latest(`deploy-${run}`).data.privateKey as string;
		expect(newKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
		expect(await canLogin(newKey)).toBe(true);
		expect(await canLogin(oldKey.value)).toBe(false);
		const after = readFileSync(authorizedKeys(), 'utf8');
		// the harness's own key and every other line stay; the old key's line is replaced by the new one, options kept
		expect(after.startsWith(before.replace(`no-agent-forwarding ${oldKey.publicKey}\n`, ''))).toBe(
			true,
		);
		expect(after).not.toContain(oldKey.publicKey!.split(' ')[1]);
		expect(after).toMatch(/\nno-agent-forwarding ssh-ed25519 \S+ n8n-infra-ops\n$/);
		expect(findings[3].summary).toContain(findings[0].secretFingerprint as string);
		const body = JSON.stringify(outputs);
		const logs = output.text();
		expect(logs).toContain('secret rotation set ssh-authorized-key');
		for (const line of newKey.split('\n').filter((l) => l.length > 20)) {
			expect(body).not.toContain(line);
			expect(logs).not.toContain(line);
		}
	});

	it('rolls back the key and the Vault secret when a dependent container does not come back healthy', async () => {
		vault.versions.set(`secret/app-${run}`, [
			{ data: { privateKey: 'old-value', other: 'kept' }, created_time: new Date().toISOString() },
		]);
		const name = `unhealthy-${run}`;
		const box = await container(name, false);
		try {
			const before = readFileSync(authorizedKeys(), 'utf8');
			const { outputs } = await runWorkflow({
				workflow: workflow({
					targetKinds: ['sshAuthorizedKey', 'vaultKv', 'containers'],
					secretType: 'sshKey',
					authorizedKeysPath: authorizedKeys(),
					vaultPath: `app-${run}`,
					vaultField: 'privateKey',
					containerNames: name,
					containerAction: 'restart',
					healthTimeout: 6,
				}),
				nodeTypes,
				credentials: credentials(oldKey.value),
			});
			const findings = outputs.Rotate[0].map((i) => i.json);
			expect(findings.find((f) => f.status === 'critical' && f.step === 'test')).toMatchObject({
				targetKind: 'containers',
			});
			expect(
				findings.find((f) => f.step === 'test' && f.targetKind === 'containers')!.summary,
			).toMatch(/did not come back healthy within 6 s \(state running\/unhealthy\)/);
			expect(
				findings.filter((f) => f.step === 'rollback').map((f) => `${f.targetKind} ${f.status}`),
			).toEqual(['ssh-authorized-key ok', 'vault-kv ok', 'containers ok']);
			expect(findings.at(-1)).toMatchObject({ status: 'critical', rolledBack: true });
			expect(readFileSync(authorizedKeys(), 'utf8')).toBe(before);
			expect(await canLogin(oldKey.value)).toBe(true);
			// Vault: the new version, then the old data written back on top of it
			expect(
				vault.versions.get(`secret/app-${run}`)!.map((v) => v.data.privateKey === 'old-value'),
			).toEqual([true, false, true]);
			expect(latest(`app-${run}`).data).toEqual({ privateKey: 'old-value', other: 'kept' });
		} finally {
			await box.remove({ force: true });
		}
	});

	it('refuses a password secret for an SSH key, and a key the file does not list, before changing anything', async () => {
		const other = generateSecret({ kind: 'sshKey', algorithm: 'ed25519' });
		const before = readFileSync(authorizedKeys(), 'utf8');
		const wrongType = await runWorkflow({
			workflow: workflow({
				targetKinds: ['sshAuthorizedKey'],
				secretType: 'password',
				authorizedKeysPath: authorizedKeys(),
			}),
			nodeTypes,
			credentials: credentials(oldKey.value),
		});
		expect(wrongType.outputs.Rotate[0][0].json.summary).toMatch(/needs an SSH key pair/);
		const unlisted = await runWorkflow({
			workflow: workflow({
				targetKinds: ['sshAuthorizedKey'],
				secretType: 'sshKey',
				authorizedKeysPath: authorizedKeys(),
			}),
			nodeTypes,
			credentials: credentials(other.value),
		});
		expect(unlisted.outputs.Rotate[0][0].json).toMatchObject({
			step: 'create',
			status: 'critical',
		});
		expect(readFileSync(authorizedKeys(), 'utf8')).toBe(before);
	});
});

describe("Vault KV v2 target against a local server answering as Vault's documented KV v2 API", () => {
	const api = () => ({
		baseUrl: vault.url,
		headers: { 'x-vault-token': vault.token },
		tls: { mode: 'system' as const },
	});

	it('refuses to overwrite a version written after create (check-and-set), and says why', async () => {
		const path = `cas-${run}`;
		vault.versions.set(`secret/${path}`, [
			{ data: { password: 'v1' }, created_time: new Date().toISOString() },
		]);
		const target = new VaultKvTarget({ api: api(), mount: 'secret', path, field: 'password' });
		const secret = generateSecret({ kind: 'token', bytes: 16, encoding: 'hex' });
		await target.create();
		// someone else writes version 2 meanwhile
		vault.versions
			.get(`secret/${path}`)!
			.push({ data: { password: 'v2' }, created_time: new Date().toISOString() });
		await expect(target.set(secret)).rejects.toMatchObject({
			message: expect.stringContaining('check-and-set parameter did not match the current version'),
			hint: expect.stringContaining('run the rotation again'),
		});
		expect(vault.versions.get(`secret/${path}`)!.map((v) => v.data.password)).toEqual(['v1', 'v2']);
		// the request carried cas=1, the version create saw
		const write = vault.requests
			.filter((r) => r.method === 'POST' && r.path === `/v1/secret/data/${path}`)
			.at(-1)!;
		expect(JSON.parse(write.body).options).toEqual({ cas: 1 });
	});

	it('writes on top of a soft-deleted latest version (cas = that version), and a rollback deletes its version again', async () => {
		const path = `deleted-${run}`;
		vault.versions.set(`secret/${path}`, [
			{ data: { password: 'v1' }, created_time: new Date().toISOString() },
			{
				data: { password: 'v2' },
				created_time: new Date().toISOString(),
				deletion_time: new Date().toISOString(),
			},
		]);
		const target = new VaultKvTarget({ api: api(), mount: 'secret', path, field: 'password' });
		const secret = generateSecret({ kind: 'token', bytes: 16, encoding: 'hex' });
		expect(await target.create()).toMatch(/latest version 2 is deleted/);
		expect(await target.set(secret)).toBe('version 3 written (check-and-set on version 2)');
		expect(await target.test(secret)).toMatch(/version 3 reads back/);
		expect(await target.rollback()).toMatch(/version 3 deleted: the secret reads as deleted again/);
		const versions = vault.versions.get(`secret/${path}`)!;
		expect(versions.map((v) => Boolean(v.deletion_time))).toEqual([false, true, true]);
		// nothing of the new secret is readable any more, and version 1 was never touched
		expect(versions[0].data).toEqual({ password: 'v1' });
	});

	it('removes a secret it created when rolling back, and names a refused token', async () => {
		const path = `new-${run}`;
		const target = new VaultKvTarget({ api: api(), mount: 'secret', path, field: 'password' });
		const secret = generateSecret({ kind: 'token', bytes: 16, encoding: 'hex' });
		expect(await target.create()).toMatch(/no version yet/);
		await target.set(secret);
		expect(vault.versions.get(`secret/${path}`)).toHaveLength(1);
		expect(await target.rollback()).toMatch(/removed/);
		expect(vault.versions.has(`secret/${path}`)).toBe(false);
		const refused = new VaultKvTarget({
			api: { ...api(), headers: { 'x-vault-token': 'wrong' } },
			mount: 'secret',
			path,
			field: 'password',
		});
		await expect(refused.create()).rejects.toMatchObject({
			message: expect.stringContaining('permission denied'),
		});
	});
});

describe('Rotate: dependent containers through the Docker API', () => {
	it('restarts them and waits until healthy', async () => {
		const name = `dep-${run}`;
		const box = await container(name, true);
		try {
			const startedBefore = (await box.inspect()).State.StartedAt;
			const { outputs } = await runWorkflow({
				workflow: workflow({
					targetKinds: ['vaultKv', 'containers'],
					secretType: 'token',
					vaultPath: `tok-${run}`,
					vaultField: 'token',
					containerNames: name,
					containerAction: 'restart',
					healthTimeout: 30,
				}),
				nodeTypes,
				credentials: credentials(services().ssh.privateKey),
			});
			const findings = outputs.Rotate[0].map((i) => i.json);
			expect(findings.at(-1)).toMatchObject({ status: 'ok', rotated: true });
			expect(
				findings.find((f) => f.step === 'test' && f.targetKind === 'containers')!.summary,
			).toContain(`${name} running/healthy`);
			expect((await box.inspect()).State.StartedAt).not.toBe(startedBefore);
			expect(latest(`tok-${run}`).version).toBe(1);
			// Vault saw the token in the write only, over the wire, and the items do not have it
			expect(JSON.stringify(outputs)).not.toContain(latest(`tok-${run}`).data.token as string);
		} finally {
			await box.remove({ force: true });
		}
	});
});

describe('Rotate: dependent containers recreated with the new secret', () => {
	const env = (old: string) => [
		`POSTGRES_PASSWORD=${old}`,
		`DATABASE_URL=postgres://app:${old}@db:5432/app`,
		'OTHER=keep',
	];

	it('recreates them with the new value in the named key and inside other variables, keeping labels; the old container goes at finish', async () => {
		const name = `recreate-${run}`;
		const before = await container(name, true, env('old-secret-123'), {
			'com.docker.compose.service': 'db',
		});
		const oldId = before.id;
		try {
			const { outputs } = await runWorkflow({
				workflow: workflow({
					targetKinds: ['vaultKv', 'containers'],
					secretType: 'password',
					vaultPath: `re-${run}`,
					vaultField: 'password',
					containerNames: name,
					containerEnvKeys: 'POSTGRES_PASSWORD',
					healthTimeout: 30,
				}),
				nodeTypes,
				credentials: credentials(services().ssh.privateKey),
			});
			const findings = outputs.Rotate[0].map((i) => i.json);
			expect(findings.at(-1)).toMatchObject({ status: 'ok', rotated: true });
			const secret = latest(`re-${run}`).data.password as string;
			const info = await docker.getContainer(name).inspect();
			expect(info.Id).not.toBe(oldId);
			expect(info.State).toMatchObject({ Running: true, Health: { Status: 'healthy' } });
			expect(info.Config.Env).toEqual(expect.arrayContaining(env(secret)));
			expect(info.Config.Labels).toMatchObject({ 'com.docker.compose.service': 'db' });
			await expect(docker.getContainer(oldId).inspect()).rejects.toMatchObject({ statusCode: 404 });
			expect(JSON.stringify(outputs)).not.toContain(secret);
			expect(output.text()).toContain('secret rotation set containers');
			expect(output.text()).not.toContain(secret);
		} finally {
			await docker
				.getContainer(name)
				.remove({ force: true })
				.catch(() => undefined);
		}
	});

	it('finds the old value through the .env file when the containers only hold it inside URLs, and refuses a recreate that would change nothing', async () => {
		const name = `recreate-url-${run}`;
		const old = `old-url-secret-${run}`;
		const envFile = join(services().ssh.dataDir, `containers-${run}.env`);
		writeFileSync(envFile, `POSTGRES_PASSWORD=${old}\n`);
		// as compose passes it to supabase-auth: no POSTGRES_PASSWORD, the value inside a URL only
		const box = await container(name, true, [
			`GOTRUE_DB_DATABASE_URL=postgres://auth:${old}@db:5432/postgres`,
			'OTHER=keep',
		]);
		try {
			const alone = await runWorkflow({
				workflow: workflow({
					targetKinds: ['containers'],
					secretType: 'password',
					containerNames: name,
					containerEnvKeys: 'POSTGRES_PASSWORD',
					healthTimeout: 30,
				}),
				nodeTypes,
				credentials: credentials(services().ssh.privateKey),
			});
			const refused = alone.outputs.Rotate[0].map((i) => i.json);
			expect(refused.map((f) => `${f.step} ${f.status}`)).toEqual([
				'create critical',
				'summary critical',
			]);
			expect(refused[0].summary).toContain(
				`Recreating ${name} would not change the secret: none of POSTGRES_PASSWORD is set, and the current value is not known`,
			);
			expect((await docker.getContainer(name).inspect()).Id).toBe(box.id);

			const { outputs } = await runWorkflow({
				workflow: workflow({
					targetKinds: ['envFile', 'containers'],
					secretType: 'password',
					envPaths: envFile,
					envKeys: 'POSTGRES_PASSWORD',
					envBackup: false,
					containerNames: name,
					containerEnvKeys: 'POSTGRES_PASSWORD',
					healthTimeout: 30,
				}),
				nodeTypes,
				credentials: credentials(services().ssh.privateKey),
			});
			const findings = outputs.Rotate[0].map((i) => i.json);
			expect(findings.at(-1)).toMatchObject({ status: 'ok', rotated: true });
			const secret = readFileSync(envFile, 'utf8').replace(/^POSTGRES_PASSWORD=|\n$/g, '');
			expect(secret).not.toBe(old);
			const info = await docker.getContainer(name).inspect();
			expect(info.Config.Env).toEqual(
				expect.arrayContaining([
					`GOTRUE_DB_DATABASE_URL=postgres://auth:${secret}@db:5432/postgres`,
					'OTHER=keep',
				]),
			);
			expect(JSON.stringify(outputs)).not.toContain(secret);
		} finally {
			await docker
				.getContainer(name)
				.remove({ force: true })
				.catch(() => undefined);
			rmSync(envFile, { force: true });
		}
	});

	it('puts the old container back when the new one does not come up healthy', async () => {
		const name = `recreate-bad-${run}`;
		// healthy with the old environment only: the check fails once POSTGRES_PASSWORD changes
		const created = await docker.createContainer({
			name,
			Image: services().docker.image,
			Env: env('old-secret-456'),
			Cmd: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'],
			HostConfig: { NetworkMode: 'none' },
			Healthcheck: {
				Test: ['CMD', 'sh', '-c', 'test "$POSTGRES_PASSWORD" = old-secret-456'],
				Interval: 500_000_000,
				Timeout: 1_000_000_000,
				Retries: 1,
				StartPeriod: 0,
			},
		});
		await created.start();
		try {
			for (let i = 0; i < 20 && (await created.inspect()).State.Health?.Status !== 'healthy'; i++)
				await new Promise((r) => setTimeout(r, 500));
			const { outputs } = await runWorkflow({
				workflow: workflow({
					targetKinds: ['containers'],
					secretType: 'password',
					containerNames: name,
					containerEnvKeys: 'POSTGRES_PASSWORD',
					healthTimeout: 6,
				}),
				nodeTypes,
				credentials: credentials(services().ssh.privateKey),
			});
			const findings = outputs.Rotate[0].map((i) => i.json);
			expect(findings.map((f) => `${f.step} ${f.status}`)).toEqual([
				'create ok',
				'set ok',
				'test critical',
				'rollback ok',
				'summary critical',
			]);
			const info = await docker.getContainer(name).inspect();
			expect(info.Id).toBe(created.id);
			expect(info.State).toMatchObject({ Running: true, Health: { Status: 'healthy' } });
			expect(info.Config.Env).toEqual(expect.arrayContaining(env('old-secret-456')));
			const leftovers = (await docker.listContainers({ all: true })).filter((c) =>
				c.Names.some((n) => n.includes(`${name}-infra-ops-old-`)),
			);
			expect(leftovers).toEqual([]);
		} finally {
			await docker
				.getContainer(name)
				.remove({ force: true })
				.catch(() => undefined);
		}
	});
});

async function freePort(): Promise<number> {
	return await new Promise((resolve) => {
		const server = createServer();
		server.listen(0, '127.0.0.1', () => {
			const { port } = server.address() as { port: number };
			server.close(() => resolve(port));
		});
	});
}

describe('Rotate: Docker swarm secret on a real swarm service', () => {
	it('says clearly when the engine is not in swarm mode', async () => {
		const { outputs } = await runWorkflow({
			workflow: workflow({
				targetKinds: ['swarmSecret'],
				secretType: 'token',
				swarmSecretName: 'db_password',
				swarmServices: 'db',
			}),
			nodeTypes,
			credentials: credentials(services().ssh.privateKey),
		});
		expect(outputs.Rotate[0][0].json).toMatchObject({ step: 'create', status: 'critical' });
		expect(outputs.Rotate[0][0].json.summary).toMatch(
			/is not in swarm mode \(node state "inactive"\)/,
		);
	});

	async function swarmService(base: string, service: string) {
		const old = (await docker.createSecret({
			Name: base,
			Data: Buffer.from('old-secret').toString('base64'),
		} as never)) as unknown as { id: string };
		await docker.createService({
			Name: service,
			TaskTemplate: {
				ContainerSpec: {
					Image: services().docker.image,
					Command: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'],
					Secrets: [
						{
							SecretID: old.id,
							SecretName: base,
							File: { Name: 'db_password', UID: '0', GID: '0', Mode: 0o400 },
						},
					],
				},
				RestartPolicy: { Condition: 'none' },
			},
			Mode: { Replicated: { Replicas: 1 } },
			UpdateConfig: { Order: 'stop-first', Parallelism: 1 },
		} as never);
		return old.id;
	}

	async function readSecretInTask(service: string): Promise<string> {
		const [task] = (await docker.listTasks({
			filters: { service: [service], 'desired-state': ['running'] },
		})) as Array<{ Status: { ContainerStatus: { ContainerID: string } } }>;
		const exec = await docker
			.getContainer(task.Status.ContainerStatus.ContainerID)
			.exec({ Cmd: ['cat', '/run/secrets/db_password'], AttachStdout: true, AttachStderr: true });
		const stream = await exec.start({ hijack: true, stdin: false });
		return await new Promise<string>((resolve) => {
			const chunks: Buffer[] = [];
			stream.on('data', (c: Buffer) => chunks.push(c));
			stream.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
		});
	}

	it('creates a versioned secret, rolls the service onto it (same file), removes the old one; rolls back when a later target fails', async () => {
		await docker.swarmInit({
			AdvertiseAddr: '127.0.0.1',
			ListenAddr: `127.0.0.1:${await freePort()}`,
		});
		try {
			const base = `db_password_${run}`;
			const service = `db-${run}`;
			await swarmService(base, service);
			const { outputs } = await runWorkflow({
				workflow: workflow({
					targetKinds: ['swarmSecret', 'vaultKv'],
					secretType: 'token',
					swarmSecretName: base,
					swarmServices: service,
					vaultPath: `swarm-${run}`,
					vaultField: 'token',
					healthTimeout: 90,
				}),
				nodeTypes,
				credentials: credentials(services().ssh.privateKey),
			});
			const findings = outputs.Rotate[0].map((i) => i.json);
			expect(findings.map((f) => `${f.step} ${f.targetKind} ${f.status}`)).toContain(
				'finish swarm-secret ok',
			);
			expect(findings.at(-1)).toMatchObject({ status: 'ok', rotated: true });
			const token = latest(`swarm-${run}`).data.token as string;
			const secrets = (await docker.listSecrets()) as Array<{ ID: string; Spec: { Name: string } }>;
			const current = secrets.filter((x) => x.Spec.Name.startsWith(base));
			expect(current.map((x) => x.Spec.Name)).toEqual([
				expect.stringMatching(new RegExp(`^${base}_v\\d+$`)),
			]);
			// the running task reads the new secret at the same path
			expect(await readSecretInTask(service)).toContain(token);
			expect(JSON.stringify(outputs)).not.toContain(token);
			expect(output.text()).toContain('secret rotation set swarm-secret');
			expect(output.text()).not.toContain(token);

			// a dependent container that is not healthy fails the test step: the service goes back to the secret it had
			const name = `swarm-dep-${run}`;
			const box = await container(name, false);
			try {
				const failed = await runWorkflow({
					workflow: workflow({
						targetKinds: ['swarmSecret', 'containers'],
						secretType: 'token',
						swarmSecretName: base,
						swarmServices: service,
						containerNames: name,
						containerAction: 'restart',
						healthTimeout: 20,
					}),
					nodeTypes,
					credentials: credentials(services().ssh.privateKey),
				});
				const steps = failed.outputs.Rotate[0].map((i) => i.json);
				expect(
					steps.filter((f) => f.step === 'rollback').map((f) => `${f.targetKind} ${f.status}`),
				).toEqual(['swarm-secret ok', 'containers ok']);
				expect(steps.at(-1)).toMatchObject({ status: 'critical', rolledBack: true });
				const after = (
					(await docker.listSecrets()) as Array<{ ID: string; Spec: { Name: string } }>
				).filter((x) => x.Spec.Name.startsWith(base));
				expect(after.map((x) => x.ID)).toEqual(current.map((x) => x.ID));
				expect(await readSecretInTask(service)).toContain(token);
			} finally {
				await box.remove({ force: true });
			}
			await docker.getService(service).remove();
		} finally {
			await docker.swarmLeave({ force: true });
		}
	});
});
