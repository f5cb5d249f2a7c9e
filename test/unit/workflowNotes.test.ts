/**
 * Every exported workflow explains itself on the canvas (the workflow convention in workflows/README.md):
 * a sticky note named "Start here", top-left, whose text starts with a `## ` heading and names every field
 * of the Settings node and the path of every Webhook; and no sticky note covers a node or another note.
 * Reads workflows/*.json at run time, so a workflow added later is held to the same rules.
 * The e2e browser check proves the same on the real canvas (rendered sizes, text not cut off).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

interface WorkflowNode {
	name: string;
	type: string;
	typeVersion: number;
	position: [number, number];
	parameters: Record<string, unknown>;
}

const STICKY = 'n8n-nodes-base.stickyNote';
/** n8n draws a node as a ~100x100 box whose top-left corner is its position. */
const NODE_SIZE = 100;
/** n8n's sticky note has no smaller size than this (StickyNote component: minWidth / minHeight). */
const MIN_STICKY = { width: 150, height: 80 };

const dir = path.resolve(__dirname, '../../workflows');
const files = fs
	.readdirSync(dir)
	.filter((f) => f.endsWith('.json'))
	.sort();

interface Rect {
	name: string;
	x: number;
	y: number;
	width: number;
	height: number;
}

const overlaps = (a: Rect, b: Rect) =>
	a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

const nodeRect = (n: WorkflowNode): Rect => ({
	name: n.name,
	x: n.position[0],
	y: n.position[1],
	width: NODE_SIZE,
	height: NODE_SIZE,
});

/** A sticky note's rectangle as the editor draws it: n8n's defaults (240x160) when width/height are absent. */
const stickyRect = (n: WorkflowNode): Rect => ({
	name: n.name,
	x: n.position[0],
	y: n.position[1],
	width: Math.max(Number(n.parameters.width ?? 240), MIN_STICKY.width),
	height: Math.max(Number(n.parameters.height ?? 160), MIN_STICKY.height),
});

const isTrigger = (n: WorkflowNode) =>
	/trigger$/i.test(n.type) || n.type === 'n8n-nodes-base.webhook';

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

it('workflows/ holds workflows to check', () => {
	expect(files.length).toBeGreaterThan(0);
});

describe.each(files)('%s', (file) => {
	const json = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as {
		nodes: WorkflowNode[];
	};
	const stickies = json.nodes.filter((n) => n.type === STICKY);
	const nodes = json.nodes.filter((n) => n.type !== STICKY);
	const start = stickies.find((n) => n.name === 'Start here');
	const content = String(start?.parameters.content ?? '');

	it('has a "Start here" sticky note (typeVersion 1) whose text starts with a ## heading', () => {
		expect(start).toBeDefined();
		expect(start!.typeVersion).toBe(1);
		expect(content.startsWith('## ')).toBe(true);
	});

	it('its "Start here" note names every field of the Settings node', () => {
		const settings = nodes.find((n) => n.name === 'Settings');
		expect(settings).toBeDefined();
		const assignments =
			(settings!.parameters.assignments as { assignments?: { name: string }[] } | undefined)
				?.assignments ?? [];
		const fields = assignments.map((a) => a.name);
		expect(fields.length).toBeGreaterThan(0);
		const unnamed = fields.filter((f) => !new RegExp(`\\b${escape(f)}\\b`).test(content));
		expect({ fieldsMissingFromStartHere: unnamed }).toEqual({ fieldsMissingFromStartHere: [] });
	});

	it('its "Start here" note gives the URL of every Webhook', () => {
		const webhooks = nodes.filter((n) => n.type === 'n8n-nodes-base.webhook');
		// an Error Trigger workflow (error-handler.json) has none: n8n starts it, and its note says so
		if (nodes.some((n) => n.type === 'n8n-nodes-base.errorTrigger'))
			expect(content).toMatch(/no Webhook/i);
		else expect(webhooks.length).toBeGreaterThan(0);
		const missing = webhooks
			.map((n) => `/webhook/${String(n.parameters.path)}`)
			.filter((url) => !new RegExp(`${escape(url)}(?![\\w/-])`).test(content));
		expect({ webhookUrlsMissingFromStartHere: missing }).toEqual({
			webhookUrlsMissingFromStartHere: [],
		});
	});

	it('its "Start here" note sits above or left of every trigger', () => {
		const note = stickyRect(start!);
		const misplaced = nodes
			.filter(isTrigger)
			.map(nodeRect)
			.filter((t) => !(note.y + note.height <= t.y || note.x + note.width <= t.x))
			.map((t) => t.name);
		expect({ triggersNotBelowOrRightOfStartHere: misplaced }).toEqual({
			triggersNotBelowOrRightOfStartHere: [],
		});
	});

	it('no sticky note covers a node or another sticky note', () => {
		const notes = stickies.map(stickyRect);
		const boxes = nodes.map(nodeRect);
		const collisions: string[] = [];
		notes.forEach((note, i) => {
			for (const box of boxes)
				if (overlaps(note, box)) collisions.push(`"${note.name}" covers node "${box.name}"`);
			for (const other of notes.slice(i + 1))
				if (overlaps(note, other)) collisions.push(`"${note.name}" overlaps "${other.name}"`);
		});
		expect(collisions).toEqual([]);
	});

	it('sizes every sticky note explicitly (n8n cuts off text beyond width x height)', () => {
		const unsized = stickies
			.filter(
				(n) =>
					!(Number(n.parameters.width) >= MIN_STICKY.width) ||
					!(Number(n.parameters.height) >= MIN_STICKY.height),
			)
			.map((n) => n.name);
		expect(unsized).toEqual([]);
	});
});
