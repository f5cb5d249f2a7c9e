/** The GitHub Actions workflows (.github/workflows) parse as YAML, run what n8n expects of a
 * community package's release (CI on push and pull request; on a version tag, `npm publish
 * --provenance` with an OIDC id-token and the release notes' integrity), and name only files,
 * scripts and npm scripts that exist in this repository. */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDocument } from 'yaml';

const root = resolve(__dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
	scripts: Record<string, string>;
};

interface Step {
	name?: string;
	uses?: string;
	run?: string;
	with?: Record<string, unknown>;
	env?: Record<string, string>;
}
interface Job {
	uses?: string;
	needs?: string | string[];
	permissions?: Record<string, string>;
	container?: { image: string; options?: string };
	steps?: Step[];
}
interface Workflow {
	on: Record<string, unknown>;
	permissions?: Record<string, string>;
	jobs: Record<string, Job>;
}

function load(file: string): Workflow {
	const doc = parseDocument(readFileSync(join(root, '.github/workflows', file), 'utf8'), {
		prettyErrors: true,
		uniqueKeys: true,
	});
	expect(doc.errors.map((e) => e.message)).toEqual([]);
	expect(doc.warnings.map((e) => e.message)).toEqual([]);
	return doc.toJS() as Workflow;
}

const steps = (wf: Workflow) => Object.values(wf.jobs).flatMap((j) => j.steps ?? []);
const runs = (wf: Workflow) =>
	steps(wf)
		.map((s) => s.run ?? '')
		.join('\n');

describe.each(['ci.yml', 'publish.yml'])('.github/workflows/%s', (file) => {
	it('parses as YAML with unique keys, and every job has steps or calls a workflow', () => {
		const wf = load(file);
		expect(Object.keys(wf.jobs).length).toBeGreaterThan(0);
		for (const [name, job] of Object.entries(wf.jobs))
			expect({ name, ok: Boolean(job.uses) || (job.steps?.length ?? 0) > 0 }).toEqual({
				name,
				ok: true,
			});
	});

	it('names only files, scripts and npm scripts that exist here', () => {
		const wf = load(file);
		const local = [
			...Object.values(wf.jobs).map((j) => j.uses),
			...steps(wf).map((s) => s.uses),
		].filter((u): u is string => Boolean(u?.startsWith('./')));
		const inRuns = [...runs(wf).matchAll(/(?:^|[\s"'])\.?\/?((?:scripts|\.ci)\/[\w./-]+)/g)].map(
			(m) => m[1],
		);
		const fromWith = steps(wf).flatMap((s) =>
			typeof s.with?.['node-version-file'] === 'string' ? [s.with['node-version-file']] : [],
		);
		const files = [...local, ...inRuns, ...fromWith];
		expect(files.filter((f) => !existsSync(join(root, f)))).toEqual([]);
		const npmScripts = [...runs(wf).matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]);
		expect(npmScripts.filter((s) => !(s in pkg.scripts))).toEqual([]);
		// pinned action versions, never a branch
		for (const s of steps(wf).filter((s) => s.uses && !s.uses.startsWith('./')))
			expect(s.uses).toMatch(/^[\w-]+\/[\w-]+@v\d+$/);
	});

	it('uses the Node version of .nvmrc (24)', () => {
		const setup = steps(load(file)).filter((s) => s.uses?.startsWith('actions/setup-node@'));
		expect(setup.length).toBeGreaterThan(0);
		for (const s of setup) expect(s.with?.['node-version-file']).toBe('.nvmrc');
		expect(readFileSync(join(root, '.nvmrc'), 'utf8').trim()).toBe('24');
	});
});

describe('CI workflow', () => {
	it('runs on push and pull request (and when publish calls it), as root in Debian, through .ci/run', () => {
		const wf = load('ci.yml');
		expect(Object.keys(wf.on).sort()).toEqual(['pull_request', 'push', 'workflow_call']);
		expect(wf.permissions).toEqual({ contents: 'read' });
		const job = wf.jobs.test;
		expect(job.container?.image).toMatch(/^debian:/);
		expect(job.container?.options).toContain('--privileged');
		expect(job.steps?.map((s) => s.uses ?? s.run?.trim())).toEqual(
			expect.arrayContaining(['actions/checkout@v4', 'scripts/fetch-reference.sh', './.ci/run']),
		);
		// the reference data is in place before the tests run
		const order = job.steps!.map((s) => s.run?.trim());
		expect(order.indexOf('scripts/fetch-reference.sh')).toBeLessThan(order.indexOf('./.ci/run'));
	});
});

describe('Publish workflow', () => {
	const wf = load('publish.yml');
	const publish = wf.jobs.publish;
	const stepRuns = publish.steps!.map((s) => s.run ?? '');
	const indexOf = (re: RegExp) => stepRuns.findIndex((r) => re.test(r));

	it('runs on a pushed v* tag, after the whole CI workflow passed', () => {
		expect(wf.on).toEqual({ push: { tags: ['v*'] } });
		expect(wf.jobs.test.uses).toBe('./.github/workflows/ci.yml');
		expect(publish.needs).toBe('test');
	});

	it('publishes with provenance and public access, with an OIDC id-token and NPM_TOKEN', () => {
		expect(wf.permissions).toEqual({ contents: 'read' });
		expect(publish.permissions).toEqual({ contents: 'write', 'id-token': 'write' });
		const step = publish.steps![indexOf(/npm publish/)];
		expect(step.run).toMatch(/npm publish .*--provenance/);
		expect(step.run).toContain('--access public');
		expect(step.env).toEqual({ NODE_AUTH_TOKEN: '${{ secrets.NPM_TOKEN }}' });
		const setup = publish.steps!.find((s) => s.uses?.startsWith('actions/setup-node@'));
		expect(setup?.with?.['registry-url']).toBe('https://registry.npmjs.org');
	});

	it('builds and lints, then packs once, publishes that tarball and puts its integrity in the release notes', () => {
		const build = indexOf(/^npm run build$/);
		const lint = indexOf(/^npm run lint$/);
		const pack = indexOf(/scripts\/release-integrity\.js/);
		const pub = indexOf(/npm publish/);
		const release = indexOf(/gh release create/);
		expect(build).toBeGreaterThan(-1);
		expect([build < lint, lint < pack, pack < pub, pub < release]).toEqual([
			true,
			true,
			true,
			true,
		]);
		expect(stepRuns[pack]).toContain('--notes');
		expect(stepRuns[pub]).toContain('${{ steps.pack.outputs.tarball }}');
		expect(stepRuns[release]).toMatch(/--notes-file "\$RUNNER_TEMP\/release\/notes\.md"/);
		expect(publish.steps![release].env).toEqual({ GH_TOKEN: '${{ github.token }}' });
	});
});
