/**
 * Structure check of Traefik v3 dynamic configuration (file provider), without a JSON-schema engine
 * at runtime. The shapes below follow SchemaStore's traefik-v3-file-provider schema; each object
 * shape is keyed by the properties of that schema's published TypeScript types, so `tsc` fails when
 * a property is missing here or named wrongly. test/unit/traefikSchema.test.ts runs this validator
 * and ajv with the schema itself over valid and broken configurations and expects the same verdicts.
 *
 * Deliberate differences (the schema's known gaps, where Traefik v3 accepts more):
 * `rateLimit.redis` (Traefik ≥ 3.4) and `ipStrategy.ipv6Subnet` (Traefik ≥ 3.1).
 */
import type {
	AddPrefixMiddleware,
	BasicAuthMiddleware,
	BufferingMiddleware,
	ChainMiddleware,
	CircuitBreakerMiddleware,
	CompressMiddleware,
	ContentTypeMiddleware,
	DigestAuthMiddleware,
	ErrorsMiddleware,
	ForwardAuthMiddleware,
	GrpcWebMiddleware,
	HeadersMiddleware,
	HttpFailoverService,
	HttpLoadBalancerService,
	HttpMiddleware,
	HttpMirroringService,
	HttpRouter,
	HttpService,
	HttpsJsonSchemastoreOrgTraefikV3FileProviderJson as DynamicConfig,
	HttpWeightedService,
	InFlightReqMiddleware,
	IpAllowListMiddleware,
	IpStrategy,
	IpWhiteListMiddleware,
	PassTLSClientCertMiddleware,
	RateLimitMiddleware,
	RedirectRegexMiddleware,
	RedirectSchemeMiddleware,
	ReplacePathMiddleware,
	ReplacePathRegexMiddleware,
	RetryMiddleware,
	SourceCriterion,
	StripPrefixMiddleware,
	StripPrefixRegexMiddleware,
	TcpLoadBalancerService,
	TcpRouter,
	TcpService,
	TcpWeightedService,
	UdpLoadBalancerService,
	UdpRouter,
	UdpService,
	UdpWeightedService,
} from '@schemastore/traefik-v3-file-provider';

export type { DynamicConfig, HttpMiddleware, HttpRouter, RateLimitMiddleware, HeadersMiddleware };

type Shape =
	| { kind: 'string' }
	| { kind: 'boolean' }
	| { kind: 'number'; integer?: boolean; minimum?: number; maximum?: number }
	| { kind: 'stringOrNumber' }
	| { kind: 'array'; items: Shape; minItems?: number }
	| {
			kind: 'object';
			props: Record<string, Shape>;
			required?: string[];
			/** false: unknown keys are an error; a shape: they must match it; undefined: anything goes. */
			additional?: Shape | false;
			/** Keys matching this pattern must match `patternShape` (JSON schema patternProperties, unanchored). */
			keyPattern?: RegExp;
			patternShape?: Shape;
			/** Accepted beyond the schema (its known gaps), never reported. */
			extraAllowed?: string[];
	  }
	/** Exactly one of the keys (the schema's oneOf of single-property objects). */
	| { kind: 'oneKey'; what: string; of: Record<string, Shape> };

/** The named properties of a schemastore type, without its `[k: string]: unknown` index signature. */
type KnownKeys<T> = keyof { [K in keyof T as string extends K ? never : K]: T[K] };
type KeysOfUnion<T> = T extends unknown ? KnownKeys<T> : never;
type PropsOf<T> = { [K in KnownKeys<NonNullable<T>>]-?: Shape };

const str: Shape = { kind: 'string' };
const bool: Shape = { kind: 'boolean' };
const num: Shape = { kind: 'number' };
const int: Shape = { kind: 'number', integer: true };
const strings: Shape = { kind: 'array', items: str };
const stringMap: Shape = { kind: 'object', props: {}, additional: str };
const openObject: Shape = { kind: 'object', props: {} };

