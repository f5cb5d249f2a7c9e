/** The line syntax of Check URLs: URL [STATUS] ["TEXT" | WORD]. */
import {
	checkUrl,
	parseUrlLine,
	parseUrlList,
	tlsProblem,
} from '../../nodes/ContainerGuard/urlCheck';

describe('Check URLs line syntax', () => {
	it('reads URL, status forms and the expected text', () => {
		expect(parseUrlLine('https://chat.example.com 200 "Open WebUI"')).toEqual({
			url: 'https://chat.example.com/',
			expect: [{ from: 200, to: 200 }],
			expectText: '200',
			contains: 'Open WebUI',
		});
		expect(parseUrlLine('http://qdrant:6333/healthz 2xx').expect).toEqual([{ from: 200, to: 299 }]);
		expect(parseUrlLine('http://a 200-204|401').expect).toEqual([
			{ from: 200, to: 204 },
			{ from: 401, to: 401 },
		]);
		expect(parseUrlLine('http://a "two words"')).toMatchObject({
			expect: [],
			contains: 'two words',
		});
		expect(parseUrlLine('http://a ready')).toMatchObject({ expect: [], contains: 'ready' });
		expect(parseUrlLine('http://a 404 gone')).toMatchObject({
			contains: 'gone',
			expectText: '404',
		});
	});

	it('skips blank and # lines, and names the bad line', () => {
		expect(parseUrlList('# stack\n\nhttp://a\r\nhttp://b 2xx\n').map((s) => s.url)).toEqual([
			'http://a/',
			'http://b/',
		]);
		expect(() => parseUrlList('# nothing\n')).toThrow('No URL to check');
		expect(() => parseUrlList('http://a\nftp://b')).toThrow(/Line 2 .*only http/);
		expect(() => parseUrlList('http://a 200 two words')).toThrow(/cannot read "two words"/);
		expect(() => parseUrlList('http://a 999')).toThrow(/"999" is not an HTTP status/);
		expect(() => parseUrlList('http://a 200 ""')).toThrow(/cannot read/);
	});

	it('maps TLS error codes, also on the cause', () => {
		expect(tlsProblem({ code: 'CERT_HAS_EXPIRED' })).toBe('expired');
		expect(tlsProblem(new Error('x', { cause: { code: 'ERR_TLS_CERT_ALTNAME_INVALID' } }))).toBe(
			'wrong-host',
		);
		expect(tlsProblem({ code: 'ERR_SSL_WRONG_VERSION_NUMBER' })).toBe('handshake-failed');
		expect(tlsProblem({ code: 'ECONNREFUSED' })).toBeUndefined();
	});
});

describe('Check URLs never shows a secret of the URL', () => {
	it('threat: a line with user:password@ that does not parse is refused without echoing the password', () => {
		for (const line of [
			'https://admin:hunter2@grafana.lan:99999/ 200',
			'https://admin:hunter2@grafana lan',
		]) {
			let message = '';
			try {
				parseUrlLine(line, 3);
			} catch (error) {
				message = (error as Error).message;
			}
			expect(message).toMatch(/^Line 3/);
			expect(message).not.toContain('hunter2');
		}
	});

	it('threat: a ?token= in a checked URL is masked in the target and the summary', async () => {
		// port 1 on loopback refuses at once: the down path, which also quotes the error
		const finding = await checkUrl(parseUrlLine('http://127.0.0.1:1/health?token=s3cr3tvalue'), {
			timeoutMs: 5_000,
		});
		expect(finding.status).toBe('critical');
		expect(JSON.stringify(finding)).not.toContain('s3cr3tvalue');
		expect(finding.target).toBe('http://127.0.0.1:1/health?token=(redacted)');
	});
});
