/** The hardening controls of the review's checklist (Debian / Ubuntu commands), each read-only. */
import { shellQuote } from '../shared/ssh';
import {
	allSections,
	CHECKLIST,
	type Control,
	deniedReason,
	section,
	step,
	unknown,
	type Verdict,
} from './control';
import { RESOURCE_CONTROLS } from './resources';

const SSHD_HARDENED =
	"printf 'PasswordAuthentication no\\nKbdInteractiveAuthentication no\\nPermitRootLogin prohibit-password\\nPubkeyAuthentication yes\\nPermitEmptyPasswords no\\n' > /etc/ssh/sshd_config.d/00-hardening.conf && sshd -t && systemctl reload ssh";

export const sshdControl: Control = {
	id: 'sshd',
	title: 'sshd effective configuration',
	checklist: CHECKLIST[0],
	needsRoot: true,
	remediation: SSHD_HARDENED,
	script: (o) => step('sshd', `sshd -T -f ${shellQuote(o.sshdConfigFile)}`),
	judge(output) {
		const { text } = section(output, 'sshd');
		const conf = new Map<string, string>();
		for (const line of text.split('\n')) {
			const m = /^([a-z0-9]+) (.*)$/.exec(line.trim());
			if (m) conf.set(m[1], m[2]);
		}
		if (!conf.has('passwordauthentication'))
			return unknown(
				deniedReason('sshd -T', text) ??
					`sshd -T printed no configuration (${text.split('\n')[0]?.slice(0, 160) ?? ''})`,
				text,
			);
		const keys = [
			'passwordauthentication',
			'permitrootlogin',
			'pubkeyauthentication',
			'permitemptypasswords',
			'kbdinteractiveauthentication',
			'usepam',
		];
		const evidence = keys.map((k) => `${k} ${conf.get(k) ?? '(not printed)'}`).join('\n');
		const problems: string[] = [];
		if (conf.get('passwordauthentication') !== 'no') problems.push('password authentication is on');
		if (
			!['no', 'prohibit-password', 'without-password', 'forced-commands-only'].includes(
				conf.get('permitrootlogin') ?? '',
			)
		)
			problems.push(`root login is "${conf.get('permitrootlogin')}"`);
		if (conf.get('pubkeyauthentication') !== 'yes')
			problems.push('public key authentication is off');
		if (conf.get('permitemptypasswords') !== 'no') problems.push('empty passwords are permitted');
		// with PAM, keyboard-interactive asks for the same password
		if (conf.get('kbdinteractiveauthentication') === 'yes' && conf.get('usepam') === 'yes')
			problems.push('keyboard-interactive (PAM password) authentication is on');
		return problems.length
			? {
					result: 'fail',
					summary: `sshd: ${problems.join('; ')}`,
					evidence,
					changeKey: problems.join('|'),
				}
			: {
					result: 'pass',
					summary: `sshd takes keys only; root login is "${conf.get('permitrootlogin')}"`,
					evidence,
				};
	},
};

export const fail2banControl: Control = {
	id: 'fail2ban',
	title: 'fail2ban with an sshd jail',
	checklist: CHECKLIST[1],
	needsRoot: true,
	remediation: 'apt-get install -y fail2ban && systemctl enable --now fail2ban',
	script: () =>
		`if command -v fail2ban-client >/dev/null; then ${step('ping', 'fail2ban-client ping')}${step('sshd', 'fail2ban-client status sshd')}else echo '### absent 0'; fi`,
	judge(output): Verdict {
		const evidence = allSections(output);
		if (output.sections.has('absent'))
			return { result: 'fail', summary: 'fail2ban is not installed', evidence };
		const ping = section(output, 'ping');
		if (ping.rc !== 0) {
			const denied = deniedReason('fail2ban-client', ping.text);
			if (denied) return unknown(denied, evidence);
			return {
				result: 'fail',
				summary: 'fail2ban is installed but not running',
				evidence,
				remediation: 'systemctl enable --now fail2ban',
			};
		}
		const jail = section(output, 'sshd');
		if (jail.rc !== 0)
			return {
				result: 'fail',
				summary: 'fail2ban runs without an sshd jail',
				evidence,
				remediation:
					"printf '[sshd]\\nenabled = true\\nbackend = systemd\\n' > /etc/fail2ban/jail.d/sshd.local && systemctl restart fail2ban",
			};
		const banned = /Currently banned:\s*(\d+)/.exec(jail.text)?.[1];
		return {
			result: 'pass',
			summary: `fail2ban runs with the sshd jail${banned !== undefined ? ` (${banned} banned now)` : ''}`,
			evidence,
		};
	},
};

