import * as fs from 'node:fs';
import * as path from 'node:path';

import { markChanged } from '../../nodes/shared/findings';
import {
	assessVulnerabilities,
	describeAssessment,
	parseSeverities,
	trackNewCves,
	validateIgnoreRules,
	type Policy,
} from '../../nodes/TrivyScan/assess';
import { groupByImage } from '../../nodes/TrivyScan/containers';
import { demuxDockerLogs } from '../../nodes/TrivyScan/dockerRunner';
import {
	markImageChanged,
	outcomeFinding,
	reportFinding,
	vulnerabilityItems,
} from '../../nodes/TrivyScan/imageFinding';
import { parseTrivyReport, type Vulnerability } from '../../nodes/TrivyScan/report';
import { sshTrivyCommand } from '../../nodes/TrivyScan/sshRunner';
import {
	isImageReference,
	runTrivyScan,
	scanAll,
	trivyFailureText,
	trivyImageArgs,
	trivyServerUrl,
	type TrivyRunner,
	type TrivyScanOptions,
} from '../../nodes/TrivyScan/trivyRun';
import { describeWithReference, referencePath } from '../support/reference';

const REF = referencePath('trivy');
const describeRef = describeWithReference('trivy');
const golden = (name: string) => fs.readFileSync(path.join(REF, `${name}.json.golden`), 'utf8');

const policy = (over: Partial<Policy> = {}): Policy => ({
	severities: ['HIGH', 'CRITICAL'],
	ignoreUnfixed: false,
	ignore: [],
	topN: 10,
	now: new Date('2026-11-27T12:00:00Z'),
	...over,
});

const vuln = (
	id: string,
	severity: Vulnerability['severity'],
	fixedVersion = '',
	pkgName = 'openssl',
): Vulnerability => ({
	id,
	pkgName,
	installedVersion: '1.0',
	fixedVersion,
	severity,
	status: fixedVersion ? 'fixed' : 'affected',
	title: '',
	primaryUrl: '',
	target: 'img (debian 12)',
	locations: [{ target: 'img (debian 12)', pkgPath: '' }],
});

