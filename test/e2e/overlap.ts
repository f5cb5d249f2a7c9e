/**
 * Queue mode only: certificate-expiry.json (a copy on a webhook path of its own, with the State Store
 * attached like every workflow) against one TLS endpoint whose certificate the test swaps. A baseline run
 * sees it healthy; then it serves a certificate 3 days from expiry and 10 webhook calls at once start 10
 * overlapping executions on the two workers: exactly one of them reports the change, and exactly one
 * Slack message and one email arrive. Then three sequential runs: the endpoint drops connections (alert),
 * still does (silence), serves a renewed certificate (recovery alert). Every step waits on execution
 * records (the public API), never on a sleep.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import * as path from 'node:path';

import { withSsh } from '../../nodes/shared/ssh';
import * as n8n from '../../scripts/n8n/n8n';
import { makeCertificates } from '../harness/services';
import type { WorkflowEntry } from './instance';
import type { Execution, RunContext, Scenario, WorkflowJson } from './scenario';

const SOURCE = path.join(n8n.ROOT, 'workflows', 'certificate-expiry.json');
const WEBHOOK_PATH = 'infra-ops/certificate-expiry-overlap';
const BURST = 10;

/** An HTTPS endpoint whose certificate can be swapped between runs, and that can drop every connection. */
class SwappableEndpoint {
	private readonly server: https.Server;
	private readonly sockets = new Set<Socket>();
	dropping = false;

	constructor(cert: { certPem: string; keyPem: string }) {
		this.server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) =>
			res.end('ok'),
		);
		this.server.on('connection', (socket: Socket) => {
			if (this.dropping) {
				socket.destroy();
				return;
			}
			this.sockets.add(socket);
			socket.once('close', () => this.sockets.delete(socket));
		});
		this.server.on('tlsClientError', () => undefined);
	}

	async listen(): Promise<number> {
		await new Promise<void>((resolve, reject) => {
			this.server.once('error', reject);
			this.server.listen(0, '127.0.0.1', () => resolve());
		});
		return (this.server.address() as AddressInfo).port;
	}

	/** New handshakes present `cert` (Node's TLS server swaps its context in place). */
	serve(cert: { certPem: string; keyPem: string }): void {
		this.server.setSecureContext({ cert: cert.certPem, key: cert.keyPem });
		for (const socket of this.sockets) socket.destroy();
	}

	close(): Promise<void> {
		for (const socket of this.sockets) socket.destroy();
		return new Promise((resolve) => this.server.close(() => resolve()));
	}
}

interface ListedExecution {
	id: string;
	status: string;
	startedAt?: string;
	stoppedAt?: string;
}
const FINISHED = new Set(['success', 'error', 'crashed', 'canceled']);

/** Waits until `count` executions newer than `afterId` are finished (execution records, not time). */
async function waitForExecutions(
	ctx: RunContext,
	afterId: number,
	count: number,
	timeoutMs = 180_000,
): Promise<ListedExecution[]> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const list = await ctx.api<{ data: ListedExecution[] }>(
			'GET',
			`/executions?workflowId=${ctx.workflow.id}&limit=100`,
		);
		const newer = list.data.filter((e) => Number(e.id) > afterId);
		if (newer.length >= count && newer.every((e) => FINISHED.has(e.status))) return newer;
		if (Date.now() > deadline)
			throw new Error(
				`${count} executions after #${afterId} did not finish within ${timeoutMs / 1000}s: ${JSON.stringify(newer.map((e) => [e.id, e.status]))}`,
			);
		await new Promise((r) => setTimeout(r, 250));
	}
}

let endpoint: SwappableEndpoint | undefined;
let certs: Awaited<ReturnType<typeof makeCertificates>> | undefined;
let target = '';

