/**
 * Scenario of the suite's own test-only workflow (harness-probe.json), which proves the harness before any
 * workflow of ours ships: a header-authenticated Webhook, our infraOpsN8nApi credential authenticating an
 * HTTP Request to n8n's real public API, a finding in the pack's shape, the Switch on status, and the Slack
 * and email branches reaching the sinks.
 */
import type { Scenario, WorkflowJson } from '../scenario';

const TARGET = 'E2E unpublished target';

const target: WorkflowJson = {
	name: TARGET,
	nodes: [
		{
			id: 'b6a8f9e2-0c1d-4e5f-8a9b-1c2d3e4f5a01',
			name: 'Start',
			type: 'n8n-nodes-base.manualTrigger',
			typeVersion: 1,
			position: [0, 0],
			parameters: {},
		},
		{
			id: 'b6a8f9e2-0c1d-4e5f-8a9b-1c2d3e4f5a02',
			name: 'Nothing',
			type: 'n8n-nodes-base.noOp',
			typeVersion: 1,
			position: [240, 0],
			parameters: {},
		},
	],
	connections: { Start: { main: [[{ node: 'Nothing', type: 'main', index: 0 }]] } },
	settings: { executionOrder: 'v1' },
};

const scenario: Scenario = {
	prepare: ({ n8nBaseUrl }) => ({
		settings: {
			n8nBaseUrl,
			slackChannel: '#e2e-alerts',
			emailFrom: 'n8n-e2e@example.com',
			emailTo: 'oncall@example.com',
		},
		workflows: [target],
	}),

	async run(ctx) {
		const { slack, smtp } = ctx.sinks;

		// an unpublished workflow: a critical finding, alerted on both channels
		let slackSeen = slack.messages.length;
		let mailSeen = smtp.messages.length;
		const critical = await ctx.runWebhook({ body: { workflow: TARGET } });
		expect(critical.status).toBe('success');
		const targetId = ctx.workflowIdByName(TARGET);
		expect(ctx.outputOf(critical, 'Findings')).toEqual([
			expect.objectContaining({
				check: 'n8n-workflow-published',
				status: 'critical',
				workflowId: targetId,
				target: expect.stringContaining(`"${TARGET}" (${targetId})`),
			}),
		]);
		const posted = slack.messages.slice(slackSeen);
		expect(posted).toEqual([
			expect.objectContaining({
				channel: '#e2e-alerts',
				text: expect.stringContaining(`workflow "${TARGET}" (${targetId})`),
			}),
		]);
		expect(posted[0].text).toContain('CRITICAL');
		expect(posted[0].text).toContain('is not published');
		expect(slack.unknownCalls).toEqual([]);
		const mails = smtp.messages.slice(mailSeen);
		expect(mails).toHaveLength(1);
		expect(mails[0]).toEqual({
			from: 'n8n-e2e@example.com',
			to: ['oncall@example.com'],
			subject: expect.stringContaining(
				`CRITICAL n8n-workflow-published: ${ctx.n8nBaseUrl} workflow "${TARGET}"`,
			),
			text: expect.stringContaining(
				`Workflow "${TARGET}" is not published: its triggers do not run`,
			),
		});

		// the probe itself is published: an ok finding, and no alert
		slackSeen = slack.messages.length;
		mailSeen = smtp.messages.length;
		const ok = await ctx.runWebhook({ body: { workflow: ctx.workflow.name } });
		expect(ok.status).toBe('success');
		expect(ctx.outputOf(ok, 'Findings')).toEqual([
			expect.objectContaining({ status: 'ok', workflowId: ctx.workflow.id }),
		]);
		expect(ctx.outputOf(ok, 'All good')).toHaveLength(1);
		expect(slack.messages.length).toBe(slackSeen);
		expect(smtp.messages.length).toBe(mailSeen);

		return (
			'infraOpsN8nApi authenticated an HTTP Request to the public API; ' +
			`unpublished "${TARGET}" -> critical finding; the Slack node's message (slack.com sink) and the email (SMTP sink) name target and problem; ` +
			'published probe -> ok finding, no alert'
		);
	},
};

export default scenario;
