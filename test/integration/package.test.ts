/** The packed tarball, installed the way n8n installs a community package (no scripts, no optional
 * or dev dependencies, peer n8n-workflow provided by the host), loads every node and credential. */
import { execFileSync } from 'node:child_process';
import {
	existsSync,
	mkdirSync,
	mkdtempSync,
	readFileSync,
	rmSync,
	symlinkSync,
	writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const root = resolve(__dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
	name: string;
	main?: string;
	n8n: { nodes: string[]; credentials: string[]; strict?: boolean };
};

describe('packed package, installed as n8n does', () => {
	let dir: string;
	let installed: string;

	beforeAll(() => {
		dir = mkdtempSync(join(tmpdir(), 'infra-ops-pack-'));
		const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], {
			cwd: root,
			encoding: 'utf8',
		})
			.trim()
			.split('\n')
			.pop()!;
		installed = join(dir, 'node_modules', pkg.name);
		mkdirSync(installed, { recursive: true });
		execFileSync('tar', ['-xzf', join(dir, tarball), '-C', installed, '--strip-components=1']);
		const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Record<
			string,
			unknown
		>;
		delete manifest.devDependencies;
		delete manifest.peerDependencies;
		delete manifest.optionalDependencies;
		writeFileSync(join(installed, 'package.json'), JSON.stringify(manifest, null, 2));
		execFileSync(
			'npm',
			[
				'install',
				'--ignore-scripts',
				'--omit=optional',
				'--omit=dev',
				'--omit=peer',
				'--install-strategy=shallow',
				'--bin-links=false',
				'--no-audit',
				'--no-fund',
				'--loglevel=error',
			],
			{ cwd: installed, stdio: 'inherit' },
		);
		// n8n resolves n8n-workflow from its own install for community packages
		symlinkSync(
			dirname(require.resolve('n8n-workflow/package.json')),
			join(dir, 'node_modules', 'n8n-workflow'),
		);
	}, 300_000);

	afterAll(() => rmSync(dir, { recursive: true, force: true }));

	it('ships dist and workflows, and no sources or tests', () => {
		const files = execFileSync(
			'tar',
			[
				'-tzf',
				join(
					dir,
					execFileSync('ls', [dir], { encoding: 'utf8' })
						.split('\n')
						.find((f) => f.endsWith('.tgz'))!,
				),
			],
			{ encoding: 'utf8' },
		).split('\n');
		expect(files).toContain('package/package.json');
		expect(files.some((f) => f.startsWith('package/workflows/'))).toBe(true);
		expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
		expect(
			files.filter((f) => f.startsWith('package/test/') || f.startsWith('package/node_modules/')),
		).toEqual([]);
	});

	it('names no main and is not strict; every n8n path is in the tarball, and n8n-core loads it from there', () => {
		const manifest = JSON.parse(
			readFileSync(join(installed, 'package.json'), 'utf8'),
		) as typeof pkg;
		// n8n reads only the n8n block (n8n-core's PackageDirectoryLoader); a main naming a missing file
		// would only mislead require() and tools
		expect(manifest.main).toBeUndefined();
		// strict asks n8n-node lint for the template's ESLint config; this pack needs runtime
		// dependencies, so it is a self-hosted, unverified package
		expect(manifest.n8n.strict).toBe(false);
		const paths = [...manifest.n8n.nodes, ...manifest.n8n.credentials];
		expect(paths).toEqual([...pkg.n8n.nodes, ...pkg.n8n.credentials]);
		expect(paths.filter((p) => !existsSync(join(installed, p)))).toEqual([]);
		const script = `
			const { PackageDirectoryLoader } = require(${JSON.stringify(require.resolve('n8n-core'))});
			const loader = new PackageDirectoryLoader(${JSON.stringify(installed)});
			loader.loadAll().then(() => process.stdout.write(JSON.stringify({
				name: loader.packageName,
				nodes: Object.keys(loader.nodeTypes).length,
				credentials: Object.keys(loader.credentialTypes).length,
			})));`;
		const loaded = JSON.parse(
			execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' }),
		) as unknown;
		expect(loaded).toEqual({
			name: pkg.name,
			nodes: pkg.n8n.nodes.length,
			credentials: pkg.n8n.credentials.length,
		});
	});

	it('requires every node and credential file in a fresh Node process, with icons in place', () => {
		const entries = [...pkg.n8n.nodes, ...pkg.n8n.credentials];
		expect(pkg.n8n.credentials.length).toBe(13);
		const script = `
			const path = require('node:path'), fs = require('node:fs');
			const out = [];
			for (const file of ${JSON.stringify(entries)}) {
				const mod = require(path.join(${JSON.stringify(installed)}, file));
				for (const [name, Cls] of Object.entries(mod)) {
					const instance = new Cls();
					const described = instance.description ?? instance;
					const icon = described.icon;
					const iconFiles = (typeof icon === 'string' ? [icon] : Object.values(icon ?? {})).map((i) => i.replace(/^file:/, ''));
					const here = path.dirname(path.join(${JSON.stringify(installed)}, file));
					out.push({ file, name, type: described.name, icon: iconFiles.length > 0 && iconFiles.every((i) => fs.existsSync(path.join(here, i))) });
				}
			}
			process.stdout.write(JSON.stringify({ node: process.version, out }));`;
		const result = JSON.parse(
			execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' }),
		) as {
			node: string;
			out: { file: string; name: string; type: string; icon: boolean }[];
		};
		expect(result.node).toMatch(/^v24\./);
		expect(result.out).toHaveLength(entries.length);
		for (const entry of result.out) {
			expect(entry).toEqual({
				file: entry.file,
				name: entry.name,
				type: expect.stringMatching(/^infraOps|^[a-z]/),
				icon: true,
			});
		}
	});

	it("loads the shared transports' SDKs lazily, from the installed pure-JS dependencies", () => {
		const script = `
			const before = Object.keys(require.cache).length;
			for (const f of ${JSON.stringify(pkg.n8n.credentials)}) require(require('path').join(${JSON.stringify(installed)}, f));
			const heavy = Object.keys(require.cache).filter((k) => /node_modules\\/(ssh2|dockerode|@aws-sdk|pg)\\//.test(k));
			const { loadSsh2, loadDockerode, loadS3, loadPg } = require(${JSON.stringify(join(installed, 'dist/nodes/shared/lazy.js'))});
			loadSsh2(); loadDockerode(); loadS3(); loadPg();
			process.stdout.write(JSON.stringify({ heavyAtLoad: heavy.length, before }));`;
		const result = JSON.parse(
			execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' }),
		) as { heavyAtLoad: number };
		expect(result.heavyAtLoad).toBe(0);
		expect(existsSync(join(installed, 'node_modules', 'cpu-features'))).toBe(false);
	});

	it('loads no SDK, yaml, diff or bcryptjs when n8n requires the node files at start', () => {
		const root = join(__dirname, '..', '..');
		const script = `
			for (const f of ${JSON.stringify(pkg.n8n.nodes)}) require(require('path').join(${JSON.stringify(root)}, f));
			const heavy = Object.keys(require.cache).filter((k) => /node_modules\\/(ssh2|dockerode|@aws-sdk|pg|yaml|diff|bcryptjs)\\//.test(k));
			const lazy = require(${JSON.stringify(join(root, 'dist/nodes/shared/lazy.js'))});
			const loaded = [lazy.loadYaml().parseDocument, lazy.loadDiff().createTwoFilesPatch, lazy.loadBcrypt().hashSync].every((f) => typeof f === 'function');
			process.stdout.write(JSON.stringify({ heavy, loaded }));`;
		const result = JSON.parse(
			execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' }),
		) as { heavy: string[]; loaded: boolean };
		expect(result).toEqual({ heavy: [], loaded: true });
	});
});
