/** Stack Deploy's checks on webhook data (before anything reaches a shell) and on copied output. */
import * as fs from 'node:fs';
import * as path from 'node:path';

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

describe('deploy-on-push.json wiring (review)', () => {
	const workflow = JSON.parse(
		fs.readFileSync(path.join(__dirname, '../../workflows/deploy-on-push.json'), 'utf8'),
	) as { nodes: Array<{ name: string; parameters: Record<string, unknown> }> };
	const params = (name: string) => workflow.nodes.find((n) => n.name === name)?.parameters ?? {};

	it('newcomer: a second push waits for a running deploy as long as its start command may take (Lock Wait from commandTimeoutMinutes)', () => {
		// the default 300 s lock wait with a 15-minute start command: a push during a long image pull
		// failed with "locked" and the newest commit was never deployed
		expect(params('Deploy Stack').lockWaitS).toMatch(/\$json\.commandTimeoutMinutes \* 60 \+ \d+/);
		// Roll Back too: after a lost SSH connection it waits for the start command still running
		expect(params('Roll Back').lockWaitS).toMatch(/\.commandTimeoutMinutes \* 60 \+ \d+/);
	});

	it('threat: Roll Back only undoes the commit its own deploy checked out (a newer push deployed during the checks stays)', () => {
		expect(params('Roll Back')).toMatchObject({
			rollBackCommit: '={{ $json.fromCommit }}',
			onlyIfAt: '={{ $json.toCommit }}',
		});
		expect(String(params('Roll Back Report').jsCode)).toContain("r.action === 'refused'");
	});
});

describe('deploy-on-push.json: which pushes deploy (review)', () => {
	const workflow = JSON.parse(
		fs.readFileSync(path.join(__dirname, '../../workflows/deploy-on-push.json'), 'utf8'),
	) as {
		nodes: Array<{
			name: string;
			parameters: { conditions?: { conditions: Array<{ leftValue: string }> } };
		}>;
	};
	const expression = String(
		workflow.nodes.find((n) => n.name === 'Pushed Branch?')?.parameters.conditions?.conditions[0]
			.leftValue,
	).replace(/^=\{\{([\s\S]*)\}\}$/, '$1');
	// the filter's expression as plain JavaScript, with the push as Verify Push Signature outputs it
	const pushes = (ref: string, branch: string) =>
		new Function('$', '$json', `return (${expression});`)(
			() => ({ isExecuted: true, first: () => ({ json: { ref } }) }),
			{ branch },
		) as boolean;

	it('newcomer: Settings "branch" written as the full ref (refs/heads/stable) still matches pushes to it', () => {
		expect(pushes('refs/heads/stable', 'stable')).toBe(true);
		expect(pushes('refs/heads/stable', 'refs/heads/stable')).toBe(true);
		expect(pushes('refs/heads/stable', ' stable ')).toBe(true);
		expect(pushes('refs/heads/main', 'stable')).toBe(false);
		// a tag push (GitHub and GitLab: "ref": "refs/tags/…") never deploys
		expect(pushes('refs/tags/stable', 'stable')).toBe(false);
	});
});
