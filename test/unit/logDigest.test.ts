/** The pure parts of Error Logs and Audit Replication: Docker's log frames, timestamps, the cursor cut, LSNs. */
import { demultiplex, parseTimestampedLines } from '../../nodes/ContainerGuard/dockerLogs';
import {
	cutAtCursor,
	digestFinding,
	digestLines,
	timestampToNs,
} from '../../nodes/ContainerGuard/logDigest';
import { formatBytes, parseLsn } from '../../nodes/HostAudit/replication';
import { lokiErrorDigest } from '../../nodes/ContainerGuard/lokiLogs';
import { checkPrometheusUrl } from '../../nodes/ContainerGuard/prometheus';

function frame(stream: 1 | 2, text: string): Buffer {
	const body = Buffer.from(text);
	const head = Buffer.alloc(8);
	head[0] = stream;
	head.writeUInt32BE(body.length, 4);
	return Buffer.concat([head, body]);
}

describe('Docker log stream', () => {
	it('joins stdout and stderr frames and drops a frame cut off at the byte bound', () => {
		const whole = Buffer.concat([frame(1, 'a\n'), frame(2, 'b\n'), frame(1, 'c\n')]);
		expect(demultiplex(whole, false)).toBe('a\nb\nc\n');
		expect(demultiplex(whole.subarray(0, whole.length - 1), false)).toBe('a\nb\n');
		expect(demultiplex(Buffer.from('raw\r\n'), true)).toBe('raw\r\n');
	});

	it('parses RFC 3339 nano timestamps and leaves an unfinished last line for the next run', () => {
		expect(timestampToNs('2026-12-04T16:00:00.000000001Z')).toBe(1796400000000000001n);
		expect(timestampToNs('2026-12-04T17:00:00.5+01:00')).toBe(1796400000500000000n);
		expect(timestampToNs('yesterday')).toBeUndefined();
		const lines = parseTimestampedLines(
			'2026-12-04T16:00:00.000000001Z ERROR one\r\n2026-12-04T16:00:00.000000002Z tw',
		);
		expect(lines).toEqual([{ ns: 1796400000000000001n, text: 'ERROR one' }]);
	});

	it('on a cut read leaves lines sharing the last timestamp for the next run, unless they are all', () => {
		const l = (ns: bigint) => ({ ns, text: String(ns) });
		expect(cutAtCursor([l(1n), l(2n), l(2n)], true, 0n)).toEqual({ lines: [l(1n)], cursor: 1n });
		expect(cutAtCursor([l(2n), l(2n)], true, 0n)).toEqual({ lines: [l(2n), l(2n)], cursor: 2n });
		expect(cutAtCursor([l(1n), l(2n)], false, 0n)).toEqual({ lines: [l(1n), l(2n)], cursor: 2n });
		expect(cutAtCursor([], false, 7n)).toEqual({ lines: [], cursor: 7n });
	});

	it('counts repeats once normalised, most repeated first, with first and last time', () => {
		const digest = digestLines(
			[
				{ ns: 3_000_000_000n, text: 'ERROR job 12 failed' },
				{ ns: 1_000_000_000n, text: 'ERROR job 7 failed' },
				{ ns: 2_000_000_000n, text: 'panic: boom' },
				{ ns: 4_000_000_000n, text: 'all fine' },
			],
			{ pattern: /error|panic/i, topMessages: 5, criticalAbove: 0 },
		);
		expect(digest).toMatchObject({ errorLines: 3, linesRead: 4 });
		expect(digest.top[0]).toEqual({
			message: 'ERROR job <n> failed',
			example: 'ERROR job 12 failed',
			count: 2,
			first: '1970-01-01T00:00:01.000Z',
			last: '1970-01-01T00:00:03.000Z',
		});
	});
});

describe('LSNs', () => {
	it('reads PostgreSQL LSNs as byte positions', () => {
		expect(parseLsn('0/3000060')).toBe(0x3000060n);
		expect(parseLsn('16/B374D848')! - parseLsn('16/B3740000')!).toBe(0xd848n);
		expect(parseLsn(null)).toBeUndefined();
		expect(formatBytes(2 * 1024 * 1024)).toBe('2.0 MiB');
	});
});

