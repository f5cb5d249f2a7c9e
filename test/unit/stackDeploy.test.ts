/** Stack Deploy's checks on webhook data (before anything reaches a shell) and on copied output. */
import { checkBranch, checkCommit, outputTail } from '../../nodes/StackDeploy/stackDeploy';

describe('Stack Deploy input checks', () => {
	it('accepts a full commit id (any case) and refuses anything else', () => {
		const sha = 'a'.repeat(40);
		expect(checkCommit(` ${sha.toUpperCase()} `, 'Commit')).toBe(sha);
		for (const bad of ['a'.repeat(39), 'a'.repeat(41), 'HEAD', `${'a'.repeat(40)};id`, '$(id)', ''])
			expect(() => checkCommit(bad, 'Commit')).toThrow(/is not a full commit id/);
	});

	it('accepts branch names and refs/heads/ refs, refuses options, ranges and shell words', () => {
		expect(checkBranch('main')).toBe('main');
		expect(checkBranch('refs/heads/release/2026-12')).toBe('release/2026-12');
		for (const bad of [
			'-f',
			'--upload-pack=x',
			'a..b',
			'main;id',
			'$(id)',
			'a b',
			'/main',
			'main/',
			'main.lock',
			'a//b',
			'x@{1}',
			'.hidden',
			'',
		])
			expect(() => checkBranch(bad)).toThrow(/is not a branch name/);
	});
});

describe('outputTail', () => {
	it('keeps the last 30 lines, strips terminal escapes and masks secrets', () => {
		const lines = Array.from({ length: 50 }, (_, i) => `line ${i + 1}`);
		const text = `${lines.join('\n')}\n\x1b[31mERROR\x1b[0m POSTGRES_PASSWORD=hunter2hunter2\n\n`;
		const tail = outputTail(text);
		expect(tail.split('\n')).toHaveLength(30);
		expect(tail.startsWith('line 22\n')).toBe(true);
		expect(tail.endsWith('ERROR POSTGRES_PASSWORD=(redacted)')).toBe(true);
	});

	it('bounds a single endless line', () => {
		expect(outputTail('x'.repeat(100_000)).length).toBeLessThanOrEqual(3000);
	});
});
