/** Vault and Traefik API credentials behind a private CA (issue 14, item 11): the Vault KV v2 target and the
 * Traefik API client over real TLS (the harness's generated certificates, a Node TLS listener in front of the
 * stand-ins for Vault's documented KV v2 API and Traefik's recorded API, as neither can run here). */
import { credentialTests } from '../../nodes/shared/credentialTests';
import { traefikConnectionFrom, vaultConnectionFrom } from '../../nodes/shared/connections';
import { InfraOpsError } from '../../nodes/shared/errors';
import { VaultKvTarget } from '../../nodes/SecretRotate/targets/vaultKv';
import { TraefikApi } from '../../nodes/TraefikConfig/traefikApi';
import {
	makeCertificates,
	startTlsFront,
	type CertificateSet,
	type TlsServer,
} from '../harness/tls';
import { startVaultKv, type VaultKvServer } from '../harness/vaultKv';
import {
	describeWithTraefikReference as describeRef,
	referenceAvailable,
	startTraefikReplay,
	type TraefikReplay,
} from '../support/traefikApiReplay';
import type { ICredentialTestFunctions, ICredentialsDecrypted } from 'n8n-workflow';

let certs: CertificateSet;
let foreign: CertificateSet;
let vault: VaultKvServer;
let traefik: TraefikReplay;
const fronts: TlsServer[] = [];
let vaultUrl: string;
let traefikUrl: string;
// the Traefik API stand-in replays Traefik's recorded responses from ../shared/reference
const withReference = referenceAvailable();
const TRAEFIK_AUTH = { username: 'ops', password: 'traefik-api-password-for-tls-test' };

const portOf = (url: string) => Number(new URL(url).port);
const runTest = async (name: 'infraOpsTraefikApiTest', data: Record<string, unknown>) =>
	await credentialTests[name].call(
		{} as ICredentialTestFunctions,
		{ id: '1', name: 'test', type: name, data } as ICredentialsDecrypted,
	);

/** What each TLS setting should do, for either credential. */
function modes() {
	const wrongPin = 'AB:'.repeat(31) + 'AB';
	return {
		ca: { tls: 'ca', ca: certs.ca.certPem },
		pin: {
			tls: 'fingerprint',
			fingerprint: certs.leaf.fingerprint256.replace(/:/g, '').toLowerCase(),
		},
		wrongCa: { tls: 'ca', ca: foreign.ca.certPem },
		wrongPin: { tls: 'fingerprint', fingerprint: wrongPin },
		wrongPinShown: wrongPin,
	};
}

beforeAll(async () => {
	[certs, foreign] = await Promise.all([
		makeCertificates(),
		makeCertificates({ ca: { commonName: 'Someone Else CA' } }),
	]);
	vault = await startVaultKv();
	fronts.push(
		await startTlsFront({
			certPem: certs.leaf.certPem,
			keyPem: certs.leaf.keyPem,
			backendPort: portOf(vault.url),
		}),
	);
	vaultUrl = `https://127.0.0.1:${fronts[0].port}`;
	if (withReference) {
		traefik = await startTraefikReplay({ basicAuth: TRAEFIK_AUTH });
		fronts.push(
			await startTlsFront({
				certPem: certs.leaf.certPem,
				keyPem: certs.leaf.keyPem,
				backendPort: portOf(traefik.url),
			}),
		);
		traefikUrl = `https://localhost:${fronts[1].port}`;
	}
}, 60_000);

afterAll(async () => {
	await Promise.all(fronts.map((f) => f.close()));
	await vault?.close();
	await traefik?.close();
	await Promise.all([certs?.remove(), foreign?.remove()]);
});

describe('Vault credential: custom CA and fingerprint pin (Vault KV v2 target over real TLS)', () => {
	const target = (tls: Record<string, unknown>, path: string) =>
		new VaultKvTarget({
			api: vaultConnectionFrom({ url: vaultUrl, token: vault.token, namespace: '', ...tls }),
			mount: 'secret',
			path,
			field: 'password',
		});

	it('threat: a Vault behind a private CA no longer forces "accept any certificate": the custom CA and a pinned fingerprint both verify it', async () => {
		for (const [name, tls] of Object.entries({ ca: modes().ca, pin: modes().pin })) {
			const kv = target(tls, `tls-${name}`);
			await expect(kv.create()).resolves.toMatch(/no version yet/);
			await expect(
				kv.set({ value: `secret-${name}` } as Parameters<VaultKvTarget['set']>[0]),
			).resolves.toMatch(/version 1 written/);
			expect(vault.versions.get(`secret/tls-${name}`)?.[0].data).toEqual({
				password: `secret-${name}`,
			});
		}
	});

	it("threat: a server with another CA's certificate or another certificate (a man in the middle) never receives the Vault token", async () => {
		const before = vault.requests.length;
		const wrongCa = await target(modes().wrongCa, 'tls-wrong-ca')
			.create()
			.catch((e: unknown) => e);
		expect(wrongCa).toBeInstanceOf(InfraOpsError);
		expect((wrongCa as Error).message).toMatch(
			/^Cannot reach 127\.0\.0\.1:\d+: .*unable to verify the first certificate/,
		);
		expect((wrongCa as InfraOpsError).hint).toMatch(/add the CA certificate/);
		const wrongPin = await target(modes().wrongPin, 'tls-wrong-pin')
			.create()
			.catch((e: unknown) => e);
		expect(wrongPin).toBeInstanceOf(InfraOpsError);
		expect((wrongPin as Error).message).toBe(
			`Certificate of 127.0.0.1:${fronts[0].port} has fingerprint ${certs.leaf.fingerprint256}, not the pinned ${modes().wrongPinShown}: refusing to send the request`,
		);
		// refused at the handshake: not one request (and so no token) reached the server
		expect(vault.requests.length).toBe(before);
		expect(`${(wrongCa as Error).message} ${(wrongPin as Error).message}`).not.toContain(
			vault.token,
		);
	});
});

