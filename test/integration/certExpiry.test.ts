/** Cert Expiry through n8n's own execution engine, against real TLS servers with generated chains,
 * a real SMTP server (STARTTLS), the harness's PostgreSQL (ssl=on) and real sshd for acme.json. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IDataObject } from 'n8n-workflow';
import { SMTPServer } from 'smtp-server';

import { CertExpiry } from '../../nodes/CertExpiry/CertExpiry.node';
import { withSsh } from '../../nodes/shared/ssh';
import {
	makeCertificates,
	services,
	startTlsServer,
	type CertSpec,
	type LeafSpec,
	type TlsServer,
} from '../harness/services';
import {
	runWorkflow,
	type RunResult,
	type WorkflowJson,
	startThen,
} from '../support/workflowRunner';

const TYPE = 'n8n-nodes-infra-ops.certExpiry';
const servers: { close(): Promise<void> | void }[] = [];
afterAll(async () => {
	for (const s of servers) await s.close();
});

function workflow(parameters: IDataObject, continueOnFail = false): WorkflowJson {
	return startThen(
		{
			name: 'Cert Expiry',
			type: TYPE,
			parameters,
			credentials: { infraOpsSshApi: { id: 'ssh', name: 'ssh' } },
		},
		continueOnFail,
	);
}

async function run(
	parameters: IDataObject,
	opts: { input?: IDataObject[]; staticData?: IDataObject; continueOnFail?: boolean } = {},
): Promise<RunResult & { findings: IDataObject[] }> {
	const { ssh } = services();
	const result = await runWorkflow({
		workflow: workflow(parameters, opts.continueOnFail),
		nodeTypes: { [TYPE]: new CertExpiry() },
		credentials: {
			infraOpsSshApi: {
				host: ssh.host,
				port: ssh.port,
				username: ssh.username,
				authentication: 'privateKey',
				privateKey: ssh.privateKey,
				hostKeyFingerprint: ssh.hostKeyFingerprint,
			},
		},
		input: opts.input,
		staticData: opts.staticData,
	});
	return { ...result, findings: (result.outputs['Cert Expiry']?.[0] ?? []).map((i) => i.json) };
}

/** A TLS server on 127.0.0.1 serving one generated leaf (from the shared test CA unless selfSigned). */
async function serve(
	leaf: LeafSpec,
	opts: {
		intermediate?: boolean;
		sendChain?: boolean;
		selfSigned?: boolean;
		ca?: CertSpec;
		tls?: Parameters<typeof startTlsServer>[0]['tlsOptions'];
		maxVersion?: 'TLSv1';
	} = {},
) {
	const certs = await makeCertificates({
		ca: opts.ca,
		intermediate: opts.intermediate,
		leaves: [leaf],
	});
	const certPem = opts.selfSigned ? certs.ca.certPem : certs.leaf.certPem;
	const keyPem = opts.selfSigned ? certs.ca.keyPem : certs.leaf.keyPem;
	const server: TlsServer = await startTlsServer({
		certPem,
		keyPem,
		chainPem: opts.sendChain === false ? undefined : certs.leaf.chainPem || undefined,
		maxVersion: opts.maxVersion,
		minVersion: opts.maxVersion,
		tlsOptions: { ciphers: 'DEFAULT:@SECLEVEL=0', ...opts.tls },
	});
	servers.push(server);
	return { port: server.port, ca: certs.ca.certPem, certs };
}

const problemCodes = (f: IDataObject) =>
	(f.problems as { code: string }[]).map((p) => p.code).sort();

