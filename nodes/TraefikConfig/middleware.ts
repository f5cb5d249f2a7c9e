/** Builds Traefik v3 middleware definitions from plain options; the output is checked against the
 * structure (schema.ts) before it is returned, so what this module emits always loads. */

import { InfraOpsError } from '../shared/errors';
import { loadBcrypt, loadYaml } from '../shared/lazy';
import {
	checkStructure,
	type DynamicConfig,
	type HeadersMiddleware,
	type HttpMiddleware,
	type RateLimitMiddleware,
} from './schema';

export interface SourceCriterionOptions {
	kind: 'ip' | 'ipDepth' | 'ipExcluded' | 'header' | 'host';
	depth?: number;
	excludedIPs?: string[];
	headerName?: string;
}

export type MiddlewareSpec =
	| {
			type: 'rateLimit';
			average: number;
			period: string;
			burst?: number;
			source?: SourceCriterionOptions;
	  }
	| {
			type: 'secureHeaders';
			preset: 'strict' | 'moderate';
			stsSeconds?: number;
			contentSecurityPolicy?: string;
			frameDeny?: boolean;
			overrides?: HeadersMiddleware;
	  }
	| {
			type: 'ipAllowList';
			sourceRange: string[];
			depth?: number;
			excludedIPs?: string[];
			rejectStatusCode?: number;
	  }
	| {
			type: 'basicAuth';
			users: Array<{ user: string; password: string }>;
			realm?: string;
			removeHeader?: boolean;
	  }
	| { type: 'redirectScheme'; scheme: 'https' | 'http'; permanent?: boolean; port?: string }
	| { type: 'compress'; minResponseBodyBytes?: number; excludedContentTypes?: string[] }
	| { type: 'chain'; middlewares: string[] };

