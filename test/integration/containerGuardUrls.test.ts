/** Container Guard, Check URLs, through n8n's own engine: plain HTTP servers on loopback, the harness's
 * real TLS servers (valid, expired, self-signed, other host name, unknown CA), a server that accepts
 * and never answers (times out at a deterministic point: it holds the socket), and a refused port. */
import * as http from 'node:http';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { IDataObject, INode } from 'n8n-workflow';

import { ContainerGuard } from '../../nodes/ContainerGuard/ContainerGuard.node';
import { requireBinary, run } from '../harness/proc';
import { makeCertificates, startTlsServer, type TlsServer } from '../harness/services';
import { runWorkflow, startThen, type WorkflowJson } from '../support/workflowRunner';

jest.setTimeout(60_000);

const TYPE = 'n8n-nodes-infra-ops.containerGuard';
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
	for (const close of closers.reverse()) await close();
});

function workflow(parameters: IDataObject, continueOnFail = false): WorkflowJson {
	return startThen(
		{
			name: 'Guard',
			type: TYPE,
			parameters: { operation: 'checkUrls', ...parameters } as INode['parameters'],
		},
		continueOnFail,
	);
}

async function runGuard(
	parameters: IDataObject,
	input: IDataObject[] = [{}],
	opts: { continueOnFail?: boolean; staticData?: IDataObject } = {},
) {
	const result = await runWorkflow({
		workflow: workflow(parameters, opts.continueOnFail),
		nodeTypes: { [TYPE]: new ContainerGuard() },
		input,
		staticData: opts.staticData,
	});
	const items = result.outputs.Guard?.[0] ?? [];
	return { ...result, items, json: items.map((i) => i.json) };
}

async function listen(server: http.Server | net.Server): Promise<number> {
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const sockets = new Set<net.Socket>();
	server.on('connection', (s: net.Socket) => {
		sockets.add(s);
		s.once('close', () => sockets.delete(s));
	});
	closers.push(
		() =>
			new Promise<void>((resolve) => {
				for (const s of sockets) s.destroy();
				server.close(() => resolve());
			}),
	);
	return (server.address() as net.AddressInfo).port;
}

let web: number;
let refused: number;

beforeAll(async () => {
	web = await listen(
		http.createServer((req, res) => {
			if (req.url === '/') {
				res.writeHead(200, { 'content-type': 'text/html' });
				res.end('<html><head><title>Open WebUI</title></head><body>chat</body></html>');
			} else if (req.url === '/healthz') res.writeHead(204).end();
			else if (req.url === '/login') res.writeHead(302, { location: '/' }).end();
			else if (req.url === '/slow') setTimeout(() => res.writeHead(200).end('late'), 1500);
			else res.writeHead(404).end('not here');
		}),
	);
	// a port that was free a moment ago and that nothing listens on now
	const probe = net.createServer();
	await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
	refused = (probe.address() as net.AddressInfo).port;
	await new Promise<void>((resolve) => probe.close(() => resolve()));
});

const byTarget = (json: IDataObject[]) => new Map(json.map((j) => [String(j.target), j]));

