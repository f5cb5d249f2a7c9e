import { NodeOperationError } from 'n8n-workflow';
import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { errorMessage, InfraOpsError } from '../../shared/errors';
import { itemsFrom } from '../../shared/items';
import {
	addToDocument,
	buildMiddleware,
	type MiddlewareSpec,
	type SourceCriterionOptions,
} from '../middleware';

const op = 'buildMiddleware';
const showFor = (types: string[]) => ({ show: { operation: [op], middlewareType: types } });

export const description: INodeProperties[] = [
	{
		displayName: 'Middleware Type',
		name: 'middlewareType',
		type: 'options',
		options: [
			{ name: 'Basic Auth', value: 'basicAuth', description: 'Users with bcrypt password hashes' },
			{ name: 'Chain', value: 'chain', description: 'Several middlewares under one name' },
			{ name: 'Compress', value: 'compress' },
			{ name: 'IP Allow List', value: 'ipAllowList' },
			{ name: 'Rate Limit', value: 'rateLimit', description: 'Requests per period per client' },
			{ name: 'Redirect Scheme', value: 'redirectScheme', description: 'HTTP to HTTPS' },
			{
				name: 'Secure Headers',
				value: 'secureHeaders',
				description: 'HSTS, frame, nosniff, referrer policy (Traefik v3 options only)',
			},
		],
		default: 'rateLimit',
		displayOptions: { show: { operation: [op] } },
	},
	{
		displayName: 'Middleware Name',
		name: 'middlewareName',
		type: 'string',
		default: 'general-ratelimit',
		required: true,
		description: 'Routers refer to it by this name (from another provider: name@file)',
		displayOptions: { show: { operation: [op] } },
	},
	{
		displayName: 'Average',
		name: 'average',
		type: 'number',
		default: 100,
		description:
			'Requests allowed per period per source (the review: 100 per minute in general, 10 per minute for APIs)',
		displayOptions: showFor(['rateLimit']),
	},
	{
		displayName: 'Period',
		name: 'period',
		type: 'string',
		default: '1m',
		description: 'Go duration: 1s, 1m, 1h',
		displayOptions: showFor(['rateLimit']),
	},
	{
		displayName: 'Burst',
		name: 'burst',
		type: 'number',
		default: 0,
		description: 'Requests allowed at once; 0 means the same as the average',
		displayOptions: showFor(['rateLimit']),
	},
	{
		displayName: 'Client Identified By',
		name: 'sourceCriterion',
		type: 'options',
		options: [
			{
				name: 'Remote Address',
				value: 'ip',
				description:
					'Right when clients connect directly to Traefik; behind a proxy every client shares one bucket',
			},
			{
				name: 'X-Forwarded-For at Depth',
				value: 'ipDepth',
				description: 'Behind N trusted proxies (Cloudflare: 1)',
			},
			{ name: 'X-Forwarded-For Minus Excluded IPs', value: 'ipExcluded' },
			{
				name: 'Request Header',
				value: 'header',
				description: 'E.g. CF-Connecting-IP behind Cloudflare',
			},
			{ name: 'Request Host', value: 'host', description: 'One bucket per host name' },
		],
		default: 'ip',
		displayOptions: showFor(['rateLimit']),
	},
	{
		displayName: 'Depth',
		name: 'depth',
		type: 'number',
		default: 1,
		displayOptions: {
			show: { operation: [op], middlewareType: ['rateLimit'], sourceCriterion: ['ipDepth'] },
		},
	},
	{
		displayName: 'Excluded IPs',
		name: 'excludedIPs',
		type: 'string',
		default: '',
		placeholder: '173.245.48.0/20, 103.21.244.0/22',
		displayOptions: {
			show: { operation: [op], middlewareType: ['rateLimit'], sourceCriterion: ['ipExcluded'] },
		},
	},
	{
		displayName: 'Header Name',
		name: 'headerName',
		type: 'string',
		default: 'CF-Connecting-IP',
		displayOptions: {
			show: { operation: [op], middlewareType: ['rateLimit'], sourceCriterion: ['header'] },
		},
	},
	{
		displayName: 'Preset',
		name: 'headersPreset',
		type: 'options',
		options: [
			{
				name: 'Strict',
				value: 'strict',
				description: 'HSTS preload, frames denied, no camera/microphone/geolocation',
			},
			{
				name: 'Moderate',
				value: 'moderate',
				description: 'HSTS, same-origin frames (for web UIs that frame themselves)',
			},
		],
		default: 'strict',
		displayOptions: showFor(['secureHeaders']),
	},
	{
		displayName: 'Content Security Policy',
		name: 'contentSecurityPolicy',
		type: 'string',
		default: '',
		placeholder: "default-src 'self'",
		displayOptions: showFor(['secureHeaders']),
	},
	{
		displayName: 'Extra Header Options (JSON)',
		name: 'headerOverrides',
		type: 'json',
		default: '{}',
		description:
			'More options of the v3 headers middleware, e.g. {"accessControlAllowOriginList": ["https://app.example.com"]}',
		displayOptions: showFor(['secureHeaders']),
	},
	{
		displayName: 'Source Range',
		name: 'sourceRange',
		type: 'string',
		default: '',
		placeholder: '10.0.0.0/8, 192.168.1.0/24',
		description: 'Addresses or CIDR ranges allowed, separated by commas or new lines',
		displayOptions: showFor(['ipAllowList']),
	},
	{
		displayName: 'X-Forwarded-For Depth',
		name: 'allowListDepth',
		type: 'number',
		default: 0,
		description:
			'Behind N proxies, the client address is the Nth from the right of X-Forwarded-For; 0 uses the remote address',
		displayOptions: showFor(['ipAllowList']),
	},
	{
		displayName: 'Users',
		name: 'users',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true },
		default: {},
		placeholder: 'Add user',
		displayOptions: showFor(['basicAuth']),
		options: [
			{
				displayName: 'User',
				name: 'user',
				values: [
					{ displayName: 'Name', name: 'name', type: 'string', default: '' },
					{
						displayName: 'Password',
						name: 'password',
						type: 'string',
						typeOptions: { password: true },
						default: '',
						description: 'Hashed with bcrypt; never in the output',
					},
				],
			},
		],
	},
	{
		displayName: 'Realm',
		name: 'realm',
		type: 'string',
		default: '',
		displayOptions: showFor(['basicAuth']),
	},
	{
		displayName: 'Scheme',
		name: 'scheme',
		type: 'options',
		options: [
			{ name: 'HTTPS', value: 'https' },
			{ name: 'HTTP', value: 'http' },
		],
		default: 'https',
		displayOptions: showFor(['redirectScheme']),
	},
	{
		displayName: 'Permanent',
		name: 'permanent',
		type: 'boolean',
		default: true,
		displayOptions: showFor(['redirectScheme']),
	},
	{
		displayName: 'Min Response Body Bytes',
		name: 'minResponseBodyBytes',
		type: 'number',
		default: 1024,
		displayOptions: showFor(['compress']),
	},
	{
		displayName: 'Middlewares',
		name: 'chainMiddlewares',
		type: 'string',
		default: '',
		placeholder: 'general-ratelimit, secure-headers',
		description: 'Names, in order, separated by commas',
		displayOptions: showFor(['chain']),
	},
	{
		displayName: 'Add to Input YAML',
		name: 'combineWithInput',
		type: 'boolean',
		default: false,
		description:
			'Whether to add the middleware to the YAML in the input item\'s "content" field (comments kept), to build one file from several nodes',
		displayOptions: { show: { operation: [op] } },
	},
	{
		displayName: 'File Name',
		name: 'outputFileName',
		type: 'string',
		default: 'infra-ops-middlewares.yml',
		description: 'Put into the output\'s "file" field, for Deploy',
		displayOptions: { show: { operation: [op] } },
	},
];

