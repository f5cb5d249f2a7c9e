/**
 * Workflow nodes that change live systems must not stop half-way: one refused item (a memory limit
 * below what a container uses now) would otherwise end the node with the containers before it changed
 * and those after it not, and no item saying which. Reads workflows/*.json at run time.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

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
