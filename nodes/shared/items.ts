/**
 * The one n8n-facing item layer every node uses: run work per input item, turn a failure into an
 * error item when "Continue On Fail" is on (with the hint, paired with its input), and turn findings
 * into items with `changed` marked against the previous run. Operation files only read parameters
 * and call domain modules; they never write their own try / continueOnFail / pairedItem loop.
 */
import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import { mapConcurrent } from './concurrency';
import { errorFields, errorItemJson, type ErrorFields } from './errors';
import type { ChangeRule, Finding, NewFinding } from './findings';
import { toNodeError } from './nodeErrors';
import { openNodeState, type NodeState, type StateValues } from './nodeState';

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
	/** Named values besides `changed` the operation keeps in the store (cursors, samples), each with
	 * how overlapping runs' writes merge; `work` and `beforeMark` read and change them in `store`. */
	values?: StateValues;
	/** Called with all findings and the store before `changed` is computed (e.g. to set change keys). */
	beforeMark?: (findings: NewFinding[], store: Record<string, unknown>) => void;
	/** Replaces the default change rule where news is not a change of status (Trivy: a new CVE id only). */
	rule?: ChangeRule;
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
 * Items from outcomes, in order: each finding with `changed` against the previous run (in the shared
 * State Store when the node has one, else workflow static data: nodeState.ts), each json object as
 * is, then the error (if any) as an error item; all paired with the input item they came from.
 * `state`: the execution's store when the caller opened it (itemsFrom), else opened and closed here.
 */
export async function findingsToItems(
	ctx: IExecuteFunctions,
	outcomes: ItemOutcome[],
	options: FindingsOptions = {},
	state?: NodeState,
): Promise<INodeExecutionData[]> {
	const findings = outcomes.flatMap((o) => o.findings ?? []);
	let marked: Finding[] = [];
	if (findings.length || (state && options.values)) {
		const own = state ? undefined : await openNodeState(ctx, options.values);
		const used = (state ?? own) as NodeState;
		try {
			if (findings.length) options.beforeMark?.(findings, used.store);
			marked = await used.mark(findings, options.rule);
		} catch (error) {
			throw toNodeError(ctx.getNode(), error);
		} finally {
			await own?.close();
		}
	}
	const items: INodeExecutionData[] = [];
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

/**
 * The common case: `forEachItem` then `findingsToItems`, with one store for the execution (`work`
 * gets the object holding the declared `values`), closed at the end whatever happens.
 */
export async function itemsFrom(
	ctx: IExecuteFunctions,
	work: (itemIndex: number, store: Record<string, unknown>) => Promise<ItemOutput | NewFinding[]>,
	options: { concurrency?: number } & FindingsOptions = {},
): Promise<INodeExecutionData[]> {
	const state = await openNodeState(ctx, options.values);
	try {
		// only the declared values reach `work`: what is not declared would not be kept by the shared store
		const store = options.values ? state.store : {};
		const outcomes = await forEachItem(ctx, async (i) => await work(i, store), options);
		return await findingsToItems(ctx, outcomes, options, state);
	} finally {
		await state.close();
	}
}