function closed<T>(props: PropsOf<T>, required: Array<KnownKeys<NonNullable<T>>> = [], extraAllowed: string[] = []): Shape {
	return { kind: 'object', props: props as Record<string, Shape>, required: required as string[], additional: false, extraAllowed };
}
function open<T>(props: PropsOf<T>, required: Array<KnownKeys<NonNullable<T>>> = []): Shape {
	return { kind: 'object', props: props as Record<string, Shape>, required: required as string[] };
}
function oneKey<T>(what: string, of: { [K in KeysOfUnion<NonNullable<T>>]-?: Shape }): Shape {
	return { kind: 'oneKey', what, of: of as Record<string, Shape> };
}
const mapOf = (shape: Shape): Shape => ({ kind: 'object', props: {}, additional: shape });

const ipStrategy = closed<IpStrategy>({ depth: int, excludedIPs: strings }, [], ['ipv6Subnet']);
const sourceCriterion = closed<SourceCriterion>({ ipStrategy, requestHeaderName: str, requestHost: bool });
const domains: Shape = { kind: 'array', items: { kind: 'object', props: { main: str, sans: strings } } };
const sticky: Shape = {
	kind: 'object',
	props: { cookie: { kind: 'object', props: { name: str, secure: bool, httpOnly: bool, sameSite: str } } },
};

const httpRouter = closed<HttpRouter>(
	{
		entryPoints: strings,
		rule: str,
		ruleSyntax: str,
		priority: { kind: 'number', integer: true, minimum: 0 },
		middlewares: strings,
		service: str,
		tls: { kind: 'object', props: { options: str, certResolver: str, domains } },
	},
	['rule', 'service'],
);

const httpLoadBalancer = closed<HttpLoadBalancerService>(
	{
		servers: { kind: 'array', minItems: 1, items: { kind: 'object', props: { url: str }, required: ['url'] } },
		sticky,
		healthCheck: {
			kind: 'object',
			props: { method: str, path: str, scheme: str, hostname: str, port: int, interval: str, timeout: str, headers: stringMap, followRedirects: bool },
		},
		passHostHeader: bool,
		responseForwarding: { kind: 'object', props: { flushInterval: str } },
		serversTransport: str,
	},
	['servers'],
);

const httpService = oneKey<HttpService>('service type', {
	loadBalancer: httpLoadBalancer,
	weighted: closed<HttpWeightedService>({
		services: { kind: 'array', items: { kind: 'object', props: { name: str, weight: num } } },
		sticky,
		healthCheck: openObject,
	}),
	mirroring: closed<HttpMirroringService>({
		service: str,
		maxBodySize: int,
		mirrors: { kind: 'array', items: { kind: 'object', props: { name: str, percent: { kind: 'number', minimum: 0, maximum: 100 } } } },
		healthCheck: openObject,
	}),
	failover: closed<HttpFailoverService>({ service: str, fallback: str, healthCheck: openObject }),
});

const subjectInfo: Shape = {
	kind: 'object',
	props: { country: bool, province: bool, locality: bool, organization: bool, commonName: bool, serialNumber: bool, domainComponent: bool },
};

