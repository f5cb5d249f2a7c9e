/** Host Audit's parsers and judges on the documented output formats of ufw, nft and ss, and the
 * command line the runner builds, run through a real local shell. */
import { execFileSync } from 'node:child_process';

import * as fs from 'node:fs';

import { firewallControl, sshdControl } from '../../nodes/HostAudit/controls';
import {
	section,
	step,
	unknown,
	type Control,
	type ControlOptions,
	type ProbeOutput,
} from '../../nodes/HostAudit/control';
import { auditHost, commandLine, parseSections } from '../../nodes/HostAudit/probe';
import { hostnameControl, parseListeners, parsePortRules } from '../../nodes/HostAudit/resources';

const opts = {} as ControlOptions;
const output = (stdout: string): ProbeOutput => ({
	code: 0,
	stdout,
	stderr: '',
	sections: parseSections(stdout),
});

describe('command line and sections', () => {
	test('a script with quotes and a step survives sh -c under timeout, sections split by exit status', () => {
		const line = commandLine(
			`out=$(echo "it's" 'a b'); printf '### one 0\\n%s\\n' "$out"; echo '### two 3'; echo x`,
			5_000,
			false,
		);
		expect(line).toMatch(/^timeout -k 2 5 sh -c '/);
		const stdout = execFileSync('sh', ['-c', line], { encoding: 'utf8' });
		const sections = parseSections(stdout);
		expect(sections.get('one')).toEqual({ rc: 0, text: "it's a b" });
		expect(sections.get('two')).toEqual({ rc: 3, text: 'x' });
		expect(commandLine('true', 1, true)).toMatch(/^sudo -n -- timeout -k 2 1 sh -c /);
	});
});

describe('ports', () => {
	test('allowed entries: ports, ranges, protocols; a typo says how to write them', () => {
		expect(parsePortRules(['22', '8000-8100', '53/udp'])).toEqual([
			{ from: 22, to: 22, proto: undefined },
			{ from: 8000, to: 8100, proto: undefined },
			{ from: 53, to: 53, proto: 'udp' },
		]);
		expect(() => parsePortRules(['22/sctp'])).toThrow(/is not a port/);
		expect(() => parsePortRules(['90-80'])).toThrow(/is not a port/);
	});

	test('ss -Hltnup lines: IPv4, IPv6, scoped loopback, process names', () => {
		const listeners = parseListeners(
			[
				'tcp   LISTEN 0      128          0.0.0.0:22        0.0.0.0:*    users:(("sshd",pid=612,fd=3))',
				'tcp   LISTEN 0      4096            [::]:443          [::]:*    users:(("docker-proxy",pid=9,fd=4))',
				'udp   UNCONN 0      0      127.0.0.53%lo:53        0.0.0.0:*    users:(("systemd-resolve",pid=5,fd=13))',
				'tcp   LISTEN 0      244        127.0.0.1:5432      0.0.0.0:*',
			].join('\n'),
		);
		expect(listeners).toEqual([
			{ proto: 'tcp', address: '0.0.0.0', port: 22, process: 'sshd', loopback: false },
			{ proto: 'tcp', address: '::', port: 443, process: 'docker-proxy', loopback: false },
			{
				proto: 'udp',
				address: '127.0.0.53%lo',
				port: 53,
				process: 'systemd-resolve',
				loopback: true,
			},
			{ proto: 'tcp', address: '127.0.0.1', port: 5432, process: undefined, loopback: true },
		]);
	});
});

describe('firewall judge on the documented formats (ufw(8) "status verbose", nft list ruleset)', () => {
	test('ufw active with rules passes; inactive ufw and an empty INPUT chain fail', () => {
		const active = firewallControl.judge(
			output(
				'### ufw 0\nStatus: active\nLogging: on (low)\nDefault: deny (incoming), allow (outgoing), disabled (routed)\nNew profiles: skip\n\nTo                         Action      From\n--                         ------      ----\n22/tcp                     ALLOW IN    Anywhere\n',
			),
			opts,
		);
		expect(active).toMatchObject({
			result: 'pass',
			summary: 'ufw is active with 1 rule(s), incoming denied by default',
		});
		const none = firewallControl.judge(
			output('### ufw 0\nStatus: inactive\n### iptables 0\n-P INPUT ACCEPT\n'),
			opts,
		);
		expect(none).toMatchObject({
			result: 'fail',
			summary:
				'No firewall is active: ufw is inactive; iptables INPUT accepts everything with no rules',
		});
	});

	test('nftables with an input chain policy drop passes', () => {
		const verdict = firewallControl.judge(
			output(
				'### nft 0\ntable inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\tct state established,related accept\n\t\ttcp dport 22 accept\n\t}\n}\n',
			),
			opts,
		);
		expect(verdict).toMatchObject({
			result: 'pass',
			summary: 'nftables has 2 rule(s), input policy drop',
		});
	});

	test('every tool refused for want of root → unknown with the reason', () => {
		const verdict = firewallControl.judge(
			output(
				'### ufw 1\nERROR: You need to be root to run this script\n### iptables 4\niptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)\n',
			),
			opts,
		);
		expect(verdict).toMatchObject({ result: 'unknown' });
		expect((verdict as { reason: string }).reason).toMatch(/ufw status was refused .*Use Sudo/);
	});
});

describe('what the host prints and what Settings say never turn into secrets or commands', () => {
	const local = {
		exec: async (command: string) => {
			try {
				return {
					code: 0,
					stdout: execFileSync('sh', ['-c', command], { encoding: 'utf8' }),
					stderr: '',
				};
			} catch (error) {
				const e = error as { status: number; stdout: string; stderr: string };
				return { code: e.status, stdout: e.stdout, stderr: e.stderr };
			}
		},
	};
	const options = {
		target: 'h1',
		useSudo: false,
		commandTimeoutMs: 10_000,
		concurrency: 2,
		sshdConfigFile: '/etc/ssh/sshd_config',
		allowedPorts: [],
		includeLoopback: false,
		expectedHostname: '',
		minFreeDiskGb: 1,
		mounts: [],
		minAvailableMemoryPercent: 1,
		aideMaxAgeDays: 8,
		aptListsMaxAgeDays: 7,
	};

	test('threat: a command output with a password, token or key reaches evidence and summary masked', async () => {
		const leaky: Control = {
			id: 'leaky',
			title: 'leaky',
			checklist: 'x',
			needsRoot: false,
			remediation: '-',
			script: () =>
				step(
					'env',
					"echo 'DB_PASSWORD=hunter2'; echo 'Authorization: Bearer abcdef123456'; echo 'AWS AKIAIOSFODNN7EXAMPLE'",
				),
			judge: (out) =>
				unknown(`saw ${section(out, 'env').text.split('\n')[0]}`, section(out, 'env').text),
		};
		const [finding] = await auditHost(local, options, [leaky]);
		const text = JSON.stringify(finding);
		expect(text).toContain('DB_PASSWORD=(redacted)');
		for (const secret of ['hunter2', 'abcdef123456', 'AKIAIOSFODNN7EXAMPLE'])
			expect(text).not.toContain(secret);
	});

	test('threat: a hostile Expected Hostname is quoted in the remediation command, never shell text', async () => {
		const [finding] = await auditHost(local, { ...options, expectedHostname: 'web1; rm -rf /' }, [
			hostnameControl,
		]);
		expect(finding.result).toBe('fail');
		expect(finding.remediation).toContain("hostnamectl set-hostname 'web1; rm -rf /'");
		const [plain] = await auditHost(local, { ...options, expectedHostname: 'no-such-host.lan' }, [
			hostnameControl,
		]);
		expect(plain.remediation).toMatch(/^hostnamectl set-hostname no-such-host\.lan /);
	});

	test('a hostile sshd config path stays one argument (guard)', () => {
		const marker = `/tmp/rv-pwned-${process.pid}`;
		const script = sshdControl.script({ ...options, sshdConfigFile: `/x'; touch ${marker}; '` });
		execFileSync('sh', ['-c', `${commandLine(script, 5_000, false)}; true`], { encoding: 'utf8' });
		expect(fs.existsSync(marker)).toBe(false);
	});
});
