/**
 * Runs the controls' read-only commands on a host over one SSH connection and turns each control's
 * verdicts into findings. Each command is its own exec channel, at most `concurrency` at once: a
 * command that hangs then costs only its own timeout and never delays the others (one batched script
 * would save a few round trips, but one hung command would stall every control after it, and its
 * output would be lost with the rest).
 */
import { mapConcurrent } from '../shared/concurrency';
import { errorMessage } from '../shared/errors';
import type { NewFinding } from '../shared/findings';
import { redactSecrets } from '../shared/secretShapes';
import { shellQuote, type ExecResult } from '../shared/ssh';
import {
	type Control,
	type ControlOptions,
	type ProbeOutput,
	type Verdict,
	trimEvidence,
	unknown,
} from './control';
import { HOST_CONTROLS } from './controls';

export const HOST_AUDIT_CHECK = 'host-audit';

/** What the runner needs of an SSH session (SshSession satisfies it). */
export interface Executor {
	exec(command: string, options?: { timeoutMs?: number }): Promise<ExecResult>;
}

export interface HostAuditOptions extends ControlOptions {
	/** The host's name in findings (the credential's host when empty). */
	target: string;
	/** Prefix commands that need root with `sudo -n` (never prompts). */
	useSudo: boolean;
	/** Per command; the remote `timeout` kills it, the SSH exec gives up a little later. */
	commandTimeoutMs: number;
	concurrency: number;
	/** Only these control ids; all when empty. */
	controls?: string[];
}

const ENV =
	'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; LC_ALL=C; export PATH LC_ALL; ';

/** The command line that runs a control's script: under `timeout`, as root through `sudo -n` when asked. */
export function commandLine(script: string, timeoutMs: number, sudo: boolean): string {
	const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
	const run = `timeout -k 2 ${seconds} sh -c ${shellQuote(ENV + script)}`;
	return sudo ? `sudo -n -- ${run}` : run;
}

/** Splits a control's output on the `### name rc` lines its script printed (see `step`). */
export function parseSections(stdout: string): Map<string, { rc: number; text: string }> {
	const sections = new Map<string, { rc: number; text: string }>();
	let current: { name: string; rc: number; lines: string[] } | undefined;
	const close = () => {
		if (current) sections.set(current.name, { rc: current.rc, text: current.lines.join('\n') });
	};
	for (const line of stdout.split('\n')) {
		const m = /^### (\S+) (-?\d+)$/.exec(line);
		if (m) {
			close();
			current = { name: m[1], rc: Number(m[2]), lines: [] };
		} else current?.lines.push(line);
	}
	close();
	for (const [name, section] of sections)
		sections.set(name, { ...section, text: section.text.replace(/\n+$/, '') });
	return sections;
}

/** Why the command produced nothing to judge (sudo refused, timed out), or undefined when it ran. */
function runFailure(result: ExecResult, timeoutMs: number, sudo: boolean): string | undefined {
	const stderr = result.stderr.trim();
	if (result.code === 124 || result.code === 137 || result.signal)
		return `the command timed out after ${Math.ceil(timeoutMs / 1000)} s`;
	if (sudo && /^sudo: .*password/im.test(stderr))
		return 'sudo needs a password (sudo -n refused): allow the audit user to run these commands without one (NOPASSWD), or turn off Use Sudo and connect as root';
	if (sudo && (result.code === 127 || /sudo: (command )?not found/i.test(stderr)))
		return 'sudo is not installed on the host: install it, or turn off Use Sudo and connect as root';
	if (sudo && /^sudo: /im.test(stderr))
		return `sudo refused: ${stderr.split('\n')[0].slice(0, 200)}`;
	if (result.code === 127 && !result.stdout)
		return `the shell could not start the command: ${stderr.slice(0, 200)}`;
	return undefined;
}

function toFinding(control: Control, verdict: Verdict, target: string): NewFinding {
	const status =
		verdict.result === 'pass'
			? 'ok'
			: verdict.result === 'unknown'
				? 'warning'
				: (verdict.severity ?? 'critical');
	const stateKey = verdict.key ? `${control.id}:${verdict.key}` : control.id;
	return {
		check: HOST_AUDIT_CHECK,
		target,
		control: control.id,
		...(verdict.key ? { item: verdict.key } : {}),
		title: control.title,
		checklist: control.checklist,
		status,
		result: verdict.result,
		// command output is the host's text (a config, an error quoting an env file): no secret leaves it
		summary: redactSecrets(verdict.summary),
		...(verdict.reason ? { reason: redactSecrets(verdict.reason) } : {}),
		evidence: trimEvidence(redactSecrets(verdict.evidence)),
		remediation: verdict.remediation ?? control.remediation,
		...(verdict.details ?? {}),
		stateKey,
		...(verdict.changeKey ? { changeKey: verdict.changeKey } : {}),
	};
}

async function runControl(
	exec: Executor,
	control: Control,
	options: HostAuditOptions,
): Promise<Verdict[]> {
	const sudo = options.useSudo && control.needsRoot;
	const command = commandLine(control.script(options), options.commandTimeoutMs, sudo);
	let result: ExecResult;
	try {
		result = await exec.exec(command, { timeoutMs: options.commandTimeoutMs + 5_000 });
	} catch (error) {
		const message = errorMessage(error);
		return [
			unknown(
				/timed out/i.test(message)
					? `the command timed out after ${Math.ceil(options.commandTimeoutMs / 1000)} s`
					: `the command could not run: ${message}`,
				'',
			),
		];
	}
	const failure = runFailure(result, options.commandTimeoutMs, sudo);
	if (failure) return [unknown(failure, `${result.stdout}\n${result.stderr}`)];
	const output: ProbeOutput = { ...result, sections: parseSections(result.stdout) };
	try {
		const verdicts = control.judge(output, options);
		return Array.isArray(verdicts) ? verdicts : [verdicts];
	} catch (error) {
		return [unknown(`the output could not be read: ${errorMessage(error)}`, result.stdout)];
	}
}

/** One finding per control (per mount for disk), in the controls' order. Never changes the host. */
export async function auditHost(
	exec: Executor,
	options: HostAuditOptions,
	controls: Control[] = HOST_CONTROLS,
): Promise<NewFinding[]> {
	const chosen = controls.filter(
		(c) =>
			(!options.controls?.length || options.controls.includes(c.id)) &&
			(c.applies?.(options) ?? true),
	);
	const verdicts = await mapConcurrent(chosen, Math.max(1, options.concurrency), (control) =>
		runControl(exec, control, options),
	);
	return chosen.flatMap((control, i) =>
		verdicts[i].map((verdict) => toFinding(control, verdict, options.target)),
	);
}
