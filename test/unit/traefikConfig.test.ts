/** Traefik Config domain modules without n8n: middleware building, attaching with comments kept,
 * folder validation, webhook signatures. */
import { compareSync } from 'bcryptjs';
import { createTwoFilesPatch } from 'diff';
import { createHmac } from 'node:crypto';
import { parse } from 'yaml';

import { attachMiddlewares } from '../../nodes/TraefikConfig/attach';
import { checkFileName, checkFolder, redactDiff } from '../../nodes/TraefikConfig/deploy';
import { buildMiddleware, addToDocument } from '../../nodes/TraefikConfig/middleware';
import { checkStructure } from '../../nodes/TraefikConfig/schema';
import { validateFiles } from '../../nodes/TraefikConfig/validate';
import {
	deliveryIdOf,
	detectGitHost,
	verifyWebhookSignature,
} from '../../nodes/TraefikConfig/webhookSignature';

/** As operators write them: comments above and beside keys, flow lists, quoted rules, odd spacing. */
const HAND_WRITTEN = `# Routers of the local AI stack -- edited by hand, keep the comments!
http:
  routers:
    # n8n editor and webhooks
    n8n:
      rule: "Host(\`n8n.example.com\`)"   # the public name
      entryPoints: [websecure]
      service: n8n
      tls:
        certResolver: letsencrypt
    n8n-api:
      rule: Host(\`n8n.example.com\`) && PathPrefix(\`/api\`)
      service: n8n
      priority: 100
      middlewares:
        - auth # basic auth for the API
    openwebui:
      rule: Host(\`chat.example.com\`)
      service: openwebui
      middlewares: [ secure-headers@file ]

  services:
    n8n:
      loadBalancer:
        servers:
          - url: http://n8n:5678
    openwebui:
      loadBalancer:
        servers:
          - url: http://open-webui:8080   # port 8080 inside the network

  middlewares:
    auth:
      basicAuth:
        usersFile: /etc/traefik/users
    secure-headers:
      headers:
        frameDeny: true
`;