describe('Cert Expiry: Check Endpoints (real TLS servers)', () => {
	it('judges each way a certificate breaks, one finding per target, in one bounded concurrent run', async () => {
		const cases = {
			valid: await serve({ notBeforeDays: -30, days: 60 }),
			fiveDays: await serve({ notBeforeDays: -85, days: 5 }),
			expired: await serve({ notBeforeDays: -100, days: -3 }),
			notYet: await serve({ notBeforeDays: 2, days: 92 }),
			wrongHost: await serve({ dnsNames: ['other.example'], ipAddresses: [] }),
			sha1: await serve({ hash: 'sha1' }),
			rsa1024: await serve({ key: { type: 'rsa', bits: 1024 } }),
			short45: await serve({ notBeforeDays: -25, days: 20 }),
		};
		const ca = (await makeCertificates()).ca.certPem;
		const allCa =
			Object.values(cases)
				.map((c) => c.ca)
				.join('\n') + ca;
		const targets = Object.values(cases)
			.map((c) => `127.0.0.1:${c.port}`)
			.join('\n');
		const { findings, error } = await run({
			operation: 'checkEndpoints',
			targets,
			options: { customCa: allCa },
		});
		expect(error).toBeUndefined();
		const byName = Object.fromEntries(Object.keys(cases).map((name, i) => [name, findings[i]]));

		expect(byName.valid).toMatchObject({
			check: 'cert-expiry',
			target: `127.0.0.1:${cases.valid.port}`,
			status: 'ok',
			changed: false,
			key: 'EC prime256v1',
			protocol: 'TLSv1.3',
		});
		expect(byName.valid.summary).toMatch(/valid for 60(\.\d)? more days/);
		expect(byName.fiveDays).toMatchObject({ status: 'critical' });
		expect(byName.fiveDays.summary).toMatch(/expires in [45](\.\d)? days/);
		expect(problemCodes(byName.expired)).toEqual(['expired']);
		expect(byName.expired.status).toBe('critical');
		expect(problemCodes(byName.notYet)).toEqual(['not-yet-valid']);
		expect(problemCodes(byName.wrongHost)).toEqual(['hostname-mismatch']);
		expect(problemCodes(byName.sha1)).toEqual(['weak-signature']);
		expect(String(byName.sha1.signatureAlgorithm)).toMatch(/sha1/i);
		expect(problemCodes(byName.rsa1024)).toEqual(['weak-key']);
		expect(byName.rsa1024.key).toBe('RSA 1024');
		// a 45-day certificate at 20 days left is where ACME clients have not renewed yet: healthy
		expect(byName.short45).toMatchObject({ status: 'ok', lifetimeDays: 45 });
		for (const f of findings)
			expect(Object.keys(f)).toEqual(
				expect.arrayContaining([
					'subject',
					'issuer',
					'sans',
					'serialNumber',
					'fingerprint256',
					'notBefore',
					'notAfter',
				]),
			);
	});

	it('tells self-signed, missing intermediate and untrusted CA apart', async () => {
		// made the way people make them: openssl req -x509
		const dir = mkdtempSync(join(tmpdir(), 'selfsigned-'));
		execFileSync(
			'openssl',
			[
				'req',
				'-x509',
				'-newkey',
				'ec',
				'-pkeyopt',
				'ec_paramgen_curve:P-256',
				'-nodes',
				'-subj',
				'/CN=localhost',
				'-addext',
				'subjectAltName=DNS:localhost',
				'-days',
				'30',
				'-keyout',
				join(dir, 'key.pem'),
				'-out',
				join(dir, 'cert.pem'),
			],
			{ stdio: 'ignore' },
		);
		const selfSignedServer = await startTlsServer({
			certPem: readFileSync(join(dir, 'cert.pem'), 'utf8'),
			keyPem: readFileSync(join(dir, 'key.pem'), 'utf8'),
		});
		servers.push(selfSignedServer);
		rmSync(dir, { recursive: true, force: true });
		const selfSigned = { port: selfSignedServer.port };
		const missing = await serve({}, { intermediate: true, sendChain: false });
		const complete = await serve({}, { intermediate: true });
		const { findings } = await run({
			operation: 'checkEndpoints',
			targets: [selfSigned, missing, complete].map((c) => `localhost:${c.port}`).join(','),
			options: { customCa: `${missing.ca}\n${complete.ca}` },
		});
		expect(problemCodes(findings[0])).toEqual(['self-signed']);
		expect(problemCodes(findings[1])).toEqual(['chain-incomplete']);
		expect(findings[2]).toMatchObject({ status: 'ok', chainLength: 3 });
		const { findings: untrusted } = await run({
			operation: 'checkEndpoints',
			targets: `localhost:${complete.port}`,
		});
		expect(problemCodes(untrusted[0])).toEqual(['untrusted-issuer']);
		expect(untrusted[0].notAfter).toBe(complete.certs.leaf.notAfter.toISOString());
	});

	it('flags TLS 1.0 when the server offers nothing newer', async () => {
		const old = await serve({}, { maxVersion: 'TLSv1' });
		const { findings } = await run({
			operation: 'checkEndpoints',
			targets: `127.0.0.1:${old.port}`,
			options: { customCa: old.ca },
		});
		expect(findings[0]).toMatchObject({ status: 'warning', protocol: 'TLSv1' });
		expect(problemCodes(findings[0])).toEqual(['old-protocol']);
	});

	it('speaks STARTTLS to a real SMTP server and to PostgreSQL with ssl=on', async () => {
		const certs = await makeCertificates({ leaves: [{ notBeforeDays: -10, days: 80 }] });
		const smtp = new SMTPServer({
			secure: false,
			key: certs.leaf.keyPem,
			cert: certs.leaf.certPem,
			authOptional: true,
			logger: false,
			banner: 'test',
		});
		await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
		servers.push({ close: () => new Promise<void>((resolve) => smtp.close(() => resolve())) });
		const smtpPort = (smtp.server.address() as AddressInfo).port;
		const { postgres } = services();
		const { findings } = await run({
			operation: 'checkEndpoints',
			targets: `localhost:${smtpPort}\nlocalhost:${postgres.port}`,
			options: { startTls: 'auto', customCa: certs.ca.certPem },
		});
		// the SMTP port is not 25/587, so "by port" means direct TLS and fails; say SMTP explicitly
		expect(findings[0].status).toBe('error');
		expect(findings[1]).toMatchObject({ status: 'error', startTls: 'none' });
		const { findings: explicit } = await run({
			operation: 'checkEndpoints',
			targets: `localhost:${smtpPort}`,
			options: { startTls: 'smtp', customCa: certs.ca.certPem },
		});
		expect(explicit[0]).toMatchObject({
			status: 'ok',
			startTls: 'smtp',
			fingerprint256: certs.leaf.fingerprint256,
		});
		const { findings: pg } = await run({
			operation: 'checkEndpoints',
			targets: `localhost:${postgres.port}`,
			options: { startTls: 'postgres', customCa: postgres.ssl.caPem },
		});
		expect(pg[0]).toMatchObject({ startTls: 'postgres', notAfter: postgres.ssl.notAfter });
		expect(['ok', 'warning']).toContain(pg[0].status);
	});

	it('reaches ::1, reports a refused port, and times out a silent one without delaying the others', async () => {
		const v6 = await makeCertificates({
			leaves: [{ dnsNames: ['localhost'], ipAddresses: ['::1'] }],
		});
		const server = await startTlsServer({
			certPem: v6.leaf.certPem,
			keyPem: v6.leaf.keyPem,
			host: '::1',
		});
		servers.push(server);
		const silent: Server = createTcpServer(() => undefined);
		await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
		servers.push({ close: () => void silent.close() });
		const silentPort = (silent.address() as AddressInfo).port;
		const started = Date.now();
		const { findings } = await run({
			operation: 'checkEndpoints',
			targets: `[::1]:${server.port}, 127.0.0.1:1, 127.0.0.1:${silentPort}`,
			options: { customCa: v6.ca.certPem, timeoutSeconds: 2 },
		});
		const elapsed = Date.now() - started;
		expect(findings[0]).toMatchObject({
			target: `[::1]:${server.port}`,
			status: 'ok',
			address: '::1',
		});
		expect(findings[1]).toMatchObject({ target: '127.0.0.1:1', status: 'error' });
		expect(findings[1].summary).toMatch(/ECONNREFUSED/);
		expect(findings[2]).toMatchObject({ status: 'error' });
		expect(findings[2].summary).toMatch(/within 2000 ms/);
		expect(elapsed).toBeLessThan(2_000 * 1.5 + 1_000);
	});

	it('marks changed only on transitions and renewals, not when a CDN flips between certificates', async () => {
		const a = await serve({ notBeforeDays: -30, days: 60 });
		const staticData: IDataObject = {};
		const target = `127.0.0.1:${a.port}`;
		const first = await run(
			{ operation: 'checkEndpoints', targets: target, options: { customCa: a.ca } },
			{ staticData },
		);
		expect(first.findings[0].changed).toBe(false);
		const second = await run(
			{ operation: 'checkEndpoints', targets: target, options: { customCa: a.ca } },
			{ staticData: first.staticData },
		);
		expect(second.findings[0].changed).toBe(false);
		const critical = await run(
			{
				operation: 'checkEndpoints',
				targets: target,
				options: { customCa: a.ca, thresholds: 'fixed', warningDays: 90, criticalDays: 70 },
			},
			{ staticData: second.staticData },
		);
		expect(critical.findings[0]).toMatchObject({ status: 'critical', changed: true });
		const resolved = await run(
			{ operation: 'checkEndpoints', targets: target, options: { customCa: a.ca } },
			{ staticData: critical.staticData },
		);
		expect(resolved.findings[0]).toMatchObject({ status: 'ok', changed: true });
	});

	it('an IP target whose certificate names only the IP (CN and IP SAN 127.0.0.1, as self-made appliance certificates do) is ok with no trust error; a DNS-only certificate does not cover the IP', async () => {
		const ipOnly = await serve({
			commonName: '127.0.0.1',
			dnsNames: [],
			ipAddresses: ['127.0.0.1'],
		});
		const dnsOnly = await serve({ dnsNames: ['localhost'], ipAddresses: [] });
		const { findings } = await run({
			operation: 'checkEndpoints',
			targets: `127.0.0.1:${ipOnly.port}\n127.0.0.1:${dnsOnly.port}`,
			options: { customCa: `${ipOnly.ca}\n${dnsOnly.ca}` },
		});
		// the probe used to check an IP target against "localhost" and carried that failure along
		expect(findings[0].trustError).toBeUndefined();
		expect(findings[0]).toMatchObject({ status: 'ok', issuerTrusted: true });
		expect(findings[1]).toMatchObject({ status: 'critical' });
		expect(problemCodes(findings[1])).toEqual(['hostname-mismatch']);
		expect(findings[1].summary).toMatch(/does not cover 127\.0\.0\.1/);
	});

	it('honours a sub-second timeout on a silent LAN port (0.3 s = 300 ms) and refuses 0 with a clear error', async () => {
		const silent: Server = createTcpServer(() => undefined);
		await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
		servers.push({ close: () => void silent.close() });
		const port = (silent.address() as AddressInfo).port;
		const { findings } = await run({
			operation: 'checkEndpoints',
			targets: `127.0.0.1:${port}`,
			options: { timeoutSeconds: 0.3 },
		});
		expect(findings[0]).toMatchObject({ status: 'error' });
		expect(findings[0].summary).toMatch(/within 300 ms/);
		const zero = await run({
			operation: 'checkEndpoints',
			targets: `127.0.0.1:${port}`,
			options: { timeoutSeconds: 0 },
		});
		expect(zero.error?.message).toMatch(/Timeout \(Seconds\) must be a number above 0, not "0"/);
	});

	it('a live endpoint from a private CA that is not in the trust store says issuerTrusted: false; with the CA configured, true', async () => {
		const privateCa = await serve(
			{},
			{ ca: { commonName: 'Homelab Private CA' }, intermediate: true },
		);
		const target = `localhost:${privateCa.port}`;
		const { findings: without } = await run({ operation: 'checkEndpoints', targets: target });
		expect(without[0]).toMatchObject({
			status: 'critical',
			issuerTrusted: false,
			trustError: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
		});
		expect(problemCodes(without[0])).toEqual(['untrusted-issuer']);
		const { findings: withCa } = await run({
			operation: 'checkEndpoints',
			targets: target,
			options: { customCa: privateCa.ca },
		});
		expect(withCa[0]).toMatchObject({ status: 'ok', issuerTrusted: true });
	});

	it('gives a clear error for malformed targets, or an error item with continueOnFail', async () => {
		const failed = await run({ operation: 'checkEndpoints', targets: 'host:99999' });
		expect(failed.error?.message).toMatch(
			/"host:99999" is not a valid target: port 99999 is out of range/,
		);
		expect(failed.error).toMatchObject({ name: 'NodeOperationError', context: { itemIndex: 0 } });
		const cont = await run(
			{ operation: 'checkEndpoints', targets: '={{ $json.t }}' },
			{ input: [{ t: 'a b:1:2' }, { t: '127.0.0.1:1' }], continueOnFail: true },
		);
		expect(cont.error).toBeUndefined();
		expect(cont.outputs['Cert Expiry'][0].map((i) => i.pairedItem)).toEqual([
			{ item: 0 },
			{ item: 1 },
		]);
		expect(cont.findings[0].error).toMatch(/not a valid target/);
		expect(cont.findings[1]).toMatchObject({ status: 'error', target: '127.0.0.1:1' });
	});
});

