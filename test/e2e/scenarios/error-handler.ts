/**
 * The error handler in a real n8n: a second workflow that names it as its Error Workflow (as every
 * workflow of the pack does) fails for real: its Cert Expiry node reads an acme.json path that does not
 * exist on the harness's sshd. n8n then starts the (published) handler, which must post one Slack
 * message and send one email naming that workflow, the node and the message, with a link to the failed
 * execution (n8n builds it from N8N_EDITOR_BASE_URL, which the suite sets to this n8n's address).
 */
import * as fs from 'node:fs';

import { WEBHOOK_HEADER } from '../instance';
import type { Execution, RunContext, Scenario, WorkflowJson } from '../scenario';

const VICTIM = 'E2E: acme.json on a wrong path (fails on purpose)';
const VICTIM_PATH = 'infra-ops/e2e/error-handler-victim';
const FAILING_NODE = 'Read acme.json';
const MISSING_FILE = '/nonexistent-e2e-error-handler/acme.json';
const SETTINGS = {
	slackChannel: '#e2e-errors',
	alertEmail: 'oncall-errors@example.com',
	fromEmail: 'n8n-errors@example.com',
};

function victim(errorWorkflow: string): WorkflowJson {
	return {
		name: VICTIM,
		nodes: [
			{
				id: '0f5b7a57-1d2e-4c8b-9a41-6f0b2b9e0a01',
				name: 'Run Now (Webhook)',
				type: 'n8n-nodes-base.webhook',
				typeVersion: 2,
				position: [0, 0],
				webhookId: '0f5b7a57-1d2e-4c8b-9a41-6f0b2b9e0a02',
				parameters: {
					httpMethod: 'POST',
					path: VICTIM_PATH,
					authentication: 'headerAuth',
					responseMode: 'onReceived',
					options: {},
				},
				credentials: { httpHeaderAuth: { id: '', name: 'Webhook token' } },
			},
			{
				id: '0f5b7a57-1d2e-4c8b-9a41-6f0b2b9e0a03',
				name: FAILING_NODE,
				type: 'n8n-nodes-infra-ops.certExpiry',
				typeVersion: 1,
				position: [240, 0],
				parameters: { operation: 'checkAcmeJson', source: 'ssh', path: MISSING_FILE },
				credentials: { infraOpsSshApi: { id: '', name: 'SSH host' } },
			},
		],
		connections: {
			'Run Now (Webhook)': { main: [[{ node: FAILING_NODE, type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1', errorWorkflow },
	};
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function executionsOf(ctx: RunContext, workflowId: string) {
	const list = await ctx.api<{ data: { id: string; status: string }[] }>(
		'GET',
		`/executions?workflowId=${workflowId}&limit=20`,
	);
	return list.data;
}

/** The first finished execution of a workflow newer than `afterId`, with its data. */
async function nextExecution(
	ctx: RunContext,
	workflowId: string,
	afterId: number,
	what: string,
): Promise<Execution> {
	const deadline = Date.now() + 90_000;
	for (;;) {
		const newer = (await executionsOf(ctx, workflowId))
			.filter((e) => Number(e.id) > afterId)
			.sort((a, b) => Number(a.id) - Number(b.id))[0];
		if (newer && ['success', 'error', 'crashed', 'canceled'].includes(newer.status))
			return await ctx.api<Execution>('GET', `/executions/${newer.id}?includeData=true`);
		if (Date.now() > deadline)
			throw new Error(`no finished execution of ${what} after #${afterId} within 90s`);
		await sleep(250);
	}
}

const scenario: Scenario = {
	prepare: ({ file }) => {
		const { id } = JSON.parse(fs.readFileSync(file, 'utf8')) as { id?: string };
		if (!id) throw new Error(`${file} has no fixed id for other workflows to name`);
		return { settings: SETTINGS, workflows: [victim(id)] };
	},
	async run(ctx) {
		const handlerId = ctx.workflow.id;
		expect(handlerId).toBe(ctx.workflow.json.id);
		const victimId = ctx.workflowIdByName(VICTIM);
		const token = String(ctx.credential('httpHeaderAuth').value);
		const call = async (auth: boolean) =>
			await fetch(`${ctx.n8nBaseUrl}/webhook/${VICTIM_PATH}`, {
				method: 'POST',
				headers: {
					'content-type': 'application/json',
					...(auth ? { [WEBHOOK_HEADER]: token } : {}),
				},
				body: '{}',
			});

		// only production runs of a published workflow start the error workflow
		await ctx.api('POST', `/workflows/${victimId}/publish`, {});
		const deadline = Date.now() + 30_000;
		while ((await call(false)).status === 404 && Date.now() < deadline) await sleep(200);

		const lastOf = async (id: string) =>
			Math.max(0, ...(await executionsOf(ctx, id)).map((e) => Number(e.id)));
		const [victimBefore, handlerBefore] = [await lastOf(victimId), await lastOf(handlerId)];
		const slack0 = ctx.sinks.slack.messages.length;
		const mail0 = ctx.sinks.smtp.messages.length;

		const res = await call(true);
		expect(res.status).toBe(200);
		const failed = await nextExecution(ctx, victimId, victimBefore, 'the failing workflow');
		expect(failed.status).toBe('error');
		const error = failed.data!.resultData.error!;
		expect(error.node?.name ?? failed.data!.resultData.lastNodeExecuted).toBe(FAILING_NODE);
		const message = error.message;
		expect(message.length).toBeGreaterThan(0);

		const handled = await nextExecution(ctx, handlerId, handlerBefore, 'the error handler');
		expect(handled.status).toBe('success');
		const link = `${ctx.n8nBaseUrl}/workflow/${victimId}/executions/${failed.id}`;
		expect(ctx.outputOf(handled, 'Describe Failure')).toEqual([
			expect.objectContaining({
				workflowName: VICTIM,
				workflowId: victimId,
				failedNode: FAILING_NODE,
				message,
				executionId: failed.id,
				executionUrl: link,
				mode: 'webhook',
			}),
		]);

		const slack = ctx.sinks.slack.messages.slice(slack0);
		const mails = ctx.sinks.smtp.messages.slice(mail0);
		expect(slack).toHaveLength(1);
		expect(mails).toHaveLength(1);
		expect(slack[0].channel).toBe(SETTINGS.slackChannel);
		for (const part of [VICTIM, FAILING_NODE, message, link]) expect(slack[0].text).toContain(part);
		const mail = mails[0];
		expect(mail.to).toContain(SETTINGS.alertEmail);
		expect(mail.subject).toContain(VICTIM);
		expect(mail.subject).toContain(FAILING_NODE);
		for (const part of [VICTIM, FAILING_NODE, message, link]) expect(mail.text).toContain(part);

		// the link opens this n8n's editor (the SPA answers every /workflow/... route)
		const page = await fetch(link);
		expect(page.status).toBe(200);

		const ssh = ctx.credential('infraOpsSshApi');
		const keyBody = String(ssh.privateKey)
			.split('\n')
			.filter((l) => l && !l.startsWith('-----'))
			.join('');
		const secrets = [token, keyBody.slice(0, 40), keyBody.slice(-40), ctx.sinks.slack.token];
		const everything = [
			JSON.stringify(slack),
			JSON.stringify(mails),
			JSON.stringify(handled.data),
		].join('\n');
		for (const secret of secrets) expect(everything.includes(secret)).toBe(false);

		// later scenarios make workflows of the pack fail on purpose and count their own alerts in the
		// shared sinks: the handler must not post into those counts
		await ctx.api('POST', `/workflows/${handlerId}/unpublish`, {});
		return (
			`a failing webhook run of another workflow naming it (node "${FAILING_NODE}": ${message.slice(0, 80)}) ` +
			`→ 1 Slack message to ${SETTINGS.slackChannel} and 1 email with workflow, node, message and the execution link ` +
			`${link.replace(ctx.n8nBaseUrl, '<n8n>')} (which opens); no webhook token, SSH key or Slack token in the alerts or the handler's execution`
		);
	},
};
export default scenario;