describe('Build Middleware', () => {
	it("rate limit defaults to the review's figures and flags a missing source criterion", () => {
		const general = buildMiddleware('general-ratelimit', {
			type: 'rateLimit',
			average: 100,
			period: '1m',
		});
		expect(general.definition).toEqual({ rateLimit: { average: 100, period: '1m', burst: 100 } });
		expect(general.notes.join(' ')).toMatch(/one bucket/);
		expect(parse(general.yaml)).toEqual(general.config);
		expect(JSON.parse(general.json)).toEqual({
			http: {
				middlewares: {
					'general-ratelimit': { rateLimit: { average: 100, period: '1m', burst: 100 } },
				},
			},
		});
		const api = buildMiddleware('api-ratelimit', {
			type: 'rateLimit',
			average: 10,
			period: '60',
			source: { kind: 'ipDepth', depth: 1 },
		});
		expect(api.definition).toEqual({
			rateLimit: {
				average: 10,
				period: '60s',
				burst: 10,
				sourceCriterion: { ipStrategy: { depth: 1 } },
			},
		});
		expect(api.notes).toEqual([]);
		expect(
			buildMiddleware('cf', {
				type: 'rateLimit',
				average: 5,
				period: '1s',
				source: { kind: 'header', headerName: 'CF-Connecting-IP' },
			}).definition,
		).toEqual({
			rateLimit: {
				average: 5,
				period: '1s',
				burst: 5,
				sourceCriterion: { requestHeaderName: 'CF-Connecting-IP' },
			},
		});
	});

	it('refuses bad input with a message saying how to fix it', () => {
		expect(() => buildMiddleware('a@file', { type: 'compress' })).toThrow(
			/not a usable middleware name/,
		);
		expect(() => buildMiddleware('x', { type: 'rateLimit', average: 0, period: '1m' })).toThrow(
			/not a positive whole number/,
		);
		expect(() =>
			buildMiddleware('x', { type: 'rateLimit', average: 10, period: 'one minute' }),
		).toThrow(/is not a duration/);
		expect(() =>
			buildMiddleware('x', {
				type: 'secureHeaders',
				preset: 'strict',
				overrides: { sslRedirect: true },
			}),
		).toThrow(/removed from the headers middleware in Traefik v3/);
		expect(() =>
			buildMiddleware('x', {
				type: 'secureHeaders',
				preset: 'strict',
				overrides: { stsSecond: 1 } as never,
			}),
		).toThrow(/headers\.stsSecond is not a known option here/);
		expect(() => buildMiddleware('x', { type: 'ipAllowList', sourceRange: ['not an ip'] })).toThrow(
			/not an IP address/,
		);
	});

	it('secure headers use v3 options only and pass the structure check', () => {
		for (const preset of ['strict', 'moderate'] as const) {
			const built = buildMiddleware('secure-headers', {
				type: 'secureHeaders',
				preset,
				contentSecurityPolicy: "default-src 'self'",
			});
			const headers = (built.definition as { headers: Record<string, unknown> }).headers;
			expect(headers.stsSeconds).toBe(31536000);
			expect(headers.contentSecurityPolicy).toBe("default-src 'self'");
			for (const removed of [
				'sslRedirect',
				'sslHost',
				'sslForceHost',
				'sslTemporaryRedirect',
				'featurePolicy',
			])
				expect(headers).not.toHaveProperty(removed);
			expect(checkStructure(built.config)).toEqual([]);
		}
	});

	it('basic auth stores bcrypt hashes that verify, never the password', () => {
		const password = 'correct horse battery staple';
		const built = buildMiddleware('auth', {
			type: 'basicAuth',
			users: [{ user: 'ops', password }],
			realm: 'ops',
		});
		const users = (built.definition as { basicAuth: { users: string[] } }).basicAuth.users;
		expect(users[0]).toMatch(/^ops:\$2[aby]\$10\$/);
		expect(compareSync(password, users[0].slice('ops:'.length))).toBe(true);
		expect(built.yaml + built.json + JSON.stringify(built.config)).not.toContain(password);
		expect(() =>
			buildMiddleware('auth', { type: 'basicAuth', users: [{ user: 'ops', password: 'short' }] }),
		).toThrow(/shorter than 8/);
	});

	it('redirect, compress, allow list and chain', () => {
		expect(
			buildMiddleware('https', { type: 'redirectScheme', scheme: 'https' }).definition,
		).toEqual({ redirectScheme: { scheme: 'https', permanent: true } });
		expect(
			buildMiddleware('gzip', { type: 'compress', minResponseBodyBytes: 1024 }).definition,
		).toEqual({ compress: { minResponseBodyBytes: 1024 } });
		expect(
			buildMiddleware('lan', {
				type: 'ipAllowList',
				sourceRange: ['10.0.0.0/8', ' 192.168.1.0/24'],
				depth: 1,
			}).definition,
		).toEqual({
			ipAllowList: { sourceRange: ['10.0.0.0/8', '192.168.1.0/24'], ipStrategy: { depth: 1 } },
		});
		expect(buildMiddleware('all', { type: 'chain', middlewares: ['a', 'b'] }).definition).toEqual({
			chain: { middlewares: ['a', 'b'] },
		});
		expect(() => buildMiddleware('all', { type: 'chain', middlewares: [] })).toThrow(
			/at least one/,
		);
	});

	it('adds to existing YAML keeping its comments, replacing a middleware of the same name', () => {
		const first = buildMiddleware('general-ratelimit', {
			type: 'rateLimit',
			average: 100,
			period: '1m',
		});
		const text = '# our middlewares\n' + first.yaml;
		const second = buildMiddleware('api-ratelimit', {
			type: 'rateLimit',
			average: 10,
			period: '1m',
		});
		const combined = addToDocument(text, second);
		expect(combined.yaml.startsWith('# our middlewares\n')).toBe(true);
		expect(Object.keys(combined.config.http!.middlewares!)).toEqual([
			'general-ratelimit',
			'api-ratelimit',
		]);
		const replaced = addToDocument(
			combined.yaml,
			buildMiddleware('api-ratelimit', { type: 'rateLimit', average: 20, period: '1m' }),
		);
		expect(replaced.config.http!.middlewares!['api-ratelimit']).toEqual({
			rateLimit: { average: 20, period: '1m', burst: 20 },
		});
	});
});

