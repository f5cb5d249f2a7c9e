/**
 * Workflow nodes that change live systems must not stop half-way: one refused item (a memory limit
 * below what a container uses now) would otherwise end the node with the containers before it changed
 * and those after it not, and no item saying which. Reads workflows/*.json at run time.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

type IDataObject = Record<string, unknown>;

interface WorkflowNode {
	name: string;
	type: string;
	onError?: string;
	parameters: Record<string, unknown>;
}

const dir = path.resolve(__dirname, '../../workflows');
const files = fs
	.readdirSync(dir)
	.filter((f) => f.endsWith('.json'))
	.sort();

describe('workflows that change live containers', () => {
	it('threat: every Apply Limits node continues past a refused container (no half-applied run)', () => {
		const apply = files.flatMap((file) =>
			(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { nodes: WorkflowNode[] }).nodes
				.filter(
					(n) =>
						n.type === 'n8n-nodes-infra-ops.containerGuard' &&
						n.parameters.operation === 'applyLimits',
				)
				.map((n) => ({ file, node: n.name, onError: n.onError })),
		);
		expect(apply.length).toBeGreaterThan(0);
		for (const a of apply) expect(a).toEqual({ ...a, onError: 'continueRegularOutput' });
	});
});

describe('log-error-digest: log lines are text in Slack', () => {
	it('threat: a logged <!channel>, <url|label> or ``` cannot ping, link or leave the code block', () => {
		const workflow = JSON.parse(
			fs.readFileSync(path.join(dir, 'log-error-digest.json'), 'utf8'),
		) as { nodes: WorkflowNode[] };
		const code = String(
			workflow.nodes.find((n) => n.name === 'Build Digest')?.parameters.jsCode ?? '',
		);
		// the Code node's own JavaScript, run as n8n runs it: `$input.all()` gives the items
		const finding = {
			check: 'log-errors',
			target: 'docker/web',
			status: 'warning',
			errorLines: 1,
			topMessages: [
				{
					count: 1,
					example: 'ERROR ``` <!channel> <https://evil.example/reset|Reset your password> &amp;',
					first: '2026-12-04T16:00:00.000Z',
					last: '2026-12-04T16:00:00.000Z',
				},
			],
		};
		const run = new Function('$input', code) as (input: unknown) => { json: IDataObject }[];
		const [out] = run({ all: () => [{ json: finding }] });
		const slack = String(out.json.slack);
		expect(slack).not.toMatch(/<!channel>|<https:/);
		expect(slack).toContain('&lt;!channel&gt;');
		expect(slack.match(/```/g)).toHaveLength(2);
		// the email is plain text: unchanged
		expect(String(out.json.text)).toContain('<!channel>');
	});
});

describe('probe output and host output are text in Slack', () => {
	it.each([['health-monitoring.json', 'a health probe']])(
		'threat: in %s, %s printing <!channel> or <url|label> cannot ping or link in the Slack alert',
		(file) => {
			const workflow = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as {
				nodes: WorkflowNode[];
			};
			const text = String(
				workflow.nodes.find((n) => n.type === 'n8n-nodes-base.slack')?.parameters.text ?? '',
			);
			const $json = {
				status: 'critical',
				target: 'web',
				summary:
					'web is unhealthy (3 failed probes): <!channel> <https://evil.example|log in> & retry',
			};
			// each {{ }} of the n8n expression, evaluated with the finding as $json
			const rendered = text
				.replace(/^=/, '')
				.replace(/\{\{([\s\S]*?)\}\}/g, (_m, expr: string) =>
					String((new Function('$json', `return (${expr});`) as (j: unknown) => unknown)($json)),
				);
			expect(rendered).toContain('web is unhealthy');
			expect(rendered).not.toMatch(/<!channel>|<!here>|<https:/);
			expect(rendered).toContain(
				'&lt;!channel&gt; &lt;https://evil.example|log in&gt; &amp; retry',
			);
		},
	);
});

describe('host-hardening-audit: one Slack digest per run, host output as text', () => {
	it('threat: a listening process named <!channel> or <url|label> on an audited host cannot ping or link; every changed failure is in one message', () => {
		const workflow = JSON.parse(
			fs.readFileSync(path.join(dir, 'host-hardening-audit.json'), 'utf8'),
		) as { nodes: WorkflowNode[] };
		const code = String(
			workflow.nodes.find((n) => n.name === 'Slack Digest')?.parameters.jsCode ?? '',
		);
		const findings = [
			{
				status: 'critical',
				target: 'traefik',
				title: 'Listening ports',
				summary: 'port 6666 open by <!channel> <https://evil.example|log in> & retry',
				remediation: 'ss -ltnp; kill `pidof x`',
			},
			{
				status: 'warning',
				target: 'ai-stack',
				title: 'Hostname as expected',
				summary: 'hostname is web',
				remediation: 'hostnamectl set-hostname ai-stack',
			},
		];
		const run = new Function('$input', code) as (input: unknown) => { json: IDataObject }[];
		const out = run({ all: () => findings.map((json) => ({ json })) });
		expect(out).toHaveLength(1);
		const slack = String(out[0].json.slack);
		expect(slack).toMatch(/^:shield: \*CRITICAL\* 2 failing controls changed/);
		expect(slack).toContain('traefik: Listening ports');
		expect(slack).toContain('ai-stack: Hostname as expected');
		expect(slack).toContain('hostnamectl set-hostname ai-stack');
		expect(slack).not.toMatch(/<!channel>|<!here>|<https:/);
		expect(slack).toContain('&lt;!channel&gt; &lt;https://evil.example|log in&gt; &amp; retry');
		expect(slack).toContain("Fix: `ss -ltnp; kill 'pidof x'`");
	});
});