export interface BuiltMiddleware {
	name: string;
	definition: HttpMiddleware;
	/** The dynamic configuration holding only this middleware, ready for a file of the folder. */
	config: DynamicConfig;
	yaml: string;
	json: string;
	notes: string[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

export function checkMiddlewareName(name: string): string {
	const trimmed = name.trim();
	if (!NAME.test(trimmed) || trimmed.includes('@')) {
		throw new InfraOpsError(
			`"${name}" is not a usable middleware name`,
			'Use letters, digits, dots, dashes or underscores, without a provider suffix (@file is added by Traefik): e.g. api-ratelimit',
		);
	}
	return trimmed;
}

function sourceCriterion(
	source: SourceCriterionOptions | undefined,
): RateLimitMiddleware['sourceCriterion'] {
	if (!source || source.kind === 'ip') return undefined;
	switch (source.kind) {
		case 'ipDepth': {
			const depth = Number(source.depth);
			if (!Number.isInteger(depth) || depth < 1) {
				throw new InfraOpsError(
					`IP depth ${source.depth} is not a positive whole number`,
					'Depth 1 is the last proxy in X-Forwarded-For (e.g. one Cloudflare hop); 2 for Cloudflare and another proxy',
				);
			}
			return { ipStrategy: { depth } };
		}
		case 'ipExcluded': {
			const excludedIPs = (source.excludedIPs ?? []).map((s) => s.trim()).filter(Boolean);
			if (excludedIPs.length === 0)
				throw new InfraOpsError(
					'No excluded IPs are set',
					"List the proxies' addresses or ranges (e.g. Cloudflare's published ranges)",
				);
			return { ipStrategy: { excludedIPs } };
		}
		case 'header': {
			const name = (source.headerName ?? '').trim();
			if (!/^[A-Za-z0-9-]+$/.test(name))
				throw new InfraOpsError(
					`"${source.headerName ?? ''}" is not an HTTP header name`,
					'E.g. CF-Connecting-IP behind Cloudflare',
				);
			return { requestHeaderName: name };
		}
		case 'host':
			return { requestHost: true };
	}
}

/** Traefik's period is a Go duration; a bare number means seconds. */
function normalisePeriod(period: string): string {
	const text = String(period).trim();
	if (/^\d+$/.test(text)) return `${text}s`;
	if (!DURATION.test(text))
		throw new InfraOpsError(
			`Period "${period}" is not a duration`,
			'Use Go duration syntax: 1s, 1m, 10m, 1h',
		);
	return text;
}

/** Options the v3 headers middleware no longer has (v2 → v3 migration guide); SchemaStore still lists them. */
export const V3_REMOVED_HEADER_OPTIONS = [
	'sslRedirect',
	'sslTemporaryRedirect',
	'sslHost',
	'sslForceHost',
	'featurePolicy',
];

const SECURE_HEADER_PRESETS: Record<'strict' | 'moderate', HeadersMiddleware> = {
	strict: {
		stsSeconds: 31536000,
		stsIncludeSubdomains: true,
		stsPreload: true,
		forceSTSHeader: true,
		frameDeny: true,
		contentTypeNosniff: true,
		browserXssFilter: true,
		referrerPolicy: 'strict-origin-when-cross-origin',
		permissionsPolicy: 'camera=(), microphone=(), geolocation=(), payment=()',
		customResponseHeaders: { 'X-Powered-By': '', Server: '' },
	},
	// Web UIs such as n8n's editor or Open WebUI embed themselves in frames of the same origin
	moderate: {
		stsSeconds: 31536000,
		stsIncludeSubdomains: true,
		forceSTSHeader: true,
		customFrameOptionsValue: 'SAMEORIGIN',
		contentTypeNosniff: true,
		browserXssFilter: true,
		referrerPolicy: 'strict-origin-when-cross-origin',
		customResponseHeaders: { 'X-Powered-By': '' },
	},
};

function definitionOf(spec: MiddlewareSpec, notes: string[]): HttpMiddleware {
	switch (spec.type) {
		case 'rateLimit': {
			const average = Number(spec.average);
			if (!Number.isInteger(average) || average < 1)
				throw new InfraOpsError(
					`Average ${spec.average} is not a positive whole number`,
					'E.g. 100 requests per period of 1m',
				);
			const burst = spec.burst === undefined || spec.burst === null ? average : Number(spec.burst);
			if (!Number.isInteger(burst) || burst < 1)
				throw new InfraOpsError(`Burst ${spec.burst} is not a positive whole number`);
			const rateLimit: RateLimitMiddleware = {
				average,
				period: normalisePeriod(spec.period),
				burst,
			};
			const criterion = sourceCriterion(spec.source);
			if (criterion) rateLimit.sourceCriterion = criterion;
			else
				notes.push(
					'No source criterion: Traefik keys on the remote address. Behind Cloudflare or another proxy every client shares one bucket; set the IP depth (or the CF-Connecting-IP header).',
				);
			return { rateLimit };
		}
		case 'secureHeaders': {
			const headers: HeadersMiddleware = { ...SECURE_HEADER_PRESETS[spec.preset] };
			if (spec.stsSeconds !== undefined) headers.stsSeconds = Number(spec.stsSeconds);
			if (spec.contentSecurityPolicy) headers.contentSecurityPolicy = spec.contentSecurityPolicy;
			if (spec.frameDeny !== undefined && spec.preset === 'strict')
				headers.frameDeny = spec.frameDeny;
			const overrides = spec.overrides ?? {};
			const removed = Object.keys(overrides).filter((k) => V3_REMOVED_HEADER_OPTIONS.includes(k));
			if (removed.length > 0) {
				throw new InfraOpsError(
					`${removed.join(', ')} ${removed.length === 1 ? 'was' : 'were'} removed from the headers middleware in Traefik v3`,
					"Redirect to HTTPS with a redirectScheme middleware (or the entry point's redirections); use permissionsPolicy instead of featurePolicy",
				);
			}
			return { headers: { ...headers, ...overrides } };
		}
		case 'ipAllowList': {
			const sourceRange = spec.sourceRange.map((s) => s.trim()).filter(Boolean);
			if (sourceRange.length === 0)
				throw new InfraOpsError(
					'The allow list is empty',
					'List addresses or CIDR ranges, e.g. 10.0.0.0/8, 192.168.1.0/24',
				);
			for (const range of sourceRange) {
				if (!/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(range))
					throw new InfraOpsError(`"${range}" is not an IP address or CIDR range`);
			}
			const ipAllowList: NonNullable<
				Extract<HttpMiddleware, { ipAllowList?: unknown }>['ipAllowList']
			> = { sourceRange };
			if (spec.depth) ipAllowList.ipStrategy = { depth: Number(spec.depth) };
			else if (spec.excludedIPs?.length) ipAllowList.ipStrategy = { excludedIPs: spec.excludedIPs };
			if (spec.rejectStatusCode) ipAllowList.rejectStatusCode = Number(spec.rejectStatusCode);
			return { ipAllowList };
		}
		case 'basicAuth': {
			if (spec.users.length === 0) throw new InfraOpsError('No users are set for basic auth');
			const users = spec.users.map(({ user, password }) => {
				if (!user || user.includes(':'))
					throw new InfraOpsError(
						`"${user}" is not a usable user name`,
						'A user name must not be empty or contain ":"',
					);
				if (!password || password.length < 8)
					throw new InfraOpsError(`The password of ${user} is shorter than 8 characters`);
				// bcrypt is what Traefik recommends; `$` must not be doubled in a file (only in Docker labels)
				return `${user}:${loadBcrypt().hashSync(password, 10)}`;
			});
			return {
				basicAuth: {
					users,
					...(spec.realm ? { realm: spec.realm } : {}),
					...(spec.removeHeader ? { removeHeader: true } : {}),
				},
			};
		}
		case 'redirectScheme':
			return {
				redirectScheme: {
					scheme: spec.scheme,
					permanent: spec.permanent ?? true,
					...(spec.port ? { port: String(spec.port) } : {}),
				},
			};
		case 'compress': {
			const compress: NonNullable<Extract<HttpMiddleware, { compress?: unknown }>['compress']> = {};
			if (spec.minResponseBodyBytes)
				compress.minResponseBodyBytes = Number(spec.minResponseBodyBytes);
			if (spec.excludedContentTypes?.length)
				compress.excludedContentTypes = spec.excludedContentTypes;
			return { compress };
		}
		case 'chain': {
			const middlewares = spec.middlewares.map((m) => m.trim()).filter(Boolean);
			if (middlewares.length === 0)
				throw new InfraOpsError('A chain needs at least one middleware');
			return { chain: { middlewares: middlewares as [string, ...string[]] } };
		}
	}
}

export function buildMiddleware(name: string, spec: MiddlewareSpec): BuiltMiddleware {
	const checked = checkMiddlewareName(name);
	const notes: string[] = [];
	const definition = definitionOf(spec, notes);
	const config: DynamicConfig = { http: { middlewares: { [checked]: definition } } };
	const problems = checkStructure(config);
	if (problems.length > 0) {
		throw new InfraOpsError(
			`The ${spec.type} middleware "${checked}" would not load: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`,
			'Fix the option named in the message',
		);
	}
	return {
		name: checked,
		definition,
		config,
		yaml: loadYaml().stringify(config),
		json: JSON.stringify(config, null, 2),
		notes,
	};
}

/** Several middlewares in one configuration (one file). */
export function combineMiddlewares(built: BuiltMiddleware[]): {
	config: DynamicConfig;
	yaml: string;
	json: string;
} {
	const middlewares: Record<string, HttpMiddleware> = {};
	for (const b of built) {
		if (middlewares[b.name]) throw new InfraOpsError(`Two middlewares are named "${b.name}"`);
		middlewares[b.name] = b.definition;
	}
	const config: DynamicConfig = { http: { middlewares } };
	return { config, yaml: loadYaml().stringify(config), json: JSON.stringify(config, null, 2) };
}

/** Adds (or replaces) the middleware in existing YAML, keeping its comments and order. */
export function addToDocument(
	yamlText: string,
	built: BuiltMiddleware,
): { config: DynamicConfig; yaml: string; json: string } {
	const doc = loadYaml().parseDocument(yamlText);
	if (doc.errors.length > 0)
		throw new InfraOpsError(
			`The input YAML does not parse: ${doc.errors[0].message.split('\n')[0]}`,
		);
	doc.setIn(['http', 'middlewares', built.name], doc.createNode(built.definition));
	const config = doc.toJS() as DynamicConfig;
	return { config, yaml: doc.toString({ lineWidth: 0 }), json: JSON.stringify(config, null, 2) };
}