describe('Attach Middlewares (yaml Document API)', () => {
	it('adds to every router, keeps comments, order and formatting, and is idempotent', () => {
		const result = attachMiddlewares(HAND_WRITTEN, {
			middlewares: ['general-ratelimit', 'secure-headers'],
			routers: { by: 'all' },
			position: 'first',
		});
		expect(result.changed).toBe(true);
		const config = parse(result.text);
		expect(config.http.routers.n8n.middlewares).toEqual(['general-ratelimit', 'secure-headers']);
		expect(config.http.routers['n8n-api'].middlewares).toEqual([
			'general-ratelimit',
			'secure-headers',
			'auth',
		]);
		// secure-headers@file is the same middleware: not added twice
		expect(config.http.routers.openwebui.middlewares).toEqual([
			'general-ratelimit',
			'secure-headers@file',
		]);
		for (const comment of [
			'# Routers of the local AI stack -- edited by hand, keep the comments!',
			'# n8n editor and webhooks',
			'# the public name',
			'# basic auth for the API',
			'# port 8080 inside the network',
		]) {
			expect(result.text).toContain(comment);
		}
		expect(result.text).toContain('rule: "Host(`n8n.example.com`)"');
		expect(result.text).toContain('entryPoints: [websecure]');
		expect(Object.keys(config.http.routers)).toEqual(['n8n', 'n8n-api', 'openwebui']);
		// lines we did not touch are byte-identical
		const untouched = HAND_WRITTEN.split('\n').filter(
			(l) => !/middlewares|^\s+- auth|secure-headers@file/.test(l),
		);
		for (const line of untouched) expect(result.text.split('\n')).toContain(line);

		const again = attachMiddlewares(result.text, {
			middlewares: ['general-ratelimit', 'secure-headers'],
			routers: { by: 'all' },
			position: 'first',
		});
		expect(again.changed).toBe(false);
		expect(again.text).toBe(result.text);
		expect(again.routers.every((r) => r.added.length === 0)).toBe(true);
	});

	it('selects routers by name (with @file) or by rule match; names a router it cannot edit', () => {
		const byRule = attachMiddlewares(HAND_WRITTEN, {
			middlewares: ['api-ratelimit'],
			routers: { by: 'rule', pattern: 'PathPrefix\\(`/api' },
			position: 'first',
		});
		expect(byRule.routers.map((r) => r.router)).toEqual(['n8n-api']);
		expect(parse(byRule.text).http.routers['n8n-api'].middlewares).toEqual([
			'api-ratelimit',
			'auth',
		]);
		const byName = attachMiddlewares(HAND_WRITTEN, {
			middlewares: ['crowdsec@docker'],
			routers: { by: 'name', names: ['openwebui@file', 'flowise@docker'] },
			position: 'last',
		});
		expect(parse(byName.text).http.routers.openwebui.middlewares).toEqual([
			'secure-headers@file',
			'crowdsec@docker',
		]);
		expect(byName.notFound).toEqual(['flowise@docker']);
	});

	it("adds a middlewares list to a router without one, in the file's own list style, before blank lines and comments that follow", () => {
		const flush = `http:\n  routers:\n    a:\n      rule: Host(\`a\`)\n      entryPoints:\n      - web\n      service: s\n\n    # the last one\n    b:\n      rule: Host(\`b\`)\n      service: s\n\n# services below\n  services:\n    s:\n      loadBalancer:\n        servers:\n        - url: http://s\n`;
		const result = attachMiddlewares(flush, {
			middlewares: ['general-ratelimit'],
			routers: { by: 'all' },
			position: 'first',
		});
		expect(result.text).toBe(
			flush
				.replace(
					'      service: s\n\n    # the last one',
					'      service: s\n      middlewares:\n      - general-ratelimit\n\n    # the last one',
				)
				.replace(
					'      service: s\n\n# services below',
					'      service: s\n      middlewares:\n      - general-ratelimit\n\n# services below',
				),
		);
	});

	it('refuses a file that does not parse or has no routers, changing nothing', () => {
		expect(() =>
			attachMiddlewares(
				'http:\n  routers: [\n',
				{ middlewares: ['a'], routers: { by: 'all' }, position: 'first' },
				'routers.yml',
			),
		).toThrow(/routers\.yml is not valid YAML/);
		expect(() =>
			attachMiddlewares(
				'http:\n  middlewares: {}\n',
				{ middlewares: ['a'], routers: { by: 'all' }, position: 'first' },
				'm.yml',
			),
		).toThrow(/has no http\.routers/);
	});
});

