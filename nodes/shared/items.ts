/**
 * The one n8n-facing item layer every node uses: run work per input item, turn a failure into an
 * error item when "Continue On Fail" is on (with the hint, paired with its input), and turn findings
 * into items with `changed` marked against the previous run. Operation files only read parameters
 * and call domain modules; they never write their own try / continueOnFail / pairedItem loop.
 */
import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import { mapConcurrent } from './concurrency';
import { errorFields, errorItemJson, type ErrorFields } from './errors';
import { markChanged, type Finding, type NewFinding } from './findings';
import { toNodeError } from './nodeErrors';

/** What one input item produced: findings (alerting checks), plain json (data operations), or both. */
export interface ItemOutput {
	findings?: NewFinding[];
	json?: IDataObject | IDataObject[];
}

/** Item i's output, or its error when "Continue On Fail" is on. The only per-item result type. */
export interface ItemOutcome extends ItemOutput, ErrorFields {
	itemIndex: number;
}

/** How `findingsToItems` reads and writes the previous run's state, and may adjust findings first. */
export interface FindingsOptions {
	/** Where the last run's statuses live; defaults to the node's workflow static data. */
	store?: Record<string, unknown>;
	/** Called with all findings and the store before `changed` is computed (e.g. to set change keys). */
	beforeMark?: (findings: NewFinding[], store: Record<string, unknown>) => void;
	/** Replaces `markChanged` where news is not a change of status (Trivy: a new CVE id only). */
	mark?: (findings: NewFinding[], store: Record<string, unknown>) => Finding[];
}

/**
 * The outcome of a failed item: an error outcome under "Continue On Fail", else a NodeOperationError
 * naming the item, thrown at once.
 */
export function failedItem(ctx: IExecuteFunctions, error: unknown, itemIndex: number): ItemOutcome {
	if (!ctx.continueOnFail()) throw toNodeError(ctx.getNode(), error, itemIndex);
	return { itemIndex, ...errorFields(error) };
}

/**
 * Runs `work` for every input item (one at a time by default; `concurrency` > 1 for independent
 * network checks) and returns the outcomes in input order. `work` may also return
 * `{ findings, ...failedItem(ctx, error, i) }` to keep what it produced before it failed.
 */
export async function forEachItem(
	ctx: IExecuteFunctions,
	work: (itemIndex: number) => Promise<ItemOutput | NewFinding[]>,
	options: { concurrency?: number } = {},
): Promise<ItemOutcome[]> {
	const indexes = ctx.getInputData().map((_, i) => i);
	const run = async (itemIndex: number): Promise<ItemOutcome> => {
		try {
			const output = await work(itemIndex);
			return Array.isArray(output) ? { itemIndex, findings: output } : { itemIndex, ...output };
		} catch (error) {
			return failedItem(ctx, error, itemIndex);
		}
	};
	const concurrency = Math.max(1, options.concurrency ?? 1);
	if (concurrency === 1) {
		const outcomes: ItemOutcome[] = [];
		for (const i of indexes) outcomes.push(await run(i));
		return outcomes;
	}
	return await mapConcurrent(indexes, concurrency, run);
}

/**
 * Items from outcomes, in order: each finding with `changed` against the previous run, each json
 * object as is, then the error (if any) as an error item; all paired with the input item they came
 * from.
 */
export function findingsToItems(
	ctx: IExecuteFunctions,
	outcomes: ItemOutcome[],
	options: FindingsOptions = {},
): INodeExecutionData[] {
	const findings = outcomes.flatMap((o) => o.findings ?? []);
	const items: INodeExecutionData[] = [];
	let marked: Finding[] = [];
	if (findings.length) {
		const store = options.store ?? ctx.getWorkflowStaticData('node');
		options.beforeMark?.(findings, store);
		marked = (options.mark ?? markChanged)(findings, store);
	}
	let k = 0;
	for (const outcome of outcomes) {
		const pairedItem = { item: outcome.itemIndex };
		for (let n = 0; n < (outcome.findings?.length ?? 0); n++)
			items.push({ json: marked[k++] as unknown as IDataObject, pairedItem });
		const json =
			outcome.json === undefined ? [] : Array.isArray(outcome.json) ? outcome.json : [outcome.json];
		for (const j of json) items.push({ json: j, pairedItem });
		// after what the item produced before it failed (e.g. Traefik's overview, then a failed list)
		if (outcome.error !== undefined) items.push({ json: errorItemJson(outcome), pairedItem });
	}
	return items;
}

/** The common case: `forEachItem` then `findingsToItems`. */
export async function itemsFrom(
	ctx: IExecuteFunctions,
	work: (itemIndex: number) => Promise<ItemOutput | NewFinding[]>,
	options: { concurrency?: number } & FindingsOptions = {},
): Promise<INodeExecutionData[]> {
	return findingsToItems(ctx, await forEachItem(ctx, work, options), options);
}
