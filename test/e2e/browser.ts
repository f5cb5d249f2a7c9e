/** Debian's Chromium, driven by playwright-core: logs in to the e2e n8n like a person, opens workflows,
 * and fails on nodes n8n cannot resolve, icons of ours that do not render, and sticky notes that are
 * missing, cut off or drawn over a node. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { chromium, type BrowserContext, type Page } from 'playwright-core';

import type { WorkflowJson } from './scenario';

export const CHROMIUM = process.env.INFRA_OPS_CHROMIUM || '/usr/bin/chromium';
const FLAGS = [
	'--headless',
	'--no-sandbox',
	'--disable-gpu',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
	'--no-first-run',
];

export interface CanvasNode {
	name: string;
	type: string;
	notInstalled: boolean;
	placeholderIcon: boolean;
	issues: boolean;
	icon: { src: string; loaded: boolean } | null;
}

/** A rectangle on the rendered canvas (screen pixels, after n8n's zoom). */
export interface Box {
	x: number;
	y: number;
	width: number;
	height: number;
}

export interface CanvasSticky {
	name: string;
	box: Box;
	/** Its text is taller or wider than the note: n8n clips it. */
	cutOff: boolean;
}

export interface BrowserSession {
	page: Page;
	/** Opens the workflow zoomed to fit, checks every node and sticky note, saves a screenshot of the whole
	 * canvas; returns what was checked. `startNote`: it must have a visible "Start here" note (repo workflows). */
	checkWorkflow(
		id: string,
		json: WorkflowJson,
		screenshot: string,
		opts?: { startNote?: boolean },
	): Promise<string>;
	/** Our node and credential types as the editor sees them (/types/*.json), each icon loaded as an image. */
	packTypes(packageName: string): Promise<{ nodes: TypeIcon[]; credentials: TypeIcon[] }>;
	close(): Promise<void>;
}

export interface TypeIcon {
	name: string;
	displayName: string;
	icons: { url: string; width: number }[];
}

export async function startBrowser(
	baseUrl: string,
	owner: { email: string; password: string },
	packageName: string,
): Promise<BrowserSession> {
	if (!fs.existsSync(CHROMIUM))
		throw new Error(
			`${CHROMIUM} is missing: apt-get install chromium (the Debian package), or set INFRA_OPS_CHROMIUM`,
		);
	const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'infra-ops-chromium-'));
	let context: BrowserContext;
	try {
		context = await chromium.launchPersistentContext(userDataDir, {
			executablePath: CHROMIUM,
			args: FLAGS,
			// large enough that a whole workflow, zoomed to fit, keeps its sticky notes legible in the screenshot
			viewport: { width: 2400, height: 1350 },
			timeout: 60_000,
		});
	} catch (err) {
		fs.rmSync(userDataDir, { recursive: true, force: true });
		throw err;
	}
	const page = context.pages()[0] ?? (await context.newPage());
	page.setDefaultTimeout(30_000);

	await page.goto(`${baseUrl}/signin`);
	await page.getByLabel('Email').fill(owner.email);
	await page.getByLabel('Password').fill(owner.password);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.waitForURL((url) => !url.pathname.startsWith('/signin'));

	const checkWorkflow = async (
		id: string,
		json: WorkflowJson,
		screenshot: string,
		{ startNote = false }: { startNote?: boolean } = {},
	): Promise<string> => {
		const expected = json.nodes.filter((n) => n.type !== STICKY).length;
		const expectedNotes = json.nodes.length - expected;
		await page.goto(`${baseUrl}/workflow/${id}`);
		// page-side code is passed as source text: this project's TypeScript has no DOM library
		await page.waitForFunction(
			`document.querySelectorAll('[data-test-id="canvas-node"]').length >= ${expected}`,
		);
		// file icons are <img>; wait until each has loaded or failed
		await page.waitForFunction(
			`[...document.querySelectorAll('[data-test-id="canvas-node"] .n8n-node-icon img')].every((i) => i.complete)`,
		);
		await page.waitForFunction(
			`document.querySelectorAll('[data-node-type="${STICKY}"] .n8n-sticky').length >= ${expectedNotes}`,
		);
		// a published workflow opens with n8n's "Production Checklist" popover over the canvas
		const close = page.locator('[data-test-id="suggested-actions-close"]');
		if (await close.isVisible()) await close.click();
		// the whole canvas, notes included, in the screenshot and in the viewport the boxes are read from
		await page.locator('[data-test-id="zoom-to-fit"]').click();
		await page.waitForTimeout(800);
		fs.mkdirSync(path.dirname(screenshot), { recursive: true });
		await page.screenshot({ path: screenshot });
		const nodes =
			(await page.evaluate(`[...document.querySelectorAll('[data-test-id="canvas-node"]')].map((el) => {
			const img = el.querySelector('.n8n-node-icon img');
			return {
				name: el.getAttribute('data-node-name') ?? '',
				type: el.getAttribute('data-node-type') ?? '',
				notInstalled: !!el.querySelector('[data-test-id="node-not-installed"]'),
				placeholderIcon: !!el.querySelector('.n8n-node-icon [class*="nodeIconPlaceholder"]'),
				issues: !!el.querySelector('[data-test-id="node-issues"]'),
				icon: img ? { src: img.src, loaded: img.complete && img.naturalWidth > 0 } : null,
			};
		})`)) as CanvasNode[];
		const boxOf = `(el) => { const r = el.getBoundingClientRect(); return { x: r.x, y: r.y, width: r.width, height: r.height }; }`;
		const nodeBoxes = (await page.evaluate(
			`[...document.querySelectorAll('[data-test-id="canvas-node"]')].map((el) => ({ name: el.getAttribute('data-node-name') ?? '', box: (${boxOf})(el) }))`,
		)) as { name: string; box: Box }[];
		// the note's text sits in the sticky's first child, which clips what does not fit (overflow: hidden)
		const stickies = (await page.evaluate(
			`[...document.querySelectorAll('[data-node-type="${STICKY}"]')].map((el) => {
			const sticky = el.querySelector('.n8n-sticky');
			const text = sticky?.firstElementChild;
			return {
				name: el.getAttribute('data-node-name') ?? '',
				box: sticky ? (${boxOf})(sticky) : { x: 0, y: 0, width: 0, height: 0 },
				cutOff: !text || text.scrollHeight > text.clientHeight + 1 || text.scrollWidth > text.clientWidth + 1,
			};
		})`,
		)) as CanvasSticky[];
		const viewport = page.viewportSize() ?? { width: 0, height: 0 };
		const problems = [
			...canvasProblems(nodes, packageName),
			...stickyProblems(json, stickies, nodeBoxes, viewport, startNote),
		];
		if (problems.length > 0)
			throw new Error(
				`${json.name} in Chromium (screenshot ${screenshot}):\n- ${problems.join('\n- ')}`,
			);
		const ours = nodes.filter((n) => n.type.startsWith(`${packageName}.`)).length;
		return (
			`browser: ${nodes.length} nodes known, ${ours} of ours with icons rendered` +
			(stickies.length
				? `, ${stickies.length} sticky notes${startNote ? ' (Start here first)' : ''} visible, none cut off or over a node`
				: '')
		);
	};

	const packTypes = async (pkg: string) =>
		(await page.evaluate(`(async (prefix) => {
			const load = (url) => new Promise((resolve) => {
				const img = new Image();
				img.onload = () => resolve(img.naturalWidth);
				img.onerror = () => resolve(0);
				img.src = url;
			});
			const describe = (list) => Promise.all(list.map(async (t) => {
				const urls = typeof t.iconUrl === 'string' ? [t.iconUrl] : t.iconUrl ? [t.iconUrl.light, t.iconUrl.dark] : [];
				return { name: t.name, displayName: t.displayName, icons: await Promise.all(urls.map(async (url) => ({ url, width: await load('/' + url) }))) };
			}));
			const nodeTypes = await (await fetch('/types/nodes.json')).json();
			const credentialTypes = await (await fetch('/types/credentials.json')).json();
			const seen = new Set();
			const nodes = nodeTypes.filter((t) => t.name.startsWith(prefix + '.') && !seen.has(t.name) && seen.add(t.name));
			const credentials = credentialTypes.filter((t) => JSON.stringify(t.iconUrl ?? '').includes('icons/' + prefix + '/'));
			return { nodes: await describe(nodes), credentials: await describe(credentials) };
		})(${JSON.stringify(pkg)})`)) as { nodes: TypeIcon[]; credentials: TypeIcon[] };

	return {
		page,
		checkWorkflow,
		packTypes,
		close: async () => {
			await context.close();
			fs.rmSync(userDataDir, { recursive: true, force: true });
		},
	};
}