describeRef(
	'Trivy recorded-report tests (../shared/reference/trivy, Trivy integration goldens)',
	() => {
		it('reads alpine-39-high-critical: image metadata, one CVE in two packages, no Title', () => {
			const report = parseTrivyReport(golden('alpine-39-high-critical'), 'alpine-39-high-critical');
			expect(report).toMatchObject({
				schemaVersion: 2,
				artifactName: 'testdata/fixtures/images/alpine-39.tar.gz',
				artifactType: 'container_image',
				imageId: 'sha256:055936d3920576da37aa9bc460d70c5f212028bda1c08c0879aedf03d7a66ea1',
				repoTags: ['ghcr.io/aquasecurity/trivy-test-images:alpine-39'],
				os: 'alpine 3.9.4',
				osEndOfLife: true,
			});
			expect(
				report.vulnerabilities.map((v) => [
					v.id,
					v.pkgName,
					v.installedVersion,
					v.fixedVersion,
					v.severity,
					v.title,
				]),
			).toEqual([
				['CVE-2019-14697', 'musl', '1.1.20-r4', '1.1.20-r5', 'CRITICAL', ''],
				['CVE-2019-14697', 'musl-utils', '1.1.20-r4', '1.1.20-r5', 'CRITICAL', ''],
			]);
			const assessment = assessVulnerabilities(report.vulnerabilities, policy());
			expect(assessment).toMatchObject({
				status: 'critical',
				total: 1,
				fixable: 1,
				cveIds: ['CVE-2019-14697'],
			});
			expect(assessment.counts).toEqual({ CRITICAL: 1, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 });
			expect(assessment.topCves[0]).toMatchObject({
				id: 'CVE-2019-14697',
				installedVersion: '1.1.20-r4',
				fixedVersion: '1.1.20-r5',
				packages: ['musl', 'musl-utils'],
			});
		});

		it('reads alpine-310: MEDIUM only, so HIGH/CRITICAL is ok and MEDIUM is a warning with titles', () => {
			const report = parseTrivyReport(Buffer.from(golden('alpine-310')), 'alpine-310');
			expect(report.vulnerabilities).toHaveLength(4);
			expect(assessVulnerabilities(report.vulnerabilities, policy()).status).toBe('ok');
			const medium = assessVulnerabilities(
				report.vulnerabilities,
				policy({ severities: ['MEDIUM', 'HIGH', 'CRITICAL'] }),
			);
			expect(medium).toMatchObject({
				status: 'warning',
				total: 2,
				fixable: 2,
				cveIds: ['CVE-2019-1549', 'CVE-2019-1551'],
			});
			expect(medium.topCves.map((c) => [c.id, c.title, c.packages])).toEqual([
				[
					'CVE-2019-1549',
					'openssl: information disclosure in fork()',
					['libcrypto1.1', 'libssl1.1'],
				],
				[
					'CVE-2019-1551',
					'openssl: Integer overflow in RSAZ modular exponentiation on x86_64',
					['libcrypto1.1', 'libssl1.1'],
				],
			]);
		});

		it('reads alpine-39-skip, a report without Results, as no vulnerabilities', () => {
			const report = parseTrivyReport(golden('alpine-39-skip'));
			expect(report.vulnerabilities).toEqual([]);
			expect(report.os).toBe('');
			expect(assessVulnerabilities(report.vulnerabilities, policy()).status).toBe('ok');
		});

		it('reads debian-buster-ignore-unfixed and tolerates a result without Vulnerabilities', () => {
			const data = JSON.parse(golden('debian-buster-ignore-unfixed')) as {
				Results: Record<string, unknown>[];
			};
			const report = parseTrivyReport(JSON.stringify(data));
			expect(
				report.vulnerabilities.map((v) => [v.id, v.pkgName, v.fixedVersion, v.severity]),
			).toEqual([['CVE-2019-18224', 'libidn2-0', '2.0.5-1+deb10u1', 'CRITICAL']]);
			data.Results.push({ Target: 'app/package-lock.json', Class: 'lang-pkgs', Type: 'npm' });
			expect(parseTrivyReport(JSON.stringify(data)).vulnerabilities).toHaveLength(1);
		});

		it('makes one image finding per report that flags new CVEs, and one item per vulnerability', () => {
			const store: Record<string, unknown> = {};
			const report = parseTrivyReport(golden('alpine-39-high-critical'));
			const result = reportFinding(
				{ reference: 'alpine:3.9', containers: [{ id: 'abc', name: 'web', image: 'alpine:3.9' }] },
				report,
				policy(),
				store,
			);
			expect(result.finding).toMatchObject({
				check: 'trivy-image',
				target: 'alpine:3.9',
				status: 'critical',
				newCves: ['CVE-2019-14697'],
				fixable: 1,
			});
			expect(result.finding.summary).toBe(
				'alpine:3.9: 1 CRITICAL (1 fixable): CVE-2019-14697 [new: CVE-2019-14697] (alpine 3.9.4 is end of life) — used by web',
			);
			const items = vulnerabilityItems(result);
			expect(items.map((i) => [i.vulnerabilityId, i.pkgName, i.changed])).toEqual([
				['CVE-2019-14697', 'musl', true],
				['CVE-2019-14697', 'musl-utils', true],
			]);
		});
	},
);

