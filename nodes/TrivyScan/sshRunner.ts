/** `trivy` on a remote host over SSH. The server token goes through stdin into the environment, so it
 * never shows in the remote process list. No n8n import. */
import { shellQuote, type SshSession } from '../shared/ssh';
import type { ProcessResult, TrivyRunner } from './trivyRun';

/** The remote command line; `env` values are read from stdin one per line, in key order. */
export function sshTrivyCommand(trivyPath: string, args: string[], envKeys: string[]): string {
	const reads = envKeys.map((k) => `IFS= read -r ${k} && export ${k} && `).join('');
	return `${reads}exec ${[trivyPath, ...args].map(shellQuote).join(' ')}`;
}

export class SshTrivyRunner implements TrivyRunner {
	readonly where: string;

	constructor(
		private readonly session: SshSession,
		private readonly trivyPath: string,
	) {
		this.where = session.target;
	}

	async run(
		args: string[],
		env: Record<string, string>,
		timeoutMs: number,
	): Promise<ProcessResult> {
		const keys = Object.keys(env)
			.filter((k) => /^[A-Z_][A-Z0-9_]*$/.test(k))
			.sort();
		const stdin = keys.map((k) => `${env[k]}\n`).join('');
		return await this.session.exec(sshTrivyCommand(this.trivyPath, args, keys), {
			timeoutMs,
			stdin,
		});
	}

	close(): void {
		this.session.close();
	}
}
