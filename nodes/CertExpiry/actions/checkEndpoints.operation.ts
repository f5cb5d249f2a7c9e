import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { mapConcurrent } from '../../shared/concurrency';
import { errorMessage } from '../../shared/errors';
import type { NewFinding } from '../../shared/findings';
import { findingsToItems, forEachItem } from '../../shared/items';
import { openNodeState, type NodeState } from '../../shared/nodeState';
import { judgeChain, type Assessment } from '../judge';
import { startTlsForPort, type StartTlsProtocol } from '../startTls';
import { parseTargetList, type Target } from '../targets';
import { probeTls } from '../tlsProbe';
import {
	assessmentFinding,
	CERT_VALUES,
	certificateChangeKeys,
	readThresholds,
	readTimeoutMs,
	thresholdOptions,
} from './common';

const show = { show: { operation: ['checkEndpoints'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Targets',
		name: 'targets',
		type: 'string',
		typeOptions: { rows: 3 },
		default: '',
		required: true,
		placeholder: 'openwebui.example.com, n8n.example.com:443, smtp.example.com:587',
		description:
			'Host[:port] per line or separated by commas; [IPv6]:port; https:// URLs work too. Default port 443.',
		displayOptions: show,
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		displayOptions: show,
		options: [
			{
				displayName: 'Concurrency',
				name: 'concurrency',
				type: 'number',
				default: 50,
				description:
					'How many endpoints to check at once. A stalled endpoint holds its slot until its timeout, so keep this above the number of endpoints that may hang.',
			},
			{
				displayName: 'Connect To',
				name: 'connectTo',
				type: 'string',
				default: '',
				description:
					'Address to connect to instead of resolving the host (e.g. the Traefik host), keeping the host name for SNI and the SAN check',
			},
			{
				displayName: 'IP Version',
				name: 'family',
				type: 'options',
				options: [
					{ name: 'Any', value: 0 },
					{ name: 'IPv4', value: 4 },
					{ name: 'IPv6', value: 6 },
				],
				default: 0,
			},
			{
				displayName: 'SNI Server Name',
				name: 'servername',
				type: 'string',
				default: '',
				description:
					'Server name to send and check the certificate against, when it differs from the host',
			},
			{
				displayName: 'STARTTLS',
				name: 'startTls',
				type: 'options',
				options: [
					{
						name: 'By Port (25/587 SMTP, 143 IMAP, 110 POP3, 21 FTP, 5432 PostgreSQL)',
						value: 'auto',
					},
					{ name: 'None (Direct TLS)', value: 'none' },
					{ name: 'SMTP', value: 'smtp' },
					{ name: 'IMAP', value: 'imap' },
					{ name: 'POP3', value: 'pop3' },
					{ name: 'FTP', value: 'ftp' },
					{ name: 'PostgreSQL', value: 'postgres' },
				],
				default: 'auto',
			},
			{
				displayName: 'Timeout (Seconds)',
				name: 'timeoutSeconds',
				type: 'number',
				default: 10,
				description:
					'Per endpoint: connect, STARTTLS and handshake together. Fractions work (0.5 = 500 ms); must be above 0.',
			},
			...thresholdOptions,
		],
	},
];

interface Job {
	itemIndex: number;
	target: Target;
	options: IDataObject;
	timeoutMs: number;
}

// Endpoints of all items share one concurrency bound: items are read first, then every endpoint is
// probed at once, and each finding goes back to its item's outcome.
export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	// opened before the probes: a shared store dates this run's observation from when it looked
	const state = await openNodeState(this, CERT_VALUES);
	try {
		return await checkAll.call(this, state);
	} finally {
		await state.close();
	}
}

async function checkAll(this: IExecuteFunctions, state: NodeState): Promise<INodeExecutionData[]> {
	const jobs: Job[] = [];
	const outcomes = await forEachItem(this, async (i) => {
		const raw = this.getNodeParameter('targets', i) as unknown;
		const text = Array.isArray(raw) ? raw.join('\n') : String(raw ?? '');
		const targets = parseTargetList(text);
		if (targets.length === 0) throw new Error('No target is set: give at least one host[:port]');
		const options = this.getNodeParameter('options', i, {}) as IDataObject;
		const timeoutMs = readTimeoutMs(options);
		for (const target of targets) jobs.push({ itemIndex: i, target, options, timeoutMs });
		return [];
	});

	const concurrency = Math.max(1, Number(jobs[0]?.options.concurrency ?? 50));
	const assessments = new Map<NewFinding, Assessment>();
	const checked = await mapConcurrent(jobs, concurrency, async (job): Promise<NewFinding> => {
		const { target, options } = job;
		const startTls = String(options.startTls ?? 'auto');
		const protocol: StartTlsProtocol =
			startTls === 'auto' ? startTlsForPort(target.port) : (startTls as StartTlsProtocol);
		const hostname = String(options.servername || '') || target.host;
		try {
			const probe = await probeTls({
				host: target.host,
				port: target.port,
				servername: String(options.servername || '') || undefined,
				connectTo: String(options.connectTo || '') || undefined,
				family: Number(options.family || 0) as 0 | 4 | 6,
				startTls: protocol,
				timeoutMs: job.timeoutMs,
				ca: String(options.customCa || '') || undefined,
			});
			if (probe.chain.length === 0)
				throw new Error('The server completed the handshake without a certificate');
			const assessment = judgeChain({
				chain: probe.chain,
				hostname,
				protocol: probe.protocol,
				trust: { authorized: probe.authorized, error: probe.authorizationError },
				customCa: String(options.customCa || '') || undefined,
				thresholds: readThresholds(options),
				now: new Date(),
			});
			const finding = assessmentFinding('cert-expiry', target.label, assessment, {
				address: probe.address,
				startTls: protocol,
			});
			assessments.set(finding, assessment);
			return finding;
		} catch (error) {
			return {
				check: 'cert-expiry',
				target: target.label,
				status: 'error',
				summary: `${target.label}: ${errorMessage(error)}`,
				startTls: protocol,
			};
		}
	});
	checked.forEach((finding, k) => outcomes[jobs[k].itemIndex].findings?.push(finding));
	return await findingsToItems(
		this,
		outcomes,
		{ beforeMark: certificateChangeKeys(assessments), values: CERT_VALUES },
		state,
	);
}