const STICKY = 'n8n-nodes-base.stickyNote';

const overlap = (a: Box, b: Box) =>
	a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/** What is wrong with a workflow's sticky notes as the canvas shows them (zoomed to fit the viewport). */
export function stickyProblems(
	json: WorkflowJson,
	stickies: CanvasSticky[],
	nodes: { name: string; box: Box }[],
	viewport: { width: number; height: number },
	startNote: boolean,
): string[] {
	const problems: string[] = [];
	if (startNote) {
		const start = json.nodes.find((n) => n.type === STICKY && n.name === 'Start here');
		if (!start) problems.push('no sticky note named "Start here"');
		else if (!String(start.parameters.content ?? '').startsWith('## '))
			problems.push('the "Start here" note does not start with a "## " heading');
		else if (!stickies.some((s) => s.name === 'Start here'))
			problems.push('the "Start here" note is not rendered on the canvas');
	}
	stickies.forEach((s, i) => {
		const { x, y, width, height } = s.box;
		if (
			width <= 0 ||
			height <= 0 ||
			x < 0 ||
			y < 0 ||
			x + width > viewport.width ||
			y + height > viewport.height
		)
			problems.push(`sticky note "${s.name}" is not visible in the canvas zoomed to fit`);
		if (s.cutOff)
			problems.push(`sticky note "${s.name}" cuts off its text: make it taller or wider`);
		for (const n of nodes)
			if (overlap(s.box, n.box)) problems.push(`sticky note "${s.name}" covers node "${n.name}"`);
		for (const other of stickies.slice(i + 1))
			if (overlap(s.box, other.box))
				problems.push(`sticky notes "${s.name}" and "${other.name}" overlap`);
	});
	return problems;
}

/** What is wrong with a workflow's nodes as the canvas shows them. */
export function canvasProblems(nodes: CanvasNode[], packageName: string): string[] {
	const problems: string[] = [];
	for (const node of nodes) {
		if (node.notInstalled || node.placeholderIcon)
			problems.push(
				`node "${node.name}" (${node.type}) shows as unknown: its type is not installed`,
			);
		else if (node.type.startsWith(`${packageName}.`) && !node.icon?.loaded)
			problems.push(
				`node "${node.name}" (${node.type}): icon did not render (${node.icon?.src ?? 'no <img>'})`,
			);
		if (node.issues)
			problems.push(
				`node "${node.name}" (${node.type}) shows issues (missing credentials or parameters)`,
			);
	}
	return problems;
}
