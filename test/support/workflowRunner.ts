/**
 * Runs workflow JSON through n8n-core's own engine (WorkflowExecute), so parameters, expressions,
 * continueOnFail, pairedItem, credentials and binary helpers in node tests are n8n's, not a fake
 * IExecuteFunctions. Modelled on n8n's NodeTestHarness (packages/core/nodes-testing), without
 * nodes-base: the run starts at a built-in `test.start` trigger that emits `input`.
 */
import { Container } from '@n8n/di';
import {
	BinaryDataService,
	ExecutionLifecycleHooks,
	ExternalSecretsProxy,
	normalizeItems,
	WorkflowExecute,
} from 'n8n-core';
import {
	createRunExecutionData,
	ICredentialsHelper,
	NodeConnectionTypes,
	NodeHelpers,
	Workflow,
} from 'n8n-workflow';
import type {
	IBinaryData,
	ICredentialDataDecryptedObject,
	IConnections,
	IDataObject,
	IHttpRequestOptions,
	INode,
	INodeCredentialsDetails,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
	INodeTypes,
	IRequestOptionsSimplified,
	IRun,
	ITriggerFunctions,
	ITriggerResponse,
	IVersionedNodeType,
	IWorkflowBase,
	IWorkflowExecuteAdditionalData,
	IWorkflowSettings,
	WorkflowExecuteMode,
} from 'n8n-workflow';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The part of n8n's workflow export format the runner reads. */
export interface WorkflowJson {
	name?: string;
	nodes: INode[];
	connections: IConnections;
	settings?: IWorkflowSettings;
	staticData?: IDataObject | null;
}

export interface RunOptions {
	/** A workflow object, or the path of an exported workflow JSON file. */
	workflow: WorkflowJson | string;
	/** Node classes by the type name the JSON uses, e.g. 'n8n-nodes-infra-ops.certExpiry'. */
	nodeTypes: Record<string, INodeType | IVersionedNodeType>;
	/** Decrypted credential data by credential TYPE name; the JSON's credential ids are ignored. */
	credentials?: Record<string, Record<string, unknown>>;
	/** Items the start node emits (default: one empty item, as a Schedule Trigger does). */
	input?: INodeExecutionData[] | IDataObject[];
	/** Workflow static data before the run (default: the JSON's `staticData`). */
	staticData?: IDataObject;
	/** How the run was started (default 'trigger'); 'manual' is a run from the editor. */
	mode?: WorkflowExecuteMode;
}

/** WorkflowExecute keeps errors as plain copies (`{ ...error, message, stack }`, as n8n stores them
 * in the execution), so the class is gone: test `name` ('NodeOperationError'), not `instanceof`. */
export type RunError = Error & { description?: string | null; node?: INode; context?: IDataObject };

export interface RunResult {
	/** Each executed node's items per output, from its last run. */
	outputs: Record<string, INodeExecutionData[][]>;
	/** Why the execution failed, if it did (for a node error: that node's error). */
	error?: RunError;
	/** Node errors by node name. A node that threw out of execute() with continueOnFail also has
	 * outputs: n8n then passes its input items through. */
	nodeErrors: Record<string, RunError>;
	/** Static data after the run, as n8n would save it: unchanged unless n8n saw it change. */
	staticData: IDataObject;
}

export const START_NODE_TYPE = 'test.start';

/** A Start node feeding one node named `name`: the workflow most node tests run. */
export function startThen(
	node: Omit<INode, 'id' | 'typeVersion' | 'position' | 'parameters'> &
		Partial<Omit<INode, 'parameters'>> & { parameters: object },
	continueOnFail = false,
): WorkflowJson {
	return {
		nodes: [
			{
				id: '0',
				name: 'Start',
				type: START_NODE_TYPE,
				typeVersion: 1,
				position: [0, 0],
				parameters: {},
			},
			{
				id: '1',
				typeVersion: 1,
				position: [200, 0],
				...node,
				parameters: node.parameters as INode['parameters'],
				...(continueOnFail ? { onError: 'continueRegularOutput' as const } : {}),
			},
		],
		connections: { Start: { main: [[{ node: node.name, type: 'main', index: 0 }]] } },
		settings: { executionOrder: 'v1' },
	};
}

/** The run starts in 'trigger' mode with this node's items already on the execution stack, as when
 * a real trigger fires; WorkflowExecute then passes a trigger node's stacked items straight through,
 * so `trigger()` itself never runs. */
