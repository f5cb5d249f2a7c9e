/**
 * Host folders (the Traefik stack, its .env) into the restic repository with `restic` on the SSH host
 * itself, when it is installed there. The secret files go into a fresh 0700 folder on the host through
 * the commands' stdin (never a command line) and are removed in `finally`. Snapshots carry host
 * `infra-ops` and the tag `host-paths=<name>`. No n8n import.
 */
import { InfraOpsError } from '../shared/errors';
import { shellQuote, type SshSession } from '../shared/ssh';
import { checkHostPaths, type HostPathSource } from './archive';
import {
	jsonLines,
	RESTIC_HOST,
	resticArgs,
	resticFailure,
	ResticError,
	type ResticRepository,
} from './restic';

export interface ResticHostResult {
	name: string;
	host: string;
	paths: string[];
	snapshotId: string;
	filesNew: number;
	filesChanged: number;
	filesUnmodified: number;
	dataAdded: number;
	repositoryCreated: boolean;
	durationMs: number;
	warnings: string[];
}

export class ResticMissingError extends InfraOpsError {
	constructor(host: string) {
		super(
			`restic is not installed on ${host}`,
			'Install it there (e.g. apt-get install restic), or back the host paths up with the Archive engine',
		);
		this.name = 'ResticMissingError';
	}
}

interface Summary {
	message_type: string;
	files_new: number;
	files_changed: number;
	files_unmodified: number;
	data_added: number;
	snapshot_id: string;
}

/**
 * A fresh 0700 folder, and a watchdog on the host that removes it once this SSH connection's sshd
 * process (the shell's parent) is gone: a cut connection cannot run the `finally` below, and the
 * folder holds the password and keys. The watchdog ends by itself once the folder is removed.
 */
const PRIVATE_DIR = [
	'umask 077 && d=$(mktemp -d) && p=$PPID && if [ -d "/proc/$p" ]; then',
	'(nohup sh -c \'while [ -d "/proc/$1" ] && [ -d "$2" ]; do sleep 1; done; rm -rf -- "$2"\' watchdog "$p" "$d" &)',
	'>/dev/null 2>&1 </dev/null; fi && echo "$d"',
].join(' ');

export async function resticBackupHostPaths(
	ssh: SshSession,
	repo: ResticRepository,
	source: HostPathSource,
	timeoutMs = 6 * 3600_000,
): Promise<ResticHostResult> {
	const t0 = Date.now();
	const paths = checkHostPaths(source);
	const which = await ssh.exec('command -v restic');
	if (which.code !== 0) throw new ResticMissingError(ssh.target);
	const made = await ssh.exec(PRIVATE_DIR);
	const dir = made.stdout.trim();
	if (made.code !== 0 || !dir.startsWith('/'))
		throw new InfraOpsError(`Cannot create a private temporary folder on ${ssh.target}`);
	try {
		const files: Record<string, string> = { ...repo.files, password: repo.password };
		for (const [name, content] of Object.entries(files)) {
			const wrote = await ssh.exec(`umask 077 && cat > ${shellQuote(`${dir}/${name}`)}`, {
				stdin: content,
			});
			if (wrote.code !== 0)
				throw new InfraOpsError(`Cannot write a file into ${dir} on ${ssh.target}`);
		}
		const env = [
			`RESTIC_PASSWORD_FILE=${shellQuote(`${dir}/password`)}`,
			...(files.aws ? [`AWS_SHARED_CREDENTIALS_FILE=${shellQuote(`${dir}/aws`)}`] : []),
		].join(' ');
		const restic = async (args: string[], okCodes: number[] = []) => {
			const line = `${env} restic ${resticArgs(repo, args, dir).map(shellQuote).join(' ')}`;
			const r = await ssh.exec(line, { timeoutMs });
			if (r.code !== 0 && !okCodes.includes(r.code ?? -1))
				throw resticFailure(args[0], r.code ?? -1, r.stderr, repo);
			return r;
		};
		let created = false;
		try {
			await restic(['cat', 'config']);
		} catch (error) {
			if (!(error instanceof ResticError) || error.kind !== 'no-repository') throw error;
			await restic(['init']);
			created = true;
		}
		const run = await restic(
			[
				'backup',
				'--json',
				'--quiet',
				'--host',
				RESTIC_HOST,
				'--tag',
				`host-paths=${source.name}`,
				...paths,
			],
			[3],
		);
		const summary = jsonLines(run.stdout).find(
			(v): v is Summary => (v as Summary)?.message_type === 'summary',
		);
		if (!summary) throw new InfraOpsError('restic printed no summary');
		return {
			name: source.name,
			host: ssh.target,
			paths,
			snapshotId: summary.snapshot_id,
			filesNew: summary.files_new,
			filesChanged: summary.files_changed,
			filesUnmodified: summary.files_unmodified,
			dataAdded: summary.data_added,
			repositoryCreated: created,
			durationMs: Date.now() - t0,
			warnings: run.code === 3 ? ['restic could not read some files: the snapshot lacks them'] : [],
		};
	} finally {
		await ssh.exec(`rm -rf -- ${shellQuote(dir)}`).catch(() => undefined);
	}
}