describe('Validate (folder as Traefik reads it)', () => {
	const middlewaresFile = {
		name: 'middlewares.yml',
		text: buildMiddleware('general-ratelimit', { type: 'rateLimit', average: 100, period: '1m' })
			.yaml,
	};

	it('a realistic folder is valid once its references resolve', () => {
		const withAttached = attachMiddlewares(HAND_WRITTEN, {
			middlewares: ['general-ratelimit'],
			routers: { by: 'all' },
			position: 'first',
		}).text;
		const report = validateFiles([{ name: 'routers.yml', text: withAttached }, middlewaresFile]);
		expect(report.problems).toEqual([]);
		expect(report.statusByFile).toEqual({ 'routers.yml': 'ok', 'middlewares.yml': 'ok' });
		expect([report.routers, report.services, report.middlewares]).toEqual([3, 2, 3]);
	});

	it('cross-checks services and middlewares across files, provider suffixes included', () => {
		const routers = `http:\n  routers:\n    a:\n      rule: Host(\`a\`)\n      service: missing\n      middlewares: [general-ratelimit@file, nope, crowdsec@docker, api@internal]\n`;
		const report = validateFiles([{ name: 'routers.yml', text: routers }, middlewaresFile]);
		expect(report.problems.map((p) => p.message)).toEqual([
			expect.stringMatching(/service "missing", which no file of the folder defines/),
			expect.stringMatching(/middleware "nope", which no file of the folder defines/),
		]);
		expect(report.statusByFile['routers.yml']).toBe('critical');
	});

	it('duplicate names across files, a stray {{, unparsable YAML, v3-removed options', () => {
		const report = validateFiles([
			middlewaresFile,
			{ name: 'copy.yml', text: middlewaresFile.text },
			{ name: 'templ.yml', text: '# rate {{ limit\nhttp: {}\n' },
			{
				name: 'ok-template.yml',
				text: 'http:\n  middlewares:\n    x:\n      addPrefix:\n        prefix: "{{ env \\"PREFIX\\" }}"\n',
			},
			{ name: 'broken.yml', text: 'http:\n  routers:\n    a: [\n' },
			{
				name: 'v2.yml',
				text: 'http:\n  middlewares:\n    h:\n      headers:\n        sslRedirect: true\n    w:\n      ipWhiteList:\n        sourceRange: [10.0.0.0/8]\n',
			},
		]);
		const by = (file: string) => report.problems.filter((p) => p.file === file);
		// copy.yml sorts before middlewares.yml, so Traefik keeps copy.yml's definitions
		expect(by('copy.yml')).toEqual([]);
		expect(by('middlewares.yml')).toEqual([
			expect.objectContaining({
				status: 'critical',
				message: expect.stringMatching(/also defined in copy\.yml, which Traefik reads first/),
			}),
		]);
		expect(by('templ.yml')).toEqual([
			expect.objectContaining({
				status: 'critical',
				fatal: true,
				line: 1,
				message: expect.stringMatching(/Go templating \(comments too\)/),
			}),
		]);
		expect(by('ok-template.yml')).toEqual([
			expect.objectContaining({
				status: 'warning',
				message: expect.stringMatching(/Go template action/),
			}),
		]);
		expect(by('broken.yml')[0]).toMatchObject({
			status: 'critical',
			fatal: true,
			message: expect.stringMatching(/not valid YAML.*drops the whole update/),
		});
		expect(by('v2.yml').map((p) => [p.status, p.path])).toEqual([
			['critical', 'http.middlewares.h.headers.sslRedirect'],
			['warning', 'http.middlewares.w.ipWhiteList'],
		]);
	});

	it('a rate limit keyed on the remote address behind a proxy is flagged (by option or by a proxy hint in the folder)', () => {
		expect(validateFiles([middlewaresFile]).problems).toEqual([]);
		expect(validateFiles([middlewaresFile], { behindProxy: true }).problems[0]).toMatchObject({
			status: 'warning',
			message: expect.stringMatching(/all clients share one bucket/),
		});
		const hinted = validateFiles([
			middlewaresFile,
			{
				name: 'lan.yml',
				text: buildMiddleware('lan', { type: 'ipAllowList', sourceRange: ['10.0.0.0/8'], depth: 1 })
					.yaml,
			},
		]);
		expect(hinted.problems.map((p) => p.path)).toEqual([
			'http.middlewares.general-ratelimit.rateLimit',
		]);
	});

	it('only: reports the given files while checking them with the rest', () => {
		const report = validateFiles([{ name: 'broken.yml', text: 'x: [' }, middlewaresFile], {
			only: ['middlewares.yml'],
		});
		expect(report.files).toEqual(['middlewares.yml']);
		expect(report.problems).toEqual([]);
	});
});

