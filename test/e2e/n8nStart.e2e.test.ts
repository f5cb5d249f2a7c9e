/**
 * A failed or slow n8n start says why (scripts/n8n/n8n.js startN8n): the exit code and the tail of n8n's
 * own output, or the readiness timeout, instead of a bare socket error later on. Real n8n, real node.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as n8n from '../../scripts/n8n/n8n';

jest.setTimeout(5 * 60_000);

let root: string;
let install: n8n.N8nInstall;
beforeAll(() => {
	install = n8n.installedN8n();
});
beforeEach(() => {
	root = fs.mkdtempSync(path.join(os.tmpdir(), 'infra-ops-n8n-start-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

async function env(port?: number) {
	return n8n.n8nEnv({
		userFolder: root,
		port: port ?? (await n8n.freePort()),
		brokerPort: await n8n.freePort(),
		host: '127.0.0.1',
		listen: '127.0.0.1',
		logLevel: 'warn',
	});
}

describe('starting n8n fails with the reason', () => {
	it('names the exit code and n8n output when the process dies before it is ready', async () => {
		await expect(
			n8n.startN8n({ ...install, bin: path.join(root, 'no-such-n8n') }, await env()),
		).rejects.toThrow(
			/n8n exited \(exit code 1\) before it was ready\n--- n8n output ---\n[^]*Cannot find module/,
		);
	});

	it('names the readiness timeout, and stops n8n', async () => {
		const e = await env();
		await expect(n8n.startN8n(install, e, { timeoutMs: 1000 })).rejects.toThrow(
			'did not answer /healthz/readiness within 1s (still running; stopped now)',
		);
		// stopped: nothing answers on its port
		await expect(fetch(`http://127.0.0.1:${e.N8N_PORT}/healthz`)).rejects.toThrow();
	});

	it('refuses to run without an installed n8n, naming the install step', () => {
		expect(() => n8n.installedN8n({ version: '0.0.0-not-installed' })).toThrow(
			/n8n@0\.0\.0-not-installed is not installed in .*: run `node scripts\/n8n\/ensure\.js` first/,
		);
	});
});