const httpMiddleware = oneKey<HttpMiddleware>('middleware type', {
	addPrefix: closed<AddPrefixMiddleware>({ prefix: str }),
	basicAuth: open<BasicAuthMiddleware>({ users: strings, usersFile: str, realm: str, headerField: str, removeHeader: bool }),
	buffering: closed<BufferingMiddleware>({
		maxRequestBodyBytes: int,
		memRequestBodyBytes: int,
		maxResponseBodyBytes: int,
		memResponseBodyBytes: int,
		retryExpression: str,
	}),
	chain: closed<ChainMiddleware>({ middlewares: { kind: 'array', items: str, minItems: 1 } }),
	circuitBreaker: closed<CircuitBreakerMiddleware>({ expression: str, checkPeriod: str, fallbackDuration: str, recoveryDuration: str, responseCode: int }),
	compress: closed<CompressMiddleware>({
		excludedContentTypes: strings,
		minResponseBodyBytes: int,
		defaultEncoding: str,
		includedContentTypes: strings,
		encodings: strings,
	}),
	contentType: closed<ContentTypeMiddleware>({ autoDetect: bool }),
	digestAuth: closed<DigestAuthMiddleware>({ users: strings, usersFile: str, realm: str, headerField: str, removeHeader: bool }),
	errors: closed<ErrorsMiddleware>({ status: strings, service: str, query: str }),
	forwardAuth: closed<ForwardAuthMiddleware>({
		address: str,
		tls: { kind: 'object', props: { ca: str, cert: str, key: str, insecureSkipVerify: bool } },
		trustForwardHeader: bool,
		authResponseHeaders: strings,
		authResponseHeadersRegex: str,
		authRequestHeaders: strings,
		addAuthCookiesToResponse: strings,
		forwardBody: bool,
		maxBodySize: num,
		maxResponseBodySize: num,
		headerField: str,
		preserveLocationHeader: bool,
		preserveRequestMethod: bool,
	}),
	grpcWeb: closed<GrpcWebMiddleware>({ allowOrigins: strings }),
	headers: closed<HeadersMiddleware>({
		customRequestHeaders: stringMap,
		customResponseHeaders: stringMap,
		accessControlAllowCredentials: bool,
		accessControlAllowHeaders: strings,
		accessControlAllowMethods: strings,
		accessControlAllowOriginList: strings,
		accessControlAllowOriginListRegex: strings,
		accessControlExposeHeaders: strings,
		accessControlMaxAge: int,
		addVaryHeader: bool,
		allowedHosts: strings,
		hostsProxyHeaders: strings,
		sslRedirect: bool,
		sslTemporaryRedirect: bool,
		sslHost: str,
		sslProxyHeaders: stringMap,
		sslForceHost: bool,
		stsSeconds: int,
		stsIncludeSubdomains: bool,
		stsPreload: bool,
		forceSTSHeader: bool,
		frameDeny: bool,
		customFrameOptionsValue: str,
		contentTypeNosniff: bool,
		browserXssFilter: bool,
		customBrowserXSSValue: str,
		contentSecurityPolicy: str,
		contentSecurityPolicyReportOnly: str,
		publicKey: str,
		referrerPolicy: str,
		featurePolicy: str,
		permissionsPolicy: str,
		isDevelopment: bool,
	}),
	ipWhiteList: closed<IpWhiteListMiddleware>({ sourceRange: strings, ipStrategy }),
	ipAllowList: closed<IpAllowListMiddleware>({ sourceRange: strings, rejectStatusCode: int, ipStrategy }),
	inFlightReq: closed<InFlightReqMiddleware>({ amount: int, sourceCriterion }),
	passTLSClientCert: closed<PassTLSClientCertMiddleware>({
		pem: bool,
		info: { kind: 'object', props: { notAfter: bool, notBefore: bool, sans: bool, subject: subjectInfo, issuer: subjectInfo } },
	}),
	plugin: { kind: 'object', props: {}, additional: openObject },
	rateLimit: closed<RateLimitMiddleware>(
		{ average: { kind: 'stringOrNumber' }, period: { kind: 'stringOrNumber' }, burst: num, sourceCriterion },
		[],
		['redis'],
	),
	redirectRegex: closed<RedirectRegexMiddleware>({ permanent: bool, regex: str, replacement: str }),
	redirectScheme: closed<RedirectSchemeMiddleware>({ permanent: bool, scheme: str, port: str }),
	replacePath: closed<ReplacePathMiddleware>({ path: str }),
	replacePathRegex: closed<ReplacePathRegexMiddleware>({ regex: str, replacement: str }),
	retry: closed<RetryMiddleware>({ attempts: int, initialInterval: str }, ['attempts']),
	stripPrefix: closed<StripPrefixMiddleware>({ prefixes: strings, forceSlash: bool }),
	stripPrefixRegex: closed<StripPrefixRegexMiddleware>({ regex: strings }),
});

