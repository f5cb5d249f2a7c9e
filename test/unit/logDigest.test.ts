/** The pure parts of Error Logs and Audit Replication: Docker's log frames, timestamps, the cursor cut, LSNs. */
import { demultiplex, parseTimestampedLines } from '../../nodes/ContainerGuard/dockerLogs';
import { cutAtCursor, digestLines, timestampToNs } from '../../nodes/ContainerGuard/logDigest';
import { formatBytes, parseLsn } from '../../nodes/HostAudit/replication';

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
