import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { mapConcurrent } from '../../shared/concurrency';
import { sshConnectionFrom } from '../../shared/connections';
import { errorMessage } from '../../shared/errors';
import type { NewFinding } from '../../shared/findings';
import { itemsFrom } from '../../shared/items';
import { withSsh } from '../../shared/ssh';
import { parseAcmeJson } from '../acmeJson';
import { judgeChain, type Assessment } from '../judge';
import { probeTls } from '../tlsProbe';
import {
	assessmentFinding,
	CERT_VALUES,
	certificateChangeKeys,
	readThresholds,
	readTimeoutMs,
	thresholdOptions,
} from './common';

const show = { show: { operation: ['checkAcmeJson'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Source',
		name: 'source',
		type: 'options',
		options: [
			{
				name: 'File Over SSH',
				value: 'ssh',
				description: 'Read the file on the Traefik host (read only)',
			},
			{
				name: 'Binary Input',
				value: 'binary',
				description: 'An acme.json already read by an earlier node',
			},
		],
		default: 'ssh',
		displayOptions: show,
	},
	{
		displayName: 'Path',
		name: 'path',
		type: 'string',
		default: '/opt/traefik-stack/letsencrypt/acme.json',
		description:
			'The storage file of certificatesResolvers.<name>.acme.storage; the SSH user needs read access',
		displayOptions: { show: { operation: ['checkAcmeJson'], source: ['ssh'] } },
	},
	{
		displayName: 'Input Binary Field',
		name: 'binaryPropertyName',
		type: 'string',
		default: 'data',
		displayOptions: { show: { operation: ['checkAcmeJson'], source: ['binary'] } },
	},
	{
		displayName: 'Options',
		name: 'acmeOptions',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		displayOptions: show,
		options: [
			{
				displayName: 'Compare With Served Certificate',
				name: 'compareServed',
				type: 'boolean',
				default: false,
				description:
					'Whether to connect to each domain and warn when the file holds a renewed certificate but the endpoint still serves the old one',
			},
			{
				displayName: 'Connect To',
				name: 'connectTo',
				type: 'string',
				default: '',
				description: 'Address of Traefik for the comparison (default: resolve each domain)',
			},
			{
				displayName: 'Port',
				name: 'port',
				type: 'number',
				default: 443,
				description: "Port of Traefik's TLS entry point for the comparison",
			},
			{
				displayName: 'Timeout (Seconds)',
				name: 'timeoutSeconds',
				type: 'number',
				default: 10,
				description:
					'Per domain, for the comparison. Fractions work (0.5 = 500 ms); must be above 0.',
			},
			...thresholdOptions,
		],
	},
];

async function readAcmeJson(
	context: IExecuteFunctions,
	i: number,
): Promise<{ text: string; source: string }> {
	if (context.getNodeParameter('source', i) === 'binary') {
		const property = context.getNodeParameter('binaryPropertyName', i) as string;
		context.helpers.assertBinaryData(i, property);
		return {
			text: (await context.helpers.getBinaryDataBuffer(i, property)).toString('utf8'),
			source: `binary field "${property}"`,
		};
	}
	const path = context.getNodeParameter('path', i) as string;
	const connection = sshConnectionFrom(await context.getCredentials('infraOpsSshApi', i));
	const buffer = await withSsh(
		connection,
		async (session) => await session.readFile(path, 16 * 1024 * 1024),
	);
	return { text: buffer.toString('utf8'), source: `${connection.host}:${path}` };
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	const assessments = new Map<NewFinding, Assessment>();
	return await itemsFrom(
		this,
		async (i) => {
			const options = this.getNodeParameter('acmeOptions', i, {}) as IDataObject;
			const timeoutMs = readTimeoutMs(options);
			const { text, source } = await readAcmeJson(this, i);
			const contents = parseAcmeJson(text, source);
			const findings: NewFinding[] = [];
			// one bad entry must not hide the others: it becomes its own error finding
			for (const failure of contents.failures) {
				const target = `${failure.resolver}/${failure.domain ?? `#${failure.index ?? '?'}`}`;
				findings.push({
					check: 'cert-acme',
					target,
					status: 'error',
					summary: `${target}: ${failure.message}`,
					resolver: failure.resolver,
					domain: failure.domain,
					entry: failure.index,
					source,
				});
			}
			if (contents.certificates.length === 0 && contents.failures.length === 0) {
				findings.push({
					check: 'cert-acme',
					target: source,
					status: 'warning',
					summary: `no certificates in ${source}: unknown layout or empty`,
					source,
					layout: contents.layout,
				});
			}
			const thresholds = readThresholds(options);
			const now = new Date();
			const checked = await mapConcurrent(
				contents.certificates,
				10,
				async (cert): Promise<NewFinding> => {
					const target = `${cert.resolver}/${cert.domain}`;
					const extra: IDataObject = {
						resolver: cert.resolver,
						domain: cert.domain,
						requestedSans: cert.sans,
						source,
						layout: contents.layout,
					};
					let served: { fingerprint256: string; notAfter: Date } | undefined;
					if (options.compareServed) {
						try {
							const probe = await probeTls({
								host: cert.domain,
								port: Number(options.port || 443),
								connectTo: String(options.connectTo || '') || undefined,
								startTls: 'none',
								timeoutMs,
							});
							const leaf = probe.chain[0];
							if (leaf) {
								served = { fingerprint256: leaf.fingerprint256, notAfter: leaf.validToDate };
								extra.servedFingerprint256 = leaf.fingerprint256;
								extra.servedNotAfter = leaf.validToDate.toISOString();
							}
						} catch (error) {
							extra.servedError = errorMessage(error);
						}
					}
					const assessment = judgeChain({
						chain: cert.chain,
						hostname: cert.domain,
						alsoNames: cert.sans,
						thresholds,
						now,
						customCa: String(options.customCa || '') || undefined,
						served,
					});
					const finding = assessmentFinding('cert-acme', target, assessment, extra);
					assessments.set(finding, assessment);
					return finding;
				},
			);
			findings.push(...checked);
			return findings;
		},
		{ beforeMark: certificateChangeKeys(assessments), values: CERT_VALUES },
	);
}
