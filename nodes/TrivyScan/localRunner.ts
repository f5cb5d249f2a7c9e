/** The `trivy` binary on the n8n host. No shell: the arguments go to the program as a list, and image
 * references are checked (isImageReference) before they get here. No n8n import. */
import { execFile } from 'node:child_process';

import { InfraOpsError } from '../shared/errors';
import type { ProcessResult, TrivyRunner } from './trivyRun';

const MAX_REPORT_BYTES = 256 * 1024 * 1024;

export class LocalTrivyRunner implements TrivyRunner {
	readonly where = 'the n8n host';

	constructor(private readonly trivyPath: string) {}

	async run(
		args: string[],
		env: Record<string, string>,
		timeoutMs: number,
	): Promise<ProcessResult> {
		return await new Promise<ProcessResult>((resolve, reject) => {
			// eslint-disable-next-line @n8n/community-nodes/no-dangerous-functions -- running the operator's own trivy binary is what Local mode is; execFile, no shell, arguments as a list
			execFile(
				this.trivyPath,
				args,
				{
					env: { ...process.env, ...env },
					timeout: timeoutMs,
					killSignal: 'SIGKILL',
					maxBuffer: MAX_REPORT_BYTES,
					encoding: 'utf8',
				},
				(error, stdout, stderr) => {
					if (!error) return resolve({ code: 0, stdout, stderr });
					const code = (error as { code?: unknown }).code;
					if (code === 'ENOENT') {
						return reject(
							new InfraOpsError(
								`${this.trivyPath} was not found on the n8n host`,
								'Install Trivy there (or set Trivy Path), or run Trivy in Docker or over SSH',
							),
						);
					}
					if (error.killed)
						return reject(
							new InfraOpsError(
								`Trivy on the n8n host did not finish within ${timeoutMs} ms and was killed`,
							),
						);
					if (typeof code === 'number') return resolve({ code, stdout, stderr });
					reject(
						new InfraOpsError(`Cannot run ${this.trivyPath} on the n8n host: ${error.message}`),
					);
				},
			);
		});
	}

	close(): void {}
}
