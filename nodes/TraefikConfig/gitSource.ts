/** Gets the dynamic files of a pushed commit onto the Traefik host: `git fetch` of the pushed ref
 * into a staging checkout over SSH (the host already reaches the Git server, n8n need not), then
 * reads the files of one folder of that exact commit. The watched folder is never touched here. */
import { posix } from 'node:path';

import { InfraOpsError } from '../shared/errors';
import { shellQuote, type SshSession } from '../shared/ssh';
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

/** The URL without a user:token part (https://user:token@host/...), for messages and output items. */
export function redactRepoUrl(url: string): string {
	return url.replace(/(\/\/)[^/@\s]*@/g, '$1');
}
const REF = /^[A-Za-z0-9._\/-]+$/;

export function checkGitSource(src: GitSource): GitSource {
	const ref = src.ref.trim().replace(/^refs\/heads\//, '');
	if (!REF.test(ref) || ref.includes('..')) throw new InfraOpsError(`"${src.ref}" is not a branch name`, 'E.g. main or refs/heads/main');
	const commit = (src.commit ?? '').trim();
	if (commit && !SHA.test(commit)) throw new InfraOpsError(`"${src.commit}" is not a commit id`, 'A hexadecimal commit id, e.g. the "after" field of a push webhook');
	// a URL starting with "-" would be read by git as an option (--upload-pack=<command>)
	if (!src.repoUrl.trim() || /\s/.test(src.repoUrl.trim()) || src.repoUrl.trim().startsWith('-')) throw new InfraOpsError('The repository URL is empty or has spaces', 'E.g. git@github.com:me/traefik-config.git or https://git.example.com/me/traefik.git');
	if (!posix.isAbsolute(src.stagingDir.trim())) throw new InfraOpsError(`Staging folder "${src.stagingDir}" is not an absolute path`, 'E.g. /opt/traefik-stack/gitops-staging');
	const pathInRepo = src.pathInRepo.trim().replace(/^\/+|\/+$/g, '');
	if (pathInRepo.split('/').includes('..')) throw new InfraOpsError(`"${src.pathInRepo}" leaves the repository`);
	return { repoUrl: src.repoUrl.trim(), ref, commit, pathInRepo, stagingDir: posix.normalize(src.stagingDir.trim()) };
}

async function run(session: SshSession, command: string, what: string, timeoutMs = 120_000, stdin?: string): Promise<string> {
	const result = await session.exec(command, { timeoutMs, stdin });
	if (result.code !== 0) {
		const detail = redactRepoUrl(result.stderr.trim().split('\n').slice(-3).join(' ').slice(0, 400));
		throw new InfraOpsError(`${what} failed (exit ${result.code}): ${detail}`, /not found/.test(result.stderr) && /git/.test(result.stderr) ? 'Install git on the Traefik host' : 'Check the repository URL, the branch, and that the Traefik host can reach and read the repository (deploy key)');
	}
	return result.stdout;
}

export async function fetchGitFiles(session: SshSession, srcIn: GitSource): Promise<GitFile[]> {
	const src = checkGitSource(srcIn);
	const dir = shellQuote(src.stagingDir);
	await run(session, `mkdir -p -- ${dir} && cd -- ${dir} && { [ -d .git ] || git init -q; }`, `Preparing the staging checkout ${src.stagingDir}`, 30_000);
	// The URL goes through stdin, not the command line: a token in it stays out of the host's process
	// list and out of the command text a timeout error quotes
	await run(
		session,
		`cd -- ${dir} && IFS= read -r url && git fetch -q --no-tags -- "$url" ${shellQuote(`+refs/heads/${src.ref}:refs/remotes/gitops/${src.ref}`)}`,
		`git fetch of ${src.ref} from ${redactRepoUrl(src.repoUrl)}`,
		120_000,
		`${src.repoUrl}\n`,
	);
	const branchHead = `refs/remotes/gitops/${src.ref}`;
	const target = src.commit || branchHead;
	const notOnBranch = () =>
		new InfraOpsError(`Commit ${target} is not on branch ${src.ref} of ${redactRepoUrl(src.repoUrl)}`, 'The push may have been force-pushed over; run again for the branch head');
	const resolved = (await run(session, `cd -- ${dir} && git rev-parse --verify -q ${shellQuote(`${target}^{commit}`)}`, `Finding commit ${target} on ${src.ref}`, 30_000).catch(() => {
		throw notOnBranch();
	})).trim();
	if (!/^[0-9a-f]{40,64}$/.test(resolved)) throw new InfraOpsError(`git rev-parse answered "${resolved.slice(0, 80)}" instead of a commit id`);
	// The staging clone keeps objects of earlier fetches: a commit that exists there may belong to another branch
	if (src.commit) {
		const onBranch = await session.exec(`cd -- ${dir} && git merge-base --is-ancestor ${resolved} ${shellQuote(branchHead)}`, { timeoutMs: 30_000 });
		if (onBranch.code !== 0) throw notOnBranch();
	}
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