describe('Deploy folder rules', () => {
	it('keeps versions outside the watched folder only', () => {
		expect(
			checkFolder({
				dynamicDir: '/opt/traefik-stack/dynamic/',
				backupDir: '/opt/traefik-stack/dynamic-history',
				keep: 5,
			}),
		).toEqual({
			dynamicDir: '/opt/traefik-stack/dynamic',
			backupDir: '/opt/traefik-stack/dynamic-history',
			keep: 5,
		});
		expect(() =>
			checkFolder({ dynamicDir: '/opt/t/dynamic', backupDir: '/opt/t/dynamic/.history', keep: 5 }),
		).toThrow(/inside the watched folder/);
		expect(() =>
			checkFolder({ dynamicDir: '/opt/t/dynamic', backupDir: '/opt/t/dynamic', keep: 5 }),
		).toThrow(/inside the watched folder/);
		expect(() => checkFolder({ dynamicDir: 'dynamic', backupDir: '/h', keep: 5 })).toThrow(
			/absolute/,
		);
	});

	it('a file name from a push or an input item never leaves the dynamic folder', () => {
		expect(checkFileName(' routers.yml ')).toBe('routers.yml');
		expect(checkFileName('10-n8n.yaml')).toBe('10-n8n.yaml');
		for (const name of [
			'../../etc/x.yml',
			'../dynamic-history/x.yml',
			'/etc/traefik/x.yml',
			'sub/x.yml',
			'sub\\x.yml',
			'..yml',
			'.hidden.yml',
			'x.yml/..',
			'x.yml.bak',
			'x.yml\u0000',
			'',
		]) {
			expect(() => checkFileName(name)).toThrow(/is not a file name this node deploys/);
		}
	});
});

describe('Deploy diff (goes to Slack, email and the execution log)', () => {
	it('masks password hashes and inline private keys, keeping the lines that changed visible', () => {
		const before = buildMiddleware('auth', {
			type: 'basicAuth',
			users: [{ user: 'ops', password: 'first-password-1' }],
		}).yaml;
		const after = buildMiddleware('auth', {
			type: 'basicAuth',
			users: [{ user: 'ops', password: 'second-password-2' }],
		}).yaml;
		const hashOf = (yaml: string) => /ops:(\S+)/.exec(yaml)![1];
		const diff = redactDiff(createTwoFilesPatch('a/auth.yml', 'b/auth.yml', before, after));
		expect(diff).not.toContain(hashOf(before));
		expect(diff).not.toContain(hashOf(after));
		expect(diff).toMatch(
			new RegExp(
				`^-\\s+- ops:<password hash …${hashOf(before).slice(-4).replace(/[.$]/g, '\\$&')}>$`,
				'm',
			),
		);
		expect(diff).toMatch(/^\+\s+- ops:<password hash …/m);
		const apr1 = 'test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/';
		const sha = 'old:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=';
		expect(redactDiff(`+  - ${apr1}\n+  - ${sha}`)).toBe(
			'+  - test:<password hash …8wj/>\n+  - old:<password hash …j9g=>',
		);

		const key =
			'-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----';
		const tls = (k: string) =>
			`tls:\n  certificates:\n    - certFile: /certs/a.pem\n      keyFile: |\n${k
				.split('\n')
				.map((l) => `        ${l}`)
				.join('\n')}\n`;
		const keyDiff = redactDiff(createTwoFilesPatch('a/tls.yml', 'b/tls.yml', '', tls(key)));
		expect(keyDiff).not.toMatch(/MIIEvQ|BKcwgg/);
		expect(keyDiff).toContain('+        -----BEGIN PRIVATE KEY----- (redacted)');
		expect(keyDiff).toContain('+        (private key redacted)');
		expect(keyDiff).toContain('+        -----END PRIVATE KEY-----');
		expect(keyDiff).toContain('+    - certFile: /certs/a.pem');
	});
});

