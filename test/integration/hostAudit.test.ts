/**
 * Host Audit's controls over real sshd on loopback against this machine: the harness's hardened sshd
 * and a second, weak sshd (password and root login on) that also runs without the audit
 * capabilities, as a container does. Both passing and failing controls come from real commands.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { openSsh, type SshConnection, type SshSession } from '../../nodes/shared/ssh';
import type { Finding, NewFinding } from '../../nodes/shared/findings';
import type { Control } from '../../nodes/HostAudit/control';
import { auditHost, type HostAuditOptions } from '../../nodes/HostAudit/probe';
import { Daemon, waitUntil } from '../harness/proc';
import { services } from '../harness/services';
import { startWeakSshd, type WeakSshd } from '../harness/weakSshd';

jest.setTimeout(60_000);

function conn(port?: number, overrides: Partial<SshConnection> = {}): SshConnection {
	const { ssh } = services();
	return {
		host: ssh.host,
		port: port ?? ssh.port,
		username: ssh.username,
		privateKey: ssh.privateKey,
		hostKeyFingerprints: [ssh.hostKeyFingerprint],
		...overrides,
	};
}

function options(overrides: Partial<HostAuditOptions> = {}): HostAuditOptions {
	return {
		target: 'this-machine',
		sshdConfigFile: path.join(services().root, 'ssh', 'sshd_config'),
		useSudo: false,
		allowedPorts: ['22', '80', '443'],
		includeLoopback: false,
		expectedHostname: '',
		minFreeDiskGb: 10,
		mounts: [],
		minAvailableMemoryPercent: 10,
		aideMaxAgeDays: 8,
		aptListsMaxAgeDays: 7,
		commandTimeoutMs: 30_000,
		concurrency: 4,
		...overrides,
	};
}

const one = (findings: NewFinding[], control: string): NewFinding => {
	const found = findings.filter((f) => f.control === control);
	expect(found).toHaveLength(1);
	return found[0];
};

let weak: WeakSshd;
let good: SshSession;
let weakRoot: SshSession;

beforeAll(async () => {
	weak = await startWeakSshd('weak-sshd');
	good = await openSsh(conn());
	weakRoot = await openSsh(conn(weak.port));
});
afterAll(async () => {
	good?.close();
	weakRoot?.close();
	await weak?.stop();
});

describe('sshd effective configuration (sshd -T)', () => {
	test('the hardened harness sshd passes, with the judged lines as evidence', async () => {
		const f = one(await auditHost(good, options({ controls: ['sshd'] })), 'sshd');
		expect(f).toMatchObject({ check: 'host-audit', status: 'ok', result: 'pass' });
		expect(f.evidence).toContain('passwordauthentication no');
		expect(f.evidence).toMatch(/permitrootlogin (prohibit|without)-password/);
		expect(f.remediation).toContain('PasswordAuthentication no');
		expect(f.stateKey).toBe('sshd');
	});

	test('the weak sshd fails: password login, root login yes and empty passwords are each named', async () => {
		const f = one(
			await auditHost(weakRoot, options({ controls: ['sshd'], sshdConfigFile: weak.configFile })),
			'sshd',
		);
		expect(f).toMatchObject({ status: 'critical', result: 'fail' });
		expect(f.summary).toContain('password authentication is on');
		expect(f.summary).toContain('root login is "yes"');
		expect(f.summary).toContain('empty passwords are permitted');
		expect(f.evidence).toContain('passwordauthentication yes');
	});
});

describe('unknown, not ok and not a failure', () => {
	test('sudo needs a password: root controls are unknown with that reason, the others still judged', async () => {
		const { ssh } = services();
		const session = await openSsh(
			conn(undefined, {
				username: ssh.passwordUser,
				privateKey: undefined,
				password: ssh.password,
			}),
		);
		try {
			const findings = await auditHost(
				session,
				options({
					useSudo: true,
					controls: ['sshd', 'auditd', 'memory'],
					minAvailableMemoryPercent: 0,
				}),
			);
			for (const control of ['sshd', 'auditd']) {
				const f = one(findings, control);
				expect(f).toMatchObject({ status: 'warning', result: 'unknown' });
				expect(f.reason).toMatch(/^sudo needs a password/);
			}
			expect(one(findings, 'memory')).toMatchObject({ result: 'pass', status: 'ok' });
		} finally {
			session.close();
		}
	});

	test('auditd: the kernel refuses audit requests without CAP_AUDIT_CONTROL (as in a container) → unknown; on the machine itself, auditd stopped → fail', async () => {
		const refused = one(await auditHost(weakRoot, options({ controls: ['auditd'] })), 'auditd');
		expect(refused).toMatchObject({ status: 'warning', result: 'unknown' });
		expect(refused.reason).toMatch(/kernel refused the audit status request/);
		const stopped = one(await auditHost(good, options({ controls: ['auditd'] })), 'auditd');
		expect(stopped).toMatchObject({ status: 'critical', result: 'fail' });
		expect(stopped.summary).toMatch(/auditd is not running/);
		expect(stopped.evidence).toMatch(/^\$ status \(exit 0\)\nenabled /m);
	});

	test('a command that hangs is killed at its timeout and reported unknown; the others finish', async () => {
		const hang: Control = {
			id: 'hang',
			title: 'hangs',
			checklist: 'test',
			needsRoot: false,
			remediation: '-',
			script: () => 'sleep 4242',
			judge: () => ({ result: 'pass', summary: 'never', evidence: '' }),
		};
		const quick: Control = { ...hang, id: 'quick', script: () => 'true' };
		const started = Date.now();
		const findings = await auditHost(good, options({ commandTimeoutMs: 1_000 }), [hang, quick]);
		expect(Date.now() - started).toBeLessThan(20_000);
		expect(one(findings, 'hang')).toMatchObject({
			result: 'unknown',
			status: 'warning',
			reason: 'the command timed out after 1 s',
		});
		expect(one(findings, 'quick')).toMatchObject({ result: 'pass' });
		// `timeout` killed it on the host: nothing is left running
		expect(() => execFileSync('pgrep', ['-f', 'sleep 4242'])).toThrow();
	});
});

describe('the other host controls on this machine', () => {
	let findings: NewFinding[];
	beforeAll(async () => {
		findings = await auditHost(
			good,
			options({ includeLoopback: true, allowedPorts: ['22'], expectedHostname: 'Traefik' }),
		);
	});

	test('every finding carries evidence, a remediation and a result', () => {
		for (const f of findings) {
			expect(f.result).toMatch(/^(pass|fail|unknown)$/);
			expect(typeof f.remediation).toBe('string');
			expect((f.remediation as string).length).toBeGreaterThan(5);
			expect(typeof f.evidence).toBe('string');
			expect((f.evidence as string).length).toBeLessThanOrEqual(2_020);
		}
	});

	test('fail2ban installed but stopped → fail', () => {
		expect(one(findings, 'fail2ban')).toMatchObject({
			result: 'fail',
			summary: 'fail2ban is installed but not running',
		});
	});

	test('firewall: ufw inactive and iptables INPUT empty → fail', () => {
		const f = one(findings, 'firewall');
		expect(f).toMatchObject({ result: 'fail', status: 'critical' });
		expect(f.summary).toContain('ufw is inactive');
		expect(f.evidence).toContain('-P INPUT ACCEPT');
	});

	test('unattended-upgrades installed and enabled (Debian default) → pass', () => {
		expect(one(findings, 'unattended-upgrades')).toMatchObject({ result: 'pass' });
	});

	test('pending security updates: the count apt-get -s gives on this machine', () => {
		const f = one(findings, 'security-updates');
		const local = execFileSync('apt-get', ['-s', '-o', 'Debug::NoLocking=1', 'dist-upgrade'], {
			encoding: 'utf8',
		})
			.split('\n')
			.filter((l) => l.startsWith('Inst ') && /security/i.test(l)).length;
		expect(f.pendingSecurityUpdates).toBe(local);
		expect(f.result).toBe(local ? 'fail' : 'pass');
	});

	test('AIDE installed without a database → fail with aideinit as the remedy', () => {
		const f = one(findings, 'aide');
		expect(f).toMatchObject({
			result: 'fail',
			summary: 'AIDE is installed but its database is not initialised',
		});
		expect(f.remediation).toMatch(/aideinit/);
	});

	test('ports: the harness sshd listens outside an allowed list of 22; a full range passes', async () => {
		const f = one(findings, 'ports');
		expect(f.result).toBe('fail');
		expect(f.unexpectedPorts).toContain(`${services().ssh.port}/tcp`);
		const all = one(
			await auditHost(
				good,
				options({ controls: ['ports'], includeLoopback: true, allowedPorts: ['1-65535'] }),
			),
			'ports',
		);
		expect(all).toMatchObject({ result: 'pass', status: 'ok' });
	});

	test('hostname: "Traefik" expected → fail; this machine’s name → pass', async () => {
		expect(one(findings, 'hostname')).toMatchObject({
			result: 'fail',
			summary: `Hostname is "${os.hostname()}", expected "Traefik"`,
		});
		const same = await auditHost(
			good,
			options({ controls: ['hostname'], expectedHostname: os.hostname() }),
		);
		expect(one(same, 'hostname')).toMatchObject({ result: 'pass' });
	});

	test('disk per mount and memory: thresholds below and above what is free', async () => {
		const root = findings.find((f) => f.control === 'disk' && f.mount === '/');
		expect(root?.stateKey).toBe('disk:/');
		const low = await auditHost(
			good,
			options({
				controls: ['disk', 'memory'],
				minFreeDiskGb: 1e9,
				minAvailableMemoryPercent: 100.1,
			}),
		);
		expect(low.find((f) => f.mount === '/')).toMatchObject({ result: 'fail', status: 'critical' });
		expect(one(low, 'memory')).toMatchObject({ result: 'fail', status: 'warning' });
		const ok = await auditHost(
			good,
			options({ controls: ['disk', 'memory'], minFreeDiskGb: 0.001, minAvailableMemoryPercent: 0 }),
		);
		expect(ok.every((f: NewFinding | Finding) => f.result === 'pass')).toBe(true);
	});
});

/**
 * The passing side of the controls a stock test machine fails: each test hardens this machine the way
 * the remediation says, with the real tool, audits, and undoes it in `finally`.
 */
