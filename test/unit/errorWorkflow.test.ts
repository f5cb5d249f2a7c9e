/** workflows/error-handler.json is the pack's Error Workflow: it starts from n8n's Error Trigger, has a
 * fixed id (kept by `n8n import:workflow`), and every other file in workflows/ (those added later
 * too) names that id in settings.errorWorkflow, which is where n8n looks it up. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

interface Workflow {
	id?: string;
	name: string;
	nodes: { name: string; type: string; disabled?: boolean }[];
	settings?: Record<string, unknown>;
}

const dir = resolve(__dirname, '../../workflows');
const HANDLER = 'error-handler.json';
const load = (file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as Workflow;
const handler = load(HANDLER);
const others = readdirSync(dir)
	.filter((f) => f.endsWith('.json') && f !== HANDLER)
	.sort();

describe('workflows/error-handler.json', () => {
	it('has a fixed n8n-style id and starts from one Error Trigger, with no webhook or schedule', () => {
		expect(handler.id).toMatch(/^[A-Za-z0-9]{16}$/);
		const types = handler.nodes.filter((n) => !n.disabled).map((n) => n.type);
		expect(types.filter((t) => t === 'n8n-nodes-base.errorTrigger')).toHaveLength(1);
		expect(types).not.toContain('n8n-nodes-base.webhook');
		expect(types).not.toContain('n8n-nodes-base.scheduleTrigger');
		expect(types).toEqual(
			expect.arrayContaining(['n8n-nodes-base.slack', 'n8n-nodes-base.emailSend']),
		);
		// n8n would not start it for its own failures anyway; naming itself would only confuse
		expect(handler.settings?.errorWorkflow).toBeUndefined();
	});

	it('is named as the error workflow by every other workflow file', () => {
		expect(others.length).toBeGreaterThan(0);
		const named = Object.fromEntries(others.map((f) => [f, load(f).settings?.errorWorkflow]));
		// a new workflow file fails here until `node scripts/error-workflow.js` adds the line
		expect(named).toEqual(Object.fromEntries(others.map((f) => [f, handler.id])));
	});
});
