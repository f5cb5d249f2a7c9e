/** Parameters the operations share (how Trivy runs, the policy). */
import type { IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import { sshConnectionFrom } from '../../shared/connections';
import { createDockerClient, pingDocker, type DockerClient } from '../../shared/docker';
import { InfraOpsError } from '../../shared/errors';
import { dockerCredential } from '../../shared/nodeCredentials';
import { toNodeError } from '../../shared/nodeErrors';
import { openSsh } from '../../shared/ssh';
import { parseSeverities, validateIgnoreRules, type IgnoreRule, type Policy } from '../assess';
import { CONTAINER_CACHE_DIR, DEFAULT_TRIVY_IMAGE, DockerTrivyRunner } from '../dockerRunner';
import { LocalTrivyRunner } from '../localRunner';
import { SshTrivyRunner } from '../sshRunner';
import { trivyServerUrl, type TrivyRunner, type TrivyScanOptions } from '../trivyRun';

export const SCAN_OPERATIONS = ['scanImages', 'scanRunningContainers'];
const scans = { show: { operation: SCAN_OPERATIONS } };

export const runnerProperties: INodeProperties[] = [
	{
		displayName: 'Run Trivy',
		name: 'runner',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'In Docker',
				value: 'docker',
				description:
					'As a container through the Docker Engine API (Docker credential), the socket mounted read-only, a volume as its cache',
			},
			{
				name: 'Over SSH',
				value: 'ssh',
				description: 'The trivy binary on a remote host (SSH credential)',
			},
			{ name: 'On the N8n Host', value: 'local', description: 'The trivy binary where n8n runs' },
		],
		default: 'docker',
		displayOptions: scans,
	},
	{
		displayName: 'Trivy Image',
		name: 'trivyImage',
		type: 'string',
		default: DEFAULT_TRIVY_IMAGE,
		description:
			'Used when it is on the Docker host; pulled only when it is not. Pin a version you have tested.',
		displayOptions: { show: { operation: SCAN_OPERATIONS, runner: ['docker'] } },
	},
	{
		displayName: 'Trivy Path',
		name: 'trivyPath',
		type: 'string',
		default: 'trivy',
		description: 'The trivy program: a name on PATH or an absolute path',
		displayOptions: { show: { operation: SCAN_OPERATIONS, runner: ['ssh', 'local'] } },
	},
	{
		displayName: 'Use Trivy Server',
		name: 'useServer',
		type: 'boolean',
		default: false,
		description:
			'Whether to scan in client/server mode (--server) against a Trivy server that holds the vulnerability DB; its URL and token come from the Trivy Server credential',
		displayOptions: scans,
	},
];

export const policyProperties: INodeProperties[] = [
	{
		displayName: 'Severities',
		name: 'severities',
		type: 'multiOptions',
		options: [
			{ name: 'Critical', value: 'CRITICAL' },
			{ name: 'High', value: 'HIGH' },
			{ name: 'Medium', value: 'MEDIUM' },
			{ name: 'Low', value: 'LOW' },
			{ name: 'Unknown', value: 'UNKNOWN' },
		],
		default: ['HIGH', 'CRITICAL'],
		description:
			'Which severities count; any CRITICAL makes the finding critical, the others a warning',
	},
	{
		displayName: 'Ignore List',
		name: 'ignoreList',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true },
		placeholder: 'Add CVE to ignore',
		default: {},
		description:
			'Accepted risks: left out of counts and alerts until their expiry date, after which they alert again',
		options: [
			{
				displayName: 'Rule',
				name: 'rules',
				values: [
					{
						displayName: 'Vulnerability ID',
						name: 'id',
						type: 'string',
						default: '',
						placeholder: 'CVE-2024-3094',
					},
					{
						displayName: 'Reason',
						name: 'reason',
						type: 'string',
						default: '',
						placeholder: 'Not reachable: the binary is not used',
					},
					{
						displayName: 'Expires',
						name: 'expires',
						type: 'string',
						default: '',
						placeholder: '2026-12-31',
						description: 'YYYY-MM-DD; empty ignores it with no end',
					},
				],
			},
		],
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		options: [
			{
				displayName: 'Cache Volume',
				name: 'cacheVolume',
				type: 'string',
				default: 'trivy-cache',
				description: "Named volume for Trivy's DB in Docker mode, kept between runs",
			},
			{
				displayName: 'Concurrency',
				name: 'concurrency',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 2,
				description:
					"How many images are scanned at once. Above 1, each scan keeps Trivy's scan cache in memory (Trivy lets one process at a time use the one on disk), and the first scan runs alone to update the DB.",
			},
			{
				displayName: 'Container Label Filter',
				name: 'containerLabel',
				type: 'string',
				default: '',
				placeholder: 'com.docker.compose.project=ai-stack',
				description: 'Scan Running Containers: only containers with this label (key or key=value)',
			},
			{
				displayName: 'Docker Socket on Host',
				name: 'hostSocketPath',
				type: 'string',
				default: '',
				placeholder: '/var/run/docker.sock',
				description:
					"Docker mode: the socket path on the Docker host, mounted read-only into Trivy. Empty: the Docker credential's socket path, else /var/run/docker.sock.",
			},
			{
				displayName: 'Ignore Unfixed',
				name: 'ignoreUnfixed',
				type: 'boolean',
				default: false,
				description: 'Whether to leave out vulnerabilities with no fixed version yet',
			},
			{
				displayName: 'Network Mode',
				name: 'networkMode',
				type: 'string',
				default: '',
				placeholder: 'host',
				description:
					"Docker mode: network of the Trivy container (it downloads its DB unless Skip DB Update or a server is used). Empty: the engine's default.",
			},
			{
				displayName: 'One Item per Vulnerability',
				name: 'perVulnerability',
				type: 'boolean',
				default: false,
				description:
					'Whether to also output one item per vulnerability and package, after the image findings',
			},
			{
				displayName: 'Skip DB Update',
				name: 'skipDbUpdate',
				type: 'boolean',
				default: false,
				description:
					'Whether Trivy uses the DB already in its cache instead of downloading it (--skip-db-update)',
			},
			{
				displayName: 'Timeout per Image (Minutes)',
				name: 'timeoutMinutes',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 10,
			},
			{
				displayName: 'Top CVEs',
				name: 'topCves',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 10,
				description: 'How many CVEs each image finding lists (most severe, fixable first)',
			},
		],
	},
];

