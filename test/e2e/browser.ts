/** Debian's Chromium, driven by playwright-core: logs in to the e2e n8n like a person, opens workflows,
 * and fails on nodes n8n cannot resolve or icons of ours that do not render. */
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

export interface BrowserSession {
	page: Page;
	/** Opens the workflow, checks every node, saves a screenshot; returns what was checked. */
	checkWorkflow(id: string, json: WorkflowJson, screenshot: string): Promise<string>;
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
			viewport: { width: 1600, height: 900 },
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
	): Promise<string> => {
		const expected = json.nodes.filter((n) => n.type !== 'n8n-nodes-base.stickyNote').length;
		await page.goto(`${baseUrl}/workflow/${id}`);
		// page-side code is passed as source text: this project's TypeScript has no DOM library
		await page.waitForFunction(
			`document.querySelectorAll('[data-test-id="canvas-node"]').length >= ${expected}`,
		);
		// file icons are <img>; wait until each has loaded or failed
		await page.waitForFunction(
			`[...document.querySelectorAll('[data-test-id="canvas-node"] .n8n-node-icon img')].every((i) => i.complete)`,
		);
		// a published workflow opens with n8n's "Production Checklist" popover over the canvas
		const close = page.locator('[data-test-id="suggested-actions-close"]');
		if (await close.isVisible()) await close.click();
		await page.waitForTimeout(500);
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
		const problems = canvasProblems(nodes, packageName);
		if (problems.length > 0)
			throw new Error(
				`${json.name} in Chromium (screenshot ${screenshot}):\n- ${problems.join('\n- ')}`,
			);
		const ours = nodes.filter((n) => n.type.startsWith(`${packageName}.`)).length;
		return `browser: ${nodes.length} nodes known, ${ours} of ours with icons rendered`;
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