describe('Cert Expiry: Check Traefik acme.json (real sshd) and Check PEM', () => {
	async function acmeFile(entries: { domain: string; certPem: string }[]): Promise<string> {
		return JSON.stringify({
			letsencrypt: {
				Account: {
					Email: 'ops@example.com',
					PrivateKey: 'QUNDT1VOVC1LRVktU0VDUkVU',
					KeyType: '4096',
				},
				Certificates: entries.map((e) => ({
					domain: { main: e.domain, sans: [] },
					certificate: Buffer.from(e.certPem).toString('base64'),
					key: Buffer.from(
						'-----BEGIN PRIVATE KEY-----\nTOP-SECRET-KEY-MATERIAL\n-----END PRIVATE KEY-----\n',
					).toString('base64'),
					Store: 'default',
				})),
			},
		});
	}

	it('reads acme.json over SSH, one finding per domain, never a private key', async () => {
		const certs = await makeCertificates({
			leaves: [
				{ dnsNames: ['a.example'], days: 80, notBeforeDays: -10 },
				{ dnsNames: ['b.example'], days: 3, notBeforeDays: -87 },
			],
		});
		const path = `${services().ssh.dataDir}/acme-${Date.now()}.json`;
		const { ssh } = services();
		await withSsh(
			{
				host: ssh.host,
				port: ssh.port,
				username: ssh.username,
				privateKey: ssh.privateKey,
				hostKeyFingerprints: [ssh.hostKeyFingerprint],
			},
			async (s) =>
				s.writeFileAtomic(
					path,
					await acmeFile([
						{ domain: 'a.example', certPem: certs.leaves[0].fullchainPem },
						{ domain: 'b.example', certPem: certs.leaves[1].fullchainPem },
					]),
					{ mode: 0o600 },
				),
		);
		const { findings, error } = await run({
			operation: 'checkAcmeJson',
			source: 'ssh',
			path,
			acmeOptions: { customCa: certs.ca.certPem },
		});
		expect(error).toBeUndefined();
		expect(findings.map((f) => [f.target, f.status])).toEqual([
			['letsencrypt/a.example', 'ok'],
			['letsencrypt/b.example', 'critical'],
		]);
		const text = JSON.stringify(findings);
		expect(text).not.toMatch(/TOP-SECRET|PRIVATE KEY|QUNDT1VOVC1LRVktU0VDUkVU/);
	});

	it('warns when acme.json holds a renewed certificate but the endpoint still serves the old one', async () => {
		const old = await makeCertificates({
			leaves: [{ dnsNames: ['localhost'], notBeforeDays: -80, days: 10 }],
		});
		const renewed = await makeCertificates({
			leaves: [{ dnsNames: ['localhost'], notBeforeDays: -1, days: 89 }],
		});
		const server = await startTlsServer({ certPem: old.leaf.certPem, keyPem: old.leaf.keyPem });
		servers.push(server);
		const { findings } = await run(
			{
				operation: 'checkAcmeJson',
				source: 'binary',
				binaryPropertyName: 'data',
				acmeOptions: {
					compareServed: true,
					connectTo: '127.0.0.1',
					port: server.port,
					customCa: renewed.ca.certPem,
				},
			},
			{
				input: [
					{
						json: {},
						binary: {
							data: {
								data: Buffer.from(
									await acmeFile([{ domain: 'localhost', certPem: renewed.leaf.certPem }]),
								).toString('base64'),
								mimeType: 'application/json',
								fileName: 'acme.json',
							},
						},
					} as unknown as IDataObject,
				],
			},
		);
		expect(findings[0]).toMatchObject({
			status: 'warning',
			servedFingerprint256: old.leaf.fingerprint256,
			fingerprint256: renewed.leaf.fingerprint256,
		});
		expect(findings[0].summary).toMatch(
			/A renewed certificate .* is stored but the endpoint still serves the old one/,
		);
	});

	const binaryItem = (body: unknown) =>
		({
			json: {},
			binary: {
				data: {
					data: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)).toString(
						'base64',
					),
					mimeType: 'application/json',
					fileName: 'acme.json',
				},
			},
		}) as unknown as IDataObject;
	const checkFiles = async (bodies: unknown[], acmeOptions: IDataObject = {}) =>
		await run(
			{ operation: 'checkAcmeJson', source: 'binary', binaryPropertyName: 'data', acmeOptions },
			{ input: bodies.map(binaryItem) },
		);
	const b64 = (text: string) => Buffer.from(text).toString('base64');
	const KEY = b64(
		'-----BEGIN PRIVATE KEY-----\nTOP-SECRET-KEY-MATERIAL\n-----END PRIVATE KEY-----\n',
	);

	it("reads Traefik 1.x acme.json (Account + Certificates with Domain.Main/SANs, Certificate, Key) and traefik-certs-dumper's top-level Certificates list; {} and Certificates: null are a warning, never silence", async () => {
		const certs = await makeCertificates({
			leaves: [
				{ dnsNames: ['v1.example', 'www.v1.example'], days: 80, notBeforeDays: -10 },
				{ dnsNames: ['test.example.com'], days: 80, notBeforeDays: -10 },
			],
		});
		// Traefik 1.7's StoredData, marshalled with Go's default field names
		const traefik1 = {
			Account: {
				Email: 'ops@example.com',
				Registration: {
					body: { status: 'valid' },
					uri: 'https://acme-v02.api.letsencrypt.org/acme/acct/1',
				},
				PrivateKey: 'QUNDT1VOVC1LRVktU0VDUkVU',
				KeyType: '4096',
			},
			Certificates: [
				{
					Domain: { Main: 'v1.example', SANs: ['www.v1.example'] },
					Certificate: b64(certs.leaves[0].fullchainPem),
					Key: KEY,
				},
			],
			HTTPChallenges: {},
			TLSChallenges: {},
		};
		// dumper/file/fixtures/acme-v1.json of ldez/traefik-certs-dumper
		const dumperV1 = {
			Certificates: [
				{
					domain: { main: 'test.example.com' },
					certificate: b64(certs.leaves[1].fullchainPem),
					key: KEY,
					Store: 'default',
				},
			],
		};
		const resolverWithoutCertificates = {
			letsencrypt: {
				Account: { Email: 'ops@example.com', PrivateKey: 'QUNDT1VOVC1LRVktU0VDUkVU' },
				Certificates: null,
			},
		};
		const { findings, error } = await checkFiles(
			[traefik1, dumperV1, {}, resolverWithoutCertificates],
			{ customCa: certs.ca.certPem },
		);
		expect(error).toBeUndefined();
		expect(findings.map((f) => [f.target, f.status, f.layout])).toEqual([
			['acme/v1.example', 'ok', 'v1'],
			['acme/test.example.com', 'ok', 'v1'],
			['binary field "data"', 'warning', 'v2'],
			['binary field "data"', 'warning', 'v2'],
		]);
		expect(findings[0].requestedSans).toEqual(['www.v1.example']);
		expect(findings[2].summary).toBe(
			'no certificates in binary field "data": unknown layout or empty',
		);
		expect(JSON.stringify(findings)).not.toMatch(/TOP-SECRET|PRIVATE KEY|QUNDT1VOVC1LRVktU0VDUkVU/);
	});

	it('checks every name of the ACME order: a wildcard main with its apex SAN is covered, a requested SAN the certificate lacks is reported by name', async () => {
		const certs = await makeCertificates({
			leaves: [
				{
					commonName: '*.wild.example',
					dnsNames: ['*.wild.example', 'wild.example'],
					ipAddresses: [],
				},
			],
		});
		const pem = b64(certs.leaf.fullchainPem);
		const { findings } = await checkFiles(
			[
				{
					letsencrypt: {
						Certificates: [
							{
								domain: { main: '*.wild.example', sans: ['wild.example'] },
								certificate: pem,
								key: KEY,
								Store: 'default',
							},
							{
								domain: {
									main: '*.wild.example',
									sans: ['wild.example', 'api.other.example', 'other.example'],
								},
								certificate: pem,
								key: KEY,
								Store: 'default',
							},
						],
					},
				},
			],
			{ customCa: certs.ca.certPem },
		);
		expect(findings[0]).toMatchObject({ target: 'letsencrypt/*.wild.example', status: 'ok' });
		expect(findings[1]).toMatchObject({ status: 'critical' });
		expect((findings[1].problems as { message: string }[]).map((p) => p.message)).toEqual([
			'Certificate does not cover api.other.example',
			'Certificate does not cover other.example',
		]);
	});

	it('one malformed entry (no certificate, damaged base64, resolver list not a list) is its own error finding; the good entries are still judged', async () => {
		const certs = await makeCertificates({
			leaves: [{ dnsNames: ['good.example'], days: 80, notBeforeDays: -10 }],
		});
		const { findings, error } = await checkFiles(
			[
				{
					letsencrypt: {
						Certificates: [
							{
								domain: { main: 'pending.example', sans: [] },
								certificate: '',
								key: KEY,
								Store: 'default',
							},
							{
								domain: { main: 'damaged.example' },
								certificate: b64('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
								key: KEY,
							},
							{
								domain: { main: 'good.example', sans: [] },
								certificate: b64(certs.leaf.fullchainPem),
								key: KEY,
								Store: 'default',
							},
						],
					},
					staging: { Certificates: 'oops' },
				},
			],
			{ customCa: certs.ca.certPem },
		);
		expect(error).toBeUndefined();
		expect(findings.map((f) => [f.target, f.status])).toEqual([
			['letsencrypt/pending.example', 'error'],
			['letsencrypt/damaged.example', 'error'],
			['staging/#?', 'error'],
			['letsencrypt/good.example', 'ok'],
		]);
		expect(findings[0].summary).toMatch(
			/certificate 1 of resolver "letsencrypt" \(pending.example\) has no certificate/,
		);
		expect(findings[1].summary).toMatch(/Certificate 1 of .*damaged.example.* cannot be parsed/);
		expect(findings[2].summary).toMatch(/resolver "staging" has Certificates that is not a list/);
		expect(JSON.stringify(findings)).not.toMatch(/TOP-SECRET/);
	});

	it('a stored certificate from a private CA not in the trust store is a warning with issuerTrusted: false; through its intermediate to the configured CA it is trusted', async () => {
		const certs = await makeCertificates({
			ca: { commonName: 'Homelab Private CA' },
			intermediate: true,
			leaves: [{ dnsNames: ['nas.lan'], days: 80, notBeforeDays: -10 }],
		});
		const file = {
			internal: {
				Certificates: [
					{
						domain: { main: 'nas.lan' },
						certificate: b64(certs.leaf.fullchainPem),
						key: KEY,
						Store: 'default',
					},
				],
			},
		};
		const { findings: untrusted } = await checkFiles([file]);
		expect(untrusted[0]).toMatchObject({ status: 'warning', issuerTrusted: false });
		expect(problemCodes(untrusted[0])).toEqual(['untrusted-issuer']);
		expect(untrusted[0].summary).toMatch(
			/Issuer Infra Ops Test Intermediate CA is not trusted by the configured trust store/,
		);
		const { findings: trusted } = await checkFiles([file], { customCa: certs.ca.certPem });
		expect(trusted[0]).toMatchObject({ status: 'ok', issuerTrusted: true });
		// a leaf stored without its intermediate can't be traced to the CA: not trusted
		const bare = {
			internal: {
				Certificates: [
					{ domain: { main: 'nas.lan' }, certificate: b64(certs.leaf.certPem), key: KEY },
				],
			},
		};
		const { findings: withoutChain } = await checkFiles([bare], { customCa: certs.ca.certPem });
		expect(withoutChain[0]).toMatchObject({ status: 'warning', issuerTrusted: false });
	});

	it('says clearly what is wrong with a malformed acme.json or PEM', async () => {
		const badJson = await run(
			{ operation: 'checkAcmeJson', source: 'binary', binaryPropertyName: 'data' },
			{
				input: [
					{
						json: {},
						binary: {
							data: {
								data: Buffer.from('{ not json').toString('base64'),
								mimeType: 'application/json',
							},
						},
					} as unknown as IDataObject,
				],
			},
		);
		expect(badJson.error?.message).toMatch(/is not valid JSON/);
		const noCert = await run({ operation: 'checkPem', pemSource: 'text', pem: 'hello' });
		expect(noCert.error?.message).toBe('PEM text holds no certificate');
		const damaged = await run({
			operation: 'checkPem',
			pemSource: 'text',
			pem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
		});
		expect(damaged.error?.message).toMatch(/Certificate 1 of PEM text cannot be parsed/);
		const key = await run({
			operation: 'checkPem',
			pemSource: 'text',
			pem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----',
		});
		expect(key.error?.message).toMatch(/holds a private key, not a certificate/);
	});

	it('checks PEM text with a host name, and names the finding after the subject', async () => {
		const certs = await makeCertificates({
			intermediate: true,
			leaves: [
				{ commonName: 'files.example', dnsNames: ['files.example'], days: 30, notBeforeDays: -60 },
			],
		});
		const { findings } = await run({
			operation: 'checkPem',
			pemSource: 'text',
			pem: certs.leaf.fullchainPem,
			pemOptions: { hostname: 'other.example' },
		});
		expect(findings[0]).toMatchObject({
			check: 'cert-pem',
			target: 'files.example',
			status: 'critical',
			chainLength: 2,
			issuerTrusted: false,
		});
		// the test CA is in no trust store: said as a warning beside the host name mismatch
		expect(problemCodes(findings[0])).toEqual(['hostname-mismatch', 'untrusted-issuer']);
		const { findings: trusted } = await run({
			operation: 'checkPem',
			pemSource: 'text',
			pem: certs.leaf.fullchainPem,
			pemOptions: { hostname: 'files.example', customCa: certs.ca.certPem },
		});
		expect(trusted[0]).toMatchObject({ status: 'ok', issuerTrusted: true });
	});
});