describe('Verify Webhook Signature', () => {
	const secret = 'a-long-shared-webhook-secret';
	const body = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', after: 'abc123' }));
	const hmac = createHmac('sha256', secret).update(body).digest('hex');

	it('GitHub: X-Hub-Signature-256 = sha256=<hex HMAC of the raw body>', () => {
		expect(
			verifyWebhookSignature('github', secret, body, { 'x-hub-signature-256': `sha256=${hmac}` }),
		).toEqual({ valid: true, header: 'X-Hub-Signature-256' });
		expect(
			verifyWebhookSignature('github', secret, Buffer.concat([body, Buffer.from(' ')]), {
				'x-hub-signature-256': `sha256=${hmac}`,
			}).valid,
		).toBe(false);
		expect(
			verifyWebhookSignature('github', 'other-secret', body, {
				'x-hub-signature-256': `sha256=${hmac}`,
			}).reason,
		).toMatch(/does not match/);
		expect(verifyWebhookSignature('github', secret, body, {}).reason).toMatch(/header is missing/);
	});

	it('Gitea: X-Gitea-Signature = bare hex; GitLab: X-Gitlab-Token = the secret', () => {
		expect(verifyWebhookSignature('gitea', secret, body, { 'X-Gitea-Signature': hmac }).valid).toBe(
			true,
		);
		expect(
			verifyWebhookSignature('gitea', secret, body, { 'X-Gitea-Signature': `sha256=${hmac}` })
				.valid,
		).toBe(false);
		expect(verifyWebhookSignature('gitlab', secret, body, { 'x-gitlab-token': secret }).valid).toBe(
			true,
		);
		expect(
			verifyWebhookSignature('gitlab', secret, body, { 'x-gitlab-token': 'guess' }).valid,
		).toBe(false);
	});

	it("detects the Git host from the delivery's headers", () => {
		expect(detectGitHost({ 'X-Hub-Signature-256': 'sha256=1' })).toBe('github');
		expect(detectGitHost({ 'x-gitea-signature': '1' })).toBe('gitea');
		expect(detectGitHost({ 'X-Gitlab-Token': 't' })).toBe('gitlab');
		expect(detectGitHost({ 'content-type': 'application/json' })).toBeUndefined();
	});

	it('reads the delivery id each Git host sends (what Deploy uses to refuse a replay)', () => {
		expect(deliveryIdOf({ 'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958' })).toBe(
			'72d3162e-cc78-11e3-81ab-4c9367dc0958',
		);
		expect(deliveryIdOf({ 'X-Gitea-Delivery': 'f6266f16-1bf3-46a5-9ea4-602e06ead473' })).toBe(
			'f6266f16-1bf3-46a5-9ea4-602e06ead473',
		);
		expect(deliveryIdOf({ 'x-gitlab-event-uuid': '13792a34-cac6-4fda-95a8-c58e00a3954e' })).toBe(
			'13792a34-cac6-4fda-95a8-c58e00a3954e',
		);
		expect(deliveryIdOf({ 'content-type': 'application/json' })).toBeUndefined();
	});

	it('never returns the secret or the expected signature', () => {
		const verdict = verifyWebhookSignature('github', secret, body, {
			'x-hub-signature-256': 'sha256=00',
		});
		expect(JSON.stringify(verdict)).not.toContain(secret);
		expect(JSON.stringify(verdict)).not.toContain(hmac);
	});
});

