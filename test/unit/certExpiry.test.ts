import { expiryStatus } from '../../nodes/CertExpiry/judge';
import { startTlsForPort } from '../../nodes/CertExpiry/startTls';
import { parseTarget, parseTargetList } from '../../nodes/CertExpiry/targets';

const DAY = 86_400_000;

describe('thresholds that scale with the certificate lifetime', () => {
	const lifetime = { mode: 'lifetime' as const };
	it.each([
		// [lifetime days, days left, expected]
		[90, 60, 'ok'],
		[90, 30, 'ok'],
		[90, 21, 'warning'], // ACME clients renew 90-day certificates at 30 days left: 21 means a renewal failed
		[90, 8, 'warning'],
		[90, 7, 'critical'],
		[45, 20, 'ok'], // the 45-day certificate at 20 days left has not reached its renewal point (15 days)
		[45, 15, 'warning'],
		[45, 7.5, 'warning'],
		[45, 7, 'critical'],
		[6, 2, 'warning'], // short-lived certificates: a third of the lifetime left is the warning point
		[6, 1, 'critical'],
		[365, 22, 'ok'],
		[365, 0, 'critical'],
	])('%s-day certificate with %s days left is %s', (life, left, expected) => {
		expect(expiryStatus(left * DAY, life * DAY, lifetime)).toBe(expected);
	});

	it('uses fixed days when asked', () => {
		const fixed = { mode: 'fixed' as const, warningDays: 30, criticalDays: 10 };
		expect(expiryStatus(31 * DAY, 45 * DAY, fixed)).toBe('ok');
		expect(expiryStatus(20 * DAY, 45 * DAY, fixed)).toBe('warning');
		expect(expiryStatus(10 * DAY, 45 * DAY, fixed)).toBe('critical');
	});
});

describe('targets', () => {
	it('parses host, host:port, IPv6 and URLs', () => {
		expect(parseTarget('example.com')).toEqual({
			host: 'example.com',
			port: 443,
			label: 'example.com:443',
		});
		expect(parseTarget(' smtp.example.com:587 ')).toEqual({
			host: 'smtp.example.com',
			port: 587,
			label: 'smtp.example.com:587',
		});
		expect(parseTarget('[::1]:8443')).toEqual({ host: '::1', port: 8443, label: '[::1]:8443' });
		expect(parseTarget('2001:db8::1')).toEqual({
			host: '2001:db8::1',
			port: 443,
			label: '[2001:db8::1]:443',
		});
		expect(parseTarget('https://user@n8n.example.com/path?x')).toEqual({
			host: 'n8n.example.com',
			port: 443,
			label: 'n8n.example.com:443',
		});
		expect(parseTarget('postgres://db.lan')).toMatchObject({ port: 5432 });
		expect(
			parseTargetList('a.example, b.example:8443\n# comment\n\nc.example # trailing'),
		).toHaveLength(3);
	});

	it('names what is wrong', () => {
		expect(() => parseTarget('')).toThrow(/it is empty/);
		expect(() => parseTarget('host:0')).toThrow(/port 0 is out of range/);
		expect(() => parseTarget('host:abc')).toThrow(/port "abc" is not a number/);
		expect(() => parseTarget('a:b:c')).toThrow(/must be written in brackets/);
		expect(() => parseTarget('gopher://x')).toThrow(/unknown scheme gopher/);
		expect(() => parseTarget('bad_host!')).toThrow(/is not a host name/);
	});

	it('chooses STARTTLS by port', () => {
		expect([25, 587, 143, 110, 21, 5432, 443, 465].map(startTlsForPort)).toEqual([
			'smtp',
			'smtp',
			'imap',
			'pop3',
			'ftp',
			'postgres',
			'none',
			'none',
		]);
	});
});
