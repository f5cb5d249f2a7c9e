/** Every credential's documentation link (the "Open docs" link in n8n's credential dialog) lands on a
 * heading that exists, with GitHub's anchor for it. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

function githubAnchors(file: string): string[] {
	return readFileSync(join(root, file), 'utf8')
		.split('\n')
		.filter((l) => /^#{1,6} /.test(l))
		.map((l) =>
			l
				.replace(/^#+ /, '')
				.trim()
				.toLowerCase()
				.replace(/[^\p{L}\p{N} _-]/gu, '')
				.replace(/ /g, '-'),
		);
}

const credentials = readdirSync(join(root, 'credentials'))
	.filter((f) => f.endsWith('.credentials.ts'))
	.map((f) => {
		const mod = require(join(root, 'credentials', f)) as Record<string, new () => object>;
		const instance = new (Object.values(mod)[0])() as { name: string; documentationUrl: string };
		return { name: instance.name, url: instance.documentationUrl };
	});

describe('credential documentation links', () => {
	it('covers every credential type', () => {
		expect(credentials.length).toBeGreaterThanOrEqual(13);
	});

	it.each(credentials)('newcomer: $name links to a heading that exists', ({ url }) => {
		expect(url).toMatch(/^https:\/\/github\.com\/infra-ops\/n8n-nodes-infra-ops\/blob\/main\//);
		const [file, anchor] = url.split('/blob/main/')[1].split('#');
		expect(anchor).toBeTruthy();
		expect(githubAnchors(file)).toContain(anchor);
	});
});
