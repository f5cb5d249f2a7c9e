/** Listening ports, hostname, and the review's host alerts (free disk per mount, memory). */
import { shellQuote } from '../shared/ssh';
import { InfraOpsError } from '../shared/errors';
import {
	CHECKLIST,
	type Control,
	HOST_ALERTS,
	section,
	step,
	unknown,
	type Verdict,
} from './control';

interface PortRule {
	from: number;
	to: number;
	proto?: 'tcp' | 'udp';
}

/** `22`, `443/tcp`, `53/udp`, `8000-8100`, `60000-61000/udp`. */
export function parsePortRules(entries: string[]): PortRule[] {
	return entries.map((entry) => {
		const m = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp))?$/i.exec(entry.trim());
		const from = Number(m?.[1]);
		const to = Number(m?.[2] ?? m?.[1]);
		if (!m || from < 1 || to > 65535 || to < from)
			throw new InfraOpsError(
				`"${entry}" is not a port, a port range or port/protocol`,
				'Write Allowed Ports as e.g. 22, 80, 443/tcp, 53/udp, 8000-8100',
			);
		return { from, to, proto: m[3]?.toLowerCase() as PortRule['proto'] };
	});
}

export interface Listener {
	proto: string;
	address: string;
	port: number;
	process?: string;
	loopback: boolean;
}

/** Lines of `ss -Hltnup`: `tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=1,fd=3))`. */
export function parseListeners(text: string): Listener[] {
	const out: Listener[] = [];
	for (const line of text.split('\n')) {
		const cols = line.trim().split(/\s+/);
		if (cols.length < 5 || !/^(tcp|udp)$/.test(cols[0])) continue;
		const local = cols[4];
		const at = local.lastIndexOf(':');
		const port = Number(local.slice(at + 1));
		if (!Number.isInteger(port)) continue;
		const address = local.slice(0, at).replace(/^\[|\]$/g, '');
		const process = /users:\(\("([^"]+)"/.exec(line)?.[1];
		out.push({
			proto: cols[0],
			address,
			port,
			process,
			loopback: /^(127\.|::1$|::ffff:127\.)/.test(address) || /%lo$/.test(address),
		});
	}
	return out;
}

export const portsControl: Control = {
	id: 'ports',
	title: 'Listening ports against the allowed list',
	checklist: CHECKLIST[6],
	needsRoot: false,
	remediation:
		'Stop the service, bind it to 127.0.0.1, or block the port (ufw deny <port>/<proto>); add ports meant to be open to Allowed Ports',
	script: () => step('ss', 'ss -Hltnup'),
	judge(output, options): Verdict {
		const ss = section(output, 'ss');
		if (ss.rc !== 0) return unknown(`ss failed: ${ss.text.split('\n')[0]}`, ss.text);
		const rules = parsePortRules(options.allowedPorts);
		const allowed = (l: Listener) =>
			rules.some((r) => l.port >= r.from && l.port <= r.to && (!r.proto || r.proto === l.proto));
		const seen = new Map<string, Listener>();
		for (const l of parseListeners(ss.text)) {
			if (l.loopback && !options.includeLoopback) continue;
			seen.set(`${l.port}/${l.proto}`, seen.get(`${l.port}/${l.proto}`) ?? l);
		}
		const unexpected = [...seen]
			.filter(([, l]) => !allowed(l))
			.sort(([a], [b]) => parseInt(a) - parseInt(b) || a.localeCompare(b));
		const names = unexpected.map(([k, l]) => `${k}${l.process ? ` (${l.process})` : ''}`);
		const details = { listening: [...seen.keys()], unexpectedPorts: unexpected.map(([k]) => k) };
		if (unexpected.length)
			return {
				result: 'fail',
				severity: 'warning',
				summary: `${unexpected.length} port(s) listen that are not allowed: ${names.join(', ')}`,
				evidence: ss.text,
				details,
				changeKey: details.unexpectedPorts.join(','),
			};
		return {
			result: 'pass',
			summary: `Only allowed ports listen (${seen.size} ${options.includeLoopback ? '' : 'non-loopback '}listener(s))`,
			evidence: ss.text,
			details,
		};
	},
};