describe('Validate agrees with how Traefik reads files (issue 15)', () => {
	const PROD = `http:
  middlewares:
    secure-headers:
      headers:
        FrameDeny: true
        BrowserXssFilter: true
        ContentTypeNosniff: true
        STSSeconds: 31536000
`;

	it('a production dynamic file spelling FrameDeny/STSSeconds (Traefik matches names case-insensitively) is valid, with a spelling warning per key', () => {
		const report = validateFiles([{ name: 'headers.yml', text: PROD }]);
		expect(report.statusByFile['headers.yml']).toBe('warning');
		expect(report.problems.map((p) => [p.status, p.fatal, p.line, p.path])).toEqual([
			['warning', undefined, 5, 'http.middlewares.secure-headers.headers.FrameDeny'],
			['warning', undefined, 6, 'http.middlewares.secure-headers.headers.BrowserXssFilter'],
			['warning', undefined, 7, 'http.middlewares.secure-headers.headers.ContentTypeNosniff'],
			['warning', undefined, 8, 'http.middlewares.secure-headers.headers.STSSeconds'],
		]);
		expect(report.problems[3].message).toMatch(/documented spelling is "stsSeconds"/);
	});

	it('a tls block pasted under http and a routerz typo are refused ("field not found") with line, key and where it belongs', () => {
		const text =
			'http:\n  routerz:\n    r:\n      rule: Host(`a`)\n      service: s\n  tls:\n    options:\n      modern:\n        minVersion: VersionTLS13\n';
		const problems = validateFiles([{ name: 'misplaced.yml', text }]).problems;
		expect(problems.map((p) => [p.status, p.fatal, p.line, p.path])).toEqual([
			['critical', true, 2, 'http.routerz'],
			['critical', true, 6, 'http.tls'],
		]);
		expect(problems[0].message).toMatch(
			/^line 2: http\.routerz .*"field not found".*did you mean "routers"/,
		);
		expect(problems[1].message).toMatch(/`tls` belongs at the top level, not under `http`/);
	});

	it('a CORS middleware with accessControlAllowMethods: "GET,OPTIONS,PUT" and a router naming middlewares as "a,b" load as Traefik splits them on commas', () => {
		const text = `http:
  routers:
    api:
      rule: Host(\`api.example.com\`)
      service: api
      middlewares: "cors, gone"
  services:
    api:
      loadBalancer:
        servers:
          - url: http://api:80
  middlewares:
    cors:
      headers:
        accessControlAllowMethods: "GET,OPTIONS,PUT"
        accessControlAllowOriginList: https://a.example.com,https://b.example.com
`;
		const problems = validateFiles([{ name: 'cors.yml', text }]).problems;
		// the split list is cross-checked like a YAML list: "gone" is missing, "cors" is not
		expect(problems.map((p) => p.message)).toEqual([
			expect.stringMatching(/uses middleware "gone", which no file of the folder defines/),
		]);
	});

	it('Go template actions in comments (a "managed by {{ .Tool }}" header) give one warning per file; in YAML content each is named', () => {
		const text =
			'# managed by {{ .Tool }} -- {{ .Version }}\n# do not edit {{ .Owner }}\nhttp:\n  middlewares:\n    p:\n      addPrefix:\n        prefix: "/{{ .Prefix }}" # {{ .Note }}\n';
		const problems = validateFiles([{ name: 't.yml', text }]).problems;
		expect(problems.map((p) => [p.status, p.line])).toEqual([
			['warning', 7],
			['warning', 1],
		]);
		expect(problems[0].message).toMatch(/^line 7: a Go template action/);
		expect(problems[1].message).toMatch(/in comments \(lines 1, 2, 7\)/);
	});

	it('a router defined in 50-api.yml and in sub/10-old.yml and 10-api.yml: Traefik keeps the copy of the file it reads first by name, whatever order the listing gave', () => {
		const router =
			'http:\n  routers:\n    api:\n      rule: Host(`api.example.com`)\n      service: api@docker\n';
		const listing = [
			{ name: '50-api.yml', text: router },
			{ name: 'sub/10-old.yml', text: router },
			{ name: '10-api.yml', text: router },
		];
		const duplicates = (files: typeof listing) =>
			validateFiles(files).problems.map((p) => [p.file, p.message.replace(/, which.*/, '')]);
		// os.ReadDir order: "10-api.yml" < "50-api.yml" < "sub" (the subfolder's files where "sub" sorts)
		const expected = [
			['50-api.yml', 'http.routers.api is also defined in 10-api.yml'],
			['sub/10-old.yml', 'http.routers.api is also defined in 10-api.yml'],
		];
		expect(duplicates(listing)).toEqual(expected);
		expect(duplicates([...listing].reverse())).toEqual(expected);
	});
});
