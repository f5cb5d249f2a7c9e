/** Schema-conformance test: our structure check (nodes/TraefikConfig/schema.ts, no JSON-schema
 * engine at runtime) against ajv running SchemaStore's traefik-v3-file-provider schema, read at
 * test time from ../shared/reference/traefik/. Same verdict on every valid and broken config, except
 * the schema's known gaps (rateLimit.redis, ipStrategy.ipv6Subnet), where Traefik v3 is right. */
import Ajv from 'ajv';
import * as fs from 'node:fs';

import { checkStructure } from '../../nodes/TraefikConfig/schema';
import { validateFiles } from '../../nodes/TraefikConfig/validate';
import { describeWithReference, itWithReference, referencePath } from '../support/reference';

const SCHEMA = referencePath('traefik', 'traefik-v3-file-provider.json');
const describeRef = describeWithReference('traefik', 'traefik-v3-file-provider.json');
const itWithV2Schema = itWithReference('traefik', 'traefik-v2-file-provider.json');

const lb = (url = 'http://openwebui:8080') => ({ loadBalancer: { servers: [{ url }] } });

const valid: Record<string, unknown> = {
	'empty object': {},
	'routers, services and middlewares of a local AI stack': {
		http: {
			routers: {
				n8n: {
					rule: 'Host(`n8n.example.com`)',
					service: 'n8n',
					entryPoints: ['websecure'],
					middlewares: ['general-ratelimit', 'secure-headers'],
					tls: { certResolver: 'letsencrypt' },
				},
				api: {
					rule: 'Host(`n8n.example.com`) && PathPrefix(`/api`)',
					service: 'n8n',
					priority: 100,
					middlewares: ['api-ratelimit@file'],
				},
			},
			services: {
				n8n: lb('http://n8n:5678'),
				mirror: { mirroring: { service: 'n8n', mirrors: [{ name: 'n8n', percent: 10 }] } },
				wrr: { weighted: { services: [{ name: 'n8n', weight: 1 }] } },
			},
			middlewares: {
				'general-ratelimit': {
					rateLimit: {
						average: 100,
						period: '1m',
						burst: 100,
						sourceCriterion: { ipStrategy: { depth: 1 } },
					},
				},
				'api-ratelimit': { rateLimit: { average: '10', period: 60 } },
				'secure-headers': {
					headers: {
						stsSeconds: 31536000,
						frameDeny: true,
						customResponseHeaders: { 'X-Powered-By': '' },
					},
				},
				auth: { basicAuth: { users: ['admin:$2y$10$abc'], realm: 'ops', somethingElse: 1 } },
				https: { redirectScheme: { scheme: 'https', permanent: true } },
				gzip: { compress: {} },
				both: { chain: { middlewares: ['general-ratelimit', 'secure-headers'] } },
				lan: {
					ipAllowList: { sourceRange: ['10.0.0.0/8'], ipStrategy: { excludedIPs: ['1.2.3.4'] } },
				},
				retry: { retry: { attempts: 3 } },
				plugin: { plugin: { sablier: { names: 'x' } } },
			},
		},
		tcp: {
			routers: { pg: { rule: 'HostSNI(`*`)', service: 'pg' } },
			services: { pg: { loadBalancer: { servers: [{ address: 'postgres:5432' }] } } },
		},
		udp: { services: { dns: { weighted: { services: [{ name: 'a', weight: 1 }] } } } },
		tls: {
			options: { modern: { minVersion: 'VersionTLS13' } },
			stores: { default: { defaultCertificate: { certFile: '/c', keyFile: '/k' } } },
			certificates: [{ certFile: '/a', keyFile: '/b' }],
		},
	},
	'router tls with unknown extra keys (open object in the schema)': {
		http: { routers: { a: { rule: 'Host(`a`)', service: 's', tls: { whatever: true } } } },
	},
	'unknown key in the http block (open in the schema)': { http: { serversTransports: { t: {} } } },
};

