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
	type PreviousState,
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
	'Create an "Infra Ops State Store" credential (a PostgreSQL database every n8n process reaches, e.g. n8n\'s own) and select it on this node and on every other Infra Ops node (in queue mode each stops without it); see docs/deploy.md#state-store-queue-mode';

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
			`${ctx.getNode().name}: n8n runs in queue mode, where workflow static data is not kept between runs, so "changed" would be computed against nothing (every problem alerting on every run, no recovery ever reported); nothing was done`,
			QUEUE_HINT,
		),
	);
}

/**
 * Called by the router before any operation runs: in queue mode a node without a State Store stops
 * here, before it touches anything (a backup, a rotation, a deploy), rather than doing its work and
 * then computing `changed` against nothing. One rule for every operation, so an operator attaches the
 * credential to every Infra Ops node once and never meets the error half way through a run.
 */
export function refuseQueueModeWithoutStore(ctx: IExecuteFunctions): void {
	if (inQueueMode() && !hasStateStore(ctx)) throw queueModeError(ctx);
}

export function hasStateStore(ctx: IExecuteFunctions): boolean {
	return Boolean(ctx.getNode().credentials?.[STATE_STORE_CREDENTIAL]);
}

function scopeOf(ctx: IExecuteFunctions): StateScope {
	// unsaved workflows run manually have no id yet; their state is a scratch scope
	return { workflowId: ctx.getWorkflow().id ?? 'unsaved', node: ctx.getNode().name };
}

/** The static-data store: what the pack always did, and the fallback for one regular-mode n8n. */
function staticState(ctx: IExecuteFunctions): NodeState {
	// the router refuses queue mode without a State Store first; this holds for a caller without one
	if (inQueueMode()) throw queueModeError(ctx);
	// fetched on first use: n8n saves static data it handed out, so an operation without findings or
	// values does not get an empty entry written for its node
	let store: Record<string, unknown> | undefined;
	const staticData = () => (store ??= ctx.getWorkflowStaticData('node'));
	return {
		get store() {
			return staticData();
		},
		mark: async (findings, rule = isTransition) =>
			findings.length ? markChanged(findings, staticData(), new Date(), rule) : [],
		close: async () => undefined,
	};
}

/**
 * Every named value is a JSON object; a row holding anything else (tampered, written by another
 * program) is started afresh rather than failing every run until someone deletes it.
 */
function objectOrNothing(value: unknown): unknown {
	return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
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
	const db = await PostgresStateStore.open(stateStoreConnectionFrom(data));
	let observedAt: Date;
	const names = Object.keys(values);
	const base: Record<string, { value: unknown; version: number }> = {};
	const store: Record<string, unknown> = {};
	try {
		// when this run looked, in the database's clock (workers' clocks may disagree): a run that
		// started earlier and finishes later must not overwrite it
		observedAt = await db.now();
		for (const name of names) {
			const read = await db.read(scope, name);
			base[name] = { value: objectOrNothing(read.value), version: read.version };
			// a copy: the operation mutates `store`, `base` stays what was read, for the merge
			store[name] = structuredClone(base[name].value);
		}
	} catch (error) {
		await db.close();
		throw toNodeError(ctx.getNode(), error);
	}
	return {
		store,
		mark: async (findings, rule = isTransition) => {
			// only what this run changed is written back; the rest stays as others left it
			const writes = names
				.filter(
					(name) =>
						store[name] !== undefined &&
						JSON.stringify(store[name]) !== JSON.stringify(base[name].value),
				)
				.map((name) => ({
					name,
					base: base[name],
					mine: store[name],
					merge: (current: unknown, mine: unknown, was: unknown) =>
						values[name](objectOrNothing(current), mine, was),
				}));
			if (!findings.length && !writes.length) return [];
			const observations = findings.map((f) => ({
				key: findingStateKey(f),
				status: f.status as Finding['status'],
				changeKey: f.changeKey,
			}));
			const decide = (before: PreviousState | undefined, i: number) => rule(before, findings[i]);
			// a run from the editor: n8n saves no static data of it, so the shared store keeps none either
			const changed =
				ctx.getMode() === 'manual'
					? await db.preview(scope, observations, observedAt, decide)
					: await db.commit(scope, writes, observations, observedAt, decide);
			return findings.map((f, i) => asFinding(f, changed[i]));
		},
		close: async () => await db.close(),
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
	if (!hasStateStore(ctx)) return staticState(ctx);
	try {
		return await sharedState(ctx, values);
	} catch (error) {
		throw toNodeError(ctx.getNode(), error);
	}
}