describe('the same controls passing once the machine is hardened (undone after each test)', () => {
	const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { encoding: 'utf8' });
	const audit = async (control: string) =>
		one(await auditHost(good, options({ controls: [control] })), control);

	test('unattended-upgrades: a host whose apt configuration does not enable it fails (APT_CONFIG on the weak sshd)', async () => {
		const f = one(
			await auditHost(weakRoot, options({ controls: ['unattended-upgrades'] })),
			'unattended-upgrades',
		);
		expect(f).toMatchObject({ result: 'fail', status: 'warning' });
		expect(f.summary).toMatch(
			/installed but not enabled \(APT::Periodic::Unattended-Upgrade unset\)/,
		);
	});

	test('fail2ban: a running server without an sshd jail fails; with the sshd jail it passes', async () => {
		const dir = fs.mkdtempSync(path.join(services().root, 'f2b-'));
		fs.cpSync('/etc/fail2ban', dir, { recursive: true });
		for (const f of fs.readdirSync(path.join(dir, 'jail.d')))
			fs.rmSync(path.join(dir, 'jail.d', f));
		fs.writeFileSync(path.join(dir, 'auth.log'), '');
		fs.writeFileSync(
			path.join(dir, 'fail2ban.local'),
			`[Definition]\nlogtarget = ${dir}/fail2ban.log\npidfile = ${dir}/fail2ban.pid\ndbfile = :memory:\n`,
		);
		const jail = (enabled: boolean) =>
			fs.writeFileSync(
				path.join(dir, 'jail.local'),
				`[DEFAULT]\nbackend = polling\nbanaction = dummy\n[sshd]\nenabled = ${enabled}\nlogpath = ${dir}/auth.log\n`,
			);
		// the server listens on the default socket, where the host's own fail2ban-client looks
		fs.mkdirSync('/var/run/fail2ban', { recursive: true });
		expect(fs.existsSync('/var/run/fail2ban/fail2ban.sock')).toBe(false);
		const server = new Daemon('fail2ban', 'fail2ban-server', ['-c', dir, '-f', '-x'], {
			logFile: path.join(dir, 'server.out'),
		});
		try {
			jail(false);
			await waitUntil(
				'fail2ban to answer',
				async () => /pong/.test(sh('fail2ban-client ping 2>&1 || true')),
				{
					timeoutMs: 30_000,
					daemon: server,
				},
			);
			expect(await audit('fail2ban')).toMatchObject({
				result: 'fail',
				summary: 'fail2ban runs without an sshd jail',
			});
			jail(true);
			sh(`fail2ban-client -c ${dir} reload`);
			await waitUntil(
				'the sshd jail',
				async () => /sshd/.test(sh('fail2ban-client status 2>&1 || true')),
				{
					timeoutMs: 30_000,
					daemon: server,
				},
			);
			expect(await audit('fail2ban')).toMatchObject({
				result: 'pass',
				status: 'ok',
				summary: 'fail2ban runs with the sshd jail (0 banned now)',
			});
		} finally {
			sh('fail2ban-client stop >/dev/null 2>&1 || true');
			await server.stop('SIGTERM', 10_000);
		}
	});

	test('firewall: one INPUT rule in iptables passes', async () => {
		const rule = '-p tcp --dport 9 -m comment --comment infra-ops-host-audit-test -j ACCEPT';
		sh(`iptables -A INPUT ${rule}`);
		try {
			const f = await audit('firewall');
			expect(f).toMatchObject({ result: 'pass', status: 'ok' });
			expect(f.summary).toMatch(/^iptables INPUT has [1-9]\d* rule\(s\)/);
			expect(f.evidence).toContain('infra-ops-host-audit-test');
		} finally {
			sh(`iptables -D INPUT ${rule}`);
		}
	});

	test('auditd: running without rules fails; with a watch rule it passes', async () => {
		expect(sh('pidof auditd || true').trim()).toBe('');
		const enabledBefore = /^enabled (\d)/m.exec(sh('auditctl -s'))![1];
		sh('auditd');
		try {
			await waitUntil('auditd to register', async () => /^pid [1-9]/m.test(sh('auditctl -s')), {
				timeoutMs: 30_000,
			});
			sh('auditctl -D >/dev/null');
			expect(await audit('auditd')).toMatchObject({
				result: 'fail',
				summary: 'auditd runs with no rules loaded',
			});
			sh('auditctl -w /etc/hostname -p wa -k infra-ops-host-audit-test');
			const f = await audit('auditd');
			expect(f).toMatchObject({ result: 'pass', status: 'ok' });
			expect(f.summary).toMatch(/^auditd runs \(pid \d+\) with 1 rule\(s\)$/);
		} finally {
			sh('auditctl -D >/dev/null 2>&1 || true');
			sh('kill $(pidof auditd) 2>/dev/null || true');
			await waitUntil('auditd to stop', async () => sh('pidof auditd || true').trim() === '', {
				timeoutMs: 30_000,
			});
			sh(`auditctl -e ${enabledBefore} >/dev/null`);
		}
	});

	test('AIDE: a database made by aide --init passes once aide --check has run', async () => {
		const db = '/var/lib/aide/aide.db';
		const log = '/var/log/aide/aide.log';
		expect(fs.existsSync(db) || fs.existsSync(log)).toBe(false);
		const dir = fs.mkdtempSync(path.join(services().root, 'aide-'));
		fs.mkdirSync(path.join(dir, 'tree'));
		fs.writeFileSync(path.join(dir, 'tree', 'file'), 'watched\n');
		// --init reports too: to stdout, so only --check leaves the log a daily check writes
		const conf = (report: string) => {
			const file = path.join(dir, `aide-${report.replace(/\W/g, '')}.conf`);
			fs.writeFileSync(
				file,
				`database_in=file:${db}\ndatabase_out=file:${db}.new\nreport_url=${report}\n${dir}/tree R\n`,
			);
			return file;
		};
		fs.mkdirSync('/var/lib/aide', { recursive: true, mode: 0o700 });
		fs.mkdirSync('/var/log/aide', { recursive: true });
		try {
			sh(`aide --config=${conf('stdout')} --init >/dev/null && mv ${db}.new ${db}`);
			const initialised = await audit('aide');
			expect(initialised).toMatchObject({ result: 'fail', status: 'warning' });
			expect(initialised.summary).toMatch(
				/database is initialised \(0 days ago\) but no check has run/,
			);
			sh(`aide --config=${conf(`file:${log}`)} --check >/dev/null`);
			const f = await audit('aide');
			expect(f).toMatchObject({ result: 'pass', status: 'ok' });
			expect(f.summary).toBe("AIDE's database is initialised; last check 0 days ago");
		} finally {
			for (const f of [db, `${db}.new`, log]) fs.rmSync(f, { force: true });
		}
	});
});