const broken: Record<string, unknown> = {
	'router without service': { http: { routers: { a: { rule: 'Host(`a`)' } } } },
	'router with a typo (middleware instead of middlewares)': {
		http: { routers: { a: { rule: 'Host(`a`)', service: 's', middleware: ['x'] } } },
	},
	'negative priority': {
		http: { routers: { a: { rule: 'Host(`a`)', service: 's', priority: -1 } } },
	},
	'fractional priority': {
		http: { routers: { a: { rule: 'Host(`a`)', service: 's', priority: 1.5 } } },
	},
	'unknown middleware type': { http: { middlewares: { m: { rateLimiter: { average: 1 } } } } },
	'two middleware types in one entry': {
		http: { middlewares: { m: { rateLimit: { average: 1 }, compress: {} } } },
	},
	'empty middleware': { http: { middlewares: { m: {} } } },
	'rateLimit unknown option': {
		http: { middlewares: { m: { rateLimit: { average: 1, rate: 5 } } } },
	},
	'sourceCriterion depth as a string': {
		http: {
			middlewares: { m: { rateLimit: { sourceCriterion: { ipStrategy: { depth: 'one' } } } } },
		},
	},
	'headers misspelled option': { http: { middlewares: { m: { headers: { stsSecond: 1 } } } } },
	'chain with no middlewares': { http: { middlewares: { m: { chain: { middlewares: [] } } } } },
	'retry without attempts': { http: { middlewares: { m: { retry: {} } } } },
	'service with no type': { http: { services: { s: {} } } },
	'loadBalancer without servers': { http: { services: { s: { loadBalancer: {} } } } },
	'loadBalancer with an empty server list': {
		http: { services: { s: { loadBalancer: { servers: [] } } } },
	},
	'server without url': {
		http: { services: { s: { loadBalancer: { servers: [{ address: 'x' }] } } } },
	},
	'mirror percent above 100': {
		http: { services: { s: { mirroring: { mirrors: [{ name: 'x', percent: 120 }] } } } },
	},
	'routers as a list': { http: { routers: [{ rule: 'x' }] } },
	'null router': { http: { routers: { a: null } } },
	'tcp weighted without weight': {
		tcp: { services: { s: { weighted: { services: [{ name: 'x' }] } } } },
	},
	'udp unknown key': { udp: { middlewares: {} } },
	'tls store unknown key': { tls: { stores: { default: { certificates: [] } } } },
	'tls options with a name the pattern rejects': { tls: { options: { '!!!': {} } } },
	'top level is a list': [1, 2],
};

/** Valid for Traefik v3, rejected by the schema: the gaps our validator deliberately closes. */
const knownGaps: Record<string, unknown> = {
	'rateLimit with redis (Traefik 3.4)': {
		http: {
			middlewares: { m: { rateLimit: { average: 1, redis: { endpoints: ['redis:6379'] } } } },
		},
	},
	'ipStrategy.ipv6Subnet (Traefik 3.1)': {
		http: {
			middlewares: {
				m: { ipAllowList: { sourceRange: ['::/0'], ipStrategy: { ipv6Subnet: 64 } } },
			},
		},
	},
	// paerser turns every scalar into text and converts it per field (file/raw_node.go, parser/element_fill.go)
	'middlewares given as a string (split on commas)': {
		http: { routers: { a: { rule: 'Host(`a`)', service: 's', middlewares: 'x' } } },
	},
	'rateLimit burst as a string': {
		http: { middlewares: { m: { rateLimit: { average: 1, burst: '5' } } } },
	},
	'option names in another case': {
		http: { middlewares: { m: { Headers: { FrameDeny: true, STSSeconds: 1 } } } },
	},
};

/** Traefik loads the file but drops these keys (paerser keeps only the root's known fields): a warning, no error. */
const ignoredByTraefik: Record<string, unknown> = {
	'unknown top-level key': { https: {} },
};

