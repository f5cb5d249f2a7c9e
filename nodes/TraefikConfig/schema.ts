// Over 350 lines: a schema table (one shape per Traefik v3 object, checked against SchemaStore's types), not logic.
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
			/** Traefik's `file:"allowEmpty"` options: `true` turns the block on with its defaults (`tls: true`). */
			allowTrue?: boolean;
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

function closed<T>(
	props: PropsOf<T>,
	required: Array<KnownKeys<NonNullable<T>>> = [],
	extraAllowed: string[] = [],
): Shape {
	return {
		kind: 'object',
		props: props as Record<string, Shape>,
		required: required as string[],
		additional: false,
		extraAllowed,
	};
}
function open<T>(props: PropsOf<T>, required: Array<KnownKeys<NonNullable<T>>> = []): Shape {
	return { kind: 'object', props: props as Record<string, Shape>, required: required as string[] };
}
function oneKey<T>(what: string, of: { [K in KeysOfUnion<NonNullable<T>>]-?: Shape }): Shape {
	return { kind: 'oneKey', what, of: of as Record<string, Shape> };
}
const mapOf = (shape: Shape): Shape => ({ kind: 'object', props: {}, additional: shape });

const ipStrategy = closed<IpStrategy>({ depth: int, excludedIPs: strings }, [], ['ipv6Subnet']);
const sourceCriterion = closed<SourceCriterion>({
	ipStrategy,
	requestHeaderName: str,
	requestHost: bool,
});
const domains: Shape = {
	kind: 'array',
	items: { kind: 'object', props: { main: str, sans: strings } },
};
const sticky: Shape = {
	kind: 'object',
	props: {
		cookie: {
			kind: 'object',
			props: { name: str, secure: bool, httpOnly: bool, sameSite: str },
			allowTrue: true,
		},
	},
};
// services' health checks are allowEmpty in Traefik (`healthCheck: true` or `{}` turns them on)
const serviceHealthCheck: Shape = { kind: 'object', props: {}, allowTrue: true };

const httpRouter = closed<HttpRouter>(
	{
		entryPoints: strings,
		rule: str,
		ruleSyntax: str,
		priority: { kind: 'number', integer: true, minimum: 0 },
		middlewares: strings,
		service: str,
		tls: { kind: 'object', props: { options: str, certResolver: str, domains }, allowTrue: true },
	},
	['rule', 'service'],
	// v3.1+ router options the SchemaStore types do not have yet (Traefik's dynamic.Router has them)
	['observability'],
);

const httpLoadBalancer = closed<HttpLoadBalancerService>(
	{
		servers: {
			kind: 'array',
			minItems: 1,
			items: { kind: 'object', props: { url: str }, required: ['url'] },
		},
		sticky,
		healthCheck: {
			kind: 'object',
			props: {
				method: str,
				path: str,
				scheme: str,
				hostname: str,
				port: int,
				interval: str,
				timeout: str,
				headers: stringMap,
				followRedirects: bool,
			},
		},
		passHostHeader: bool,
		responseForwarding: { kind: 'object', props: { flushInterval: str } },
		serversTransport: str,
	},
	['servers'],
	// v3 load-balancer options the SchemaStore types do not have yet (dynamic.ServersLoadBalancer has them)
	['strategy', 'passiveHealthCheck'],
);

const httpService = oneKey<HttpService>('service type', {
	loadBalancer: httpLoadBalancer,
	weighted: closed<HttpWeightedService>({
		services: { kind: 'array', items: { kind: 'object', props: { name: str, weight: num } } },
		sticky,
		healthCheck: serviceHealthCheck,
	}),
	mirroring: closed<HttpMirroringService>({
		service: str,
		maxBodySize: int,
		mirrors: {
			kind: 'array',
			items: {
				kind: 'object',
				props: { name: str, percent: { kind: 'number', minimum: 0, maximum: 100 } },
			},
		},
		healthCheck: serviceHealthCheck,
	}),
	failover: closed<HttpFailoverService>({
		service: str,
		fallback: str,
		healthCheck: serviceHealthCheck,
	}),
});

const subjectInfo: Shape = {
	kind: 'object',
	props: {
		country: bool,
		province: bool,
		locality: bool,
		organization: bool,
		commonName: bool,
		serialNumber: bool,
		domainComponent: bool,
	},
};