class TestStart implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Test Start',
		name: START_NODE_TYPE,
		group: ['trigger'],
		version: 1,
		description: 'Emits the items given to runWorkflow',
		defaults: { name: 'Start' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		properties: [],
	};

	async trigger(this: ITriggerFunctions): Promise<ITriggerResponse> {
		// a manual run (mode 'manual') runs the trigger and waits for it to emit: one empty item
		if (this.getMode() === 'manual')
			return { manualTriggerFunction: async () => this.emit([[{ json: {} }]]) };
		return {};
	}
}

class MapNodeTypes implements INodeTypes {
	constructor(private readonly types: Record<string, INodeType | IVersionedNodeType>) {}

	getByName(type: string): INodeType | IVersionedNodeType {
		const nodeType = this.types[type];
		if (!nodeType) {
			const known = Object.keys(this.types).join(', ');
			throw new Error(`Node type "${type}" was not given to runWorkflow (known: ${known})`);
		}
		return nodeType;
	}

	getByNameAndVersion(type: string, version?: number): INodeType {
		return NodeHelpers.getVersionedNodeType(this.getByName(type), version);
	}

	getKnownTypes(): IDataObject {
		return Object.fromEntries(Object.keys(this.types).map((type) => [type, {}]));
	}
}

/** n8n-workflow's abstract credentials helper over a plain map of decrypted data by type. The
 * execution context still does n8n's own checks (node declares the type, node has it set). */
class MapCredentialsHelper extends ICredentialsHelper {
	constructor(private readonly byType: Record<string, Record<string, unknown>>) {
		super();
	}

	private data(
		nodeCredentials: INodeCredentialsDetails,
		type: string,
	): ICredentialDataDecryptedObject {
		const data = this.byType[type];
		if (!data) {
			const given = `(node credential "${nodeCredentials.name}")`;
			throw new Error(`No credentials of type "${type}" were given to runWorkflow ${given}`);
		}
		// a copy, so a node that mutates its credentials cannot change the test's object
		return structuredClone(data) as ICredentialDataDecryptedObject;
	}

	async getDecrypted(
		_additionalData: IWorkflowExecuteAdditionalData,
		nodeCredentials: INodeCredentialsDetails,
		type: string,
	) {
		return this.data(nodeCredentials, type);
	}

	// Encrypted credentials (n8n-core's Credentials) need the CLI's encryption key provider; only
	// OAuth token refresh asks for them.
	getCredentials = unsupported('getCredentials (encrypted credentials, for OAuth)');

	getParentTypes() {
		return [];
	}

	isCredentialUsableByNode() {
		return true;
	}

	async authenticate(
		_credentials: ICredentialDataDecryptedObject,
		_type: string,
		requestOptions: IHttpRequestOptions | IRequestOptionsSimplified,
	) {
		return requestOptions as IHttpRequestOptions;
	}

	async preAuthentication() {
		return undefined;
	}

	async runPreAuthentication() {
		return undefined;
	}

	async updateCredentials() {}

	async updateCredentialsOauthTokenData() {}

	getCredentialsProperties() {
		return [];
	}
}

let n8nFolder: string | undefined;
let ready: Promise<void> | undefined;

/** n8n-core reads its settings from the DI container, which builds them from environment variables on
 * first use: InstanceSettings (n8n folder, encryption key, for Credentials and the execution
 * contexts), the Logger, and BinaryDataService. So: a temporary N8N_USER_FOLDER, silent logging, and
 * binary data in filesystem mode (n8n 2.x's default) under that folder. */
async function n8nEnvironment(): Promise<void> {
	ready ??= (async () => {
		n8nFolder = mkdtempSync(join(tmpdir(), 'infra-ops-n8n-'));
		process.env.N8N_USER_FOLDER = n8nFolder;
		process.env.N8N_LOG_LEVEL ??= 'silent';
		process.env.N8N_DEFAULT_BINARY_DATA_MODE = 'filesystem';
		process.env.N8N_BINARY_DATA_STORAGE_PATH = join(n8nFolder, 'binary-data');
		await Container.get(BinaryDataService).init();
	})();
	return await ready;
}

// each test file has its own module registry, hence its own container and folder
if (typeof afterAll === 'function') {
	afterAll(() => {
		if (n8nFolder) rmSync(n8nFolder, { recursive: true, force: true });
	});
}

let executionCount = 0;