describeRef(
	"schema-conformance test: our Traefik v3 structure check agrees with SchemaStore's JSON schema",
	() => {
		// compiled in beforeAll: a skipped describe still runs its body, and the schema may be absent then
		let schemaValidate: ReturnType<Ajv['compile']>;
		beforeAll(() => {
			schemaValidate = new Ajv({ allErrors: true, strict: false }).compile(
				JSON.parse(fs.readFileSync(SCHEMA, 'utf8')) as object,
			);
		});

		it.each(Object.entries(valid))('valid: %s', (_name, config) => {
			expect(schemaValidate(config)).toBe(true);
			expect(checkStructure(config)).toEqual([]);
		});

		it.each(Object.entries(broken))('broken: %s', (_name, config) => {
			expect(schemaValidate(config)).toBe(false);
			const problems = checkStructure(config);
			expect(problems.filter((p) => p.severity === undefined).length).toBeGreaterThan(0);
			for (const p of problems) expect(p.message).toMatch(/\w/);
		});

		it.each(Object.entries(knownGaps))(
			'known schema gap, accepted by us (and Traefik) and rejected by the schema: %s',
			(_name, config) => {
				expect(schemaValidate(config)).toBe(false);
				expect(checkStructure(config).filter((p) => p.severity === undefined)).toEqual([]);
			},
		);

		it.each(Object.entries(ignoredByTraefik))(
			'ignored by Traefik, a warning for us, rejected by the schema: %s',
			(_name, config) => {
				expect(schemaValidate(config)).toBe(false);
				const problems = checkStructure(config);
				expect(problems.length).toBeGreaterThan(0);
				expect(problems.every((p) => p.severity === 'warning')).toBe(true);
			},
		);

		it('names the path and the fix in its messages', () => {
			const problems = checkStructure(
				broken['router with a typo (middleware instead of middlewares)'],
			);
			expect(problems).toEqual([
				{
					path: 'http.routers.a.middleware',
					keys: ['http', 'routers', 'a', 'middleware'],
					message:
						'is not a known option here: Traefik refuses the file ("field not found"); did you mean "middlewares"?',
				},
			]);
			expect(checkStructure(broken['two middleware types in one entry'])[0].message).toMatch(
				/defines 2 middleware types \(rateLimit, compress\)/,
			);
		});
	},
);

/**
 * What Traefik's file provider does with each file, per its parser's documented rules (traefik/paerser:
 * parser/nodes_metadata.go findTypedField matches keys with strings.EqualFold and fails with "field not
 * found"; file/file.go keeps only the root's http/tcp/udp/tls; parser/element_fill.go splits a scalar
 * given for a list on commas and converts text with strconv). Traefik itself cannot run here.
 * `refused`: the file fails to load (Traefik drops the provider's whole update);
 * `loads`: it loads (Validate may still warn).
 */
type Verdict = 'loads' | 'refused';
const mw = (body: string) => `http:\n  middlewares:\n    m:\n${body.replace(/^/gm, '      ')}\n`;
const router = (body: string) =>
	`http:\n  routers:\n    r:\n      rule: Host(\`a.example.com\`)\n      service: s\n${body.replace(/^/gm, '      ')}\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: http://a:80\n`;
