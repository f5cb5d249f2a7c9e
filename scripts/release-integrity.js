#!/usr/bin/env node
// Packs the package (`npm pack`) and prints name@version and the tarball's SHA-512 integrity, the value
// the npm registry records as `dist.integrity` and n8n's N8N_COMMUNITY_PACKAGES `checksum` compares with.
// The integrity is computed again from the tarball's bytes and must equal npm's, so a release note never
// carries a value nobody checked.
//
// Usage: node scripts/release-integrity.js [--pack-destination DIR] [--notes FILE] [--json]
//   --pack-destination DIR  where the .tgz goes (default: a new temp folder; the path is printed)
//   --notes FILE            also write the GitHub release notes (Markdown) with the pinning snippet
//   --json                  print {name, version, integrity, tarball} instead of lines
const { execFileSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const { mkdirSync, mkdtempSync, readFileSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');

function parseArgs(argv) {
	const args = { json: false };
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (a === '--json') args.json = true;
		else if (a === '--pack-destination' || a === '--notes') {
			if (!argv[i + 1]) throw new Error(`${a} needs a value`);
			args[a === '--notes' ? 'notes' : 'dest'] = resolve(argv[++i]);
		} else
			throw new Error(`unknown argument ${a} (use --pack-destination DIR, --notes FILE, --json)`);
	}
	return args;
}

function releaseNotes({ name, version, integrity }) {
	const pin = JSON.stringify([{ name, version, checksum: integrity }]);
	return [
		`## ${name}@${version}`,
		'',
		`Published from CI with an npm provenance statement. SHA-512 integrity of the package tarball:`,
		'',
		'```',
		integrity,
		'```',
		'',
		"Pin it in a self-hosted n8n (2.21 or later; n8n checks the registry's `dist.integrity` against it before installing):",
		'',
		'```sh',
		'N8N_COMMUNITY_PACKAGES_MANAGED_BY_ENV=true',
		`N8N_COMMUNITY_PACKAGES='${pin}'`,
		'```',
		'',
		'Managed by environment, n8n uninstalls community packages that are not in the list: add the others you use.',
		`The registry must report the same (\`npm view ${name}@${version} dist.integrity\`), and so must a`,
		`downloaded tarball: \`echo sha512-$(openssl dgst -sha512 -binary ${name}-${version}.tgz | base64 -w0)\`.`,
		'',
	].join('\n');
}

function main() {
	const args = parseArgs(process.argv.slice(2));
	const root = resolve(__dirname, '..');
	const dest = args.dest ?? mkdtempSync(join(tmpdir(), 'infra-ops-release-'));
	mkdirSync(dest, { recursive: true });
	const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dest], {
		cwd: root,
		encoding: 'utf8',
		stdio: ['ignore', 'pipe', 'inherit'],
	});
	const [packed] = JSON.parse(out);
	const tarball = join(dest, packed.filename);
	const computed = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
	if (computed !== packed.integrity) {
		throw new Error(`npm pack reports ${packed.integrity}, the tarball's bytes give ${computed}`);
	}
	const result = { name: packed.name, version: packed.version, integrity: computed, tarball };
	if (args.notes) writeFileSync(args.notes, releaseNotes(result));
	process.stdout.write(
		args.json
			? `${JSON.stringify(result)}\n`
			: `${result.name}@${result.version}\n${result.integrity}\n${result.tarball}\n`,
	);
}

try {
	main();
} catch (error) {
	process.stderr.write(`release-integrity: ${error.message}\n`);
	process.exit(1);
}
