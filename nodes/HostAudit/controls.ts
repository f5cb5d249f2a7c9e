/** The access controls of the review's checklist (sshd, fail2ban, firewall) and the full list, in report order. Debian / Ubuntu commands, each read-only. */
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
import {
	aideControl,
	auditdControl,
	securityUpdatesControl,
	unattendedUpgradesControl,
} from './maintenance';
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
