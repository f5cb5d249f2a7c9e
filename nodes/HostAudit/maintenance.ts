/** Updates and integrity controls of the review's checklist: unattended-upgrades, pending security
 * updates, auditd, AIDE. Debian / Ubuntu commands, each read-only. */
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