// A `trivy image --format json` report (SchemaVersion 2) of an app image with two npm lockfiles that
// pin the same lodash, and log4j-core vendored as two jars (Trivy's "Java" result gives each a PkgPath).
const multiTargetReport = {
	SchemaVersion: 2,
	ArtifactName: 'registry.example/shop:4.2',
	ArtifactType: 'container_image',
	Metadata: {
		OS: { Family: 'debian', Name: '12.5' },
		ImageID: 'sha256:5d1f',
		RepoTags: ['registry.example/shop:4.2'],
		RepoDigests: [],
	},
	Results: [
		{ Target: 'registry.example/shop:4.2 (debian 12.5)', Class: 'os-pkgs', Type: 'debian' },
		...['srv/api/package-lock.json', 'srv/web/package-lock.json'].map((Target) => ({
			Target,
			Class: 'lang-pkgs',
			Type: 'npm',
			Vulnerabilities: [
				{
					VulnerabilityID: 'CVE-2021-23337',
					PkgName: 'lodash',
					InstalledVersion: '4.17.20',
					FixedVersion: '4.17.21',
					Status: 'fixed',
					Severity: 'HIGH',
					Title: 'lodash: command injection via template',
				},
			],
		})),
		{
			Target: 'Java',
			Class: 'lang-pkgs',
			Type: 'jar',
			Vulnerabilities: [
				'opt/shop/lib/log4j-core-2.14.1.jar',
				'opt/shop/plugins/report/log4j-core-2.14.1.jar',
			].map((PkgPath) => ({
				VulnerabilityID: 'CVE-2021-44228',
				PkgName: 'org.apache.logging.log4j:log4j-core',
				PkgPath,
				InstalledVersion: '2.14.1',
				FixedVersion: '2.15.0',
				Status: 'fixed',
				Severity: 'CRITICAL',
				Title: 'log4j-core: Remote code execution in Log4j 2.x',
			})),
		},
	],
};

describe('Trivy: the same CVE in several targets (no recorded golden has one; fixture in SchemaVersion 2 shape)', () => {
	it('an app image with lodash in two npm lockfiles and log4j-core as two jars: each CVE counted once, its item lists every target and PkgPath', () => {
		const report = parseTrivyReport(JSON.stringify(multiTargetReport), 'shop');
		const result = reportFinding({ reference: 'registry.example/shop:4.2' }, report, policy(), {});
		expect(result.finding).toMatchObject({
			status: 'critical',
			total: 2,
			counts: { CRITICAL: 1, HIGH: 1 },
			fixable: 2,
		});
		const items = vulnerabilityItems(result);
		expect(items.map((i) => [i.vulnerabilityId, i.targets, i.locations])).toEqual([
			[
				'CVE-2021-23337',
				['srv/api/package-lock.json', 'srv/web/package-lock.json'],
				[{ target: 'srv/api/package-lock.json' }, { target: 'srv/web/package-lock.json' }],
			],
			[
				'CVE-2021-44228',
				['Java'],
				[
					{ target: 'Java', pkgPath: 'opt/shop/lib/log4j-core-2.14.1.jar' },
					{ target: 'Java', pkgPath: 'opt/shop/plugins/report/log4j-core-2.14.1.jar' },
				],
			],
		]);
		expect(items[0].summary).toBe(
			'registry.example/shop:4.2: CVE-2021-23337 (HIGH) in lodash 4.17.20, fixed in 4.17.21 (in srv/api/package-lock.json, srv/web/package-lock.json): lodash: command injection via template',
		);
		expect(items[1].summary).toContain(
			'(in opt/shop/lib/log4j-core-2.14.1.jar, opt/shop/plugins/report/log4j-core-2.14.1.jar)',
		);
	});
});