describe('Container Guard: Check URLs (real HTTP and TLS servers on loopback)', () => {
	it('status, expected text, redirect as answer, slow, refused: one finding per URL with latency, in order', async () => {
		const base = `http://127.0.0.1:${web}`;
		const lines = [
			'# the stack',
			`${base}/ 200 "Open WebUI"`,
			`${base}/healthz 2xx`,
			`${base}/login`,
			`${base}/nothing 200`,
			`${base}/ 200 "Flowise"`,
			`${base}/slow 200 late`,
			`http://127.0.0.1:${refused}/`,
			'',
		].join('\n');
		const { json, items, error } = await runGuard({ urls: lines, urlOptions: { slowMs: 1000 } });
		expect(error).toBeUndefined();
		expect(json.map((j) => j.target)).toEqual([
			`${base}/`,
			`${base}/healthz`,
			`${base}/login`,
			`${base}/nothing`,
			`${base}/`,
			`${base}/slow`,
			`http://127.0.0.1:${refused}/`,
		]);
		expect(items.every((i) => (i.pairedItem as { item: number }).item === 0)).toBe(true);
		for (const j of json) {
			expect(j.check).toBe('url');
			expect(typeof j.latencyMs).toBe('number');
		}
		const [home, health, login, missing, wrongText, slow, down] = json;
		expect(home).toMatchObject({ status: 'ok', httpStatus: 200, changed: false });
		expect(home.summary).toMatch(/is up: 200 in \d+ ms/);
		expect(health).toMatchObject({ status: 'ok', httpStatus: 204, expectedStatus: '2xx' });
		expect(login).toMatchObject({ status: 'ok', httpStatus: 302, expectedStatus: '2xx/3xx' });
		expect(missing).toMatchObject({ status: 'critical', problem: 'status', httpStatus: 404 });
		expect(missing.summary).toContain('answered 404, expected 200');
		expect(wrongText).toMatchObject({
			status: 'critical',
			problem: 'content',
			expectedText: 'Flowise',
			changed: true,
		});
		expect(slow).toMatchObject({ status: 'warning', problem: 'slow', httpStatus: 200 });
		expect(slow.latencyMs as number).toBeGreaterThanOrEqual(1400);
		expect(down).toMatchObject({ status: 'critical', problem: 'unreachable' });
		expect(down.summary).toMatch(/is down: .*ECONNREFUSED/);
	});

	it('a server that accepts and never answers times out; the bound on concurrent requests holds', async () => {
		let open = 0;
		let most = 0;
		let seen = 0;
		const holder = net.createServer((socket) => {
			// accepted and held: no byte is ever written, so only the client's timeout ends it
			seen++;
			most = Math.max(most, ++open);
			socket.once('close', () => open--);
			socket.on('error', () => undefined);
		});
		const port = await listen(holder);
		const urls = [1, 2, 3, 4, 5].map((n) => `http://127.0.0.1:${port}/held/${n}`).join('\n');
		const started = Date.now();
		const { json } = await runGuard({
			urls,
			urlOptions: { timeoutSeconds: 0.3, concurrency: 2 },
		});
		// two at a time: five held URLs take three rounds of the 300 ms timeout (a lower bound, with
		// slack for timer granularity; unbounded they would take one); the server may see a close after
		// the next connect, so it cannot count the bound
		expect(Date.now() - started).toBeGreaterThanOrEqual(800);
		expect(json).toHaveLength(5);
		for (const j of json) {
			expect(j).toMatchObject({ status: 'critical', problem: 'timeout' });
			expect(j.summary).toContain('no answer within 300 ms');
			expect(j.latencyMs as number).toBeGreaterThanOrEqual(250);
		}
		expect(seen).toBe(5);
		expect(most).toBeGreaterThanOrEqual(2);
	});

	it('TLS errors are named: expired, wrong host, self-signed, unknown CA; a custom CA and Ignore TLS Errors work', async () => {
		const certs = await makeCertificates({
			leaves: [
				{},
				{ notBeforeDays: -30, days: -1 },
				{ dnsNames: ['other.example.com'], ipAddresses: [] },
			],
		});
		closers.push(() => certs.remove());
		const serve = async (certPem: string, keyPem: string): Promise<string> => {
			const server: TlsServer = await startTlsServer({ certPem, keyPem });
			closers.push(() => server.close());
			return `https://127.0.0.1:${server.port}/`;
		};
		const valid = await serve(certs.leaves[0].certPem, certs.leaves[0].keyPem);
		const expired = await serve(certs.leaves[1].certPem, certs.leaves[1].keyPem);
		const otherHost = await serve(certs.leaves[2].certPem, certs.leaves[2].keyPem);
		const caAsLeaf = await serve(certs.ca.certPem, certs.ca.keyPem);
		// a self-signed server certificate, as `openssl req -x509` makes it for a homelab service
		const selfKey = path.join(certs.dir, 'self.key');
		const selfCrt = path.join(certs.dir, 'self.crt');
		await run(requireBinary('openssl', 'openssl'), [
			'req',
			'-x509',
			'-newkey',
			'ec',
			'-pkeyopt',
			'ec_paramgen_curve:P-256',
			'-nodes',
			'-subj',
			'/CN=127.0.0.1',
			'-addext',
			'subjectAltName=IP:127.0.0.1',
			'-days',
			'30',
			'-keyout',
			selfKey,
			'-out',
			selfCrt,
		]);
		const selfSigned = await serve(
			fs.readFileSync(selfCrt, 'utf8'),
			fs.readFileSync(selfKey, 'utf8'),
		);
		const urls = [`${valid} 200 ok`, expired, otherHost, caAsLeaf, selfSigned].join('\n');

		const { json, items } = await runGuard(
			{
				urls,
				urlOptions: {
					customCa: '={{ $json.ca }}',
					ignoreTls: '={{ $json.ignore }}',
				},
			},
			[
				{ ca: certs.ca.certPem, ignore: false },
				{ ca: '', ignore: false },
				{ ca: '', ignore: true },
			],
		);
		expect(json).toHaveLength(15);
		const paired = items.map((i) => (i.pairedItem as { item: number }).item);
		expect(paired).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);

		// item 0 trusts the test CA: the valid one passes, the others fail for their own reason
		const withCa = byTarget(json.slice(0, 5));
		expect(withCa.get(valid)).toMatchObject({ status: 'ok', httpStatus: 200 });
		expect(withCa.get(expired)).toMatchObject({
			status: 'critical',
			problem: 'tls',
			tlsError: 'expired',
			errorCode: 'CERT_HAS_EXPIRED',
		});
		expect(withCa.get(expired)!.summary).toContain('TLS certificate expired');
		expect(withCa.get(otherHost)).toMatchObject({ problem: 'tls', tlsError: 'wrong-host' });
		expect(withCa.get(otherHost)!.summary).toContain('issued for another host name');
		// the CA certificate served as a leaf is trusted, but its key usage is for signing certificates
		expect(withCa.get(caAsLeaf)).toMatchObject({
			problem: 'tls',
			tlsError: 'wrong-purpose',
			errorCode: 'INVALID_PURPOSE',
		});

		// item 1 trusts only the system CAs
		const system = byTarget(json.slice(5, 10));
		expect(system.get(valid)).toMatchObject({ problem: 'tls', tlsError: 'untrusted' });
		expect(system.get(selfSigned)).toMatchObject({ problem: 'tls', tlsError: 'self-signed' });
		expect(system.get(selfSigned)!.summary).toContain('self-signed');

		// item 2 ignores TLS errors: every server answers
		for (const j of json.slice(10)) expect(j).toMatchObject({ status: 'ok', httpStatus: 200 });
	});

	it('changed marks transitions only: down once, still down unchanged, up again changed', async () => {
		let up = true;
		const port = await listen(
			http.createServer((_req, res) => res.writeHead(up ? 200 : 503).end(up ? 'fine' : 'no')),
		);
		const params = { urls: `http://127.0.0.1:${port}/ 200` };
		const first = await runGuard(params);
		expect(first.json[0]).toMatchObject({ status: 'ok', changed: false });
		up = false;
		const second = await runGuard(params, [{}], { staticData: first.staticData });
		expect(second.json[0]).toMatchObject({ status: 'critical', changed: true, httpStatus: 503 });
		const third = await runGuard(params, [{}], { staticData: second.staticData });
		expect(third.json[0]).toMatchObject({ status: 'critical', changed: false });
		up = true;
		const fourth = await runGuard(params, [{}], { staticData: third.staticData });
		expect(fourth.json[0]).toMatchObject({ status: 'ok', changed: true });
	});

	it('bad lines are clear errors naming the line; continueOnFail gives an error item with the hint', async () => {
		const bad = `http://127.0.0.1:${web}/\nnot a url\n`;
		const failed = await runGuard({ urls: bad });
		expect(failed.error?.message).toMatch(/Line 2 \("not a url"\): "not" is not a URL/);

		const tolerant = await runGuard(
			{ urls: '={{ $json.urls }}' },
			[{ urls: bad }, { urls: `http://127.0.0.1:${web}/ 200` }],
			{
				continueOnFail: true,
			},
		);
		expect(tolerant.json[0].error).toMatch(/Line 2/);
		expect(tolerant.json[0].hint).toMatch(/full URL/);
		expect((tolerant.items[0].pairedItem as { item: number }).item).toBe(0);
		expect(tolerant.json[1]).toMatchObject({ status: 'ok' });
		expect((tolerant.items[1].pairedItem as { item: number }).item).toBe(1);

		const withPassword = await runGuard({ urls: 'https://admin:hunter2@chat.example.com/' });
		expect(withPassword.error?.message).toContain('user name or password');
		expect(withPassword.error?.message).not.toContain('hunter2');
	});
});
