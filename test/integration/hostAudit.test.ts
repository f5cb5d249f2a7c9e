/**
 * Host Audit's controls over real sshd on loopback against this machine: the harness's hardened sshd
 * and a second, weak sshd (password and root login on) that also runs without the audit
 * capabilities, as a container does. Both passing and failing controls come from real commands.
 */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';

import { openSsh, type SshConnection, type SshSession } from '../../nodes/shared/ssh';
import type { Finding, NewFinding } from '../../nodes/shared/findings';
import type { Control } from '../../nodes/HostAudit/control';
import { auditHost, type HostAuditOptions } from '../../nodes/HostAudit/probe';
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
