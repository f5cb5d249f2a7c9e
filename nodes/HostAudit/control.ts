/**
 * The shape of a control: a read-only shell script (run on the host) and a judge of its output.
 * A control that cannot be read is `result: 'unknown'` with the reason; as a finding that is status
 * `warning` (a person must look; not ok, not a failure), so every workflow's Switch on status and
 * `worstStatus` keep working unchanged. `result` tells pass / fail / unknown apart.
 */
import type { ExecResult } from '../shared/ssh';

export type ControlResult = 'pass' | 'fail' | 'unknown';

/** The review's security-hardening checklist, in its order; each control names the item it proves. */
export const CHECKLIST = [
	'SSH: keys only, no root password login',
	'fail2ban guarding SSH',
	'Firewall active',
	'Automatic security updates',
	'auditd with rules',
	'AIDE file integrity',
	'Only expected ports open',
	'Hostname as named in the inventory',
	'Containers with least privilege',
	'Backups encrypted and fresh',
] as const;

export const HOST_ALERTS = 'Host alerts (disk, memory)';
export const NETWORK_ISOLATION = 'Network isolation';

export interface ControlOptions {
	sshdConfigFile: string;
	/** `22`, `443/tcp`, `53/udp`, `8000-8100`; both protocols when none is named. */
	allowedPorts: string[];
	includeLoopback: boolean;
	expectedHostname: string;
	minFreeDiskGb: number;
	/** Only these mount points; all local ones when empty. */
	mounts: string[];
	minAvailableMemoryPercent: number;
	aideMaxAgeDays: number;
	/** Days after which package lists count as stale for the security update count. */
	aptListsMaxAgeDays: number;
}

export interface ProbeOutput extends ExecResult {
	sections: Map<string, { rc: number; text: string }>;
}

export interface Verdict {
	result: ControlResult;
	/** For `fail`; critical when omitted. */
	severity?: 'warning' | 'critical';
	summary: string;
	reason?: string;
	/** The command output judged; trimmed before it goes into the item. */
	evidence: string;
	/** Overrides the control's remediation (e.g. naming the ports found). */
	remediation?: string;
	/** Tells apart several verdicts of one control (disk: the mount point). */
	key?: string;
	/** What besides status counts as a change (e.g. the list of unexpected ports). */
	changeKey?: string;
	details?: Record<string, unknown>;
}

export interface Control {
	id: string;
	title: string;
	checklist: string;
	/** Run through `sudo -n` when Use Sudo is on. */
	needsRoot: boolean;
	remediation: string;
	applies?(options: ControlOptions): boolean;
	script(options: ControlOptions): string;
	judge(output: ProbeOutput, options: ControlOptions): Verdict | Verdict[];
}

/** A shell fragment: runs `command` with stderr folded in and prints it under `### name <exit status>`. */
export function step(name: string, command: string): string {
	return `out=$( { ${command} ; } 2>&1 ); rc=$?; printf '### %s %s\\n%s\\n' ${name} "$rc" "$out"; `;
}

const EVIDENCE_MAX = 2_000;

export function trimEvidence(text: string): string {
	const clean = text.replace(/\r/g, '').trim();
	return clean.length > EVIDENCE_MAX ? `${clean.slice(0, EVIDENCE_MAX)}\n… (trimmed)` : clean;
}

export function unknown(reason: string, evidence: string): Verdict {
	return { result: 'unknown', summary: `Cannot tell: ${reason}`, reason, evidence };
}

const DENIED =
	/permission denied|operation not permitted|must be root|need to be root|are not root|no hostkeys available|root privileges/i;

/** "needs root" reason when the output says access was refused, else undefined. */
export function deniedReason(command: string, text: string): string | undefined {
	const line = text.split('\n').find((l) => DENIED.test(l));
	return line === undefined
		? undefined
		: `${command} was refused (${line.trim().slice(0, 160)}): connect as root or turn on Use Sudo`;
}

export function section(output: ProbeOutput, name: string): { rc: number; text: string } {
	return output.sections.get(name) ?? { rc: -1, text: '' };
}

/** All sections as `$ name (exit n)` blocks, for evidence. */
export function allSections(output: ProbeOutput): string {
	return [...output.sections].map(([name, s]) => `$ ${name} (exit ${s.rc})\n${s.text}`).join('\n');
}
