/**
 * The item adapter (nodes/shared/items.ts) and router (nodes/shared/router.ts), run the way n8n runs
 * them: workflows through n8n-core's WorkflowExecute (test/support/workflowRunner.ts), no fake
 * IExecuteFunctions. Continue On Fail, pairedItem, hints and `changed` go through real nodes (Secret
 * Rotate's Generate, Cert Expiry's Check PEM). Concurrency goes through a small probe node defined
 * here, since no shipped operation runs items concurrently through forEachItem yet: it is a real
 * INodeType executed by n8n, only its work is a test's.
 */
import { NodeConnectionTypes } from 'n8n-workflow';
import type {
	IDataObject,
	IExecuteFunctions,
	INode,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
} from 'n8n-workflow';

import { CertExpiry } from '../../nodes/CertExpiry/CertExpiry.node';
import { SecretRotate } from '../../nodes/SecretRotate/SecretRotate.node';
import { InfraOpsError } from '../../nodes/shared/errors';
import type { NewFinding } from '../../nodes/shared/findings';
import { failedItem, findingsToItems, forEachItem } from '../../nodes/shared/items';
import { makeRouter } from '../../nodes/shared/router';
import { makeCertificates } from '../harness/services';
import { runWorkflow, type WorkflowJson, startThen } from '../support/workflowRunner';

function workflow(
	type: string,
	parameters: IDataObject,
	continueOnFail = false,
	credentials: INode['credentials'] = undefined,
): WorkflowJson {
	return startThen(
		{
			name: 'Node',
			type,
			parameters,
			...(credentials ? { credentials } : {}),
		},
		continueOnFail,
	);
}

const paired = (items: INodeExecutionData[]) =>
	items.map((i) => (i.pairedItem as { item: number } | undefined)?.item);

describe('forEachItem / itemsFrom through Secret Rotate → Generate', () => {
	const SECRET_ROTATE = 'n8n-nodes-infra-ops.secretRotate';
	const generate = (continueOnFail: boolean) =>
		runWorkflow({
			workflow: workflow(
				SECRET_ROTATE,
				{
					operation: 'generate',
					secretType: 'password',
					passwordLength: '={{ $json.length }}',
				},
				continueOnFail,
			),
			nodeTypes: { [SECRET_ROTATE]: new SecretRotate() },
			input: [{ length: 16 }, { length: 3 }, { length: 24 }],
		});

	it('without Continue On Fail, a bad item fails the node naming that item, with the hint', async () => {
		const result = await generate(false);
		expect(result.error?.name).toBe('NodeOperationError');
		expect(result.error?.message).toBe('Password length 3 is out of range');
		expect(result.error?.description).toBe('Use a length between 8 and 1024');
		expect(result.error?.context?.itemIndex).toBe(1);
	});

	it('with Continue On Fail, the bad item is an error item with its hint, each item paired with its input', async () => {
		const result = await generate(true);
		expect(result.error).toBeUndefined();
		const items = result.outputs.Node[0];
		expect(paired(items)).toEqual([0, 1, 2]);
		expect(items[0].json).toMatchObject({ kind: 'password', length: 16 });
		expect(items[1].json).toEqual({
			error: 'Password length 3 is out of range',
			hint: 'Use a length between 8 and 1024',
		});
		expect(items[2].json).toMatchObject({ kind: 'password', length: 24 });
		// Include Secret is off: the items describe the secret only
		for (const item of [items[0], items[2]]) expect(item.json.secret).toBeUndefined();
	});
});

describe('findingsToItems through Cert Expiry → Check PEM', () => {
	const CERT_EXPIRY = 'n8n-nodes-infra-ops.certExpiry';
	const check = async (pem: string, caPem: string, staticData?: IDataObject) => {
		const result = await runWorkflow({
			workflow: workflow(CERT_EXPIRY, {
				operation: 'checkPem',
				pemSource: 'text',
				pem,
				pemOptions: { name: 'files.example', customCa: caPem },
			}),
			nodeTypes: { [CERT_EXPIRY]: new CertExpiry() },
			staticData,
		});
		expect(result.error).toBeUndefined();
		const [item] = result.outputs.Node[0];
		expect(paired(result.outputs.Node[0])).toEqual([0]);
		return { finding: item.json, staticData: result.staticData };
	};

	it('marks changed on a renewal (beforeMark sets the change key), not on a repeat or an older certificate', async () => {
		const current = await makeCertificates({
			leaves: [{ commonName: 'files.example', days: 60, notBeforeDays: -30 }],
		});
		const renewed = await makeCertificates({
			leaves: [{ commonName: 'files.example', days: 89, notBeforeDays: -1 }],
		});
		const first = await check(current.leaf.certPem, current.ca.certPem);
		// a target seen first with an ok status is no news
		expect(first.finding).toMatchObject({ target: 'files.example', status: 'ok', changed: false });
		// the change key lives in the state store only, never in the item
		expect(first.finding.changeKey).toBeUndefined();
		const repeat = await check(current.leaf.certPem, current.ca.certPem, first.staticData);
		expect(repeat.finding).toMatchObject({ status: 'ok', changed: false });
		const renewal = await check(renewed.leaf.certPem, renewed.ca.certPem, repeat.staticData);
		expect(renewal.finding).toMatchObject({ status: 'ok', changed: true });
		// an older certificate served again (e.g. one CDN edge not yet updated) is not a new renewal
		const older = await check(current.leaf.certPem, current.ca.certPem, renewal.staticData);
		expect(older.finding).toMatchObject({ status: 'ok', changed: false });
	});
});

