/** Schema-conformance test: our structure check (nodes/TraefikConfig/schema.ts, no JSON-schema
 * engine at runtime) against ajv running SchemaStore's traefik-v3-file-provider schema, read at
 * test time from ../shared/reference/traefik/. Same verdict on every valid and broken config, except
 * the schema's known gaps (rateLimit.redis, ipStrategy.ipv6Subnet), where Traefik v3 is right. */
import Ajv from 'ajv';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { checkStructure } from '../../nodes/TraefikConfig/schema';

const ROOT = path.resolve(__dirname, '../..');
const SCHEMA = path.resolve(ROOT, '../shared/reference/traefik/traefik-v3-file-provider.json');
const describeRef = fs.existsSync(SCHEMA) ? describe : describe.skip;
if (!fs.existsSync(SCHEMA)) console.warn(`schema-conformance tests skipped: ../shared/reference absent (${SCHEMA})`);

const lb = (url = 'http://openwebui:8080') => ({ loadBalancer: { servers: [{ url }] } });

const valid: Record<string, unknown> = {
	'empty object': {},
	'routers, services and middlewares of a local AI stack': {
		http: {
			routers: {
				n8n: { rule: 'Host(`n8n.example.com`)', service: 'n8n', entryPoints: ['websecure'], middlewares: ['general-ratelimit', 'secure-headers'], tls: { certResolver: 'letsencrypt' } },
				api: { rule: 'Host(`n8n.example.com`) && PathPrefix(`/api`)', service: 'n8n', priority: 100, middlewares: ['api-ratelimit@file'] },
			},
			services: { n8n: lb('http://n8n:5678'), mirror: { mirroring: { service: 'n8n', mirrors: [{ name: 'n8n', percent: 10 }] } }, wrr: { weighted: { services: [{ name: 'n8n', weight: 1 }] } } },
			middlewares: {
				'general-ratelimit': { rateLimit: { average: 100, period: '1m', burst: 100, sourceCriterion: { ipStrategy: { depth: 1 } } } },
				'api-ratelimit': { rateLimit: { average: '10', period: 60 } },
				'secure-headers': { headers: { stsSeconds: 31536000, frameDeny: true, customResponseHeaders: { 'X-Powered-By': '' } } },
				auth: { basicAuth: { users: ['admin:$2y$10$abc'], realm: 'ops', somethingElse: 1 } },
				https: { redirectScheme: { scheme: 'https', permanent: true } },
				gzip: { compress: {} },
				both: { chain: { middlewares: ['general-ratelimit', 'secure-headers'] } },
				lan: { ipAllowList: { sourceRange: ['10.0.0.0/8'], ipStrategy: { excludedIPs: ['1.2.3.4'] } } },
				retry: { retry: { attempts: 3 } },
				plugin: { plugin: { sablier: { names: 'x' } } },
			},
		},
		tcp: { routers: { pg: { rule: 'HostSNI(`*`)', service: 'pg' } }, services: { pg: { loadBalancer: { servers: [{ address: 'postgres:5432' }] } } } },
		udp: { services: { dns: { weighted: { services: [{ name: 'a', weight: 1 }] } } } },
		tls: { options: { modern: { minVersion: 'VersionTLS13' } }, stores: { default: { defaultCertificate: { certFile: '/c', keyFile: '/k' } } }, certificates: [{ certFile: '/a', keyFile: '/b' }] },
	},
	'router tls with unknown extra keys (open object in the schema)': { http: { routers: { a: { rule: 'Host(`a`)', service: 's', tls: { whatever: true } } } } },
	'unknown key in the http block (open in the schema)': { http: { serversTransports: { t: {} } } },
};