const list = (text: string) =>
	String(text ?? '')
		.split(/[\s,]+/)
		.map((s) => s.trim())
		.filter(Boolean);

function specOf(context: IExecuteFunctions, i: number): MiddlewareSpec {
	const type = context.getNodeParameter('middlewareType', i) as string;
	switch (type) {
		case 'rateLimit': {
			const kind = context.getNodeParameter('sourceCriterion', i) as SourceCriterionOptions['kind'];
			const source: SourceCriterionOptions = { kind };
			if (kind === 'ipDepth') source.depth = context.getNodeParameter('depth', i) as number;
			if (kind === 'ipExcluded')
				source.excludedIPs = list(context.getNodeParameter('excludedIPs', i) as string);
			if (kind === 'header')
				source.headerName = context.getNodeParameter('headerName', i) as string;
			const burst = context.getNodeParameter('burst', i) as number;
			return {
				type,
				average: context.getNodeParameter('average', i) as number,
				period: context.getNodeParameter('period', i) as string,
				burst: burst > 0 ? burst : undefined,
				source,
			};
		}
		case 'secureHeaders': {
			const raw = context.getNodeParameter('headerOverrides', i, '{}') as string | IDataObject;
			let overrides: IDataObject;
			try {
				overrides = typeof raw === 'string' ? (JSON.parse(raw || '{}') as IDataObject) : raw;
			} catch (error) {
				throw new NodeOperationError(
					context.getNode(),
					`Extra Header Options is not valid JSON: ${errorMessage(error)}`,
					{
						itemIndex: i,
						description: 'E.g. {"accessControlAllowOriginList": ["https://app.example.com"]}',
					},
				);
			}
			return {
				type,
				preset: context.getNodeParameter('headersPreset', i) as 'strict' | 'moderate',
				contentSecurityPolicy:
					(context.getNodeParameter('contentSecurityPolicy', i) as string) || undefined,
				overrides,
			};
		}
		case 'ipAllowList':
			return {
				type,
				sourceRange: list(context.getNodeParameter('sourceRange', i) as string),
				depth: (context.getNodeParameter('allowListDepth', i) as number) || undefined,
			};
		case 'basicAuth': {
			const users = ((context.getNodeParameter('users', i, {}) as IDataObject).user ??
				[]) as Array<{ name: string; password: string }>;
			return {
				type,
				users: users.map((u) => ({ user: u.name, password: u.password })),
				realm: (context.getNodeParameter('realm', i) as string) || undefined,
			};
		}
		case 'redirectScheme':
			return {
				type,
				scheme: context.getNodeParameter('scheme', i) as 'https' | 'http',
				permanent: context.getNodeParameter('permanent', i) as boolean,
			};
		case 'compress':
			return {
				type,
				minResponseBodyBytes: context.getNodeParameter('minResponseBodyBytes', i) as number,
			};
		case 'chain':
			return { type, middlewares: list(context.getNodeParameter('chainMiddlewares', i) as string) };
	}
	throw new InfraOpsError(`Unknown middleware type "${type}"`);
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	const items = this.getInputData();
	return await itemsFrom(this, async (i) => {
		const spec = specOf(this, i);
		const built = buildMiddleware(this.getNodeParameter('middlewareName', i) as string, spec);
		const combine = this.getNodeParameter('combineWithInput', i) as boolean;
		const inputContent = items[i].json.content;
		if (combine && typeof inputContent !== 'string') {
			throw new InfraOpsError(
				'"Add to Input YAML" is on but the input item has no "content" text',
				'Connect the previous Build Middleware node, or turn the option off',
			);
		}
		const combined = combine
			? addToDocument(inputContent as string, built)
			: { yaml: built.yaml, json: built.json, config: built.config };
		const middlewares = [
			...((combine ? (items[i].json.middlewares as string[] | undefined) : undefined) ?? []).filter(
				(m) => m !== built.name,
			),
			built.name,
		];
		return {
			json: {
				file: this.getNodeParameter('outputFileName', i) as string,
				middleware: built.name,
				type: spec.type,
				middlewares,
				content: combined.yaml,
				json: combined.json,
				config: combined.config as IDataObject,
				notes: built.notes,
			},
		};
	});
}