/**
 * Runs forEachItem with concurrency over its input: item i finishes only after item i + 1 has, so
 * the completion order is the reverse of the input order, deterministically (no timers). Items with
 * `fail` throw (an InfraOpsError with a hint); items with `partial` yield a finding, then fail.
 */
class AdapterProbe implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Adapter Probe',
		name: 'test.adapterProbe',
		group: ['transform'],
		version: 1,
		description: 'Exercises forEachItem concurrency',
		defaults: { name: 'Adapter Probe' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		properties: [{ displayName: 'Operation', name: 'operation', type: 'string', default: 'probe' }],
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await makeRouter({ probe: { execute: probe } }).call(this);
	}
}

async function probe(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	const input = this.getInputData();
	const finished: number[] = [];
	const gates = input.map(() => {
		let open = () => {};
		const opened = new Promise<void>((resolve) => (open = resolve));
		return { opened, open };
	});
	const outcomes = await forEachItem(
		this,
		async (i) => {
			try {
				if (i + 1 < input.length) await gates[i + 1].opened;
				const finding: NewFinding = {
					check: 'probe',
					target: `item ${i}`,
					status: input[i].json.status === 'warning' ? 'warning' : 'ok',
					summary: `item ${i}`,
				};
				if (input[i].json.fail) throw new InfraOpsError(`item ${i} is bad`, `fix item ${i}`);
				if (input[i].json.partial) {
					const error = new InfraOpsError(`item ${i} failed half way`, 'look again');
					return { findings: [finding], ...failedItem(this, error, i) };
				}
				return { findings: [finding], json: { note: `extra ${i}` } };
			} finally {
				finished.push(i);
				gates[i].open();
			}
		},
		{ concurrency: input.length },
	);
	const items = await findingsToItems(this, outcomes);
	return [...items, { json: { finished }, pairedItem: { item: 0 } }];
}

describe('forEachItem with concurrency, through a probe node run by n8n', () => {
	const PROBE = 'test.adapterProbe';
	const runProbe = (input: IDataObject[], continueOnFail: boolean, staticData?: IDataObject) =>
		runWorkflow({
			workflow: workflow(PROBE, { operation: 'probe' }, continueOnFail),
			nodeTypes: { [PROBE]: new AdapterProbe() },
			input,
			staticData,
		});

	it('keeps input order when items finish in reverse, error items and partial findings in place', async () => {
		const result = await runProbe(
			[{ status: 'warning' }, { fail: true }, { partial: true }, {}],
			true,
		);
		expect(result.error).toBeUndefined();
		const items = result.outputs.Node[0];
		const finished = items.pop()?.json.finished;
		expect(finished).toEqual([3, 2, 1, 0]);
		expect(items.map((i) => i.json)).toEqual([
			{ check: 'probe', target: 'item 0', status: 'warning', summary: 'item 0', changed: true },
			{ note: 'extra 0' },
			{ error: 'item 1 is bad', hint: 'fix item 1' },
			{ check: 'probe', target: 'item 2', status: 'ok', summary: 'item 2', changed: false },
			{ error: 'item 2 failed half way', hint: 'look again' },
			{ check: 'probe', target: 'item 3', status: 'ok', summary: 'item 3', changed: false },
			{ note: 'extra 3' },
		]);
		expect(paired(items)).toEqual([0, 0, 1, 2, 2, 3, 3]);
		// a status that stays is no news on the next run; one that moves is
		const again = await runProbe([{ status: 'warning' }, {}, {}, { status: 'warning' }], true, {
			...result.staticData,
		});
		expect(again.outputs.Node[0].slice(0, -1).map((i) => [i.json.target, i.json.changed])).toEqual([
			['item 0', false],
			[undefined, undefined],
			['item 1', false],
			[undefined, undefined],
			['item 2', false],
			[undefined, undefined],
			['item 3', true],
			[undefined, undefined],
		]);
	});

	it('without Continue On Fail, the failing item stops the node with its index and hint', async () => {
		const result = await runProbe([{}, {}, { fail: true }, {}], false);
		expect(result.error?.name).toBe('NodeOperationError');
		expect(result.error?.message).toBe('item 2 is bad');
		expect(result.error?.description).toBe('fix item 2');
		expect(result.error?.context?.itemIndex).toBe(2);
	});

	it('the router refuses an operation it does not list, naming the ones it has', async () => {
		const result = await runWorkflow({
			workflow: workflow(PROBE, { operation: 'nope' }),
			nodeTypes: { [PROBE]: new AdapterProbe() },
		});
		expect(result.error?.message).toBe('The operation "nope" is not known');
		expect(result.error?.description).toBe('Choose one of: probe');
	});
});
