/** HTTPS transport against real TLS servers with generated certificates (CA, pin, self-signed, stalls). */
import { createServer as createHttpsServer, type Server } from 'node:https';
import {
	createServer as createTcpServer,
	type AddressInfo,
	type Server as TcpServer,
} from 'node:net';

import { httpRequest } from '../../nodes/shared/http';
import { makeCertificates, type CertificateSet } from '../harness/services';

let certs: CertificateSet;
let server: Server;
let port: number;
const seen: { path?: string; authorization?: string }[] = [];

beforeAll(async () => {
	certs = await makeCertificates();
	server = createHttpsServer(
		{ cert: certs.leaf.fullchainPem, key: certs.leaf.keyPem },
		(req, res) => {
			seen.push({ path: req.url, authorization: req.headers.authorization });
			res.setHeader('content-type', 'application/json');
			res.end(JSON.stringify({ data: { version: '8.3.0' } }));
		},
	);
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
	await new Promise((resolve) => server.close(resolve));
});

describe('HTTP transport (real TLS server)', () => {
	it('trusts a custom CA and sends the request', async () => {
		const response = await httpRequest({
			url: `https://localhost:${port}/api2/json/version`,
			headers: { authorization: 'T' },
			tls: { mode: 'ca', ca: certs.ca.certPem },
		});
		expect(response.status).toBe(200);
		expect(response.json()).toEqual({ data: { version: '8.3.0' } });
		expect(seen.at(-1)).toEqual({ path: '/api2/json/version', authorization: 'T' });
	});

	it('rejects an unknown CA with the system store, with a hint', async () => {
		const error = await httpRequest({ url: `https://localhost:${port}/x` }).catch(
			(e: unknown) => e,
		);
		expect((error as Error).message).toMatch(/Cannot reach localhost:\d+/);
		expect((error as { hint?: string }).hint).toMatch(/CA/);
	});

	it('accepts the pinned fingerprint and refuses another before sending any header', async () => {
		const ok = await httpRequest({
			url: `https://127.0.0.1:${port}/pinned`,
			tls: { mode: 'fingerprint', fingerprint: certs.leaf.fingerprint256 },
		});
		expect(ok.status).toBe(200);
		const before = seen.length;
		await expect(
			httpRequest({
				url: `https://127.0.0.1:${port}/secret`,
				headers: { authorization: 'TOKEN' },
				tls: { mode: 'fingerprint', fingerprint: 'AB'.repeat(32) },
			}),
		).rejects.toThrow(/not the pinned .*refusing to send the request/);
		expect(seen.length).toBe(before);
	});

	it('allows self-signed only when asked', async () => {
		expect(
			(await httpRequest({ url: `https://127.0.0.1:${port}/any`, tls: { mode: 'insecure' } }))
				.status,
		).toBe(200);
	});

	it('times out a server that accepts and never answers', async () => {
		const silent: TcpServer = createTcpServer(() => undefined);
		await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
		const silentPort = (silent.address() as AddressInfo).port;
		try {
			const started = Date.now();
			await expect(
				httpRequest({
					url: `https://127.0.0.1:${silentPort}/`,
					timeoutMs: 300,
					tls: { mode: 'insecure' },
				}),
			).rejects.toThrow(/timed out after 300 ms/);
			await expect(
				httpRequest({ url: `http://127.0.0.1:${silentPort}/`, timeoutMs: 300 }),
			).rejects.toThrow(/timed out after 300 ms/);
			expect(Date.now() - started).toBeLessThan(3_000);
		} finally {
			silent.close();
		}
	});
});
