/** Traefik Config deploys against the harness's real sshd (atomic write, kept versions outside the
 * watched folder, a connection cut mid-transfer) and a recorded-response Traefik API (bodies from
 * ../shared/reference/traefik/api/, plus the watched folder's routers as Traefik would load them). */
import * as fs from 'node:fs';
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import * as path from 'node:path';

import { traefikConnectionFrom } from '../../nodes/shared/connections';
import { openSsh, withSsh, type SshConnection } from '../../nodes/shared/ssh';
import {
	deployFiles,
	listBackups,
	rollbackFile,
	type Folder,
} from '../../nodes/TraefikConfig/deploy';
import { fetchGitFiles } from '../../nodes/TraefikConfig/gitSource';
import { TraefikApi } from '../../nodes/TraefikConfig/traefikApi';
import { services } from '../harness/services';
import {
	describeWithTraefikReference as describeRef,
	startTraefikReplay,
	type TraefikReplay,
} from '../support/traefikApiReplay';

function conn(overrides: Partial<SshConnection> = {}): SshConnection {
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

let counter = 0;
function stack(): { root: string; folder: Folder } {
	const root = path.join(services().ssh.dataDir, `traefik-${process.pid}-${++counter}`);
	fs.mkdirSync(path.join(root, 'dynamic'), { recursive: true });
	return {
		root,
		folder: {
			dynamicDir: path.join(root, 'dynamic'),
			backupDir: path.join(root, 'dynamic-history'),
			keep: 3,
		},
	};
}

const SERVICES_YML = `# services of the stack
http:
  services:
    n8n:
      loadBalancer:
        servers:
          - url: http://n8n:5678
`;
const ROUTERS_YML = `http:
  routers:
    n8n:
      rule: Host(\`n8n.example.com\`)
      service: n8n
      middlewares:
        - general-ratelimit
`;
const middlewares = (average: number) => `http:
  middlewares:
    general-ratelimit:
      rateLimit:
        average: ${average}
        period: 1m
        burst: ${average}
        sourceCriterion:
          ipStrategy:
            depth: 1
`;

jest.setTimeout(30_000);

const replays: TraefikReplay[] = [];
afterAll(async () => {
	for (const r of replays) await r.close();
});

async function replay(watchDir: string, failRouters: string[] = []): Promise<TraefikApi> {
	const r = await startTraefikReplay({
		watchDir,
		failRouters: new Set(failRouters),
		loadDelayMs: 300,
	});
	replays.push(r);
	return new TraefikApi(traefikConnectionFrom({ url: r.url }));
}

describe('Traefik Config deploy over real sshd', () => {
	it('validates first: an invalid file is never written, and names what is wrong', async () => {
		const { folder } = stack();
		fs.writeFileSync(path.join(folder.dynamicDir, 'services.yml'), SERVICES_YML);
		const outcomes = await withSsh(conn(), (s) =>
			deployFiles(s, folder, [
				{ fileName: 'routers.yml', content: ROUTERS_YML.replace('service: n8n', 'servce: n8n') },
			]),
		);
		expect(outcomes[0]).toMatchObject({ status: 'critical', action: 'rejected' });
		expect(outcomes[0].summary).toMatch(/was not written/);
		expect(outcomes[0].problems.map((p) => p.message).join(' ')).toMatch(
			/servce.*did you mean "service"|needs "service"/,
		);
		expect(fs.existsSync(path.join(folder.dynamicDir, 'routers.yml'))).toBe(false);
		expect(fs.readdirSync(folder.dynamicDir)).toEqual(['services.yml']);

		// a router naming a middleware no file defines is refused too (Traefik would disable it)
		const missing = await withSsh(conn(), (s) =>
			deployFiles(s, folder, [{ fileName: 'routers.yml', content: ROUTERS_YML }]),
		);
		expect(missing[0].action).toBe('rejected');
		expect(missing[0].summary).toMatch(
			/middleware "general-ratelimit", which no file of the folder defines/,
		);
	});

	it('deploys a change set (middlewares before routers), keeps the previous version outside the watched folder, and outputs a unified diff', async () => {
		const { folder } = stack();
		fs.writeFileSync(path.join(folder.dynamicDir, 'services.yml'), SERVICES_YML);
		const first = await withSsh(conn(), (s) =>
			deployFiles(s, folder, [
				{ fileName: 'routers.yml', content: ROUTERS_YML },
				{ fileName: 'middlewares.yml', content: middlewares(100) },
			]),
		);
		expect(first.map((o) => [o.file, o.status, o.action])).toEqual([
			['routers.yml', 'ok', 'written'],
			['middlewares.yml', 'ok', 'written'],
		]);
		expect(first[0].summary).toMatch(/not verified \(no Traefik API credential\)/);
		expect(first[1].diff).toMatch(/^\+\s+average: 100$/m);

		const second = await withSsh(conn(), (s) =>
			deployFiles(s, folder, [{ fileName: 'middlewares.yml', content: middlewares(60) }]),
		);
		expect(second[0]).toMatchObject({ status: 'ok', action: 'written' });
		expect(second[0].diff).toMatch(/^-\s+average: 100$/m);
		expect(second[0].diff).toMatch(/^\+\s+average: 60$/m);
		expect(second[0].backup).toMatch(
			new RegExp(`^${folder.backupDir}/middlewares\\.yml\\.\\d{8}T\\d{9}Z\\.bak$`),
		);
		expect(fs.readFileSync(second[0].backup!, 'utf8')).toBe(middlewares(100));
		expect(fs.readFileSync(path.join(folder.dynamicDir, 'middlewares.yml'), 'utf8')).toBe(
			middlewares(60),
		);
		// only config files in the watched folder: no temp file, no backup
		expect(fs.readdirSync(folder.dynamicDir).sort()).toEqual([
			'middlewares.yml',
			'routers.yml',
			'services.yml',
		]);

		const again = await withSsh(conn(), (s) =>
			deployFiles(s, folder, [{ fileName: 'middlewares.yml', content: middlewares(60) }]),
		);
		expect(again[0]).toMatchObject({ action: 'unchanged', status: 'ok' });
	});

	it('a refused change set writes nothing; a file of it that did not change stays "unchanged" (nothing to alert about)', async () => {
		const { folder } = stack();
		fs.writeFileSync(path.join(folder.dynamicDir, 'services.yml'), SERVICES_YML);
		fs.writeFileSync(path.join(folder.dynamicDir, 'middlewares.yml'), middlewares(100));
		const outcomes = await withSsh(conn(), (s) =>
			deployFiles(s, folder, [
				{ fileName: 'middlewares.yml', content: middlewares(100) },
				{ fileName: 'services.yml', content: SERVICES_YML.replace('n8n:5678', 'n8n:5679') },
				{ fileName: 'routers.yml', content: ROUTERS_YML.replace('general-ratelimit', 'missing') },
			]),
		);
		expect(outcomes.map((o) => [o.file, o.status, o.action])).toEqual([
			['middlewares.yml', 'ok', 'unchanged'],
			['services.yml', 'critical', 'rejected'],
			['routers.yml', 'critical', 'rejected'],
		]);
		expect(outcomes[0].summary).toBe(
			'middlewares.yml is unchanged (the change set was refused because of routers.yml)',
		);
		expect(fs.readFileSync(path.join(folder.dynamicDir, 'services.yml'), 'utf8')).toBe(
			SERVICES_YML,
		);
		expect(fs.existsSync(path.join(folder.dynamicDir, 'routers.yml'))).toBe(false);
	});

	it('one deploy per folder at a time: concurrent runs queue, a held lock is reported', async () => {
		const { folder } = stack();
		const [a, b] = await Promise.all([
			withSsh(conn(), (s) =>
				deployFiles(s, folder, [{ fileName: 'middlewares.yml', content: middlewares(1) }]),
			),
			withSsh(conn(), (s) =>
				deployFiles(s, folder, [{ fileName: 'middlewares.yml', content: middlewares(2) }]),
			),
		]);
		// one wrote a new file, the other replaced it and kept it as the previous version
		expect([a[0].action, b[0].action]).toEqual(['written', 'written']);
		expect([a[0].backup, b[0].backup].filter(Boolean)).toHaveLength(1);
		expect(fs.existsSync(path.join(folder.backupDir, '.deploy.lock'))).toBe(false);

		fs.mkdirSync(path.join(folder.backupDir, '.deploy.lock'));
		await expect(
			withSsh(conn(), (s) =>
				deployFiles(s, folder, [{ fileName: 'middlewares.yml', content: middlewares(3) }], {
					lockWaitMs: 1_500,
				}),
			),
		).rejects.toThrow(/Another deploy to .* is running/);
		fs.rmdirSync(path.join(folder.backupDir, '.deploy.lock'));

		// a lock left by a run that died 20 minutes ago is taken over, by one of two runs only
		const lockDir = path.join(folder.backupDir, '.deploy.lock');
		fs.mkdirSync(lockDir);
		const old = new Date(Date.now() - 20 * 60_000);
		fs.utimesSync(lockDir, old, old);
		const [c, d] = await Promise.all([
			withSsh(conn(), (s) =>
				deployFiles(s, folder, [{ fileName: 'middlewares.yml', content: middlewares(4) }], {
					lockWaitMs: 20_000,
				}),
			),
			withSsh(conn(), (s) =>
				deployFiles(s, folder, [{ fileName: 'middlewares.yml', content: middlewares(5) }], {
					lockWaitMs: 20_000,
				}),
			),
		]);
		expect([c[0].action, d[0].action]).toEqual(['written', 'written']);
		expect(fs.readdirSync(folder.backupDir).filter((n) => n.startsWith('.deploy.lock'))).toEqual(
			[],
		);
	});

	it('threat: a deploy verifying for up to an hour loses its lock after 10 minutes — a lock whose lease is still valid is never taken over, however old; an expired one is', async () => {
		const { folder } = stack();
		const { execFileSync } = await import('node:child_process');
		const lockDir = path.join(folder.backupDir, '.deploy.lock');
		fs.mkdirSync(lockDir, { recursive: true });
		const now = () => Math.floor(Date.now() / 1000);
		// a run verifying for an hour, started 20 minutes ago
		fs.writeFileSync(
			path.join(lockDir, 'owner'),
			`holder-token-1 ${now() + 3600} n8n execution 7\n`,
		);
		execFileSync('touch', ['-d', '20 minutes ago', lockDir]);
		await expect(
			withSsh(conn(), (s) =>
				deployFiles(s, folder, [{ fileName: 'middlewares.yml', content: middlewares(1) }], {
					lockWaitMs: 1_500,
				}),
			),
		).rejects.toThrow(
			/Another deploy to .* is running \(lock .*\.deploy\.lock by n8n execution 7 \(lease until/,
		);
		expect(fs.readFileSync(path.join(lockDir, 'owner'), 'utf8')).toMatch(/^holder-token-1 /);
		expect(fs.existsSync(path.join(folder.dynamicDir, 'middlewares.yml'))).toBe(false);

		// its lease ended (the run died): taken over, deployed, and the lock is gone afterwards
		fs.writeFileSync(path.join(lockDir, 'owner'), `holder-token-1 ${now() - 5} n8n execution 7\n`);
		const [outcome] = await withSsh(conn(), (s) =>
			deployFiles(s, folder, [{ fileName: 'middlewares.yml', content: middlewares(1) }], {
				lockWaitMs: 1_500,
			}),
		);
		expect(outcome).toMatchObject({ status: 'ok', action: 'written' });
		expect(fs.readdirSync(folder.backupDir).filter((n) => n.startsWith('.deploy.lock'))).toEqual(
			[],
		);
	});

	it('keeps a bounded number of versions per file', async () => {
		const { folder } = stack();
		for (const average of [10, 20, 30, 40, 50, 60]) {
			await withSsh(conn(), (s) =>
				deployFiles(
					s,
					{ ...folder, keep: 3 },
					[{ fileName: 'middlewares.yml', content: middlewares(average) }],
					{ now: new Date(Date.UTC(2026, 10, 27, 10, average)) },
				),
			);
		}
		// another file whose name starts with this one's: its versions are its own
		for (const average of [70, 80]) {
			await withSsh(conn(), (s) =>
				deployFiles(
					s,
					{ ...folder, keep: 3 },
					[
						{
							fileName: 'middlewares.yml.old.yml',
							content: middlewares(average).replace('general-ratelimit', 'old-ratelimit'),
						},
					],
					{ now: new Date(Date.UTC(2026, 10, 27, 11, average - 60)) },
				),
			);
		}
		const kept = await withSsh(conn(), (s) => listBackups(s, folder.backupDir, 'middlewares.yml'));
		expect(kept).toHaveLength(3);
		expect(
			await withSsh(conn(), (s) => listBackups(s, folder.backupDir, 'middlewares.yml.old.yml')),
		).toHaveLength(1);
		expect(
			kept.map(
				(b) => fs.readFileSync(path.join(folder.backupDir, b), 'utf8').match(/average: (\d+)/)![1],
			),
		).toEqual(['50', '40', '30']);
	});

	it('checks against every file Traefik reads: subfolders, hidden names, symlinked files, upper-case extensions', async () => {
		const { root, folder } = stack();
		fs.mkdirSync(path.join(folder.dynamicDir, 'stack', 'ai'), { recursive: true });
		fs.writeFileSync(
			path.join(folder.dynamicDir, 'stack', 'ai', 'middlewares.YML'),
			middlewares(100),
		);
		fs.writeFileSync(path.join(root, 'shared-services.yml'), SERVICES_YML);
		fs.symlinkSync(
			path.join(root, 'shared-services.yml'),
			path.join(folder.dynamicDir, 'services.yml'),
		);
		// the router's service and middleware are defined only in a symlinked file and a subfolder
		const ok = await withSsh(conn(), (s) =>
			deployFiles(s, folder, [{ fileName: 'routers.yml', content: ROUTERS_YML }]),
		);
		expect(ok[0]).toMatchObject({ status: 'ok', action: 'written' });

		// a broken hidden file makes Traefik drop the whole update: refused
		fs.writeFileSync(path.join(folder.dynamicDir, '.scratch.yml'), 'http:\n  routers: [\n');
		const refused = await withSsh(conn(), (s) =>
			deployFiles(s, folder, [
				{
					fileName: 'routers.yml',
					content: ROUTERS_YML.replace('n8n.example.com', 'n8n.example.org'),
				},
			]),
		);
		expect(refused[0]).toMatchObject({ status: 'critical', action: 'rejected' });
		expect(refused[0].summary).toMatch(/\.scratch\.yml: not valid YAML/);
		fs.unlinkSync(path.join(folder.dynamicDir, '.scratch.yml'));

		// a middleware defined twice, once in a subfolder: Traefik reads "more.yml" before the folder
		// "stack", so the new file would silently take the live definition's place
		const dup = await withSsh(conn(), (s) =>
			deployFiles(s, folder, [{ fileName: 'more.yml', content: middlewares(5) }]),
		);
		expect(dup[0]).toMatchObject({ status: 'critical', action: 'rejected' });
		expect(dup[0].summary).toMatch(
			/stack\/ai\/middlewares\.YML: http\.middlewares\.general-ratelimit is also defined in more\.yml, which Traefik reads first/,
		);
	});

	it('refuses a backup folder inside the watched folder', async () => {
		const { folder } = stack();
		await expect(
			withSsh(conn(), (s) =>
				deployFiles(s, { ...folder, backupDir: path.join(folder.dynamicDir, 'history') }, [
					{ fileName: 'm.yml', content: middlewares(1) },
				]),
			),
		).rejects.toThrow(/inside the watched folder/);
	});

	it('a connection cut mid-transfer leaves the old file intact, and nothing Traefik would read', async () => {
		const { folder } = stack();
		const target = path.join(folder.dynamicDir, 'big.yml');
		fs.writeFileSync(target, middlewares(100));
		const { ssh } = services();
		// a TCP relay to sshd that cuts both sides once 512 KiB went upstream (the handshake is a few KiB)
		let upstreamBytes = 0;
		const relay: Server = createServer((client) => {
			const upstream = new Socket();
			upstream.connect(ssh.port, ssh.host);
			client.on('data', (chunk: Buffer) => {
				upstreamBytes += chunk.length;
				if (upstreamBytes > 512 * 1024) {
					client.destroy();
					upstream.destroy();
					return;
				}
				upstream.write(chunk);
			});
			upstream.on('data', (chunk: Buffer) => client.write(chunk));
			client.on('error', () => upstream.destroy());
			upstream.on('error', () => client.destroy());
			client.on('close', () => upstream.destroy());
			upstream.on('close', () => client.destroy());
		});
		await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
		try {
			const session = await openSsh(conn({ port: (relay.address() as AddressInfo).port }));
			const big = `# ${'x'.repeat(100)}\n`.repeat(40_000) + middlewares(5);
			await expect(session.writeFileAtomic(target, big)).rejects.toThrow();
			session.close();
		} finally {
			relay.close();
		}
		expect(upstreamBytes).toBeGreaterThan(512 * 1024);
		expect(fs.readFileSync(target, 'utf8')).toBe(middlewares(100));
		// whatever the cut left behind has a name Traefik's file provider skips
		for (const name of fs.readdirSync(folder.dynamicDir))
			expect(
				name === 'big.yml' || (/\.infra-ops-tmp$/.test(name) && !/\.(ya?ml|toml)$/.test(name)),
			).toBe(true);
	});
});

describeRef('Traefik Config deploy with a recorded-response Traefik API', () => {
	it('waits until Traefik serves the new routers and middlewares, enabled and as written', async () => {
		const { folder } = stack();
		fs.writeFileSync(path.join(folder.dynamicDir, 'services.yml'), SERVICES_YML);
		const api = await replay(folder.dynamicDir);
		const outcomes = await withSsh(conn(), (s) =>
			deployFiles(
				s,
				folder,
				[
					{ fileName: 'middlewares.yml', content: middlewares(100) },
					{ fileName: 'routers.yml', content: ROUTERS_YML },
				],
				{ verify: { api, timeoutMs: 10_000, intervalMs: 100 } },
			),
		);
		expect(outcomes.map((o) => [o.file, o.status, o.action])).toEqual([
			['middlewares.yml', 'ok', 'written'],
			['routers.yml', 'ok', 'written'],
		]);
		const routers = outcomes[1].verification!;
		expect(routers.ok).toBe(true);
		expect(routers.checks).toEqual([
			{ name: 'n8n@file', kind: 'router', ok: true, reason: undefined },
		]);
		// the replay applies a change only after 300 ms, as Traefik's provider throttle does
		expect(outcomes[0].verification!.waitedMs).toBeGreaterThanOrEqual(200);
		expect(outcomes[1].summary).toMatch(/served by Traefik after/);
	});

	it('rolls back automatically and reports critical when Traefik reports the router with errors', async () => {
		const { folder } = stack();
		fs.writeFileSync(path.join(folder.dynamicDir, 'services.yml'), SERVICES_YML);
		fs.writeFileSync(path.join(folder.dynamicDir, 'middlewares.yml'), middlewares(100));
		const before = `http:\n  routers:\n    n8n:\n      rule: Host(\`n8n.example.com\`)\n      service: n8n\n`;
		fs.writeFileSync(path.join(folder.dynamicDir, 'routers.yml'), before);
		const api = await replay(folder.dynamicDir, ['n8n-api']);
		const next =
			before +
			`    n8n-api:\n      rule: Host(\`n8n.example.com\`) && PathPrefix(\`/api\`)\n      service: n8n\n      middlewares: [general-ratelimit]\n`;
		const [outcome] = await withSsh(conn(), (s) =>
			deployFiles(s, folder, [{ fileName: 'routers.yml', content: next }], {
				verify: { api, timeoutMs: 2_000, intervalMs: 100 },
			}),
		);
		expect(outcome).toMatchObject({ status: 'critical', action: 'rolledBack' });
		expect(outcome.summary).toMatch(
			/rolled back.*router n8n-api@file: errors: error while building router n8n-api@file.*the previous version is back/,
		);
		expect(fs.readFileSync(path.join(folder.dynamicDir, 'routers.yml'), 'utf8')).toBe(before);
		expect(outcome.restoredVerification?.ok).toBe(true);
	});

	it('notices that the old configuration is still live (Traefik did not pick the change up) and rolls back', async () => {
		const { folder } = stack();
		fs.writeFileSync(path.join(folder.dynamicDir, 'middlewares.yml'), middlewares(100));
		const r = await startTraefikReplay({ watchDir: folder.dynamicDir });
		replays.push(r);
		const api = new TraefikApi(traefikConnectionFrom({ url: r.url }));
		expect(
			(await api.entry('http/middlewares', 'general-ratelimit@file'))?.rateLimit,
		).toMatchObject({ average: 100 });
		r.options.frozen = true;
		const [outcome] = await withSsh(conn(), (s) =>
			deployFiles(s, folder, [{ fileName: 'middlewares.yml', content: middlewares(10) }], {
				verify: { api, timeoutMs: 1_500, intervalMs: 100 },
			}),
		);
		expect(outcome).toMatchObject({ status: 'critical', action: 'rolledBack' });
		expect(outcome.summary).toMatch(
			/middleware general-ratelimit@file: still limits to 100 .*the new file is not live/,
		);
		expect(fs.readFileSync(path.join(folder.dynamicDir, 'middlewares.yml'), 'utf8')).toBe(
			middlewares(100),
		);
	});

	it('a Traefik API that cannot be asked (here: refuses the credential) is a failed verification: the written files are put back', async () => {
		const { folder } = stack();
		fs.writeFileSync(path.join(folder.dynamicDir, 'middlewares.yml'), middlewares(100));
		const r = await startTraefikReplay({
			watchDir: folder.dynamicDir,
			basicAuth: { username: 'admin', password: 'traefik-api-password' },
		});
		replays.push(r);
		const api = new TraefikApi(
			traefikConnectionFrom({
				url: r.url.replace('//', '//admin:typed-into-the-url@'),
				authentication: 'none',
			}),
		);
		const outcomes = await withSsh(conn(), (s) =>
			deployFiles(
				s,
				folder,
				[
					{ fileName: 'middlewares.yml', content: middlewares(10) },
					{
						fileName: 'routers.yml',
						content: ROUTERS_YML.replace('service: n8n', 'service: n8n@docker'),
					},
				],
				{ verify: { api, timeoutMs: 2_000, intervalMs: 100 } },
			),
		);
		expect(outcomes.map((o) => [o.file, o.status, o.action])).toEqual([
			['middlewares.yml', 'critical', 'rolledBack'],
			['routers.yml', 'critical', 'rolledBack'],
		]);
		expect(outcomes[0].summary).toMatch(
			/rolled back: the Traefik API could not confirm the change .*refused the credential \(HTTP 401\).*the previous version is back/,
		);
		expect(outcomes[1].summary).toMatch(/the new file was removed/);
		expect(JSON.stringify(outcomes)).not.toContain('typed-into-the-url');
		expect(fs.readFileSync(path.join(folder.dynamicDir, 'middlewares.yml'), 'utf8')).toBe(
			middlewares(100),
		);
		expect(fs.existsSync(path.join(folder.dynamicDir, 'routers.yml'))).toBe(false);
	});

	it('a verification timeout that is not a number is refused before anything is written', async () => {
		const { folder } = stack();
		fs.writeFileSync(path.join(folder.dynamicDir, 'middlewares.yml'), middlewares(100));
		const api = new TraefikApi(traefikConnectionFrom({ url: 'http://127.0.0.1:9' }));
		await expect(
			withSsh(conn(), (s) =>
				deployFiles(s, folder, [{ fileName: 'middlewares.yml', content: middlewares(10) }], {
					verify: { api, timeoutMs: Number('30s') * 1000 },
				}),
			),
		).rejects.toThrow(/verification timeout NaN ms is not between/);
		expect(fs.readFileSync(path.join(folder.dynamicDir, 'middlewares.yml'), 'utf8')).toBe(
			middlewares(100),
		);
	});

	it('a production dynamic file spelling FrameDeny/STSSeconds (Traefik matches names case-insensitively) no longer blocks deploys into its folder, and deploys itself with a spelling warning', async () => {
		const { folder } = stack();
		const headers = (sts: number) => `http:
  middlewares:
    secure-headers:
      Headers:
        FrameDeny: true
        BrowserXssFilter: true
        ContentTypeNosniff: true
        STSSeconds: ${sts}
`;
		fs.writeFileSync(path.join(folder.dynamicDir, 'services.yml'), SERVICES_YML);
		fs.writeFileSync(path.join(folder.dynamicDir, 'headers.yml'), headers(31536000));
		const api = await replay(folder.dynamicDir);
		const unrelated = await withSsh(conn(), (s) =>
			deployFiles(
				s,
				folder,
				[
					{ fileName: 'middlewares.yml', content: middlewares(100) },
					{
						fileName: 'routers.yml',
						content: ROUTERS_YML.replace(
							'- general-ratelimit',
							'- general-ratelimit\n        - secure-headers',
						),
					},
				],
				{ verify: { api, timeoutMs: 10_000, intervalMs: 100 } },
			),
		);
		expect(unrelated.map((o) => [o.file, o.status, o.action, o.verification?.ok])).toEqual([
			['middlewares.yml', 'ok', 'written', true],
			['routers.yml', 'ok', 'written', true],
		]);
		const own = await withSsh(conn(), (s) =>
			deployFiles(s, folder, [{ fileName: 'headers.yml', content: headers(63072000) }], {
				verify: { api, timeoutMs: 10_000, intervalMs: 100 },
			}),
		);
		expect(own[0]).toMatchObject({ status: 'warning', action: 'written' });
		expect(own[0].verification?.ok).toBe(true);
		expect(own[0].problems.map((p) => p.message)).toContainEqual(
			expect.stringMatching(
				/STSSeconds is spelled "STSSeconds".*documented spelling is "stsSeconds"/,
			),
		);
		expect(fs.readFileSync(path.join(folder.dynamicDir, 'headers.yml'), 'utf8')).toBe(
			headers(63072000),
		);
	});

	it('refuses to deploy while another file of the folder is broken (Traefik would drop the whole update)', async () => {
		const { folder } = stack();
		fs.writeFileSync(path.join(folder.dynamicDir, 'middlewares.yml'), middlewares(100));
		fs.writeFileSync(path.join(folder.dynamicDir, 'zz-hand-edit.yml'), 'http:\n  routers: [\n');
		const [outcome] = await withSsh(conn(), (s) =>
			deployFiles(s, folder, [{ fileName: 'middlewares.yml', content: middlewares(10) }]),
		);
		expect(outcome).toMatchObject({ status: 'critical', action: 'rejected' });
		expect(outcome.summary).toMatch(/zz-hand-edit\.yml: not valid YAML/);
		expect(fs.readFileSync(path.join(folder.dynamicDir, 'middlewares.yml'), 'utf8')).toBe(
			middlewares(100),
		);
	});

	it("threat: a run whose lock was taken over removes the new holder's lock — it releases only a lock whose owner token is its own; its lease covers both verification rounds", async () => {
		const { folder } = stack();
		const lockDir = path.join(folder.backupDir, '.deploy.lock');
		fs.writeFileSync(path.join(folder.dynamicDir, 'middlewares.yml'), middlewares(100));
		let lease = 0;
		let step = 0;
		const r = await startTraefikReplay({
			watchDir: folder.dynamicDir,
			// while the deploy waits for Traefik, another run takes the lock over: it renamed the old
			// lock aside and has just made its own (its owner file not written yet)
			onRequest: () => {
				if (step++ > 0) return;
				const owner = path.join(lockDir, 'owner');
				lease = fs.existsSync(owner)
					? Number(fs.readFileSync(owner, 'utf8').split(' ')[1]) - Date.now() / 1000
					: 0;
				fs.renameSync(lockDir, `${lockDir}.taken`);
				fs.rmSync(`${lockDir}.taken`, { recursive: true });
				fs.mkdirSync(lockDir);
			},
		});
		replays.push(r);
		const api = new TraefikApi(traefikConnectionFrom({ url: r.url }));
		const [first] = await withSsh(conn(), (s) =>
			deployFiles(s, folder, [{ fileName: 'middlewares.yml', content: middlewares(10) }], {
				verify: { api, timeoutMs: 900_000, intervalMs: 100 },
			}),
		);
		expect(first).toMatchObject({ status: 'ok', action: 'written' });
		expect(fs.existsSync(lockDir)).toBe(true);
		expect(fs.readdirSync(lockDir)).toEqual([]);
		// verification (15 min) and the rollback's verification (15 min) plus the margin
		expect(lease).toBeGreaterThan(2 * 900 + 600 - 30);

		// the new holder wrote its owner file: still not removed
		fs.writeFileSync(
			path.join(lockDir, 'owner'),
			`new-holder-token ${Math.floor(Date.now() / 1000) + 600} n8n execution 9\n`,
		);
		fs.renameSync(lockDir, `${lockDir}.held`);
		step = 0;
		r.options.onRequest = () => {
			if (step++ > 0) return;
			fs.renameSync(lockDir, `${lockDir}.taken`);
			fs.rmSync(`${lockDir}.taken`, { recursive: true });
			fs.renameSync(`${lockDir}.held`, lockDir);
		};
		const [second] = await withSsh(conn(), (s) =>
			deployFiles(s, folder, [{ fileName: 'middlewares.yml', content: middlewares(20) }], {
				verify: { api, timeoutMs: 5_000, intervalMs: 100 },
			}),
		);
		expect(second).toMatchObject({ status: 'ok', action: 'written' });
		expect(fs.readFileSync(path.join(lockDir, 'owner'), 'utf8')).toMatch(/^new-holder-token /);
		expect(
			fs
				.readdirSync(folder.backupDir)
				.filter((n) => n.startsWith('.deploy.lock'))
				.sort(),
		).toEqual(['.deploy.lock']);
	});

	it('Rollback restores the newest kept version that differs, with the same verification', async () => {
		const { folder } = stack();
		const api = await replay(folder.dynamicDir);
		for (const average of [100, 10]) {
			await withSsh(conn(), (s) =>
				deployFiles(s, folder, [{ fileName: 'middlewares.yml', content: middlewares(average) }], {
					verify: { api, timeoutMs: 5_000, intervalMs: 100 },
				}),
			);
		}
		const outcome = await withSsh(conn(), (s) =>
			rollbackFile(s, folder, 'middlewares.yml', {
				verify: { api, timeoutMs: 5_000, intervalMs: 100 },
			}),
		);
		expect(outcome).toMatchObject({ status: 'ok', action: 'written' });
		expect(outcome.summary).toMatch(/middlewares\.yml restored/);
		expect(outcome.verification?.ok).toBe(true);
		expect(fs.readFileSync(path.join(folder.dynamicDir, 'middlewares.yml'), 'utf8')).toBe(
			middlewares(100),
		);
		const served = await api.entry('http/middlewares', 'general-ratelimit@file');
		expect((served?.rateLimit as { average: number }).average).toBe(100);
	});
});

describe('Fetch Git Files over real sshd with a real git repository', () => {
	it('fetches the pushed commit into a staging checkout and returns its dynamic files', async () => {
		const { root } = stack();
		const { execFileSync } = await import('node:child_process');
		const work = path.join(root, 'work');
		const bare = path.join(root, 'traefik-config.git');
		const git = (cwd: string, ...args: string[]) =>
			execFileSync('git', ['-c', 'user.email=ops@example.com', '-c', 'user.name=ops', ...args], {
				cwd,
				encoding: 'utf8',
			}).trim();
		execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
		fs.mkdirSync(path.join(work, 'dynamic'), { recursive: true });
		git(work, 'init', '-q', '-b', 'main');
		fs.writeFileSync(path.join(work, 'dynamic', 'middlewares.yml'), middlewares(100));
		fs.writeFileSync(path.join(work, 'README.md'), 'not a config');
		git(work, 'add', '.');
		git(work, 'commit', '-q', '-m', 'first');
		const first = git(work, 'rev-parse', 'HEAD');
		fs.writeFileSync(path.join(work, 'dynamic', 'middlewares.yml'), middlewares(10));
		fs.writeFileSync(path.join(work, 'dynamic', 'routers.yml'), ROUTERS_YML);
		git(work, 'add', '.');
		git(work, 'commit', '-q', '-m', 'second');
		const second = git(work, 'rev-parse', 'HEAD');
		git(work, 'push', '-q', bare, 'main');

		const staging = path.join(root, 'staging');
		const atFirst = await withSsh(conn(), (s) =>
			fetchGitFiles(s, {
				repoUrl: bare,
				ref: 'refs/heads/main',
				commit: first,
				pathInRepo: 'dynamic',
				stagingDir: staging,
			}),
		);
		expect(atFirst.map((f) => [f.file, f.commit])).toEqual([['middlewares.yml', first]]);
		expect(atFirst[0].content).toBe(middlewares(100));
		const head = await withSsh(conn(), (s) =>
			fetchGitFiles(s, { repoUrl: bare, ref: 'main', pathInRepo: 'dynamic/', stagingDir: staging }),
		);
		expect(head.map((f) => f.file).sort()).toEqual(['middlewares.yml', 'routers.yml']);
		expect(head.every((f) => f.commit === second)).toBe(true);
		await expect(
			withSsh(conn(), (s) =>
				fetchGitFiles(s, {
					repoUrl: bare,
					ref: 'main',
					commit: 'deadbeef',
					pathInRepo: 'dynamic',
					stagingDir: staging,
				}),
			),
		).rejects.toThrow(/Commit deadbeef is not on branch main/);
		await expect(
			withSsh(conn(), (s) =>
				fetchGitFiles(s, {
					repoUrl: bare,
					ref: 'main; rm -rf /',
					pathInRepo: 'dynamic',
					stagingDir: staging,
				}),
			),
		).rejects.toThrow(/is not a branch name/);

		// a commit the staging clone already holds from another branch is still not on this one
		git(work, 'checkout', '-q', '-b', 'experiment');
		fs.writeFileSync(path.join(work, 'dynamic', 'middlewares.yml'), middlewares(1));
		git(work, 'commit', '-q', '-am', 'experiment');
		const experiment = git(work, 'rev-parse', 'HEAD');
		git(work, 'push', '-q', bare, 'experiment');
		await withSsh(conn(), (s) =>
			fetchGitFiles(s, {
				repoUrl: bare,
				ref: 'experiment',
				pathInRepo: 'dynamic',
				stagingDir: staging,
			}),
		);
		await expect(
			withSsh(conn(), (s) =>
				fetchGitFiles(s, {
					repoUrl: bare,
					ref: 'main',
					commit: experiment,
					pathInRepo: 'dynamic',
					stagingDir: staging,
				}),
			),
		).rejects.toThrow(new RegExp(`Commit ${experiment} is not on branch main`));

		// git would take a URL starting with "-" as an option (--upload-pack=<command>)
		await expect(
			withSsh(conn(), (s) =>
				fetchGitFiles(s, {
					repoUrl: '--upload-pack=touch',
					ref: 'main',
					pathInRepo: 'dynamic',
					stagingDir: staging,
				}),
			),
		).rejects.toThrow(/repository URL/);
		// a token in the URL is in no message
		const token = 'glpat-never-in-a-message-0123';
		const failed = await withSsh(conn(), (s) =>
			fetchGitFiles(s, {
				repoUrl: `https://ops:${token}@127.0.0.1:1/traefik-config.git`,
				ref: 'main',
				pathInRepo: 'dynamic',
				stagingDir: staging,
			}),
		).then(
			() => undefined,
			(error: Error) => error,
		);
		expect(failed?.message).toMatch(
			/git fetch of main from https:\/\/127\.0\.0\.1:1\/traefik-config\.git failed/,
		);
		expect(`${failed?.message} ${(failed as { hint?: string } | undefined)?.hint}`).not.toContain(
			token,
		);
	});
});

/** Every process's command line and environment on this machine (the harness's sshd, so the Traefik host's git, runs here). */
function processTexts(): Array<{ pid: string; cmdline: string; environ: string }> {
	const out: Array<{ pid: string; cmdline: string; environ: string }> = [];
	for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
		const read = (name: string) => {
			try {
				return fs.readFileSync(`/proc/${pid}/${name}`).toString('latin1').replace(/\0/g, ' ');
			} catch {
				return ''; // the process ended meanwhile
			}
		};
		out.push({ pid, cmdline: read('cmdline'), environ: read('environ') });
	}
	return out;
}

describe('Fetch Git Files: a token in the repository URL', () => {
	it("threat: a token in the Git URL is visible in ps on the Traefik host — while git fetches it is in no process's argv or environment, and its file is gone after a timeout or a refusal", async () => {
		const { root } = stack();
		const stagingDir = path.join(root, 'staging');
		const token = 'glpat-in-no-process-list-4711';
		const { createServer: createHttpServer } = await import('node:http');
		let authorization = '';
		let arrived!: () => void;
		const authenticatedRequest = new Promise<void>((resolve) => (arrived = resolve));
		let refuseAll = false;
		// a Git server that asks for credentials, then takes the authenticated request and never answers
		const server = createHttpServer((req, res) => {
			if (!req.headers.authorization || refuseAll) {
				res.writeHead(401, {
					'www-authenticate': 'Basic realm="git"',
					'content-type': 'text/plain',
				});
				res.end('401 Unauthorized\n');
				return;
			}
			authorization = req.headers.authorization;
			arrived();
		});
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		const port = (server.address() as AddressInfo).port;
		const secretDirs = () =>
			fs.existsSync(path.join(stagingDir, '.git'))
				? fs
						.readdirSync(path.join(stagingDir, '.git'))
						.filter((n) => n.startsWith('infra-ops-askpass'))
				: [];
		try {
			const repoUrl = `http://ops:${token}@127.0.0.1:${port}/traefik-config.git`;
			const fetching = withSsh(conn(), (s) =>
				fetchGitFiles(
					s,
					{ repoUrl, ref: 'main', pathInRepo: 'dynamic', stagingDir },
					{ fetchTimeoutMs: 15_000 },
				),
			).then(
				() => undefined,
				(error: Error) => error,
			);
			await authenticatedRequest;
			// git holds the credential and waits for the answer: every process of the host, now
			const processes = processTexts();
			expect(processes.some((p) => p.cmdline.includes(`127.0.0.1:${port}`))).toBe(true);
			expect(
				processes
					.filter((p) => p.cmdline.includes(token) || p.environ.includes(token))
					.map((p) => p.pid),
			).toEqual([]);
			expect(Buffer.from(authorization.replace(/^Basic /, ''), 'base64').toString('utf8')).toBe(
				`ops:${token}`,
			);
			// meanwhile the credential sits in an owner-only file of an owner-only folder
			const [dir] = secretDirs();
			expect(fs.statSync(path.join(stagingDir, '.git', dir)).mode & 0o777).toBe(0o700);
			expect(fs.statSync(path.join(stagingDir, '.git', dir, 'pass')).mode & 0o777).toBe(0o600);

			// git's own timeout ends it on the host
			const timedOut = await fetching;
			expect(timedOut?.message).toMatch(
				new RegExp(
					`git fetch of main from http://127\\.0\\.0\\.1:${port}/traefik-config\\.git failed`,
				),
			);
			expect(
				`${timedOut?.message} ${(timedOut as { hint?: string } | undefined)?.hint}`,
			).not.toContain(token);
			expect(secretDirs()).toEqual([]);

			// a refused credential: the fetch fails, the file is gone too
			refuseAll = true;
			const refused = await withSsh(conn(), (s) =>
				fetchGitFiles(
					s,
					{ repoUrl, ref: 'main', pathInRepo: 'dynamic', stagingDir },
					{ fetchTimeoutMs: 20_000 },
				),
			).then(
				() => undefined,
				(error: Error) => error,
			);
			expect(refused?.message).toMatch(/Authentication failed/);
			expect(refused?.message).not.toContain(token);
			expect(secretDirs()).toEqual([]);
		} finally {
			server.closeAllConnections();
			server.close();
		}
	}, 60_000);

	it('a password in an SSH URL is refused (git would put it on the command line)', async () => {
		const { root } = stack();
		await expect(
			withSsh(conn(), (s) =>
				fetchGitFiles(s, {
					repoUrl: 'ssh://git:hunter2@127.0.0.1/x.git',
					ref: 'main',
					pathInRepo: 'dynamic',
					stagingDir: path.join(root, 'staging'),
				}),
			),
		).rejects.toThrow(/carries a password/);
	});
});

/** A bare repository on the "Traefik host" (the harness's sshd writes to local disk) and a work tree pushing to it. */
async function gitRepo(root: string) {
	const { execFileSync } = await import('node:child_process');
	const work = path.join(root, 'work');
	const bare = path.join(root, 'traefik-config.git');
	const git = (...args: string[]) =>
		execFileSync('git', ['-c', 'user.email=ops@example.com', '-c', 'user.name=ops', ...args], {
			cwd: work,
			encoding: 'utf8',
		}).trim();
	execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
	fs.mkdirSync(path.join(work, 'dynamic'), { recursive: true });
	git('init', '-q', '-b', 'main');
	const commit = (average: number) => {
		fs.writeFileSync(path.join(work, 'dynamic', 'middlewares.yml'), middlewares(average));
		git('add', '.');
		git('commit', '-q', '-m', `average ${average}`);
		git('push', '-q', bare, 'main');
		return git('rev-parse', 'HEAD');
	};
	return { bare, commit };
}

describe('GitOps deploys over real sshd with a real git repository: replays and older commits', () => {
	it('threat: a replayed webhook delivery (or an old signed push under a new delivery id) deploys old configuration — the same delivery twice is refused, an older commit is refused unless "Allow Older Commit" is on', async () => {
		const { root, folder } = stack();
		const { bare, commit } = await gitRepo(root);
		const stagingDir = path.join(root, 'staging');
		const live = () => fs.readFileSync(path.join(folder.dynamicDir, 'middlewares.yml'), 'utf8');
		const push = async (sha: string, deliveryId: string, allowOlderCommit = false) =>
			await withSsh(conn(), async (s) => {
				const files = await fetchGitFiles(s, {
					repoUrl: bare,
					ref: 'main',
					commit: sha,
					pathInRepo: 'dynamic',
					stagingDir,
				});
				return await deployFiles(
					s,
					folder,
					files.map((f) => ({ fileName: f.file, content: f.content })),
					{ gitops: { commit: files[0].commit, deliveryId, stagingDir, allowOlderCommit } },
				);
			});

		const old = commit(100);
		expect((await push(old, 'delivery-1'))[0]).toMatchObject({ status: 'ok', action: 'written' });
		const current = commit(10);
		expect((await push(current, 'delivery-2'))[0]).toMatchObject({
			status: 'ok',
			action: 'written',
		});
		expect(live()).toBe(middlewares(10));

		// the old push re-sent as it was
		const replayed = await push(old, 'delivery-1');
		expect(replayed[0]).toMatchObject({ status: 'warning', action: 'refused' });
		expect(replayed[0].summary).toMatch(
			/webhook delivery delivery-1 was received before .*a replayed delivery is not deployed/,
		);
		expect(live()).toBe(middlewares(10));
		// the latest push re-sent: refused as well (nothing to redeploy, and the id is spent)
		expect((await push(current, 'delivery-2'))[0]).toMatchObject({
			status: 'warning',
			action: 'refused',
		});

		// the old push under an id never seen (the id is not covered by the signature): older than the deployed commit
		const forged = await push(old, 'delivery-forged');
		expect(forged[0]).toMatchObject({ status: 'warning', action: 'refused' });
		expect(forged[0].summary).toMatch(
			new RegExp(
				`commit ${old.slice(0, 12)} is older than the deployed commit ${current.slice(0, 12)} .*"Allow Older Commit"`,
			),
		);
		expect(live()).toBe(middlewares(10));

		// the operator asks for the rollback
		const rolledBack = await push(old, 'operator-rollback', true);
		expect(rolledBack[0]).toMatchObject({ status: 'ok', action: 'written' });
		expect(live()).toBe(middlewares(100));
		// a newer commit deploys again, once
		const next = commit(20);
		// the same delivery twice at once (two workers): decided one after the other under the deploy lock
		const files = await withSsh(conn(), (s) =>
			fetchGitFiles(s, {
				repoUrl: bare,
				ref: 'main',
				commit: next,
				pathInRepo: 'dynamic',
				stagingDir,
			}),
		);
		const deployOnce = async () =>
			await withSsh(conn(), (s) =>
				deployFiles(
					s,
					folder,
					files.map((f) => ({ fileName: f.file, content: f.content })),
					{ gitops: { commit: next, deliveryId: 'delivery-3', stagingDir }, lockWaitMs: 60_000 },
				),
			);
		const [a, b] = await Promise.all([deployOnce(), deployOnce()]);
		expect([a[0].action, b[0].action].sort()).toEqual(['refused', 'written']);
		expect(live()).toBe(middlewares(20));

		// the state lives beside the kept versions on the host, owner-only
		const statePath = path.join(folder.backupDir, '.gitops-state.json');
		const state = JSON.parse(fs.readFileSync(statePath, 'utf8')) as {
			deployedCommit: string;
			deliveries: Array<{ id: string }>;
		};
		expect(state.deployedCommit).toBe(next);
		expect(state.deliveries.map((d) => d.id)).toEqual([
			'delivery-1',
			'delivery-2',
			'delivery-forged',
			'operator-rollback',
			'delivery-3',
		]);
		expect(fs.statSync(statePath).mode & 0o777).toBe(0o600);
	}, 120_000);

	it('the delivery list stays bounded: the oldest ids fall off (the commit order still stops those)', async () => {
		const { root, folder } = stack();
		const { bare, commit } = await gitRepo(root);
		const stagingDir = path.join(root, 'staging');
		const sha = commit(100);
		fs.mkdirSync(folder.backupDir, { recursive: true });
		const planted = Array.from({ length: 1000 }, (_, k) => ({
			id: `old-${k}`,
			at: '2026-11-01T00:00:00.000Z',
		}));
		fs.writeFileSync(
			path.join(folder.backupDir, '.gitops-state.json'),
			JSON.stringify({ deliveries: planted }),
		);
		const [outcome] = await withSsh(conn(), async (s) => {
			const files = await fetchGitFiles(s, {
				repoUrl: bare,
				ref: 'main',
				commit: sha,
				pathInRepo: 'dynamic',
				stagingDir,
			});
			return await deployFiles(
				s,
				folder,
				files.map((f) => ({ fileName: f.file, content: f.content })),
				{ gitops: { commit: sha, deliveryId: 'new-1', stagingDir } },
			);
		});
		expect(outcome).toMatchObject({ status: 'ok', action: 'written' });
		const ids = (
			JSON.parse(fs.readFileSync(path.join(folder.backupDir, '.gitops-state.json'), 'utf8')) as {
				deliveries: Array<{ id: string }>;
			}
		).deliveries.map((d) => d.id);
		expect(ids).toHaveLength(1000);
		expect(ids[0]).toBe('old-1');
		expect(ids[999]).toBe('new-1');

		// a damaged state is an error that says where, not a silent fresh start
		fs.writeFileSync(path.join(folder.backupDir, '.gitops-state.json'), '{"deliveries": 7}');
		await expect(
			withSsh(conn(), (s) =>
				deployFiles(s, folder, [{ fileName: 'middlewares.yml', content: middlewares(5) }], {
					gitops: { commit: sha, deliveryId: 'new-2', stagingDir },
				}),
			),
		).rejects.toThrow(/GitOps state .*\.gitops-state\.json is damaged/);
	});
});