const broken: Record<string, unknown> = {
	'router without service': { http: { routers: { a: { rule: 'Host(`a`)' } } } },
	'router with a typo (middleware instead of middlewares)': { http: { routers: { a: { rule: 'Host(`a`)', service: 's', middleware: ['x'] } } } },
	'negative priority': { http: { routers: { a: { rule: 'Host(`a`)', service: 's', priority: -1 } } } },
	'fractional priority': { http: { routers: { a: { rule: 'Host(`a`)', service: 's', priority: 1.5 } } } },
	'unknown middleware type': { http: { middlewares: { m: { rateLimiter: { average: 1 } } } } },
	'two middleware types in one entry': { http: { middlewares: { m: { rateLimit: { average: 1 }, compress: {} } } } },
	'empty middleware': { http: { middlewares: { m: {} } } },
	'rateLimit unknown option': { http: { middlewares: { m: { rateLimit: { average: 1, rate: 5 } } } } },
	'sourceCriterion depth as a string': { http: { middlewares: { m: { rateLimit: { sourceCriterion: { ipStrategy: { depth: 'one' } } } } } } },
	'headers misspelled option': { http: { middlewares: { m: { headers: { stsSecond: 1 } } } } },
	'chain with no middlewares': { http: { middlewares: { m: { chain: { middlewares: [] } } } } },
	'retry without attempts': { http: { middlewares: { m: { retry: {} } } } },
	'service with no type': { http: { services: { s: {} } } },
	'loadBalancer without servers': { http: { services: { s: { loadBalancer: {} } } } },
	'loadBalancer with an empty server list': { http: { services: { s: { loadBalancer: { servers: [] } } } } },
	'server without url': { http: { services: { s: { loadBalancer: { servers: [{ address: 'x' }] } } } } },
	'mirror percent above 100': { http: { services: { s: { mirroring: { mirrors: [{ name: 'x', percent: 120 }] } } } } },
	'routers as a list': { http: { routers: [{ rule: 'x' }] } },
	'null router': { http: { routers: { a: null } } },
	'tcp weighted without weight': { tcp: { services: { s: { weighted: { services: [{ name: 'x' }] } } } } },
	'udp unknown key': { udp: { middlewares: {} } },
	'tls store unknown key': { tls: { stores: { default: { certificates: [] } } } },
	'tls options with a name the pattern rejects': { tls: { options: { '!!!': {} } } },
	'top level is a list': [1, 2],
};

/** Valid for Traefik v3, rejected by the schema: the gaps our validator deliberately closes. */
const knownGaps: Record<string, unknown> = {
	'rateLimit with redis (Traefik 3.4)': { http: { middlewares: { m: { rateLimit: { average: 1, redis: { endpoints: ['redis:6379'] } } } } } },
	'ipStrategy.ipv6Subnet (Traefik 3.1)': { http: { middlewares: { m: { ipAllowList: { sourceRange: ['::/0'], ipStrategy: { ipv6Subnet: 64 } } } } } },
	// paerser turns every scalar into text and converts it per field (file/raw_node.go, parser/element_fill.go)
	'middlewares given as a string (split on commas)': { http: { routers: { a: { rule: 'Host(`a`)', service: 's', middlewares: 'x' } } } },
	'rateLimit burst as a string': { http: { middlewares: { m: { rateLimit: { average: 1, burst: '5' } } } } },
	'option names in another case': { http: { middlewares: { m: { Headers: { FrameDeny: true, STSSeconds: 1 } } } } },
};

/** Traefik loads the file but drops these keys (paerser keeps only the root's known fields): a warning, no error. */
const ignoredByTraefik: Record<string, unknown> = {
	'unknown top-level key': { https: {} },
};

describeRef('schema-conformance test: our Traefik v3 structure check agrees with SchemaStore\'s JSON schema', () => {
	// compiled in beforeAll: a skipped describe still runs its body, and the schema may be absent then
	let schemaValidate: ReturnType<Ajv['compile']>;
	beforeAll(() => {
		schemaValidate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(fs.readFileSync(SCHEMA, 'utf8')) as object);
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

	it.each(Object.entries(knownGaps))('known schema gap, accepted by us (and Traefik) and rejected by the schema: %s', (_name, config) => {
		expect(schemaValidate(config)).toBe(false);
		expect(checkStructure(config).filter((p) => p.severity === undefined)).toEqual([]);
	});

	it.each(Object.entries(ignoredByTraefik))('ignored by Traefik, a warning for us, rejected by the schema: %s', (_name, config) => {
		expect(schemaValidate(config)).toBe(false);
		const problems = checkStructure(config);
		expect(problems.length).toBeGreaterThan(0);
		expect(problems.every((p) => p.severity === 'warning')).toBe(true);
	});

	it('names the path and the fix in its messages', () => {
		const problems = checkStructure(broken['router with a typo (middleware instead of middlewares)']);
		expect(problems).toEqual([
			{ path: 'http.routers.a.middleware', keys: ['http', 'routers', 'a', 'middleware'], message: 'is not a known option here: Traefik refuses the file ("field not found"); did you mean "middlewares"?' },
		]);
		expect(checkStructure(broken['two middleware types in one entry'])[0].message).toMatch(/defines 2 middleware types \(rateLimit, compress\)/);
	});
});