export const hostnameControl: Control = {
	id: 'hostname',
	title: 'Hostname as expected',
	checklist: CHECKLIST[7],
	needsRoot: false,
	remediation:
		'hostnamectl set-hostname <expected> (on a Proxmox LXC: pct set <vmid> --hostname <expected>)',
	applies: (o) => Boolean(o.expectedHostname.trim()),
	script: () => step('hostname', 'hostname') + step('fqdn', 'hostname -f'),
	judge(output, options): Verdict {
		const short = section(output, 'hostname').text.trim();
		const fqdn = section(output, 'fqdn').text.trim();
		const expected = options.expectedHostname.trim();
		const evidence = `hostname: ${short}\nhostname -f: ${fqdn}`;
		// a command to paste: a Settings value that is not a plain host name is quoted, never shell text
		const name = /^[A-Za-z0-9.-]+$/.test(expected) ? expected : shellQuote(expected);
		if (!short) return unknown('hostname printed nothing', evidence);
		const match = [short, fqdn].some((n) => n.toLowerCase() === expected.toLowerCase());
		return match
			? { result: 'pass', summary: `Hostname is ${short}`, evidence }
			: {
					result: 'fail',
					severity: 'warning',
					summary: `Hostname is "${short}", expected "${expected}"`,
					evidence,
					remediation: `hostnamectl set-hostname ${name} (on a Proxmox LXC: pct set <vmid> --hostname ${name})`,
				};
	},
};

const PSEUDO_FS = new Set(['tmpfs', 'devtmpfs', 'squashfs', 'overlay', 'efivarfs', 'ramfs']);
const GB = 1_000_000_000;

export const diskControl: Control = {
	id: 'disk',
	title: 'Free disk space',
	checklist: HOST_ALERTS,
	needsRoot: false,
	remediation:
		'docker system prune (images, build cache), journalctl --vacuum-size=500M, old backups and logs; or grow the disk',
	script: () => step('df', 'df -P -T -B1 -l'),
	judge(output, options): Verdict[] {
		const df = section(output, 'df');
		const rows = df.text
			.split('\n')
			.slice(1)
			.map((l) => l.trim().split(/\s+/))
			.filter((c) => c.length >= 7)
			.map((c) => ({
				fs: c[0],
				type: c[1],
				size: Number(c[2]),
				avail: Number(c[4]),
				use: c[5],
				mount: c.slice(6).join(' '),
			}))
			.filter((r) =>
				options.mounts.length
					? options.mounts.includes(r.mount)
					: (!PSEUDO_FS.has(r.type) || r.mount === '/') &&
						!/^\/(proc|sys|dev|run|snap)(\/|$)|^\/var\/lib\/docker\//.test(r.mount),
			);
		if (!rows.length)
			return [
				unknown(`df listed none of the mounts asked for (${df.text.split('\n')[0]})`, df.text),
			];
		const header = df.text.split('\n')[0];
		const seen = new Set<string>();
		return rows
			.filter((r) => !seen.has(r.mount) && seen.add(r.mount))
			.map((r) => {
				const freeGb = Math.round((r.avail / GB) * 10) / 10;
				const evidence = `${header}\n${[r.fs, r.type, r.size, '', r.avail, r.use, r.mount].join(' ')}`;
				const details = {
					mount: r.mount,
					freeGb,
					sizeGb: Math.round((r.size / GB) * 10) / 10,
					used: r.use,
				};
				const low = freeGb < options.minFreeDiskGb;
				return {
					result: low ? 'fail' : 'pass',
					severity: freeGb < options.minFreeDiskGb / 4 ? 'critical' : 'warning',
					key: r.mount,
					summary: `${r.mount}: ${freeGb} GB free of ${details.sizeGb} GB (${r.use} used)${low ? `, under ${options.minFreeDiskGb} GB` : ''}`,
					evidence,
					details,
				} satisfies Verdict;
			});
	},
};

export const memoryControl: Control = {
	id: 'memory',
	title: 'Available memory',
	checklist: HOST_ALERTS,
	needsRoot: false,
	remediation:
		'Find the largest processes (ps aux --sort=-rss | head) and give containers memory limits (Container Guard → Apply Limits)',
	script: () => step('meminfo', 'cat /proc/meminfo'),
	judge(output, options): Verdict {
		const text = section(output, 'meminfo').text;
		const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1]);
		const total = kb('MemTotal');
		const available = kb('MemAvailable');
		if (!total || !Number.isFinite(available))
			return unknown('/proc/meminfo has no MemAvailable', text);
		const percent = Math.round((available / total) * 1000) / 10;
		const gib = (k: number) => Math.round((k / 1024 / 1024) * 10) / 10;
		const evidence = text
			.split('\n')
			.filter((l) => /^(MemTotal|MemAvailable|SwapTotal|SwapFree):/.test(l))
			.join('\n');
		const details = {
			memoryTotalGiB: gib(total),
			memoryAvailableGiB: gib(available),
			memoryAvailablePercent: percent,
		};
		const low = percent < options.minAvailableMemoryPercent;
		return {
			result: low ? 'fail' : 'pass',
			severity: percent < options.minAvailableMemoryPercent / 2 ? 'critical' : 'warning',
			summary: `${gib(available)} GiB of ${gib(total)} GiB memory available (${percent}%)${low ? `, under ${options.minAvailableMemoryPercent}%` : ''}`,
			evidence,
			details,
		};
	},
};

export const RESOURCE_CONTROLS: Control[] = [
	portsControl,
	hostnameControl,
	diskControl,
	memoryControl,
];