export function readPolicy(ctx: IExecuteFunctions, i: number): Policy {
	const options = ctx.getNodeParameter('options', i, {}) as IDataObject;
	const rules = ((ctx.getNodeParameter('ignoreList', i, {}) as IDataObject).rules ??
		[]) as IgnoreRule[];
	return {
		severities: parseSeverities(
			ctx.getNodeParameter('severities', i, ['HIGH', 'CRITICAL']) as string[],
		),
		ignoreUnfixed: options.ignoreUnfixed === true,
		ignore: validateIgnoreRules(rules),
		topN: Number(options.topCves ?? 10),
		now: new Date(),
	};
}

export interface Scanner {
	runner: TrivyRunner;
	options: TrivyScanOptions;
	token?: string;
	concurrency: number;
	close(): void;
}

/** Opens the Docker client once; Docker mode and Scan Running Containers share it. */
export async function openDocker(
	ctx: IExecuteFunctions,
	i: number,
): Promise<{ client: DockerClient; socketPath?: string }> {
	const conn = await dockerCredential(
		ctx,
		i,
		'Scan Running Containers and Trivy in Docker need a Docker Engine (Infra Ops) credential; for Scan Images, Trivy can also run over SSH or on the n8n host',
	);
	const client = await createDockerClient(conn);
	try {
		await pingDocker(client);
	} catch (error) {
		client.close();
		throw toNodeError(ctx.getNode(), error, i);
	}
	return { client, socketPath: conn.kind === 'socket' ? conn.socketPath : undefined };
}

export async function openScanner(
	ctx: IExecuteFunctions,
	i: number,
	policy: Policy,
	docker: () => Promise<{ client: DockerClient; socketPath?: string }>,
): Promise<Scanner> {
	const options = ctx.getNodeParameter('options', i, {}) as IDataObject;
	const runnerKind = ctx.getNodeParameter('runner', i) as string;
	let serverUrl: string | undefined;
	let token: string | undefined;
	if (ctx.getNodeParameter('useServer', i, false)) {
		const server = await ctx.getCredentials('infraOpsTrivyServerApi', i);
		serverUrl = trivyServerUrl(String(server.url ?? ''));
		token = String(server.token ?? '') || undefined;
	}
	const scanOptions: TrivyScanOptions = {
		severities: policy.severities,
		ignoreUnfixed: policy.ignoreUnfixed,
		skipDbUpdate: options.skipDbUpdate === true,
		serverUrl,
		timeoutSeconds: Math.max(1, Number(options.timeoutMinutes ?? 10)) * 60,
	};
	const concurrency = Math.max(1, Math.floor(Number(options.concurrency ?? 2)));
	let runner: TrivyRunner;
	if (runnerKind === 'docker') {
		const { client, socketPath } = await docker();
		const dockerRunner = new DockerTrivyRunner(
			client.docker,
			{
				trivyImage:
					String(ctx.getNodeParameter('trivyImage', i, DEFAULT_TRIVY_IMAGE)).trim() ||
					DEFAULT_TRIVY_IMAGE,
				hostSocketPath:
					String(options.hostSocketPath ?? '').trim() || socketPath || '/var/run/docker.sock',
				cacheVolume: String(options.cacheVolume ?? '').trim() || 'trivy-cache',
				networkMode: String(options.networkMode ?? '').trim() || undefined,
			},
			client.target,
		);
		await dockerRunner.prepare();
		runner = dockerRunner;
		scanOptions.cacheDir = CONTAINER_CACHE_DIR;
	} else if (runnerKind === 'ssh') {
		runner = new SshTrivyRunner(
			await openSsh(sshConnectionFrom(await ctx.getCredentials('infraOpsSshApi', i))),
			trivyPathParameter(ctx, i),
		);
	} else if (runnerKind === 'local') {
		runner = new LocalTrivyRunner(trivyPathParameter(ctx, i));
	} else {
		throw new InfraOpsError(`Unknown way to run Trivy "${runnerKind}"`);
	}
	return { runner, options: scanOptions, token, concurrency, close: () => runner.close() };
}

function trivyPathParameter(ctx: IExecuteFunctions, i: number): string {
	const path = String(ctx.getNodeParameter('trivyPath', i, 'trivy')).trim() || 'trivy';
	if (!/^[A-Za-z0-9_./+-]+$/.test(path) || path.startsWith('-')) {
		throw new InfraOpsError(
			`Trivy Path "${path}" is not a program name or path`,
			'Use e.g. trivy or /usr/local/bin/trivy (no spaces or quotes)',
		);
	}
	return path;
}