export const firewallControl: Control = {
	id: 'firewall',
	title: 'Firewall active with rules',
	checklist: CHECKLIST[2],
	needsRoot: true,
	remediation:
		'ufw default deny incoming && ufw allow OpenSSH && ufw allow 80,443/tcp && ufw --force enable',
	script: () =>
		[
			`if command -v ufw >/dev/null; then ${step('ufw', 'ufw status verbose')}fi`,
			`if command -v nft >/dev/null; then ${step('nft', 'nft list ruleset')}fi`,
			`if command -v iptables >/dev/null; then ${step('iptables', 'iptables -S INPUT')}fi`,
		].join('; '),
	judge(output): Verdict {
		const evidence = allSections(output);
		const seen: string[] = [];
		const denied: string[] = [];
		const ufw = output.sections.get('ufw');
		if (ufw) {
			if (/^Status: active/m.test(ufw.text)) {
				const rules = ufw.text
					.split('\n')
					.filter((l) => /\b(ALLOW|DENY|REJECT|LIMIT)\b/.test(l)).length;
				const denyIn = /Default: (deny|reject) \(incoming\)/.test(ufw.text);
				if (rules || denyIn)
					return {
						result: 'pass',
						summary: `ufw is active with ${rules} rule(s)${denyIn ? ', incoming denied by default' : ''}`,
						evidence,
					};
				seen.push('ufw is active with no rules and incoming allowed');
			} else {
				const d = deniedReason('ufw status', ufw.text);
				if (d) denied.push(d);
				else seen.push('ufw is inactive');
			}
		}
		const nft = output.sections.get('nft');
		if (nft) {
			if (nft.rc !== 0) {
				const d = deniedReason('nft list ruleset', nft.text);
				if (d) denied.push(d);
			} else {
				const rules = nft.text
					.split('\n')
					.filter((l) => /^\t\t\S/.test(l) && !/^\t\ttype /.test(l)).length;
				const dropPolicy = /hook input[^\n]*policy drop/.test(nft.text);
				if (rules || dropPolicy)
					return {
						result: 'pass',
						summary: `nftables has ${rules} rule(s)${dropPolicy ? ', input policy drop' : ''}`,
						evidence,
					};
				seen.push('nftables has no rules');
			}
		}
		const ipt = output.sections.get('iptables');
		if (ipt) {
			if (ipt.rc !== 0) {
				const d = deniedReason('iptables -S', ipt.text);
				if (d) denied.push(d);
				else seen.push(`iptables failed: ${ipt.text.split('\n')[0]}`);
			} else {
				const rules = ipt.text.split('\n').filter((l) => l.startsWith('-A INPUT')).length;
				const dropPolicy = /^-P INPUT (DROP|REJECT)/m.test(ipt.text);
				if (rules || dropPolicy)
					return {
						result: 'pass',
						summary: `iptables INPUT has ${rules} rule(s)${dropPolicy ? ', policy DROP' : ''}`,
						evidence,
					};
				seen.push('iptables INPUT accepts everything with no rules');
			}
		}
		if (!seen.length && denied.length) return unknown(denied[0], evidence);
		if (!ufw && !nft && !ipt)
			return {
				result: 'fail',
				summary: 'no firewall tool (ufw, nft, iptables) is installed',
				evidence,
			};
		return { result: 'fail', summary: `No firewall is active: ${seen.join('; ')}`, evidence };
	},
};

