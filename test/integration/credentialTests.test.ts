/** Every credential test of the pack, as n8n calls it, against the real services of the harness. */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ICredentialTestFunctions, ICredentialsDecrypted } from 'n8n-workflow';

import { credentialTests } from '../../nodes/shared/credentialTests';
import { makeCertificates, services } from '../harness/services';
import { harnessPostgres } from '../support/harnessPostgres';

type TestName = keyof typeof credentialTests;
const run = async (name: TestName, data: Record<string, unknown>) =>
	await credentialTests[name].call(
		{} as ICredentialTestFunctions,
		{ id: '1', name: 'test', type: name, data } as ICredentialsDecrypted,
	);

describe('credential tests (real services)', () => {
	it('Docker Engine: socket ok, wrong socket explained', async () => {
		const ok = await run('infraOpsDockerApiTest', {
			connection: 'socket',
			socketPath: services().docker.socketPath,
		});
		expect(ok.status).toBe('OK');
		expect(ok.message).toMatch(/^Docker \d+\.\d+.* \(API 1\.\d+, linux\/\w+\) at unix:\/\//);
		const bad = await run('infraOpsDockerApiTest', {
			connection: 'socket',
			socketPath: '/nonexistent/docker.sock',
		});
		expect(bad).toEqual({
			status: 'Error',
			message: expect.stringMatching(/ENOENT.*socket file does not exist/),
		});
	});

	it('SSH host: key login ok; wrong fingerprint refused', async () => {
		const { ssh } = services();
		const data = {
			host: ssh.host,
			port: ssh.port,
			username: ssh.username,
			authentication: 'privateKey',
			privateKey: ssh.privateKey,
			hostKeyFingerprint: ssh.hostKeyFingerprint,
		};
		expect(await run('infraOpsSshApiTest', data)).toEqual({
			status: 'OK',
			message: expect.stringMatching(/host key matches/),
		});
		const bad = await run('infraOpsSshApiTest', {
			...data,
			hostKeyFingerprint: 'SHA256:' + 'C'.repeat(43),
		});
		expect(bad.status).toBe('Error');
		expect(bad.message).toContain(
			`is ${ssh.hostKeyFingerprint}, which is not the expected fingerprint`,
		);
	});

	// s3rver checks the access key id but not V4 signatures, so a wrong secret can't be shown here
	it('S3: HeadBucket ok; unknown access key refused', async () => {
		const { s3 } = services();
		const data = {
			provider: 'minio',
			endpoint: s3.endpoint,
			region: s3.region,
			bucket: s3.bucket,
			accessKeyId: s3.accessKeyId,
			secretAccessKey: s3.secretAccessKey,
		};
		expect(await run('infraOpsS3ApiTest', data)).toEqual({
			status: 'OK',
			message: `Bucket reachable: s3://${s3.bucket} at ${s3.endpoint}`,
		});
		const bad = await run('infraOpsS3ApiTest', { ...data, accessKeyId: 'NOT-A-KEY' });
		expect(bad.status).toBe('Error');
		expect(bad.message).toMatch(/access denied|HTTP 403/);
	});

	it('PostgreSQL admin: connects; wrong password explained', async () => {
		const data = harnessPostgres({
			ssl: 'require',
		});
		expect(await run('infraOpsPostgresApiTest', data)).toEqual({
			status: 'OK',
			message: expect.stringMatching(/^Connected to PostgreSQL \d+/),
		});
		expect((await run('infraOpsPostgresApiTest', { ...data, password: 'nope' })).message).toMatch(
			/authentication failed/,
		);
	});

	it('Infra Ops State Store: creates its table and round-trips a write; wrong password and bad table name explained', async () => {
		const data = harnessPostgres({
			ssl: 'require',
			table: `cred_test_state_${process.pid}`,
		});
		expect(await run('infraOpsStateStoreApiTest', data)).toEqual({
			status: 'OK',
			message: expect.stringMatching(
				/^Connected; PostgreSQL .* table "cred_test_state_\d+" is ready/,
			),
		});
		const wrong = await run('infraOpsStateStoreApiTest', { ...data, password: 'Not-It-42x' });
		expect(wrong).toEqual({
			status: 'Error',
			message: expect.stringMatching(/authentication failed/),
		});
		expect(wrong.message).not.toContain('Not-It-42x');
		expect((await run('infraOpsStateStoreApiTest', { ...data, table: 'a b' })).message).toMatch(
			/not a plain table name/,
		);
	});

	it('Backup encryption: real age-keygen keys parse and match; a foreign identity is caught', async () => {
		const keyFile = (): { identity: string; recipient: string } => {
			const text = execFileSync('age-keygen', {
				encoding: 'utf8',
				stdio: ['ignore', 'pipe', 'ignore'],
			});
			return { identity: text, recipient: /public key: (age1\S+)/.exec(text)![1] };
		};
		const a = keyFile();
		const b = keyFile();
		const ok = await run('infraOpsBackupEncryptionTest', {
			recipients: `# ops laptop\n${a.recipient}\n${b.recipient}\n`,
			secretKey: a.identity,
		});
		expect(ok).toEqual({ status: 'OK', message: '2 recipient(s), identity matches' });
		const mismatch = await run('infraOpsBackupEncryptionTest', {
			recipients: b.recipient,
			secretKey: a.identity,
		});
		expect(mismatch.status).toBe('Error');
		expect(mismatch.message).toContain(`${a.recipient} is not among the recipients`);
		expect(mismatch.message).not.toContain('AGE-SECRET-KEY');
		expect(
			(await run('infraOpsBackupEncryptionTest', { recipients: 'age1notakey' })).message,
		).toMatch(/not a valid age recipient/);
		expect((await run('infraOpsBackupEncryptionTest', {})).message).toMatch(
			/at least one recipient/,
		);
	});

	describe('HTTP APIs, against a local HTTPS server answering as each documented API does', () => {
		let server: Server;
		let base: string;
		let fingerprint: string;
		let caPem: string;
		beforeAll(async () => {
			const certs = await makeCertificates();
			fingerprint = certs.leaf.fingerprint256;
			caPem = certs.ca.certPem;
			const routes: Record<string, [string, unknown]> = {
				'/api2/json/version': [
					'PVEAPIToken=automation@pve!n8n=secret',
					{ data: { version: '8.3.0', release: '8.3', repoid: 'c1689ccb1065a83b' } },
				],
				'/api/version': ['Bearer traefik-token', { Version: '3.3.4', Codename: 'saintnectaire' }],
				'/v1/auth/token/lookup-self': [
					'vault-token',
					{ data: { display_name: 'token-n8n', policies: ['default', 'rotate'] } },
				],
				'/api/v1/workflows?limit=1': ['n8n-key', { data: [], nextCursor: null }],
			};
			server = createServer(
				{ cert: certs.leaf.fullchainPem, key: certs.leaf.keyPem },
				(req, res) => {
					const route = routes[req.url ?? ''];
					const presented =
						req.headers.authorization ??
						req.headers['x-vault-token'] ??
						req.headers['x-n8n-api-key'];
					res.statusCode = !route ? 404 : presented === route[0] ? 200 : 401;
					res.end(JSON.stringify(res.statusCode === 200 ? route![1] : { errors: ['denied'] }));
				},
			);
			await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
			base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
		});
		afterAll(() => new Promise((resolve) => server.close(resolve)));

		it('Proxmox VE: token accepted with the pinned certificate; a wrong secret is a 401', async () => {
			const data = {
				url: base,
				tokenId: 'automation@pve!n8n',
				tokenSecret: 'secret',
				tls: 'fingerprint',
				fingerprint,
			};
			expect(await run('infraOpsProxmoxApiTest', data)).toEqual({
				status: 'OK',
				message: `Proxmox VE 8.3.0 at ${base}`,
			});
			expect((await run('infraOpsProxmoxApiTest', { ...data, tokenSecret: 'x' })).message).toMatch(
				/refused the credentials \(HTTP 401\)/,
			);
			expect((await run('infraOpsProxmoxApiTest', { ...data, tls: 'system' })).message).toMatch(
				/Cannot reach/,
			);
		});

		it('Traefik, Vault and n8n API', async () => {
			expect(
				await run('infraOpsTraefikApiTest', {
					url: base,
					authentication: 'bearer',
					token: 'traefik-token',
					tls: 'insecure',
				}),
			).toEqual({ status: 'OK', message: `Traefik 3.3.4 at ${base}` });
			expect(
				await run('infraOpsVaultApiTest', {
					url: base,
					token: 'vault-token',
					tls: 'ca',
					ca: caPem,
				}),
			).toEqual({ status: 'OK', message: 'Vault token token-n8n with policies default, rotate' });
			expect(
				await run('infraOpsVaultApiTest', {
					url: base,
					token: 'vault-token',
					tls: 'fingerprint',
					fingerprint,
				}),
			).toEqual({ status: 'OK', message: 'Vault token token-n8n with policies default, rotate' });
			const pinned = await run('infraOpsVaultApiTest', {
				url: base,
				token: 'vault-token',
				tls: 'fingerprint',
				fingerprint: '00'.repeat(32),
			});
			expect(pinned).toEqual({
				status: 'Error',
				message: expect.stringContaining(
					`has fingerprint ${fingerprint}, not the pinned ${Array(32).fill('00').join(':')}`,
				),
			});
			expect(
				(await run('infraOpsVaultApiTest', { url: base, token: 'vault-token' })).message,
			).toMatch(
				/Cannot reach .*unable to verify the first certificate; .*\(the chain is incomplete or untrusted: add the CA certificate\)/,
			);
			expect(
				(await run('infraOpsVaultApiTest', { url: base, token: 'other', tls: 'ca', ca: caPem }))
					.status,
			).toBe('Error');
			expect(
				(await run('infraOpsN8nApiTest', { baseUrl: base, apiKey: 'n8n-key' })).message,
			).toMatch(/Cannot reach/);
		});

		it('Git webhook secret: long enough, never echoed', async () => {
			const secret = 'a'.repeat(32);
			expect(await run('infraOpsGitWebhookApiTest', { secret })).toEqual({
				status: 'OK',
				message: expect.stringMatching(/secret is set/),
			});
			const short = await run('infraOpsGitWebhookApiTest', { secret: 'hunter2-short' });
			expect(short).toEqual({
				status: 'Error',
				message: expect.stringMatching(/has 13 characters.*openssl rand -hex 32/),
			});
			expect(JSON.stringify(short)).not.toContain('hunter2');
		});
	});
});
