/**
 * Where a node execution keeps what the next run compares with: the shared PostgreSQL table of an
 * attached "Infra Ops State Store" credential (stateStore.ts), else the node's workflow static data
 * (a single regular-mode n8n only: queue-mode workers neither load nor keep it). Both stores apply
 * the same change rule (findings.ts); they differ only in where the previous state comes from.
 */
import type { IExecuteFunctions } from 'n8n-workflow';

import { stateStoreConnectionFrom } from './connections';
import { errorMessage, InfraOpsError } from './errors';
import {
	asFinding,
	findingStateKey,
	isTransition,
	markChanged,
	type ChangeRule,
	type Finding,
	type NewFinding,
} from './findings';
import { toNodeError } from './nodeErrors';
import { PostgresStateStore, type StateScope } from './stateStore';

export const STATE_STORE_CREDENTIAL = 'infraOpsStateStoreApi';

/**
 * How overlapping runs' writes of one named value combine: `current` is what is stored now, `mine`
 * what this run computed from `base` (what it read). Must be pure: it may run more than once.
 */
export type ValueMerge = (current: unknown, mine: unknown, base: unknown) => unknown;

/** The named values (beside `changed`) an operation keeps between runs: cursors, samples, CVE sets. */
export type StateValues = Record<string, ValueMerge>;

export interface NodeState {
	/** The object operations read and change: static data itself, or a copy of the shared values. */
	store: Record<string, unknown>;
	/** Sets `changed` on the findings by `rule` and keeps the new state (and the values). */
	mark(findings: NewFinding[], rule?: ChangeRule): Promise<Finding[]>;
	close(): Promise<void>;
}

const QUEUE_HINT =
	'Create an "Infra Ops State Store" credential (a PostgreSQL database every n8n process reaches, e.g. n8n\'s own) and select it on this node; see docs/deploy.md#state-store-queue-mode';

/**
 * Whether this n8n process runs queue-mode executions: the main with EXECUTIONS_MODE=queue, or a
 * worker (`n8n worker` switches to queue mode itself, whatever the environment says). n8n gives
 * nodes no helper for this; the pack is not an n8n Cloud node, so reading the process is allowed.
 */
export function inQueueMode(): boolean {
	return process.env.EXECUTIONS_MODE === 'queue' || process.argv[2] === 'worker';
}

function queueModeError(ctx: IExecuteFunctions): Error {
	return toNodeError(
		ctx.getNode(),
		new InfraOpsError(
			`${ctx.getNode().name}: n8n runs in queue mode, where workflow static data is not kept between runs, so "changed" would be computed against nothing (every problem alerting on every run, no recovery ever reported)`,
			QUEUE_HINT,
		),
	);
}

export function hasStateStore(ctx: IExecuteFunctions): boolean {
	return Boolean(ctx.getNode().credentials?.[STATE_STORE_CREDENTIAL]);
}

function scopeOf(ctx: IExecuteFunctions): StateScope {
	// unsaved workflows run manually have no id yet; their state is a scratch scope
	return { workflowId: ctx.getWorkflow().id ?? 'unsaved', node: ctx.getNode().name };
}

/** The static-data store: what the pack always did, and the fallback for one regular-mode n8n. */
function staticState(ctx: IExecuteFunctions, values: StateValues): NodeState {
	const queue = inQueueMode();
	if (queue && Object.keys(values).length) throw queueModeError(ctx);
	const store = ctx.getWorkflowStaticData('node');
	return {
		store,
		mark: async (findings, rule = isTransition) => {
			if (!findings.length) return [];
			if (queue) throw queueModeError(ctx);
			return markChanged(findings, store, new Date(), rule);
		},
		close: async () => undefined,
	};
}

async function sharedState(ctx: IExecuteFunctions, values: StateValues): Promise<NodeState> {
	let data;
	try {
		data = await ctx.getCredentials(STATE_STORE_CREDENTIAL);
	} catch (error) {
		throw toNodeError(
			ctx.getNode(),
			new InfraOpsError(
				`Cannot read the State Store credential: ${errorMessage(error)}`,
				QUEUE_HINT,
			),
		);
	}
	const scope = scopeOf(ctx);
	// when this run looked: a run that started earlier and finishes later must not overwrite it
	const observedAt = new Date();
	let opened: PostgresStateStore | undefined;
	// opened on first use: an operation whose items fail before any finding never connects
	const db = async () => (opened ??= await PostgresStateStore.open(stateStoreConnectionFrom(data)));
	const names = Object.keys(values);
	const base: Record<string, { value: unknown; version: number }> = {};
	const store: Record<string, unknown> = {};
	try {
		for (const name of names) {
			base[name] = await (await db()).read(scope, name);
			// a copy: the operation mutates `store`, `base` stays what was read, for the merge
			store[name] = structuredClone(base[name].value);
		}
	} catch (error) {
		await opened?.close();
		throw toNodeError(ctx.getNode(), error);
	}
	return {
		store,
		mark: async (findings, rule = isTransition) => {
			const stateStore = await db();
			for (const name of names) {
				const mine = store[name];
				if (mine === undefined || JSON.stringify(mine) === JSON.stringify(base[name].value))
					continue;
				if (await stateStore.compareAndSet(scope, name, base[name].version, mine)) continue;
				// another run wrote it since this one read it: merge onto what is there now
				await stateStore.update(scope, name, (current) =>
					values[name](current, mine, base[name].value),
				);
			}
			if (!findings.length) return [];
			const changed = await stateStore.claim(
				scope,
				findings.map((f) => ({
					key: findingStateKey(f),
					status: f.status as Finding['status'],
					changeKey: f.changeKey,
				})),
				observedAt,
				(before, i) => rule(before, findings[i]),
			);
			return findings.map((f, i) => asFinding(f, changed[i]));
		},
		close: async () => await opened?.close(),
	};
}

/**
 * The store for this execution. `values`: the named values the operation reads and writes through
 * `store` (with their merges); they are read now, written back when `mark` runs. Close it in finally.
 */
export async function openNodeState(
	ctx: IExecuteFunctions,
	values: StateValues = {},
): Promise<NodeState> {
	if (!hasStateStore(ctx)) return staticState(ctx, values);
	try {
		return await sharedState(ctx, values);
	} catch (error) {
		throw toNodeError(ctx.getNode(), error);
	}
}