describe('Trivy report parser: bad input', () => {
	it('says what is wrong with empty, non-JSON, table output and old schema', () => {
		expect(() => parseTrivyReport('  ', 'stdin')).toThrow('stdin is empty');
		expect(() => parseTrivyReport('alpine:3.9 (alpine 3.9.4)\n====\nTotal: 1', 'out')).toThrow(
			/out is not JSON/,
		);
		expect(() => parseTrivyReport('[]')).toThrow('not a Trivy JSON report');
		expect(() => parseTrivyReport('[{"Target":"x","Vulnerabilities":[]}]')).toThrow(
			'not a Trivy JSON report',
		);
		expect(() => parseTrivyReport('{"Results":[]}')).toThrow('SchemaVersion (none), not 2');
		expect(() => parseTrivyReport('{"SchemaVersion":2,"Results":{}}')).toThrow(
			'"Results" is not a list',
		);
		expect(() =>
			parseTrivyReport(
				'{"SchemaVersion":2,"Results":[{"Target":"app (alpine 3.9)","Vulnerabilities":{"VulnerabilityID":"CVE-1"}}]}',
				'r',
			),
		).toThrow('r: "Vulnerabilities" of "app (alpine 3.9)" is not a list');
		expect(
			parseTrivyReport('{"SchemaVersion":2,"Results":[{"Target":"a","Vulnerabilities":null}]}')
				.vulnerabilities,
		).toEqual([]);
	});

	it('accepts a minimal report, skips entries without an id, and maps unknown severities to UNKNOWN', () => {
		const report = parseTrivyReport(
			'\uFEFF{"SchemaVersion":2,"Results":[{"Vulnerabilities":[{"PkgName":"x"},{"VulnerabilityID":"CVE-1","Severity":"weird"}]}]}',
		);
		expect(report.vulnerabilities).toEqual([
			expect.objectContaining({ id: 'CVE-1', severity: 'UNKNOWN', title: '', fixedVersion: '' }),
		]);
	});
});

describe('Trivy policy', () => {
	const list = [
		vuln('CVE-A', 'CRITICAL', '1.1'),
		vuln('CVE-B', 'HIGH'),
		vuln('CVE-C', 'HIGH', '2.0'),
		vuln('CVE-D', 'LOW', '1.2'),
	];

	it('counts selected severities, fixable first within a severity', () => {
		const a = assessVulnerabilities(list, policy());
		expect(a.counts).toMatchObject({ CRITICAL: 1, HIGH: 2, LOW: 0 });
		expect(a.topCves.map((c) => c.id)).toEqual(['CVE-A', 'CVE-C', 'CVE-B']);
		expect(describeAssessment(a, ['HIGH', 'CRITICAL'], 2)).toBe(
			'1 CRITICAL, 2 HIGH (2 fixable): CVE-A, CVE-C, …',
		);
	});

	it('drops unfixed ones when asked', () => {
		expect(assessVulnerabilities(list, policy({ ignoreUnfixed: true })).cveIds).toEqual([
			'CVE-A',
			'CVE-C',
		]);
	});

	it('ignores listed CVEs until their expiry day has passed, then alerts again', () => {
		const ignore = validateIgnoreRules([
			{ id: 'CVE-A', reason: 'not reachable', expires: '2026-11-27' },
			{ id: 'CVE-B' },
		]);
		const before = assessVulnerabilities(
			list,
			policy({ ignore, now: new Date('2026-11-27T23:00:00Z') }),
		);
		expect(before).toMatchObject({ status: 'warning', cveIds: ['CVE-C'] });
		expect(before.ignored).toEqual([
			{ id: 'CVE-A', reason: 'not reachable', expires: '2026-11-27' },
			{ id: 'CVE-B', reason: '', expires: '' },
		]);
		expect(describeAssessment(before, ['HIGH', 'CRITICAL'])).toBe(
			'1 HIGH (1 fixable) (2 ignored): CVE-C',
		);
		const after = assessVulnerabilities(
			list,
			policy({ ignore, now: new Date('2026-11-28T00:00:01Z') }),
		);
		expect(after).toMatchObject({ status: 'critical', cveIds: ['CVE-A', 'CVE-C'] });
		expect(after.topCves[0]).toMatchObject({ id: 'CVE-A', ignoreExpired: true });
	});

	it('refuses bad ignore rules and severities with a fix', () => {
		expect(() => validateIgnoreRules([{ id: 'CVE 2024' }])).toThrow('is not a vulnerability id');
		expect(() => validateIgnoreRules([{ id: 'CVE-2024-1', expires: 'next week' }])).toThrow(
			'not a date',
		);
		expect(() => parseSeverities(['HIGH', 'SEVERE'])).toThrow('Unknown severity "SEVERE"');
		expect(() => parseSeverities([])).toThrow('No severity');
		expect(parseSeverities('critical, high')).toEqual(['CRITICAL', 'HIGH']);
	});
});