export const unattendedUpgradesControl: Control = {
	id: 'unattended-upgrades',
	title: 'unattended-upgrades enabled',
	checklist: CHECKLIST[3],
	needsRoot: false,
	remediation:
		'apt-get install -y unattended-upgrades && printf \'APT::Periodic::Update-Package-Lists "1";\\nAPT::Periodic::Unattended-Upgrade "1";\\n\' > /etc/apt/apt.conf.d/20auto-upgrades',
	script: () =>
		step('package', "dpkg-query -W -f='${Status}' unattended-upgrades") +
		step('periodic', 'apt-config dump APT::Periodic'),
	judge(output): Verdict {
		const evidence = allSections(output);
		const pkg = section(output, 'package');
		if (/not found/.test(pkg.text) && pkg.rc === 127)
			return unknown('dpkg-query is missing: not a Debian or Ubuntu host', evidence);
		if (!/install ok installed/.test(pkg.text))
			return {
				result: 'fail',
				severity: 'warning',
				summary: 'unattended-upgrades is not installed',
				evidence,
			};
		const value = /APT::Periodic::Unattended-Upgrade "([^"]*)"/.exec(
			section(output, 'periodic').text,
		)?.[1];
		if (!value || value === '0' || /^(false|no)$/i.test(value))
			return {
				result: 'fail',
				severity: 'warning',
				summary: `unattended-upgrades is installed but not enabled (APT::Periodic::Unattended-Upgrade ${value ? `"${value}"` : 'unset'})`,
				evidence,
			};
		return {
			result: 'pass',
			summary: `unattended-upgrades is enabled (APT::Periodic::Unattended-Upgrade "${value}")`,
			evidence,
		};
	},
};

export const securityUpdatesControl: Control = {
	id: 'security-updates',
	title: 'Pending security updates',
	checklist: CHECKLIST[3],
	needsRoot: false,
	remediation: 'apt-get update && apt-get -y upgrade (or: unattended-upgrade -v)',
	script: () =>
		// simulation only: no lock taken, nothing installed; lists are not refreshed (that would change the host)
		step('simulate', 'apt-get -s -o Debug::NoLocking=1 dist-upgrade') +
		step(
			'lists',
			"find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -printf '%T@\\n' | sort -n | tail -1",
		) +
		step('now', 'date +%s'),
	judge(output, options): Verdict {
		const sim = section(output, 'simulate');
		if (sim.rc !== 0)
			return unknown(
				`apt-get -s failed: ${sim.text.split('\n').pop()?.slice(0, 160) ?? ''}`,
				sim.text,
			);
		const installs = sim.text.split('\n').filter((l) => l.startsWith('Inst '));
		const security = installs.filter((l) => /security/i.test(l));
		const names = security.map((l) => l.split(' ')[1]).sort();
		const listsAt = Number(section(output, 'lists').text.trim());
		const now = Number(section(output, 'now').text.trim());
		const listsAgeDays =
			listsAt > 0 && now > 0 ? Math.round(((now - listsAt) / 86_400) * 10) / 10 : undefined;
		const stale =
			listsAgeDays === undefined
				? ' (no package lists: run apt-get update)'
				: listsAgeDays > options.aptListsMaxAgeDays
					? ` (package lists are ${listsAgeDays} days old: the count may be low)`
					: '';
		const details = {
			pendingSecurityUpdates: names.length,
			pendingUpdates: installs.length,
			packages: names,
			listsAgeDays,
		};
		const evidence = security.length
			? security.join('\n')
			: `${installs.length} updates pending, none from a security suite`;
		if (names.length)
			return {
				result: 'fail',
				severity: 'warning',
				summary: `${names.length} security update(s) pending: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''}${stale}`,
				evidence,
				details,
				changeKey: names.join(','),
			};
		return {
			result: listsAgeDays === undefined ? 'unknown' : 'pass',
			summary: `No security update pending${stale}`,
			...(listsAgeDays === undefined ? { reason: 'no package lists on the host' } : {}),
			evidence,
			details,
		};
	},
};