describe('Error Logs never copies a secret into the digest', () => {
	const lines = [
		'ERROR db connect failed: password=hunter2 user=app host=db',
		'ERROR upstream 401 for request with Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
		'level=error msg="s3 upload failed" aws_access_key_id=AKIAIOSFODNN7EXAMPLE aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
		'ERROR bad key -----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAABG5vbmU',
		'ERROR decrypt failed with AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSKNRNV2',
		'ERROR {"event":"login","api_key":"sk_live_abcdef123456","client_secret": "very secret value"}',
		'ERROR cannot reach postgres://app:S3cr3tPw@db:5432/app',
		'ERROR slack post failed token xoxb-1234567890-abcdefghijkl ghp_abcdefghijklmnopqrstuvwxyz0123456789',
	];
	const secrets = [
		'hunter2',
		'eyJhbGciOiJIUzI1NiJ9',
		'AKIAIOSFODNN7EXAMPLE',
		'wJalrXUtnFEMI',
		'b3BlbnNzaC1rZXktdjEAAAAABG5vbmU',
		'QYQSZQGPQYQSZQGP',
		'sk_live_abcdef123456',
		'very secret value',
		'S3cr3tPw',
		'xoxb-1234567890',
		'ghp_abcdefghijklmnop',
	];

	it('threat: passwords, Bearer tokens, AWS keys, PEM and age keys in log lines are masked in examples, messages and the summary', () => {
		const digest = digestLines(
			lines.map((text, i) => ({ ns: BigInt(i + 1) * 1_000_000_000n, text })),
			{ pattern: /error/i, topMessages: 20, criticalAbove: 0 },
		);
		expect(digest.errorLines).toBe(lines.length);
		const finding = digestFinding(
			'log-errors',
			'app',
			digest,
			9n,
			{
				pattern: /error/i,
				topMessages: 20,
				criticalAbove: 0,
			},
			{},
		);
		const out = JSON.stringify(finding);
		for (const secret of secrets) expect(out).not.toContain(secret);
		// what failed stays readable
		expect(out).toContain('db connect failed: password=(redacted) user=app host=db');
		expect(out).toContain('postgres://app:(redacted)@db:5432/app');
		expect(out).toContain('s3 upload failed');
	});

	it('a multi-megabyte line without separators is digested in linear time', () => {
		const text = `ERROR ${'passwordpasswordtoken'.repeat(200_000)}`;
		const started = Date.now();
		const digest = digestLines([{ ns: 1n, text }], {
			pattern: /error/i,
			topMessages: 1,
			criticalAbove: 0,
		});
		expect(digest.top[0].example.length).toBeLessThanOrEqual(500);
		expect(Date.now() - started).toBeLessThan(5_000);
	});

	it('ordinary error words are not masked', () => {
		const digest = digestLines(
			[
				{
					ns: 1n,
					text: 'ERROR 3 tests passed, token expired for user bob, Basic authentication failed',
				},
			],
			{ pattern: /error/i, topMessages: 1, criticalAbove: 0 },
		);
		expect(digest.top[0].example).toBe(
			'ERROR 3 tests passed, token expired for user bob, Basic authentication failed',
		);
	});
});

describe('Loki and Prometheus URLs with a password', () => {
	it('threat: a Loki or Prometheus URL that does not parse is refused without echoing its password', async () => {
		const url = 'http://admin:hunter2@loki:99999';
		const loki = await lokiErrorDigest(
			{},
			{
				url,
				query: '{job="docker"}',
				containerLabel: 'container',
				lookbackMinutes: 5,
				limit: 10,
				headers: {},
				now: new Date(),
				pattern: /error/i,
				topMessages: 1,
				criticalAbove: 0,
			},
		).catch((error: Error) => error.message);
		expect(loki).toMatch(/^Loki URL ".*" is not a URL$/);
		expect(loki).not.toContain('hunter2');
		expect(() => checkPrometheusUrl(url)).toThrow(/^Prometheus URL ".*" is not a URL$/);
		expect(() => checkPrometheusUrl(url)).not.toThrow(/hunter2/);
	});
});
