import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import type { FindingStatus, NewFinding } from '../../shared/findings';
import { failedItem, itemsFrom } from '../../shared/items';
import type { ApiEntry, Overview } from '../traefikApi';
import { apiOf } from './common';

const op = 'getStatus';

export const description: INodeProperties[] = [
	{
		displayName: 'Only Problems',
		name: 'onlyProblems',
		type: 'boolean',
		default: true,
		description:
			'Whether to emit only routers, services and middlewares with errors or warnings (the overview finding is always emitted)',
		displayOptions: { show: { operation: [op] } },
	},
	{
		displayName: 'Provider',
		name: 'provider',
		type: 'string',
		default: '',
		placeholder: 'file',
		description: 'Only entries of this provider (file, docker, internal); empty for all',
		displayOptions: { show: { operation: [op] } },
	},
];

const KINDS = [
	'http/routers',
	'http/services',
	'http/middlewares',
	'tcp/routers',
	'tcp/services',
] as const;

export function entryStatus(entry: ApiEntry): FindingStatus {
	if (entry.error?.length || (entry.status && !['enabled', 'warning'].includes(entry.status)))
		return 'critical';
	if (entry.status === 'warning') return 'warning';
	const servers = entry.serverStatus as Record<string, string> | undefined;
	if (servers && Object.values(servers).some((s) => s !== 'UP')) return 'warning';
	return 'ok';
}

export function overviewFinding(overview: Overview, target: string): NewFinding {
	let errors = 0;
	let warnings = 0;
	let total = 0;
	const parts: string[] = [];
	for (const protocol of ['http', 'tcp', 'udp'] as const) {
		for (const [kind, c] of Object.entries(overview[protocol] ?? {})) {
			total += c.total;
			errors += c.errors;
			warnings += c.warnings;
			if (c.errors || c.warnings)
				parts.push(
					`${protocol} ${kind}: ${c.errors} error${c.errors === 1 ? '' : 's'}, ${c.warnings} warning${c.warnings === 1 ? '' : 's'}`,
				);
		}
	}
	const status: FindingStatus = errors > 0 ? 'critical' : warnings > 0 ? 'warning' : 'ok';
	return {
		check: 'traefik-status',
		target,
		status,
		summary:
			status === 'ok'
				? `Traefik: ${total} routers, services and middlewares, none with errors`
				: `Traefik: ${parts.join('; ')}`,
		errors,
		warnings,
		total,
		overview: overview as unknown as Record<string, unknown>,
		changeKey: `${errors}/${warnings}`,
	};
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async (i) => {
		const api = await apiOf(this, i);
		const base = new URL(api.conn.baseUrl);
		const target = `${base.protocol}//${base.host}`;
		const provider = String(this.getNodeParameter('provider', i) ?? '').trim();
		const onlyProblems = this.getNodeParameter('onlyProblems', i) as boolean;
		const overview = await api.overview();
		const findings = [overviewFinding(overview, target)];
		let lists;
		try {
			lists = await Promise.all(
				KINDS.map(async (kind) => ({ kind, entries: await api.list(kind) })),
			);
		} catch (error) {
			// the overview still counts: it comes out before the error item
			return { findings, ...failedItem(this, error, i) };
		}
		for (const { kind, entries } of lists) {
			for (const entry of entries) {
				if (provider && entry.provider !== provider) continue;
				const status = entryStatus(entry);
				if (onlyProblems && status === 'ok') continue;
				const what = kind.replace('/', ' ').replace(/s$/, '');
				findings.push({
					check: 'traefik-status',
					target: `${target} ${kind}/${entry.name}`,
					status,
					summary:
						status === 'ok'
							? `${what} ${entry.name} is enabled`
							: `${what} ${entry.name} is ${entry.status ?? 'unknown'}${entry.error?.length ? `: ${entry.error.join('; ')}` : ''}`,
					kind,
					name: entry.name,
					provider: entry.provider ?? null,
					traefikStatus: entry.status ?? null,
					errors: entry.error ?? [],
					changeKey: (entry.error ?? []).join('|'),
				});
			}
		}
		return findings;
	});
}
