/** Gets the dynamic files of a pushed commit onto the Traefik host: `git fetch` of the pushed ref
 * into a staging checkout over SSH (the host already reaches the Git server, n8n need not), then
 * reads the files of one folder of that exact commit. The watched folder is never touched here. */
import { posix } from 'node:path';

import { InfraOpsError } from '../shared/errors';
import type { SshSession } from '../shared/ssh';
import { shellQuote } from './deploy';
import { isDynamicFileName } from './validate';

export interface GitSource {
	repoUrl: string;
	/** Branch or ref to fetch, e.g. main or refs/heads/main. */
	ref: string;
	/** The pushed commit; empty for the ref's head. */
	commit?: string;
	/** Folder of the repository holding the dynamic files ('' for its root). */
	pathInRepo: string;
	/** Where the host keeps its staging clone; outside the watched folder. */
	stagingDir: string;
}

export interface GitFile {
	file: string;
	content: string;
	commit: string;
	pathInRepo: string;
}

const SHA = /^[0-9a-f]{7,64}$/i;
const REF = /^[A-Za-z0-9._\/-]+$/;

export function checkGitSource(src: GitSource): GitSource {
	const ref = src.ref.trim().replace(/^refs\/heads\//, '');
	if (!REF.test(ref) || ref.includes('..')) throw new InfraOpsError(`"${src.ref}" is not a branch name`, 'E.g. main or refs/heads/main');
	const commit = (src.commit ?? '').trim();
	if (commit && !SHA.test(commit)) throw new InfraOpsError(`"${src.commit}" is not a commit id`, 'A hexadecimal commit id, e.g. the "after" field of a push webhook');
	if (!src.repoUrl.trim() || /\s/.test(src.repoUrl.trim())) throw new InfraOpsError('The repository URL is empty or has spaces', 'E.g. git@github.com:me/traefik-config.git or https://git.example.com/me/traefik.git');
	if (!posix.isAbsolute(src.stagingDir.trim())) throw new InfraOpsError(`Staging folder "${src.stagingDir}" is not an absolute path`, 'E.g. /opt/traefik-stack/gitops-staging');
	const pathInRepo = src.pathInRepo.trim().replace(/^\/+|\/+$/g, '');
	if (pathInRepo.split('/').includes('..')) throw new InfraOpsError(`"${src.pathInRepo}" leaves the repository`);
	return { repoUrl: src.repoUrl.trim(), ref, commit, pathInRepo, stagingDir: posix.normalize(src.stagingDir.trim()) };
}

async function run(session: SshSession, command: string, what: string, timeoutMs = 120_000): Promise<string> {
	const result = await session.exec(command, { timeoutMs });
	if (result.code !== 0) {
		const detail = result.stderr.trim().split('\n').slice(-3).join(' ').slice(0, 400);
		throw new InfraOpsError(`${what} failed (exit ${result.code}): ${detail}`, /not found/.test(result.stderr) && /git/.test(result.stderr) ? 'Install git on the Traefik host' : 'Check the repository URL, the branch, and that the Traefik host can reach and read the repository (deploy key)');
	}
	return result.stdout;
}

export async function fetchGitFiles(session: SshSession, srcIn: GitSource): Promise<GitFile[]> {
	const src = checkGitSource(srcIn);
	const dir = shellQuote(src.stagingDir);
	await run(session, `mkdir -p -- ${dir} && cd -- ${dir} && { [ -d .git ] || git init -q; }`, `Preparing the staging checkout ${src.stagingDir}`, 30_000);
	await run(
		session,
		`cd -- ${dir} && git fetch -q --no-tags ${shellQuote(src.repoUrl)} ${shellQuote(`+refs/heads/${src.ref}:refs/remotes/gitops/${src.ref}`)}`,
		`git fetch of ${src.ref} from ${src.repoUrl}`,
	);
	const target = src.commit || `refs/remotes/gitops/${src.ref}`;
	const resolved = (await run(session, `cd -- ${dir} && git rev-parse --verify -q ${shellQuote(`${target}^{commit}`)}`, `Finding commit ${target} on ${src.ref}`, 30_000).catch(() => {
		throw new InfraOpsError(`Commit ${target} is not on branch ${src.ref} of ${src.repoUrl}`, 'The push may have been force-pushed over; run again for the branch head');
	})).trim();
	await run(session, `cd -- ${dir} && git checkout -q --force --detach ${resolved}`, `Checking out ${resolved}`, 60_000);
	const spec = src.pathInRepo ? `${src.pathInRepo}/` : '.';
	const listing = await run(session, `cd -- ${dir} && git ls-tree --name-only ${resolved} -- ${shellQuote(spec)}`, `Listing ${spec} of ${resolved}`, 30_000);
	const paths = listing.split('\n').map((l) => l.trim()).filter((l) => l && isDynamicFileName(posix.basename(l)));
	const files: GitFile[] = [];
	for (const p of paths) {
		const content = await run(session, `cd -- ${dir} && git cat-file blob ${shellQuote(`${resolved}:${p}`)}`, `Reading ${p} of ${resolved}`, 30_000);
		files.push({ file: posix.basename(p), content, commit: resolved, pathInRepo: p });
	}
	if (files.length === 0) throw new InfraOpsError(`No .yml/.yaml/.toml files in ${spec} of ${resolved}`, 'Check "Path in Repository" (the folder that mirrors the dynamic folder)');
	return files;
}