const httpMiddleware = oneKey<HttpMiddleware>('middleware type', {
	addPrefix: closed<AddPrefixMiddleware>({ prefix: str }),
	basicAuth: open<BasicAuthMiddleware>({
		users: strings,
		usersFile: str,
		realm: str,
		headerField: str,
		removeHeader: bool,
	}),
	buffering: closed<BufferingMiddleware>({
		maxRequestBodyBytes: int,
		memRequestBodyBytes: int,
		maxResponseBodyBytes: int,
		memResponseBodyBytes: int,
		retryExpression: str,
	}),
	chain: closed<ChainMiddleware>({ middlewares: { kind: 'array', items: str, minItems: 1 } }),
	circuitBreaker: closed<CircuitBreakerMiddleware>({
		expression: str,
		checkPeriod: str,
		fallbackDuration: str,
		recoveryDuration: str,
		responseCode: int,
	}),
	compress: closed<CompressMiddleware>({
		excludedContentTypes: strings,
		minResponseBodyBytes: int,
		defaultEncoding: str,
		includedContentTypes: strings,
		encodings: strings,
	}),
	contentType: closed<ContentTypeMiddleware>({ autoDetect: bool }),
	digestAuth: closed<DigestAuthMiddleware>({
		users: strings,
		usersFile: str,
		realm: str,
		headerField: str,
		removeHeader: bool,
	}),
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
	ipAllowList: closed<IpAllowListMiddleware>({
		sourceRange: strings,
		rejectStatusCode: int,
		ipStrategy,
	}),
	inFlightReq: closed<InFlightReqMiddleware>({ amount: int, sourceCriterion }),
	passTLSClientCert: closed<PassTLSClientCertMiddleware>({
		pem: bool,
		info: {
			kind: 'object',
			props: {
				notAfter: bool,
				notBefore: bool,
				sans: bool,
				subject: subjectInfo,
				issuer: subjectInfo,
			},
		},
	}),
	plugin: { kind: 'object', props: {}, additional: openObject },
	rateLimit: closed<RateLimitMiddleware>(
		{
			average: { kind: 'stringOrNumber' },
			period: { kind: 'stringOrNumber' },
			burst: num,
			sourceCriterion,
		},
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
	items: {
		kind: 'object',
		props: { name: str, weight: num },
		required: ['name', 'weight'],
		additional: false,
	},
};
const addressServers: Shape = {
	kind: 'array',
	minItems: 1,
	items: { kind: 'object', props: { address: str }, required: ['address'] },
};
const tcpService = oneKey<TcpService>('TCP service type', {
	loadBalancer: closed<TcpLoadBalancerService>(
		{
			servers: addressServers,
			terminationDelay: num,
			proxyProtocol: { kind: 'object', props: { version: int } },
			serversTransport: str,
		},
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
	certificates: {
		kind: 'array',
		items: { kind: 'object', props: { certFile: str, keyFile: str, stores: strings } },
	},
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
				defaultCertificate: {
					kind: 'object',
					additional: false,
					props: { certFile: str, keyFile: str },
				},
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
	// Open in the schema, closed in Traefik (dynamic.HTTPConfiguration / TCPConfiguration): the keys the
	// schema does not describe are passed unchecked, any other key fails with "field not found".
	http: closed<NonNullable<DynamicConfig['http']>>(
		{
			routers: mapOf(httpRouter),
			services: mapOf(httpService),
			middlewares: mapOf(httpMiddleware),
		},
		[],
		['serversTransports', 'models'],
	),
	tcp: closed<NonNullable<DynamicConfig['tcp']>>(
		{ routers: mapOf(tcpRouter), services: mapOf(tcpService) },
		[],
		['middlewares', 'serversTransports', 'models'],
	),
	udp: closed<NonNullable<DynamicConfig['udp']>>({
		routers: mapOf(udpRouter),
		services: mapOf(udpService),
	}),
	tls,
});

export const MIDDLEWARE_TYPES = Object.keys((httpMiddleware as { of: Record<string, Shape> }).of);

export interface SchemaProblem {
	/** JSON-pointer-like path, e.g. `http.middlewares.api-ratelimit.rateLimit.burst`. */
	path: string;
	/** The same path as keys, to find the line in the YAML document (names may contain dots). */
	keys: Array<string | number>;
	message: string;
	/** Traefik loads the file anyway (a spelling nudge, a key it ignores); absent for errors that make the file fail. */
	severity?: 'warning';
}

const typeName = (value: unknown): string =>
	value === null
		? 'null'
		: Array.isArray(value)
			? 'a list'
			: typeof value === 'object'
				? 'a map'
				: `${typeof value} ${JSON.stringify(value)}`;

const join = (path: string, key: string | number) => (path ? `${path}.${key}` : String(key));

function closest(name: string, candidates: string[]): string | undefined {
	return candidates.find((c) => c.toLowerCase().startsWith(name.toLowerCase().slice(0, 4)));
}

/**
 * The option a key names, matched the way Traefik does: paerser (parser/nodes_metadata.go,
 * findTypedField) compares a key with the Go field name using strings.EqualFold, so `FrameDeny` and
 * `STSSeconds` load exactly like `frameDeny` and `stsSeconds`.
 */
function optionFor(names: string[], key: string): string | undefined {
	if (names.includes(key)) return key;
	const lower = key.toLowerCase();
	return names.find((n) => n.toLowerCase() === lower);
}

const TOP_LEVEL = ['http', 'tcp', 'udp', 'tls'];
const SECTIONS: Record<string, string> = {
	routers: 'http, tcp or udp',
	services: 'http, tcp or udp',
	middlewares: 'http or tcp',
	serverstransports: 'http or tcp',
};

/** Where a key that is unknown here does belong, when it is one of the well-known blocks. */
function placementHint(key: string, path: string): string | undefined {
	const lower = key.toLowerCase();
	const top = TOP_LEVEL.find((t) => t === lower);
	if (top && path) return `\`${top}\` belongs at the top level, not under \`${path}\``;
	if (SECTIONS[lower])
		return `\`${key}\` belongs under ${SECTIONS[lower]}${path ? `, not under \`${path}\`` : ''}`;
	return undefined;
}

// Every scalar reaches paerser as a string (file/raw_node.go getSimpleValue) and is converted with
// Go's strconv when filled into the field (parser/element_fill.go), so quoted values load too.
const GO_BOOL = /^(1|t|T|TRUE|true|True|0|f|F|FALSE|false|False)$/;
const GO_INT = /^[+-]?\d+$/;
const scalarText = (value: unknown): string | undefined =>
	typeof value === 'string'
		? value
		: typeof value === 'number' || typeof value === 'boolean'
			? String(value)
			: undefined;

function check(
	shape: Shape,
	value: unknown,
	path: string,
	keys: Array<string | number>,
	out: SchemaProblem[],
): void {
	const fail = (message: string) => out.push({ path, keys, message });
	switch (shape.kind) {
		case 'string':
			if (scalarText(value) === undefined) fail(`must be a string, not ${typeName(value)}`);
			return;
		case 'boolean': {
			const text = scalarText(value);
			if (text === undefined || !GO_BOOL.test(text))
				fail(`must be true or false, not ${typeName(value)}`);
			return;
		}
		case 'stringOrNumber':
			if (scalarText(value) === undefined)
				fail(`must be a number or a string, not ${typeName(value)}`);
			return;
		case 'number': {
			const text = scalarText(value);
			const n =
				typeof value === 'number'
					? value
					: typeof value === 'string' && value.trim() !== ''
						? Number(value)
						: NaN;
			const ok = shape.integer
				? text !== undefined &&
					(typeof value === 'number' ? Number.isInteger(value) : GO_INT.test(text))
				: Number.isFinite(n);
			if (!ok) {
				fail(`must be ${shape.integer ? 'a whole number' : 'a number'}, not ${typeName(value)}`);
				return;
			}
			if (shape.minimum !== undefined && n < shape.minimum)
				fail(`must be at least ${shape.minimum}`);
			if (shape.maximum !== undefined && n > shape.maximum)
				fail(`must be at most ${shape.maximum}`);
			return;
		}
		case 'array': {
			// A scalar for a list of scalars is split on commas (parser/element_fill.go setSlice: a value
			// without the file decoder's "║" list marker is split with strings.Split(value, ","), then trimmed)
			const scalarItems =
				shape.items.kind !== 'object' &&
				shape.items.kind !== 'oneKey' &&
				shape.items.kind !== 'array';
			const text = scalarText(value);
			const list = Array.isArray(value)
				? value
				: scalarItems && text !== undefined
					? text.split(',').map((v) => v.trim())
					: undefined;
			if (!list) {
				fail(`must be a list, not ${typeName(value)}`);
				return;
			}
			if (shape.minItems && list.length < shape.minItems)
				fail(`must have at least ${shape.minItems} entr${shape.minItems === 1 ? 'y' : 'ies'}`);
			if (Array.isArray(value))
				value.forEach((v, i) => check(shape.items, v, join(path, i), [...keys, i], out));
			else list.forEach((v) => check(shape.items, v, path, keys, out));
			return;
		}
		case 'object': {
			if (shape.allowTrue && (value === true || scalarText(value) === 'true')) return;
			if (value === null || typeof value !== 'object' || Array.isArray(value)) {
				fail(`must be a map, not ${typeName(value)}`);
				return;
			}
			const record = value as Record<string, unknown>;
			const names = Object.keys(shape.props);
			for (const key of shape.required ?? [])
				if (!Object.keys(record).some((k) => optionFor([key], k))) fail(`needs "${key}"`);
			for (const [key, v] of Object.entries(record)) {
				const at = join(path, key);
				const where = [...keys, key];
				const known = optionFor(names, key);
				if (known) {
					if (known !== key) {
						out.push({
							path: at,
							keys: where,
							severity: 'warning',
							message: `is spelled "${key}": Traefik matches option names case-insensitively and loads it, the documented spelling is "${known}"`,
						});
					}
					check(shape.props[known], v, at, where, out);
					continue;
				}
				if (shape.keyPattern && shape.patternShape && shape.keyPattern.test(key)) {
					check(shape.patternShape, v, at, where, out);
					continue;
				}
				if (shape.extraAllowed && optionFor(shape.extraAllowed, key)) continue;
				if (shape.additional === false) {
					const hint =
						placementHint(key, path) ??
						(closest(key, names) ? `did you mean "${closest(key, names)}"?` : undefined);
					if (!path) {
						// paerser keeps only the root's known keys (file/file.go getRootFieldNames, file/raw_node.go sortKeys): the rest is dropped silently
						out.push({
							path: at,
							keys: where,
							severity: 'warning',
							message: `is ignored by Traefik (only http, tcp, udp and tls are read)${hint ? `: ${hint}` : ''}`,
						});
					} else {
						out.push({
							path: at,
							keys: where,
							message: `is not a known option here: Traefik refuses the file ("field not found")${hint ? `; ${hint}` : ''}`,
						});
					}
				} else if (shape.additional) check(shape.additional, v, at, where, out);
			}
			return;
		}
		case 'oneKey': {
			if (value === null || typeof value !== 'object' || Array.isArray(value)) {
				fail(`must be a map with one ${shape.what}, not ${typeName(value)}`);
				return;
			}
			const types = Object.keys(shape.of);
			const entries = Object.entries(value as Record<string, unknown>);
			const known: Array<[string, string, unknown]> = [];
			for (const [key, v] of entries) {
				const type = optionFor(types, key);
				if (type) known.push([key, type, v]);
				else {
					const hint = closest(key, types);
					out.push({
						path: join(path, key),
						keys: [...keys, key],
						message: `is not a known ${shape.what}: Traefik refuses the file ("field not found")${hint ? ` (did you mean "${hint}"?)` : ''}`,
					});
				}
			}
			if (entries.length === 0)
				fail(`must define exactly one ${shape.what} (${types.slice(0, 6).join(', ')}, …)`);
			else if (known.length > 1)
				fail(
					`defines ${known.length} ${shape.what}s (${known.map(([k]) => k).join(', ')}): one per entry`,
				);
			for (const [key, type, v] of known) {
				if (type !== key) {
					out.push({
						path: join(path, key),
						keys: [...keys, key],
						severity: 'warning',
						message: `is spelled "${key}": Traefik matches names case-insensitively and loads it, the documented spelling is "${type}"`,
					});
				}
				check(shape.of[type], v, join(path, key), [...keys, key], out);
			}
			return;
		}
	}
}

/** Problems of a parsed dynamic configuration against the v3 file-provider structure; empty when valid. */
export function checkStructure(config: unknown): SchemaProblem[] {
	const out: SchemaProblem[] = [];
	// An empty file is valid for Traefik (and `null` is what YAML gives for it)
	if (config === null || config === undefined) return out;
	check(dynamicConfigShape, config, '', [], out);
	return out;
}