const tcpRouter = closed<TcpRouter>(
	{
		entryPoints: strings,
		middlewares: strings,
		rule: str,
		ruleSyntax: str,
		service: str,
		priority: { kind: 'number', integer: true, minimum: 0 },
		tls: { kind: 'object', props: { passthrough: bool, options: str, certResolver: str, domains } },
	},
	['rule', 'service'],
);
const weightedRefs: Shape = {
	kind: 'array',
	minItems: 1,
	items: { kind: 'object', props: { name: str, weight: num }, required: ['name', 'weight'], additional: false },
};
const addressServers: Shape = { kind: 'array', minItems: 1, items: { kind: 'object', props: { address: str }, required: ['address'] } };
const tcpService = oneKey<TcpService>('TCP service type', {
	loadBalancer: closed<TcpLoadBalancerService>(
		{ servers: addressServers, terminationDelay: num, proxyProtocol: { kind: 'object', props: { version: int } }, serversTransport: str },
		['servers'],
	),
	weighted: closed<TcpWeightedService>({ services: weightedRefs }, ['services']),
});
const udpRouter = closed<UdpRouter>({ entryPoints: strings, service: str }, ['service']);
const udpService = oneKey<UdpService>('UDP service type', {
	loadBalancer: closed<UdpLoadBalancerService>({ servers: addressServers }, ['servers']),
	weighted: closed<UdpWeightedService>({ services: weightedRefs }, ['services']),
});

type Tls = NonNullable<DynamicConfig['tls']>;
const tlsNamePattern = /[a-zA-Z0-9-_]+/;
const tls = closed<Tls>({
	certificates: { kind: 'array', items: { kind: 'object', props: { certFile: str, keyFile: str, stores: strings } } },
	options: {
		kind: 'object',
		props: {},
		additional: false,
		keyPattern: tlsNamePattern,
		patternShape: {
			kind: 'object',
			props: {
				minVersion: str,
				maxVersion: str,
				cipherSuites: strings,
				curvePreferences: strings,
				sniStrict: bool,
				preferServerCipherSuites: bool,
				clientAuth: { kind: 'object', props: { caFiles: strings, clientAuthType: str } },
			},
		},
	},
	stores: {
		kind: 'object',
		props: {},
		keyPattern: tlsNamePattern,
		patternShape: {
			kind: 'object',
			additional: false,
			props: {
				defaultCertificate: { kind: 'object', additional: false, props: { certFile: str, keyFile: str } },
				defaultGeneratedCert: {
					kind: 'object',
					additional: false,
					props: { resolver: str, domain: { kind: 'object', props: { main: str, sans: strings } } },
				},
			},
		},
	},
});

export const dynamicConfigShape = closed<DynamicConfig>({
	http: open<NonNullable<DynamicConfig['http']>>({ routers: mapOf(httpRouter), services: mapOf(httpService), middlewares: mapOf(httpMiddleware) }),
	tcp: open<NonNullable<DynamicConfig['tcp']>>({ routers: mapOf(tcpRouter), services: mapOf(tcpService) }),
	udp: closed<NonNullable<DynamicConfig['udp']>>({ routers: mapOf(udpRouter), services: mapOf(udpService) }),
	tls,
});

export const MIDDLEWARE_TYPES = Object.keys((httpMiddleware as { of: Record<string, Shape> }).of);

export interface SchemaProblem {
	/** JSON-pointer-like path, e.g. `http.middlewares.api-ratelimit.rateLimit.burst`. */
	path: string;
	message: string;
}

const typeName = (value: unknown): string =>
	value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a map' : `${typeof value} ${JSON.stringify(value)}`;

const join = (path: string, key: string | number) => (path ? `${path}.${key}` : String(key));

function closest(name: string, candidates: string[]): string | undefined {
	const lower = name.toLowerCase();
	return candidates.find((c) => c.toLowerCase() === lower) ?? candidates.find((c) => c.toLowerCase().startsWith(lower.slice(0, 4)));
}