const scenario: Scenario = {
	async prepare({ services }) {
		certs = await makeCertificates({
			leaves: [
				{ dnsNames: ['localhost'], notBeforeDays: -30, days: 60 },
				{ dnsNames: ['localhost'], notBeforeDays: -87, days: 3 },
				{ dnsNames: ['localhost'], notBeforeDays: 0, days: 90 },
				{ dnsNames: ['acme.example'], notBeforeDays: -10, days: 80 },
			],
		});
		endpoint = new SwappableEndpoint(certs.leaves[0]);
		target = `localhost:${await endpoint.listen()}`;
		const { ssh } = services;
		const acmePath = `${ssh.dataDir}/e2e-overlap-acme-${Date.now()}.json`;
		const acme = {
			letsencrypt: {
				Account: { Email: 'ops@example.com', PrivateKey: 'ZTJlLWFjY291bnQta2V5' },
				Certificates: [
					{
						domain: { main: 'acme.example', sans: [] },
						certificate: Buffer.from(certs.leaves[3].fullchainPem).toString('base64'),
						key: 'ZTJlLXByaXZhdGUta2V5',
						Store: 'default',
					},
				],
			},
		};
		await withSsh(
			{
				host: ssh.host,
				port: ssh.port,
				username: ssh.username,
				privateKey: ssh.privateKey,
				hostKeyFingerprints: [ssh.hostKeyFingerprint],
			},
			(s) => s.writeFileAtomic(acmePath, JSON.stringify(acme), { mode: 0o600 }),
		);
		return {
			settings: {
				targets: target,
				acmeJsonPath: acmePath,
				traefikAddress: '127.0.0.1',
				customCa: certs.ca.certPem,
				slackChannel: '#infra-alerts',
				alertEmail: 'ops@example.com',
				fromEmail: 'n8n@example.com',
			},
			cleanup: async () => {
				await endpoint?.close();
			},
		};
	},

	async run(ctx) {
		const workers = ctx.workers;
		if (!workers?.length) throw new Error('the overlap test runs in queue mode only');
		const check = (cond: boolean, what: string, data?: unknown) => {
			if (!cond)
				throw new Error(`${what}${data === undefined ? '' : `; got ${JSON.stringify(data)}`}`);
		};
		const finding = (execution: Execution) =>
			ctx.outputOf(execution, 'Check Endpoints').find((f) => f.target === target);
		const alerts = () => ({
			slack: ctx.sinks.slack.messages.map((m) => m.text),
			email: ctx.sinks.smtp.messages.map((m) => m.subject),
		});
		const since = (before: ReturnType<typeof alerts>) => {
			const now = alerts();
			return {
				slack: now.slack.slice(before.slack.length),
				email: now.email.slice(before.email.length),
			};
		};
		const sequential = async () => {
			const before = alerts();
			const execution = await ctx.runWebhook({ timeoutMs: 120_000 });
			check(execution.status === 'success', `run #${execution.id} ended ${execution.status}`);
			return { f: finding(execution), got: since(before) };
		};

		// baseline: healthy, first seen ok → not changed, no alert
		const base = await sequential();
		check(
			base.f?.status === 'ok' && base.f.changed === false,
			'baseline: the endpoint is ok and unchanged',
			base.f,
		);
		check(base.got.slack.length + base.got.email.length === 0, 'baseline: no alert', base.got);

		// the certificate becomes critical, and 10 overlapping runs look at it
		endpoint!.serve(certs!.leaves[1]);
		const beforeBurst = alerts();
		const afterId = await ctx.api<{ data: { id: string }[] }>(
			'GET',
			`/executions?workflowId=${ctx.workflow.id}&limit=20`,
		);
		const lastId = Math.max(0, ...afterId.data.map((e) => Number(e.id)));
		const answers = await Promise.all(
			Array.from({ length: BURST }, () => ctx.webhook({ body: {} })),
		);
		check(
			answers.every((a) => a.status === 200),
			'every webhook call is accepted',
			answers.map((a) => a.status),
		);
		const burst = await waitForExecutions(ctx, lastId, BURST);
		check(
			burst.every((e) => e.status === 'success'),
			'every burst run succeeded',
			burst.map((e) => [e.id, e.status]),
		);
		const full = await Promise.all(
			burst.map((e) => ctx.api<Execution>('GET', `/executions/${e.id}?includeData=true`)),
		);
		const findings = full.map(finding);
		check(
			findings.every((f) => f?.status === 'critical'),
			'every burst run sees the certificate critical',
			findings.map((f) => f?.status),
		);
		const changed = findings.filter((f) => f?.changed === true).length;
		check(changed === 1, 'exactly one burst run reports the change', changed);
		const burstAlerts = since(beforeBurst);
		check(
			burstAlerts.slack.length === 1 &&
				burstAlerts.email.length === 1 &&
				burstAlerts.slack[0].includes(target) &&
				burstAlerts.email[0].includes(target),
			`exactly one Slack message and one email naming ${target}`,
			burstAlerts,
		);
		// across both workers, overlapping in time (execution records' start and stop, each worker's log)
		const ids = new Set(burst.map((e) => e.id));
		const byWorker = workers.map((w) => w.executionIds().filter((id) => ids.has(id)));
		check(
			byWorker.every((w) => w.length > 0) && byWorker.flat().length === BURST,
			'the burst ran on both workers',
			byWorker,
		);
		const span = (id: string) => {
			const e = burst.find((x) => x.id === id)!;
			return [Date.parse(e.startedAt!), Date.parse(e.stoppedAt!)];
		};
		const overlapping = byWorker[0].some((a) =>
			byWorker[1].some((b) => {
				const [s1, e1] = span(a);
				const [s2, e2] = span(b);
				return s1 < e2 && s2 < e1;
			}),
		);
		check(overlapping, 'runs on the two workers overlapped in time', burst);

		// three sequential runs: alert, silence, recovery alert
		endpoint!.dropping = true;
		const down = await sequential();
		check(
			down.f?.changed === true && down.f.status !== 'ok' && down.f.status !== 'critical',
			'run 1: the endpoint drops connections → changed, not ok',
			down.f,
		);
		check(
			down.got.slack.length === 1 && down.got.email.length === 1,
			'run 1: one Slack message and one email',
			down.got,
		);
		const still = await sequential();
		check(still.f?.changed === false, 'run 2: still down → not changed', still.f);
		check(still.got.slack.length + still.got.email.length === 0, 'run 2: no alert', still.got);
		endpoint!.dropping = false;
		endpoint!.serve(certs!.leaves[2]);
		const renewed = await sequential();
		check(
			renewed.f?.changed === true && renewed.f.status === 'ok',
			'run 3: a renewed certificate → changed, ok',
			renewed.f,
		);
		check(
			renewed.got.slack.length === 1 &&
				/\bOK\b/.test(renewed.got.slack[0]) &&
				renewed.got.email.length === 1 &&
				renewed.got.email[0].includes(`ok: certificate ${target}`),
			'run 3: one recovery message on Slack and by email',
			renewed.got,
		);
		const split = byWorker.map((w, i) => `${workers[i].name} ${w.length}`).join(', ');
		return `${BURST} overlapping runs (${split}) while ${target} turned critical: 1 reported the change, 1 Slack + 1 email; then down → 1 Slack + 1 email (${down.f?.status}), still down → silence, renewed → recovery on Slack + email`;
	},
};

/** The entry the queue-mode suite adds: the certificate workflow on a webhook path of its own. */
export function overlapEntry(): WorkflowEntry {
	const json = JSON.parse(fs.readFileSync(SOURCE, 'utf8')) as WorkflowJson;
	json.name = `${json.name} (overlap test)`;
	delete json.id;
	for (const node of json.nodes)
		if (node.type === 'n8n-nodes-base.webhook') {
			node.parameters.path = WEBHOOK_PATH;
			node.webhookId = randomUUID();
		}
	return {
		file: path.join(__dirname, 'workflows', 'certificate-expiry-overlap.json'),
		label: 'queue: 10 overlapping certificate-expiry runs on 2 workers',
		json,
		scenario,
	};
}