export async function runWorkflow(opts: RunOptions): Promise<RunResult> {
	await n8nEnvironment();
	const json: WorkflowJson =
		typeof opts.workflow === 'string'
			? (JSON.parse(readFileSync(opts.workflow, 'utf8')) as WorkflowJson)
			: structuredClone(opts.workflow);
	const starts = json.nodes.filter((node) => node.type === START_NODE_TYPE);
	if (starts.length !== 1) {
		throw new Error(`The workflow needs one "${START_NODE_TYPE}" node, it has ${starts.length}`);
	}
	const staticData = structuredClone(opts.staticData ?? json.staticData ?? {});
	const workflow = new Workflow({
		id: 'test-workflow',
		name: json.name ?? 'test workflow',
		nodes: json.nodes,
		connections: json.connections,
		settings: json.settings ?? {},
		active: true,
		nodeTypes: new MapNodeTypes({ [START_NODE_TYPE]: new TestStart(), ...opts.nodeTypes }),
		staticData: structuredClone(staticData),
	});

	// n8n's own item normalization (the one behind this.helpers.normalizeItems) also wraps plain objects
	const input = opts.input
		? normalizeItems(structuredClone(opts.input) as INodeExecutionData[])
		: [{ json: {} }];

	const mode = opts.mode ?? 'trigger';
	const executionId = String(++executionCount);
	const workflowData: IWorkflowBase = {
		id: workflow.id,
		name: workflow.name ?? '',
		active: true,
		isArchived: false,
		activeVersionId: null,
		createdAt: new Date(),
		updatedAt: new Date(),
		nodes: json.nodes,
		connections: json.connections,
		settings: json.settings,
		staticData,
	};
	const hooks = new ExecutionLifecycleHooks(mode, executionId, workflowData);
	// n8n saves static data from this hook, and only when the workflow's observable object saw a change
	let savedStaticData: IDataObject | undefined;
	hooks.addHandler('workflowExecuteAfter', (_run, newStaticData) => {
		if (newStaticData) savedStaticData = JSON.parse(JSON.stringify(newStaticData)) as IDataObject;
	});

	const run: IRun = await new WorkflowExecute(
		additionalData(executionId, hooks, new MapCredentialsHelper(opts.credentials ?? {})),
		mode,
		createRunExecutionData({
			executionData: {
				nodeExecutionStack: [
					{ node: workflow.getNode(starts[0].name)!, data: { main: [input] }, source: null },
				],
			},
		}),
	).processRunExecutionData(workflow);

	const outputs: RunResult['outputs'] = {};
	const nodeErrors: RunResult['nodeErrors'] = {};
	for (const [name, tasks] of Object.entries(run.data.resultData.runData)) {
		const last = tasks[tasks.length - 1];
		if (last.error) nodeErrors[name] = toRunError(last.error);
		const main = last.data?.[NodeConnectionTypes.Main];
		if (main) outputs[name] = main.map((items) => items ?? []);
	}
	const failure = run.data.resultData.error;
	const failedNode = nodeErrors[run.data.resultData.lastNodeExecuted ?? ''];
	const error = failure ? (failedNode ?? toRunError(failure)) : undefined;

	return { outputs, error, nodeErrors, staticData: savedStaticData ?? staticData };
}

function toRunError(copy: object): RunError {
	const { message, stack, ...rest } = copy as Error;
	return Object.assign(new Error(message), rest, { stack });
}

/** The bytes of a binary property of an output item, wherever n8n stored them. */
export async function readBinary(binary: IBinaryData): Promise<Buffer> {
	await n8nEnvironment();
	return await Container.get(BinaryDataService).getAsBuffer(binary);
}

function unsupported(what: string) {
	return () => {
		throw new Error(`${what} is not available in the test workflow runner`);
	};
}

/** What the CLI's WorkflowExecuteAdditionalData provides, reduced to what a single workflow run of
 * our nodes needs; sub-workflows, task runners and the REST API are absent. */
function additionalData(
	executionId: string,
	hooks: ExecutionLifecycleHooks,
	credentialsHelper: ICredentialsHelper,
): IWorkflowExecuteAdditionalData {
	const base = 'http://localhost:5678';
	return {
		executionId,
		hooks,
		credentialsHelper,
		externalSecretsProxy: new ExternalSecretsProxy(),
		variables: {},
		currentNodeExecutionIndex: 0,
		restApiUrl: `${base}/rest`,
		instanceBaseUrl: base,
		formBaseUrl: `${base}/form`,
		formWaitingBaseUrl: `${base}/form-waiting`,
		formTestBaseUrl: `${base}/form-test`,
		webhookBaseUrl: `${base}/webhook`,
		webhookWaitingBaseUrl: `${base}/webhook-waiting`,
		webhookTestBaseUrl: `${base}/webhook-test`,
		mcpBaseUrl: `${base}/mcp`,
		mcpTestBaseUrl: `${base}/mcp-test`,
		logAiEvent: () => {},
		getRunExecutionData: async () => undefined,
		getRuntimeCredential: async () => undefined,
		executeWorkflow: unsupported('executeWorkflow'),
		startRunnerTask: unsupported('startRunnerTask'),
	};
}
