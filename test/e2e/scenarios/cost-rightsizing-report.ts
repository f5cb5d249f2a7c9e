/**
 * cost-rightsizing-report.json in real n8n: real Prometheus and node_exporter (Debian packages)
 * scraping a cAdvisor STAND-IN (cAdvisor is not packaged; the stand-in serves its metric names and
 * labels) with five containers of the stack: over-provisioned, under-provisioned, without limits and
 * right-sized. The on-demand run sends one HTML email; the scenario checks its table in the SMTP sink
 * and renders the received HTML in Chromium to test-output/e2e/cost-rightsizing-report-email.png.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { chromium } from 'playwright-core';

import { MIB } from '../../../nodes/ContainerGuard/rightsizing';
import { startPrometheusStack, type PrometheusStack } from '../../harness/prometheus';
import { CHROMIUM } from '../browser';
import type { Scenario } from '../scenario';

const GIB = 1024 * MIB;
const SCREENSHOT = path.join(
	__dirname,
	'..',
	'..',
	'..',
	'test-output',
	'e2e',
	'cost-rightsizing-report-email.png',
);
let stack: PrometheusStack;

const scenario: Scenario = {
	async prepare() {
		const compose = (service: string) => ({
			'com.docker.compose.project': 'localai',
			'com.docker.compose.service': service,
		});
		stack = await startPrometheusStack([
			{
				name: 'open-webui',
				image: 'ghcr.io/open-webui/open-webui:main',
				labels: compose('open-webui'),
				workingSetBytes: 200 * MIB,
				cpuCores: 0.1,
				memoryLimitBytes: GIB,
				cpuQuota: 200_000,
			},
			{
				name: 'postgres',
				image: 'postgres:16-alpine',
				labels: compose('postgres'),
				workingSetBytes: 480 * MIB,
				cpuCores: 0.99,
				memoryLimitBytes: 512 * MIB,
				cpuQuota: 100_000,
			},
			{
				name: 'n8n',
				image: 'n8nio/n8n:2.41.1',
				labels: compose('n8n'),
				workingSetBytes: 300 * MIB,
				cpuCores: 0.5,
				memoryLimitBytes: 0,
				cpuQuota: 0,
			},
			{
				name: 'qdrant',
				image: 'qdrant/qdrant:v1.12',
				labels: compose('qdrant'),
				workingSetBytes: 300 * MIB,
				cpuCores: 0.4,
				memoryLimitBytes: 512 * MIB,
				cpuQuota: 50_000,
			},
			{
				name: 'ollama',
				image: 'ollama/ollama:latest',
				labels: compose('ollama'),
				workingSetBytes: 2.5 * GIB,
				cpuCores: 1.2,
				memoryLimitBytes: 8 * GIB,
				cpuQuota: 400_000,
			},
		]);
		return {
			settings: {
				prometheusUrl: stack.url,
				// the stand-in's history is minutes old and scraped every second
				period: '10m',
				rateWindow: '5s',
				subqueryStep: '1s',
				reportEmail: 'ops@example.com',
				fromEmail: 'n8n@example.com',
			},
			cleanup: async () => await stack.stop(),
		};
	},

	async run(ctx) {
		await stack.waitForSamples(8);
		const mailsBefore = ctx.sinks.smtp.messages.length;
		const execution = await ctx.runWebhook();
		if (execution.status !== 'success')
			throw new Error(
				`the run ended ${execution.status}: ${execution.data?.resultData.error?.message ?? ''}`,
			);
		const findings = ctx.outputOf(execution, 'Usage & Rightsizing');
		const check = (cond: boolean, what: string) => {
			if (!cond)
				throw new Error(
					`${what}; findings: ${JSON.stringify(findings.map((f) => [f.target, f.status, f.summary]))}`,
				);
		};
		const by = Object.fromEntries(findings.map((f) => [String(f.target), f]));
		const memory = (name: string) => (by[name]?.memory ?? {}) as Record<string, unknown>;
		check(memory('open-webui').verdict === 'over', 'open-webui is over-provisioned');
		check(memory('open-webui').freeableBytes === 704 * MIB, 'open-webui frees 704 MiB');
		check(memory('ollama').freeableBytes === 4864 * MIB, 'ollama frees 4864 MiB');
		check(by.postgres?.status === 'critical', 'postgres is under-provisioned (critical)');
		check(memory('n8n').verdict === 'unlimited', 'n8n has no limit');
		check(by.qdrant?.status === 'ok', 'qdrant is right-sized');
		check(
			findings.some((f) => f.check === 'host-cpu') &&
				findings.some((f) => f.check === 'host-memory'),
			'host CPU and memory from node_exporter',
		);

		const mails = ctx.sinks.smtp.messages.slice(mailsBefore);
		if (mails.length !== 1) throw new Error(`expected one report email, got ${mails.length}`);
		const [mail] = mails;
		const html = mail.html ?? '';
		const problems: string[] = [];
		if (
			mail.subject !==
			'[infra-ops] Rightsizing: 5.4 GiB of memory could be freed, 1 under-provisioned'
		)
			problems.push(`subject "${mail.subject}"`);
		if (!mail.to.includes('ops@example.com')) problems.push(`sent to ${mail.to.join(', ')}`);
		for (const name of ['open-webui', 'postgres', 'n8n', 'qdrant', 'ollama'])
			if (!html.includes(`<b>${name}</b>`)) problems.push(`no row for ${name}`);
		for (const text of [
			'Could free',
			'704 MiB',
			'4.8 GiB',
			'under-provisioned',
			'over-provisioned',
			'no limit',
			'right-sized',
			'% of limit',
			'p95 over 10m from Prometheus',
			'Host',
		])
			if (!html.includes(text)) problems.push(`no "${text}" in the HTML`);
		// the bars are table cells with a width: email clients drop most CSS but keep these
		if (!/<td width="20%" style="background:#d68910/.test(html))
			problems.push('no 20 % amber bar for open-webui (200 MiB of 1 GiB)');
		if (problems.length)
			throw new Error(`report email: ${problems.join('; ')}\n${html.slice(0, 2000)}`);

		// how the received email looks: its HTML part rendered by Chromium
		const browser = await chromium.launch({
			executablePath: CHROMIUM,
			args: ['--headless', '--no-sandbox', '--disable-gpu'],
		});
		try {
			const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
			await page.setContent(
				`<html><head><meta charset="utf-8"><title>${mail.subject}</title></head><body style="margin:24px">` +
					`<div style="font:13px Arial;color:#555;border-bottom:1px solid #ddd;padding-bottom:8px;margin-bottom:16px">` +
					`From: ${mail.from}<br>To: ${mail.to.join(', ')}<br>Subject: <b>${mail.subject}</b></div>${html}</body></html>`,
			);
			fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
			await page.screenshot({ path: SCREENSHOT, fullPage: true });
		} finally {
			await browser.close();
		}
		return `5 containers (2 over, 1 under, 1 without limits, 1 right-sized) + host; one HTML email "${mail.subject}" with the table and bars; rendered to ${path.relative(process.cwd(), SCREENSHOT)}`;
	},
};

export default scenario;