const TABLE: Array<[string, string, Verdict, RegExp?]> = [
	// dynamic.Router and dynamic.ServersLoadBalancer carry these (v3.1+); allowEmpty blocks take `true` (file:"allowEmpty")
	['router observability (v3.1+)', router('observability:\n  accessLogs: false'), 'loads'],
	['router tls: true (allowEmpty: TLS with defaults)', router('tls: true'), 'loads'],
	[
		'load balancer strategy p2c and passiveHealthCheck (v3)',
		'http:\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: http://a:80\n        strategy: p2c\n        passiveHealthCheck:\n          maxFailedAttempts: 3\n',
		'loads',
	],
	[
		'sticky cookie: true (allowEmpty)',
		'http:\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: http://a:80\n        sticky:\n          cookie: true\n',
		'loads',
	],
	[
		'mirroring healthCheck: true (allowEmpty)',
		'http:\n  services:\n    m:\n      mirroring:\n        service: s\n        healthCheck: true\n',
		'loads',
	],
	['router tls: 5 (not a map, not the allowEmpty true)', router('tls: 5'), 'refused'],
	[
		'case variants FrameDeny/BrowserXssFilter/ContentTypeNosniff/STSSeconds',
		mw(
			'headers:\n  FrameDeny: true\n  BrowserXssFilter: true\n  ContentTypeNosniff: true\n  STSSeconds: 31536000',
		),
		'loads',
		/documented spelling is "frameDeny"/,
	],
	[
		'case variant of the middleware type (RateLimit)',
		mw('RateLimit:\n  Average: 10'),
		'loads',
		/documented spelling is "rateLimit"/,
	],
	[
		'case variant IPAllowList/SourceRange',
		mw('IPAllowList:\n  SourceRange: [10.0.0.0/8]'),
		'loads',
	],
	[
		'upper-case top-level HTTP and Routers/Rule/Service',
		'HTTP:\n  Routers:\n    r:\n      Rule: Host(`a`)\n      Service: s@docker\n',
		'loads',
	],
	[
		'case variant under tls options (MinVersion)',
		'tls:\n  options:\n    modern:\n      MinVersion: VersionTLS13\n',
		'loads',
	],
	[
		'tls block misplaced under http',
		'http:\n  tls:\n    options:\n      modern:\n        minVersion: VersionTLS13\n',
		'refused',
		/`tls` belongs at the top level, not under `http`/,
	],
	[
		'typo routerz under http',
		'http:\n  routerz:\n    r:\n      rule: Host(`a`)\n      service: s\n',
		'refused',
		/routerz is not a known option here: Traefik refuses the file \("field not found"\)/,
	],
	[
		'middlewares under udp',
		'udp:\n  middlewares:\n    m:\n      x: {}\n',
		'refused',
		/`middlewares` belongs under http or tcp/,
	],
	[
		'routers under tls',
		'tls:\n  routers:\n    r:\n      service: s\n',
		'refused',
		/`routers` belongs under http, tcp or udp/,
	],
	[
		'rule on a udp router',
		'udp:\n  routers:\n    r:\n      rule: x\n      service: s\n',
		'refused',
	],
	[
		'typo middleware instead of middlewares on a router',
		router('middleware: [a]'),
		'refused',
		/did you mean "middlewares"/,
	],
	[
		'routers at the top level (ignored by Traefik)',
		'routers:\n  r:\n    rule: Host(`a`)\n',
		'loads',
		/ignored by Traefik.*`routers` belongs under http, tcp or udp/,
	],
	[
		'unknown middleware type rateLimiter',
		mw('rateLimiter:\n  average: 10'),
		'refused',
		/not a known middleware type/,
	],
	['unknown middleware type redirectHttps', mw('redirectHttps:\n  permanent: true'), 'refused'],
	[
		'accessControlAllowMethods as a comma-separated string',
		mw('headers:\n  accessControlAllowMethods: "GET,OPTIONS,PUT"'),
		'loads',
	],
	[
		'sourceRange as a comma-separated string with spaces',
		mw('ipAllowList:\n  sourceRange: "10.0.0.0/8, 192.168.0.0/16"'),
		'loads',
	],
	[
		'router middlewares as one string naming two',
		`${router('middlewares: "a,b"')}  middlewares:\n    a:\n      compress: {}\n    b:\n      compress: {}\n`.replace(
			'  services:',
			'  services:',
		),
		'loads',
	],
	['retry attempts as words', mw('retry:\n  attempts: three'), 'refused', /whole number/],
	['quoted number for stsSeconds', mw('headers:\n  stsSeconds: "31536000"'), 'loads'],
	['quoted boolean for frameDeny', mw('headers:\n  frameDeny: "true"'), 'loads'],
	['quoted number for retry attempts', mw('retry:\n  attempts: "3"'), 'loads'],
	['stsSeconds as words', mw('headers:\n  stsSeconds: one year'), 'refused', /whole number/],
	[
		'frameDeny yes (not a Go boolean)',
		mw('headers:\n  frameDeny: "yes"'),
		'refused',
		/true or false/,
	],
	['fractional priority', router('priority: 1.5'), 'refused'],
	['a list for a boolean', mw('headers:\n  frameDeny: [true]'), 'refused'],
	[
		'a map for a list of strings',
		mw('headers:\n  accessControlAllowMethods:\n    get: true'),
		'refused',
		/must be a list/,
	],
	[
		'v2-only headers.sslRedirect',
		mw('headers:\n  sslRedirect: true'),
		'refused',
		/does not exist in Traefik v3/,
	],
	['v2-only headers.sslHost', mw('headers:\n  sslHost: a.example.com'), 'refused'],
	['v2-only headers.featurePolicy', mw('headers:\n  featurePolicy: camera none'), 'refused'],
	[
		'v2 ipWhiteList (deprecated, still loads in v3)',
		mw('ipWhiteList:\n  sourceRange: [10.0.0.0/8]'),
		'loads',
		/deprecated/,
	],
	[
		'serversTransports under http',
		'http:\n  serversTransports:\n    t:\n      insecureSkipVerify: true\n',
		'loads',
	],
	[
		'tcp middlewares',
		'tcp:\n  middlewares:\n    c:\n      inFlightConn:\n        amount: 10\n',
		'loads',
	],
	[
		'free header names in customResponseHeaders',
		mw('headers:\n  customResponseHeaders:\n    X-Frame-Options: DENY'),
		'loads',
	],
	['an empty file', '', 'loads'],
	[
		'a template action in a comment',
		'# managed by {{ .Tool }}\nhttp: {}\n',
		'loads',
		/in comments/,
	],
	['an unterminated {{ in a comment', '# rate {{ limit\nhttp: {}\n', 'refused', /Go templating/],
];
const V2_ONLY = ['sslRedirect', 'sslHost', 'featurePolicy'];