function check(shape: Shape, value: unknown, path: string, out: SchemaProblem[]): void {
	switch (shape.kind) {
		case 'string':
			if (typeof value !== 'string') out.push({ path, message: `must be a string, not ${typeName(value)}` });
			return;
		case 'boolean':
			if (typeof value !== 'boolean') out.push({ path, message: `must be true or false, not ${typeName(value)}` });
			return;
		case 'stringOrNumber':
			if (typeof value !== 'string' && typeof value !== 'number') out.push({ path, message: `must be a number or a string, not ${typeName(value)}` });
			return;
		case 'number':
			if (typeof value !== 'number' || (shape.integer && !Number.isInteger(value))) {
				out.push({ path, message: `must be ${shape.integer ? 'a whole number' : 'a number'}, not ${typeName(value)}` });
				return;
			}
			if (shape.minimum !== undefined && value < shape.minimum) out.push({ path, message: `must be at least ${shape.minimum}` });
			if (shape.maximum !== undefined && value > shape.maximum) out.push({ path, message: `must be at most ${shape.maximum}` });
			return;
		case 'array':
			if (!Array.isArray(value)) {
				out.push({ path, message: `must be a list, not ${typeName(value)}` });
				return;
			}
			if (shape.minItems && value.length < shape.minItems) out.push({ path, message: `must have at least ${shape.minItems} entr${shape.minItems === 1 ? 'y' : 'ies'}` });
			value.forEach((v, i) => check(shape.items, v, join(path, i), out));
			return;
		case 'object': {
			if (value === null || typeof value !== 'object' || Array.isArray(value)) {
				out.push({ path, message: `must be a map, not ${typeName(value)}` });
				return;
			}
			const record = value as Record<string, unknown>;
			for (const key of shape.required ?? []) if (!(key in record)) out.push({ path, message: `needs "${key}"` });
			for (const [key, v] of Object.entries(record)) {
				const known = shape.props[key];
				if (known) {
					check(known, v, join(path, key), out);
					continue;
				}
				if (shape.keyPattern && shape.patternShape && shape.keyPattern.test(key)) {
					check(shape.patternShape, v, join(path, key), out);
					continue;
				}
				if (shape.extraAllowed?.includes(key)) continue;
				if (shape.additional === false) {
					const hint = closest(key, Object.keys(shape.props));
					out.push({ path: join(path, key), message: `is not a known option here${hint ? ` (did you mean "${hint}"?)` : ''}` });
				} else if (shape.additional) check(shape.additional, v, join(path, key), out);
			}
			return;
		}
		case 'oneKey': {
			if (value === null || typeof value !== 'object' || Array.isArray(value)) {
				out.push({ path, message: `must be a map with one ${shape.what}, not ${typeName(value)}` });
				return;
			}
			const keys = Object.keys(value);
			const known = keys.filter((k) => k in shape.of);
			const unknown = keys.filter((k) => !(k in shape.of));
			for (const key of unknown) {
				const hint = closest(key, Object.keys(shape.of));
				out.push({ path: join(path, key), message: `is not a known ${shape.what}${hint ? ` (did you mean "${hint}"?)` : ''}` });
			}
			if (keys.length === 0) out.push({ path, message: `must define exactly one ${shape.what} (${Object.keys(shape.of).slice(0, 6).join(', ')}, …)` });
			else if (known.length > 1) out.push({ path, message: `defines ${known.length} ${shape.what}s (${known.join(', ')}): one per entry` });
			for (const key of known) check(shape.of[key], (value as Record<string, unknown>)[key], join(path, key), out);
			return;
		}
	}
}

/** Problems of a parsed dynamic configuration against the v3 file-provider structure; empty when valid. */
export function checkStructure(config: unknown): SchemaProblem[] {
	const out: SchemaProblem[] = [];
	// An empty file is valid for Traefik (and `null` is what YAML gives for it)
	if (config === null || config === undefined) return out;
	check(dynamicConfigShape, config, '', out);
	return out;
}