describe('new CVEs since the last run', () => {
	it('is changed when the CVE set gains a member, not when it loses one, and again when one comes back', () => {
		const store: Record<string, unknown> = {};
		const run = (ids: string[], status: 'warning' | 'critical' = 'warning') => {
			const { newCves, changeKey } = trackNewCves(store, 'trivy-image|app:1', ids);
			const [f] = markChanged(
				[{ check: 'trivy-image', target: 'app:1', status, summary: '', changeKey }],
				store,
			);
			return { changed: f.changed, newCves };
		};
		expect(run(['CVE-1', 'CVE-2'])).toEqual({ changed: true, newCves: ['CVE-1', 'CVE-2'] });
		expect(run(['CVE-1', 'CVE-2'])).toEqual({ changed: false, newCves: [] });
		expect(run(['CVE-1'])).toEqual({ changed: false, newCves: [] });
		expect(run(['CVE-1', 'CVE-2'])).toEqual({ changed: true, newCves: ['CVE-2'] });
		expect(run(['CVE-1', 'CVE-2', 'CVE-3'])).toEqual({ changed: true, newCves: ['CVE-3'] });
		expect(run(['CVE-1', 'CVE-2', 'CVE-3'])).toEqual({ changed: false, newCves: [] });
	});

	it('an image finding is changed by a new CVE or a newly failing scan, not by a fixed CRITICAL or a scan that works again', () => {
		const store: Record<string, unknown> = {};
		const scan = (ids: [string, Vulnerability['severity']][] | 'fails') => {
			const outcome =
				ids === 'fails'
					? {
							ok: false as const,
							image: 'app:1',
							error: 'Trivy exited with 1',
							exitCode: 1,
							seconds: 1,
						}
					: {
							ok: true as const,
							image: 'app:1',
							seconds: 1,
							report: {
								schemaVersion: 2,
								artifactName: 'app:1',
								artifactType: 'container_image',
								imageId: 'sha256:1',
								repoTags: [],
								repoDigests: [],
								os: '',
								osEndOfLife: false,
								vulnerabilities: ids.map(([id, severity]) => vuln(id, severity)),
							},
						};
			const [finding] = markImageChanged(
				[outcomeFinding({ reference: 'app:1' }, outcome, policy(), store).finding],
				store,
			);
			return [finding.status, finding.changed];
		};
		expect(
			scan([
				['CVE-A', 'CRITICAL'],
				['CVE-B', 'HIGH'],
			]),
		).toEqual(['critical', true]);
		// CVE-A fixed: critical drops to warning, nothing new
		expect(scan([['CVE-B', 'HIGH']])).toEqual(['warning', false]);
		expect(scan('fails')).toEqual(['error', true]);
		expect(scan('fails')).toEqual(['error', false]);
		// works again with the CVE already reported
		expect(scan([['CVE-B', 'HIGH']])).toEqual(['warning', false]);
		expect(
			scan([
				['CVE-B', 'HIGH'],
				['CVE-C', 'HIGH'],
			]),
		).toEqual(['warning', true]);
		expect(scan([])).toEqual(['ok', false]);
		// an image seen first with no CVE is no news either
		expect(
			markImageChanged(
				[
					outcomeFinding(
						{ reference: 'clean:1' },
						{
							ok: true,
							image: 'clean:1',
							seconds: 1,
							report: {
								schemaVersion: 2,
								artifactName: '',
								artifactType: '',
								imageId: '',
								repoTags: [],
								repoDigests: [],
								os: '',
								osEndOfLife: false,
								vulnerabilities: [],
							},
						},
						policy(),
						store,
					).finding,
				],
				store,
			)[0].changed,
		).toBe(false);
	});

	it('a failed scan is an error finding and keeps the last good CVE set', () => {
		const store: Record<string, unknown> = {};
		const ok = {
			ok: true as const,
			image: 'app:1',
			seconds: 1,
			report: {
				schemaVersion: 2,
				artifactName: 'app:1',
				artifactType: 'container_image',
				imageId: 'sha256:1',
				repoTags: [],
				repoDigests: [],
				os: '',
				osEndOfLife: false,
				vulnerabilities: [vuln('CVE-1', 'HIGH')],
			},
		};
		outcomeFinding({ reference: 'app:1' }, ok, policy(), store);
		const failed = outcomeFinding(
			{ reference: 'app:1' },
			{ ok: false, image: 'app:1', error: 'Trivy exited with 1', exitCode: 1, seconds: 1 },
			policy(),
			store,
		);
		expect(failed.finding).toMatchObject({
			status: 'error',
			summary: 'app:1: scan failed: Trivy exited with 1',
			exitCode: 1,
		});
		expect(failed.finding).not.toHaveProperty('counts');
		expect(outcomeFinding({ reference: 'app:1' }, ok, policy(), store).newCves).toEqual([]);
	});
});