describe("Validate's verdicts match the verdicts of Traefik's documented parser rules (paerser, file provider) on a table of small files", () => {
	const rows = TABLE.map(([name, text, verdict, message]) => ({ name, text, verdict, message }));
	it.each(rows)('$name: Traefik $verdict it', ({ text, verdict, message }) => {
		const report = validateFiles([{ name: 'dynamic.yml', text }]);
		const fatal = report.problems.filter((p) => p.fatal);
		expect(fatal.length > 0 ? 'refused' : 'loads').toBe(verdict);
		// a file Traefik loads never blocks a deploy: nothing critical about its own content
		if (verdict === 'loads')
			expect(report.problems.filter((p) => p.status === 'critical')).toEqual([]);
		if (message) expect(report.problems.map((p) => p.message).join('\n')).toMatch(message);
	});

	itWithV2Schema(
		'has at least 30 rows, both verdicts, and its v2-only rows are options of the v2 schema (reference data)',
		() => {
			expect(TABLE.length).toBeGreaterThanOrEqual(30);
			expect(new Set(TABLE.map((r) => r[2]))).toEqual(new Set(['loads', 'refused']));
			const v2 = JSON.parse(
				fs.readFileSync(referencePath('traefik', 'traefik-v2-file-provider.json'), 'utf8'),
			) as {
				definitions: { headersMiddleware: { properties: Record<string, unknown> } };
			};
			for (const option of V2_ONLY)
				expect(Object.keys(v2.definitions.headersMiddleware.properties)).toContain(option);
		},
	);

	it('names the line of a refused key', () => {
		const text = 'http:\n  routers: {}\n  tls:\n    options: {}\n';
		const [problem] = validateFiles([{ name: 'a.yml', text }]).problems;
		expect(problem).toMatchObject({ line: 3, status: 'critical', fatal: true, path: 'http.tls' });
		expect(problem.message).toMatch(/^line 3: http\.tls is not a known option here/);
	});
});