export const auditdControl: Control = {
	id: 'auditd',
	title: 'auditd running with rules',
	checklist: CHECKLIST[4],
	needsRoot: true,
	remediation: 'apt-get install -y auditd && systemctl enable --now auditd && augenrules --load',
	script: () =>
		`if command -v auditctl >/dev/null; then ${step('status', 'auditctl -s')}${step('rules', 'auditctl -l')}${step('pid', 'pidof auditd')}else echo '### absent 0'; fi`,
	judge(output): Verdict {
		const evidence = allSections(output);
		if (output.sections.has('absent'))
			return { result: 'fail', severity: 'warning', summary: 'auditd is not installed', evidence };
		const status = section(output, 'status');
		if (status.rc !== 0 || !/^enabled /m.test(status.text)) {
			const line = status.text.split('\n')[0]?.trim().slice(0, 160) ?? '';
			return unknown(
				`the kernel refused the audit status request (auditctl -s: ${line}): a container without CAP_AUDIT_CONTROL cannot read or load audit rules, and neither can a user who is not root; audit the machine that runs the container`,
				evidence,
			);
		}
		const pid = Number(/^pid (\d+)/m.exec(status.text)?.[1] ?? 0);
		const enabled = /^enabled ([12])/m.test(status.text);
		if (!pid || !enabled)
			return {
				result: 'fail',
				summary: `auditd is not running (${!pid ? 'no audit daemon registered' : 'auditing disabled'})`,
				evidence,
				remediation: 'systemctl enable --now auditd',
			};
		const rules = section(output, 'rules')
			.text.split('\n')
			.filter((l) => l.startsWith('-')).length;
		if (!rules)
			return {
				result: 'fail',
				severity: 'warning',
				summary: 'auditd runs with no rules loaded',
				evidence,
				remediation:
					'put rules into /etc/audit/rules.d/ (e.g. the CIS set from /usr/share/doc/auditd/examples/rules) and run augenrules --load',
			};
		return { result: 'pass', summary: `auditd runs (pid ${pid}) with ${rules} rule(s)`, evidence };
	},
};

const AIDE_DBS = ['/var/lib/aide/aide.db', '/var/lib/aide/aide.db.gz'];
const AIDE_LOGS = ['/var/log/aide/aide.log', '/var/log/aide/aide.log.0'];

export const aideControl: Control = {
	id: 'aide',
	title: 'AIDE database and last check',
	checklist: CHECKLIST[5],
	needsRoot: true,
	remediation: 'apt-get install -y aide aide-common && aideinit -y -f',
	script: () =>
		`if command -v aide >/dev/null; then ${step('dir', 'ls -ld /var/lib/aide')}${step('db', `stat -c '%n %s %Y' ${AIDE_DBS.join(' ')} 2>/dev/null; true`)}${step('log', `stat -c '%n %s %Y' ${AIDE_LOGS.join(' ')} 2>/dev/null; true`)}${step('now', 'date +%s')}else echo '### absent 0'; fi`,
	judge(output, options): Verdict {
		const evidence = allSections(output);
		if (output.sections.has('absent'))
			return { result: 'fail', severity: 'warning', summary: 'AIDE is not installed', evidence };
		const denied = deniedReason('reading /var/lib/aide', section(output, 'dir').text);
		if (denied) return unknown(denied, evidence);
		const now = Number(section(output, 'now').text.trim());
		const newest = (name: string) =>
			section(output, name)
				.text.split('\n')
				.map((l) => l.trim().split(' '))
				.filter((p) => p.length === 3 && Number(p[2]) > 0)
				.sort((a, b) => Number(b[2]) - Number(a[2]))[0];
		const days = (epoch: string) => Math.round(((now - Number(epoch)) / 86_400) * 10) / 10;
		const db = newest('db');
		if (!db)
			return {
				result: 'fail',
				summary: 'AIDE is installed but its database is not initialised',
				evidence,
				remediation:
					'aideinit -y -f (takes minutes; then keep /var/lib/aide/aide.db off the host too)',
			};
		const log = newest('log');
		const details = {
			aideDatabaseAgeDays: days(db[2]),
			aideLastCheckAgeDays: log ? days(log[2]) : undefined,
		};
		if (!log)
			return {
				result: 'fail',
				severity: 'warning',
				summary: `AIDE's database is initialised (${days(db[2])} days ago) but no check has run`,
				evidence,
				details,
				remediation: 'systemctl enable --now dailyaidecheck.timer',
			};
		if (days(log[2]) > options.aideMaxAgeDays)
			return {
				result: 'fail',
				severity: 'warning',
				summary: `AIDE's last check ran ${days(log[2])} days ago (more than ${options.aideMaxAgeDays})`,
				evidence,
				details,
				remediation: 'systemctl enable --now dailyaidecheck.timer',
			};
		return {
			result: 'pass',
			summary: `AIDE's database is initialised; last check ${days(log[2])} days ago`,
			evidence,
			details,
		};
	},
};

export const HOST_CONTROLS: Control[] = [
	sshdControl,
	fail2banControl,
	firewallControl,
	unattendedUpgradesControl,
	securityUpdatesControl,
	auditdControl,
	aideControl,
	...RESOURCE_CONTROLS,
];