describe('running Trivy', () => {
	it('asks for JSON on stdout with --exit-code 0 and only the chosen options', () => {
		expect(
			trivyImageArgs('nginx:1.27', {
				severities: ['HIGH', 'CRITICAL'],
				ignoreUnfixed: false,
				skipDbUpdate: false,
				timeoutSeconds: 600,
			}),
		).toEqual([
			'image',
			'--format',
			'json',
			'--quiet',
			'--exit-code',
			'0',
			'--scanners',
			'vuln',
			'--severity',
			'HIGH,CRITICAL',
			'--timeout',
			'600s',
			'nginx:1.27',
		]);
		const all = trivyImageArgs('sha256', {
			severities: ['CRITICAL'],
			ignoreUnfixed: true,
			skipDbUpdate: true,
			dockerOnly: true,
			cacheDir: '/c',
			timeoutSeconds: 60,
		});
		expect(all).toEqual(
			expect.arrayContaining([
				'--ignore-unfixed',
				'--skip-db-update',
				'--image-src',
				'docker',
				'--cache-dir',
				'/c',
			]),
		);
		// a server holds the DB: no local DB update flag with it
		const server = trivyImageArgs('x', {
			severities: ['HIGH'],
			ignoreUnfixed: false,
			skipDbUpdate: true,
			serverUrl: 'http://t:4954',
			timeoutSeconds: 60,
		});
		expect(server).toEqual(expect.arrayContaining(['--server', 'http://t:4954']));
		expect(server).not.toContain('--skip-db-update');
	});

	it('refuses image references that could be read as options or shell', () => {
		expect(isImageReference('ghcr.io/open-webui/open-webui:main')).toBe(true);
		expect(isImageReference('nginx@sha256:' + 'a'.repeat(64))).toBe(true);
		for (const bad of ['-rf', '--server=http://x', 'a b', "a'b", 'a;b', '$(id)', ''])
			expect(isImageReference(bad)).toBe(false);
	});

	it('runs the first scan alone (only it updates the DB), then the rest side by side with their scan cache in memory', async () => {
		const calls: string[][] = [];
		const events: string[] = [];
		let running = 0;
		let peak = 0;
		const runner = (failing: string[] = []): TrivyRunner => ({
			where: 'test',
			close: () => undefined,
			run: async (args) => {
				const image = args[args.length - 1];
				calls.push(args);
				running++;
				peak = Math.max(peak, running);
				events.push(`start ${image}`);
				await new Promise((resolve) => setTimeout(resolve, 20));
				running--;
				events.push(`end ${image}`);
				return failing.includes(image)
					? { code: 1, stdout: '', stderr: 'FATAL no DB' }
					: { code: 0, stdout: '{"SchemaVersion":2}', stderr: '' };
			},
		});
		const options: TrivyScanOptions = {
			severities: ['HIGH'],
			ignoreUnfixed: false,
			skipDbUpdate: false,
			timeoutSeconds: 60,
			cacheDir: '/c',
		};
		const flags = (image: string) => {
			const args = calls.find((a) => a[a.length - 1] === image)!;
			return [args.includes('--skip-db-update'), args.join(' ').includes('--cache-backend memory')];
		};

		const outcomes = await scanAll(runner(), ['a:1', 'b:1', 'c:1'], options, 2);
		expect(outcomes.map((o) => [o.image, o.ok])).toEqual([
			['a:1', true],
			['b:1', true],
			['c:1', true],
		]);
		expect(events.slice(0, 2)).toEqual(['start a:1', 'end a:1']);
		expect(peak).toBe(2);
		expect([flags('a:1'), flags('b:1'), flags('c:1')]).toEqual([
			[false, true],
			[true, true],
			[true, true],
		]);

		// one at a time: Trivy's own fs scan cache, kept between runs
		calls.length = 0;
		await scanAll(runner(), ['a:1', 'b:1'], options, 1);
		expect([flags('a:1'), flags('b:1')]).toEqual([
			[false, false],
			[false, false],
		]);

		// the first scan failed, so the DB may be missing: the others still try to get it
		calls.length = 0;
		expect(
			(await scanAll(runner(['a:1']), ['a:1', 'b:1', 'c:1'], options, 2)).map((o) => o.ok),
		).toEqual([false, true, true]);
		expect(flags('b:1')).toEqual([false, true]);

		// client/server: the server holds DB and scan cache, all run side by side
		calls.length = 0;
		events.length = 0;
		peak = 0;
		await scanAll(runner(), ['a:1', 'b:1', 'c:1'], { ...options, serverUrl: 'http://t:4954' }, 3);
		expect(peak).toBe(3);
		expect(
			calls.every((a) => !a.includes('--cache-backend') && !a.includes('--skip-db-update')),
		).toBe(true);
	});

	it('takes a Trivy server URL without a password in it, since the URL is on the command line', () => {
		expect(trivyServerUrl(' https://trivy.lan:4954/ ')).toBe('https://trivy.lan:4954');
		for (const bad of [
			'http://admin:s3cret@trivy:4954',
			'http://s3cret@trivy:4954/',
			'ftp://u:s3cret@x',
		]) {
			expect(() => trivyServerUrl(bad)).toThrow(
				"The Trivy Server credential's URL carries a user name or password",
			);
		}
		expect(() => trivyServerUrl('trivy:4954')).toThrow('"trivy:4954" is not an http(s) URL');
	});

	it('quotes the SSH command and reads the token from stdin, not the command line', () => {
		expect(sshTrivyCommand("/opt/trivy's bin", ['image', 'a:b'], ['TRIVY_TOKEN'])).toBe(
			`IFS= read -r TRIVY_TOKEN && export TRIVY_TOKEN && exec '/opt/trivy'\\''s bin' 'image' 'a:b'`,
		);
	});

	it('tells a failing Trivy from one that found vulnerabilities, and masks the token', async () => {
		const calls: { args: string[]; env: Record<string, string> }[] = [];
		const answer = (code: number, stdout: string, stderr: string): TrivyRunner => ({
			where: 'test',
			close: () => undefined,
			run: async (args, env) => {
				calls.push({ args, env });
				return { code, stdout, stderr };
			},
		});
		const options = {
			severities: ['HIGH' as const],
			ignoreUnfixed: false,
			skipDbUpdate: false,
			timeoutSeconds: 60,
		};
		const failed = await runTrivyScan(
			answer(
				1,
				'',
				'2026-11-27T10:00:00Z\tFATAL\tunable to find the image "nope:1" (token s3cret)\n',
			),
			'nope:1',
			options,
			's3cret',
		);
		expect(failed).toMatchObject({ ok: false, exitCode: 1 });
		expect(!failed.ok && failed.error).toBe(
			'Trivy exited with 1 on test: 2026-11-27T10:00:00Z\tFATAL\tunable to find the image "nope:1" (token ***)',
		);
		expect(calls[0].env).toEqual({ TRIVY_TOKEN: 's3cret' });
		expect(calls[0].args.join(' ')).not.toContain('s3cret');
		const notFound = await runTrivyScan(answer(127, '', 'sh: trivy: not found'), 'a:1', options);
		expect(!notFound.ok && notFound.error).toBe(
			'trivy was not found on test: sh: trivy: not found',
		);
		const noReport = await runTrivyScan(answer(0, '', ''), 'a:1', options);
		expect(!noReport.ok && noReport.error).toMatch(/is empty/);
		const refused = await runTrivyScan(answer(0, '', ''), '--help', options);
		expect(refused).toMatchObject({ ok: false, error: '"--help" is not an image reference' });
		expect(calls).toHaveLength(3);
		expect(trivyFailureText('INFO a\nWARN b\n')).toBe('WARN b');
	});
});