describeRef(
	'Traefik API credential: custom CA and fingerprint pin (Traefik API client and credential test over real TLS)',
	() => {
		const api = (tls: Record<string, unknown>) =>
			new TraefikApi(
				traefikConnectionFrom({
					url: traefikUrl,
					authentication: 'basic',
					...TRAEFIK_AUTH,
					...tls,
				}),
			);

		it('threat: a Traefik API behind a private CA no longer forces "accept any certificate": the custom CA and a pinned fingerprint both verify it', async () => {
			for (const tls of [modes().ca, modes().pin]) {
				expect((await api(tls).overview()).http).toBeDefined();
				expect(
					await runTest('infraOpsTraefikApiTest', {
						url: traefikUrl,
						authentication: 'basic',
						...TRAEFIK_AUTH,
						...tls,
					}),
				).toEqual({
					status: 'OK',
					message: `Traefik 3.3.0-recorded-replay at ${traefikUrl}`,
				});
			}
		});

		it("threat: a server with another CA's certificate or another certificate (a man in the middle) never receives the Traefik API password", async () => {
			const before = traefik.requests.length;
			await expect(api(modes().wrongCa).overview()).rejects.toThrow(
				/^Cannot reach localhost:\d+: .*unable to verify the first certificate/,
			);
			await expect(api(modes().wrongPin).overview()).rejects.toThrow(
				`Certificate of localhost:${fronts[1].port} has fingerprint ${certs.leaf.fingerprint256}, not the pinned ${modes().wrongPinShown}`,
			);
			const viaTest = await runTest('infraOpsTraefikApiTest', {
				url: traefikUrl,
				authentication: 'basic',
				...TRAEFIK_AUTH,
				...modes().wrongPin,
			});
			expect(viaTest).toEqual({
				status: 'Error',
				message: expect.stringContaining(
					`has fingerprint ${certs.leaf.fingerprint256}, not the pinned ${modes().wrongPinShown}`,
				),
			});
			expect(traefik.requests.length).toBe(before);
			expect(JSON.stringify(viaTest)).not.toContain(TRAEFIK_AUTH.password);
		});

		it('a typo in the pinned fingerprint is named before any connection', () => {
			expect(() =>
				traefikConnectionFrom({ url: traefikUrl, tls: 'fingerprint', fingerprint: 'AB:CD' }),
			).toThrow(/"AB:CD" is not a SHA-256 certificate fingerprint/);
			expect(() => vaultConnectionFrom({ url: vaultUrl, token: 't', tls: 'ca', ca: '' })).toThrow(
				/Vault credential has no CA Certificate/,
			);
		});
	},
);

describe('a Vault or Traefik credential saved before the TLS modes existed', () => {
	it('threat: the old "Allow Self-Signed" switch is neither honoured silently nor left unexplained: the certificate is verified, and the failure names the switch and the modes that replace it', async () => {
		const before = vault.requests.length;
		const kv = new VaultKvTarget({
			api: vaultConnectionFrom({
				url: vaultUrl,
				token: vault.token,
				namespace: '',
				tls: 'system',
				allowSelfSigned: true,
			}),
			mount: 'secret',
			path: 'tls-upgraded',
			field: 'password',
		});
		const failed = await kv.create().catch((e: unknown) => e);
		expect(failed).toBeInstanceOf(InfraOpsError);
		expect((failed as Error).message).toMatch(/^Cannot reach 127\.0\.0\.1:\d+: /);
		expect((failed as InfraOpsError).hint).toMatch(
			/saved with "Allow Self-Signed".*Custom CA.*Pin Fingerprint/,
		);
		expect(vault.requests.length).toBe(before);
	});

	describeRef('the Traefik API credential', () => {
		it('threat: the old "Allow Self-Signed" switch of a Traefik API credential is not honoured silently: the failure names the switch', async () => {
			const traefikFailed = await new TraefikApi(
				traefikConnectionFrom({
					url: traefikUrl,
					authentication: 'basic',
					...TRAEFIK_AUTH,
					tls: 'system',
					allowSelfSigned: true,
				}),
			)
				.overview()
				.catch((e: unknown) => e);
			expect((traefikFailed as InfraOpsError).hint).toMatch(/saved with "Allow Self-Signed"/);
		});
	});
});
