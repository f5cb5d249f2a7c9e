import { join } from 'node:path';

import { ECHO_CREDENTIAL_TYPE, ECHO_NODE_TYPE, Echo } from '../fixtures/nodes/Echo.node';
import { readBinary, runWorkflow } from '../support/workflowRunner';

const fixture = (name: string) => join(__dirname, '..', 'fixtures', 'workflows', name);
const nodeTypes = { [ECHO_NODE_TYPE]: new Echo() };
const credentials = { [ECHO_CREDENTIAL_TYPE]: { user: 'ops', token: 's3cr3t-token' } };

describe('runWorkflow (n8n-core WorkflowExecute)', () => {
	it('evaluates expression parameters per item and sets pairedItem', async () => {
		const { outputs, error } = await runWorkflow({
			workflow: fixture('echo.json'),
			nodeTypes,
			credentials,
			input: [{ name: 'alice' }, { name: 'bob' }],
		});

		expect(error).toBeUndefined();
		expect(outputs.Start[0].map((item) => item.json)).toEqual([{ name: 'alice' }, { name: 'bob' }]);
		const [items] = outputs.Echo;
		expect(items.map((item) => item.json.echoed)).toEqual(['alice', 'bob']);
		expect(items.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
	});

	it('resolves the credential of the type the node declares, by type, whatever the id', async () => {
		const { outputs } = await runWorkflow({
			workflow: fixture('echo.json'),
			nodeTypes,
			credentials,
			input: [{ name: 'alice' }],
		});

		expect(outputs.Echo[0][0].json).toMatchObject({ user: 'ops', tokenLength: 12 });
		expect(JSON.stringify(outputs)).not.toContain('s3cr3t-token');
	});

	it('reports a missing credential as the node error', async () => {
		const { error, nodeErrors } = await runWorkflow({
			workflow: fixture('echo.json'),
			nodeTypes,
			input: [{ name: 'alice' }],
		});

		expect(error?.message).toMatch(/No credentials of type "echoTestApi"/);
		expect(nodeErrors.Echo).toBe(error);
	});

	it('without continueOnFail, fails the run with the NodeOperationError', async () => {
		const { outputs, error, nodeErrors } = await runWorkflow({
			workflow: fixture('echo.json'),
			nodeTypes,
			credentials,
			input: [{ name: 'alice' }, { name: '' }],
		});

		expect(error).toBeInstanceOf(Error);
		expect(error).toMatchObject({
			name: 'NodeOperationError',
			message: 'Item 1 has no name',
			node: { name: 'Echo' },
			context: { itemIndex: 1 },
		});
		expect(nodeErrors.Echo).toBe(error);
		expect(outputs.Echo).toBeUndefined();
	});

	it('with continueOnFail, emits an error item paired to its input and the run continues', async () => {
		const { outputs, error, nodeErrors } = await runWorkflow({
			workflow: fixture('echo-continue-on-fail.json'),
			nodeTypes,
			credentials,
			input: [
				{ id: 'a', name: 'alice' },
				{ id: 'b', name: '' },
				{ id: 'c', name: 'carol' },
			],
		});

		expect(error).toBeUndefined();
		expect(nodeErrors).toEqual({});
		const [echo] = outputs.Echo;
		expect(echo[1]).toEqual({ json: { error: 'Item 1 has no name' }, pairedItem: { item: 1 } });
		expect(echo.map((item) => item.json.echoed)).toEqual(['alice', undefined, 'carol']);
		// `$('Start').item` in the next node follows pairedItem back through the error item
		expect(outputs.After[0].map((item) => item.json.echoed)).toEqual([
			'after a',
			'after b',
			'after c',
		]);
	});

	it('persists node static data across runs', async () => {
		const run = {
			workflow: fixture('echo.json'),
			nodeTypes,
			credentials,
			input: [{ name: 'alice' }],
		};

		const first = await runWorkflow(run);
		expect(first.outputs.Echo[0][0].json).toMatchObject({ run: 1, previousRuns: 0 });
		expect(first.staticData).toEqual({ 'node:Echo': { runs: 1 } });

		const second = await runWorkflow({ ...run, staticData: first.staticData });
		expect(second.outputs.Echo[0][0].json).toMatchObject({ run: 2, previousRuns: 1 });
		expect(second.staticData).toEqual({ 'node:Echo': { runs: 2 } });
		expect(first.staticData).toEqual({ 'node:Echo': { runs: 1 } });
	});

	it('stores binary data with n8n-core BinaryDataService and reads it back in the next node', async () => {
		const { outputs, error } = await runWorkflow({
			workflow: fixture('echo-binary.json'),
			nodeTypes,
			credentials,
			input: [{ name: 'alice' }, { name: 'bob' }],
		});

		expect(error).toBeUndefined();
		const written = outputs.Write[0].map((item) => item.binary!.data);
		expect(written[0]).toMatchObject({ fileName: 'alice.txt', mimeType: 'text/plain', bytes: 5 });
		expect(written[0].id).toMatch(/^filesystem-v2:/);
		expect((await readBinary(written[1])).toString()).toBe('bob');

		expect(outputs.Read[0].map((item) => item.json)).toEqual([
			{ text: 'alice', streamed: 'alice', mimeType: 'text/plain' },
			{ text: 'bob', streamed: 'bob', mimeType: 'text/plain' },
		]);
	});

	it('reads binary input given inline, as n8n does for base64 data', async () => {
		const { outputs } = await runWorkflow({
			workflow: {
				nodes: [
					{
						id: '1',
						name: 'Start',
						type: 'test.start',
						typeVersion: 1,
						position: [0, 0],
						parameters: {},
					},
					{
						id: '2',
						name: 'Read',
						type: ECHO_NODE_TYPE,
						typeVersion: 1,
						position: [200, 0],
						parameters: { operation: 'readBinary' },
						credentials: { echoTestApi: { id: 'x', name: 'x' } },
					},
				],
				connections: { Start: { main: [[{ node: 'Read', type: 'main', index: 0 }]] } },
				settings: { executionOrder: 'v1' },
			},
			nodeTypes,
			credentials,
			input: [
				{
					json: {},
					binary: {
						data: { data: Buffer.from('inline').toString('base64'), mimeType: 'text/plain' },
					},
				},
			],
		});

		expect(outputs.Read[0][0].json).toEqual({ text: 'inline', mimeType: 'text/plain' });
	});
});