describe('Docker log demultiplexing', () => {
	const frame = (stream: number, text: string) => {
		const payload = Buffer.from(text);
		const header = Buffer.alloc(8);
		header[0] = stream;
		header.writeUInt32BE(payload.length, 4);
		return Buffer.concat([header, payload]);
	};

	it('splits stdout and stderr frames, in order', () => {
		const { stdout, stderr } = demuxDockerLogs(
			Buffer.concat([frame(1, '{"a":'), frame(2, 'INFO x\n'), frame(1, '1}'), frame(2, '')]),
		);
		expect(stdout.toString()).toBe('{"a":1}');
		expect(stderr.toString()).toBe('INFO x\n');
	});

	it('refuses a TTY stream or a cut frame', () => {
		expect(() => demuxDockerLogs(Buffer.from('{"SchemaVersion":2}'))).toThrow('not multiplexed');
		expect(() => demuxDockerLogs(frame(1, 'abcdef').subarray(0, 10))).toThrow(
			'ends inside a frame',
		);
	});
});

describe('running containers by image', () => {
	it('dedupes by image ID, names each image by a tag that still points at it, else its short ID', () => {
		const groups = groupByImage(
			[
				{ Id: 'c1'.padEnd(64, '0'), Names: ['/web-1'], Image: 'nginx', ImageID: 'sha256:aaa' },
				{
					Id: 'c2'.padEnd(64, '0'),
					Names: ['/web-2'],
					Image: 'nginx:latest',
					ImageID: 'sha256:aaa',
				},
				{
					Id: 'c3'.padEnd(64, '0'),
					Names: ['/old'],
					Image: 'app:1',
					ImageID: 'sha256:' + 'b'.repeat(64),
				},
				// a Trivy container of a run going on meanwhile
				{
					Id: 'c4'.padEnd(64, '0'),
					Names: ['/trivy'],
					Image: 'aquasec/trivy:0.58.1',
					ImageID: 'sha256:ddd',
					Labels: { 'io.infra-ops.trivy-scan': 'true' },
				},
			],
			[
				{ Id: 'sha256:aaa', RepoTags: ['mirror/nginx:1', 'nginx:latest'] },
				{ Id: 'sha256:ccc', RepoTags: ['app:1'] },
			],
		);
		expect(groups).toEqual([
			{
				imageId: 'sha256:' + 'b'.repeat(64),
				reference: 'b'.repeat(12),
				tags: [],
				containers: [{ id: 'c30000000000', name: 'old', image: 'app:1' }],
			},
			{
				imageId: 'sha256:aaa',
				reference: 'nginx:latest',
				tags: ['mirror/nginx:1', 'nginx:latest'],
				containers: [
					{ id: 'c10000000000', name: 'web-1', image: 'nginx' },
					{ id: 'c20000000000', name: 'web-2', image: 'nginx:latest' },
				],
			},
		]);
	});
});
