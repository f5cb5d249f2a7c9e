/** Gets the dynamic files of a pushed commit onto the Traefik host: `git fetch` of the pushed ref
 * into a staging checkout over SSH (the host already reaches the Git server, n8n need not), then
 * reads the files of one folder of that exact commit. The watched folder is never touched here. */
import { randomBytes } from 'node:crypto';
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
	if (!REF.test(ref) || ref.includes('..'))
		throw new InfraOpsError(`"${src.ref}" is not a branch name`, 'E.g. main or refs/heads/main');
	const commit = (src.commit ?? '').trim();
	if (commit && !SHA.test(commit))
		throw new InfraOpsError(
			`"${src.commit}" is not a commit id`,
			'A hexadecimal commit id, e.g. the "after" field of a push webhook',
		);
	// a URL starting with "-" would be read by git as an option (--upload-pack=<command>)
	if (!src.repoUrl.trim() || /\s/.test(src.repoUrl.trim()) || src.repoUrl.trim().startsWith('-'))
		throw new InfraOpsError(
			'The repository URL is empty or has spaces',
			'E.g. git@github.com:me/traefik-config.git or https://git.example.com/me/traefik.git',
		);
	if (!posix.isAbsolute(src.stagingDir.trim()))
		throw new InfraOpsError(
			`Staging folder "${src.stagingDir}" is not an absolute path`,
			'E.g. /opt/traefik-stack/gitops-staging',
		);
	const pathInRepo = src.pathInRepo.trim().replace(/^\/+|\/+$/g, '');
	if (pathInRepo.split('/').includes('..'))
		throw new InfraOpsError(`"${src.pathInRepo}" leaves the repository`);
	return {
		repoUrl: src.repoUrl.trim(),
		ref,
		commit,
		pathInRepo,
		stagingDir: posix.normalize(src.stagingDir.trim()),
	};
}

async function run(
	session: SshSession,
	command: string,
	what: string,
	timeoutMs = 120_000,
	stdin?: string,
): Promise<string> {
	const result = await session.exec(command, { timeoutMs, stdin });
	if (result.code !== 0) {
		const detail = redactRepoUrl(
			result.stderr.trim().split('\n').slice(-3).join(' ').slice(0, 400),
		);
		throw new InfraOpsError(
			`${what} failed (exit ${result.code}): ${detail}`,
			/not found/.test(result.stderr) && /git/.test(result.stderr)
				? 'Install git on the Traefik host'
				: 'Check the repository URL, the branch, and that the Traefik host can reach and read the repository (deploy key)',
		);
	}
	return result.stdout;
}

/**
 * A user:token part of an http(s) URL, split off: git gets the bare URL on its command line and
 * the credential from an askpass helper, so the token is in no process's argv or environment.
 */
export function splitRepoCredentials(repoUrl: string): {
	url: string;
	username?: string;
	password?: string;
} {
	if (!/^https?:\/\//i.test(repoUrl)) {
		if (/^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(repoUrl)) {
			throw new InfraOpsError(
				"The repository URL carries a password, which git would show in the Traefik host's process list",
				'Over SSH the host authenticates with its key (a deploy key): remove the password from the URL',
			);
		}
		return { url: repoUrl };
	}
	let parsed: URL;
	try {
		parsed = new URL(repoUrl);
	} catch {
		throw new InfraOpsError(
			`The repository URL ${redactRepoUrl(repoUrl)} is not a valid URL`,
			'E.g. https://git.example.com/me/traefik.git',
		);
	}
	if (!parsed.username && !parsed.password) return { url: repoUrl };
	const decode = (part: string) => {
		try {
			return decodeURIComponent(part);
		} catch {
			return part;
		}
	};
	const username = decode(parsed.username);
	const password = decode(parsed.password);
	if (/[\r\n]/.test(username + password))
		throw new InfraOpsError('The credential in the repository URL has a line break');
	parsed.username = '';
	parsed.password = '';
	return { url: parsed.toString(), username, password };
}

const askpassScript = (dir: string) =>
	`#!/bin/sh\ncase "$1" in [Uu]sername*) exec cat ${shellQuote(`${dir}/user`)};; *) exec cat ${shellQuote(`${dir}/pass`)};; esac\n`;

export async function fetchGitFiles(
	session: SshSession,
	srcIn: GitSource,
	options: { fetchTimeoutMs?: number } = {},
): Promise<GitFile[]> {
	const src = checkGitSource(srcIn);
	const dir = shellQuote(src.stagingDir);
	const remote = splitRepoCredentials(src.repoUrl);
	await run(
		session,
		`mkdir -p -- ${dir} && cd -- ${dir} && { [ -d .git ] || git init -q; }`,
		`Preparing the staging checkout ${src.stagingDir}`,
		30_000,
	);
	const fetchTimeoutMs = options.fetchTimeoutMs ?? 120_000;
	// git's own timeout ends the host side too (the SSH channel's close does not stop a git waiting on its socket)
	const fetch = `GIT_TERMINAL_PROMPT=0 $(command -v timeout >/dev/null 2>&1 && echo timeout ${Math.ceil(fetchTimeoutMs / 1000)}) git -c credential.helper= fetch -q --no-tags -- ${shellQuote(remote.url)} ${shellQuote(`+refs/heads/${src.ref}:refs/remotes/gitops/${src.ref}`)}`;
	const what = `git fetch of ${src.ref} from ${redactRepoUrl(src.repoUrl)}`;
	if (remote.username === undefined) {
		await run(session, `cd -- ${dir} && ${fetch}`, what, fetchTimeoutMs + 10_000);
	} else {
		// The credential goes through stdin into 0600 files of a 0700 folder (shell builtins only, so
		// no argv ever holds it), git asks the askpass helper for it, and the folder is removed on every exit
		const secretDir = posix.join(
			src.stagingDir,
			'.git',
			`infra-ops-askpass-${randomBytes(8).toString('hex')}`,
		);
		const D = shellQuote(secretDir);
		try {
			await run(
				session,
				[
					`cd -- ${dir} && umask 077 && mkdir -m 700 -- ${D}`,
					`trap ${shellQuote(`rm -rf -- ${D}`)} EXIT`,
					`IFS= read -r u && IFS= read -r p && printf '%s' "$u" > ${D}/user && printf '%s' "$p" > ${D}/pass && u= && p=`,
					`printf '%s' ${shellQuote(askpassScript(secretDir))} > ${D}/askpass && chmod 700 ${D}/askpass`,
					`GIT_ASKPASS=${D}/askpass ${fetch}`,
				].join(' && '),
				what,
				fetchTimeoutMs + 10_000,
				`${remote.username}\n${remote.password ?? ''}\n`,
			);
		} finally {
			await session.exec(`rm -rf -- ${D}`, { timeoutMs: 15_000 }).catch(() => undefined);
		}
	}
	const branchHead = `refs/remotes/gitops/${src.ref}`;
	const target = src.commit || branchHead;
	const notOnBranch = () =>
		new InfraOpsError(
			`Commit ${target} is not on branch ${src.ref} of ${redactRepoUrl(src.repoUrl)}`,
			'The push may have been force-pushed over; run again for the branch head',
		);
	const resolved = (
		await run(
			session,
			`cd -- ${dir} && git rev-parse --verify -q ${shellQuote(`${target}^{commit}`)}`,
			`Finding commit ${target} on ${src.ref}`,
			30_000,
		).catch(() => {
			throw notOnBranch();
		})
	).trim();
	if (!/^[0-9a-f]{40,64}$/.test(resolved))
		throw new InfraOpsError(
			`git rev-parse answered "${resolved.slice(0, 80)}" instead of a commit id`,
		);
	// The staging clone keeps objects of earlier fetches: a commit that exists there may belong to another branch
	if (src.commit) {
		const onBranch = await session.exec(
			`cd -- ${dir} && git merge-base --is-ancestor ${resolved} ${shellQuote(branchHead)}`,
			{ timeoutMs: 30_000 },
		);
		if (onBranch.code !== 0) throw notOnBranch();
	}
	await run(
		session,
		`cd -- ${dir} && git checkout -q --force --detach ${resolved}`,
		`Checking out ${resolved}`,
		60_000,
	);
	const spec = src.pathInRepo ? `${src.pathInRepo}/` : '.';
	const listing = await run(
		session,
		`cd -- ${dir} && git ls-tree --name-only ${resolved} -- ${shellQuote(spec)}`,
		`Listing ${spec} of ${resolved}`,
		30_000,
	);
	const paths = listing
		.split('\n')
		.map((l) => l.trim())
		.filter((l) => l && isDynamicFileName(posix.basename(l)));
	const files: GitFile[] = [];
	for (const p of paths) {
		const content = await run(
			session,
			`cd -- ${dir} && git cat-file blob ${shellQuote(`${resolved}:${p}`)}`,
			`Reading ${p} of ${resolved}`,
			30_000,
		);
		files.push({ file: posix.basename(p), content, commit: resolved, pathInRepo: p });
	}
	if (files.length === 0)
		throw new InfraOpsError(
			`No .yml/.yaml/.toml files in ${spec} of ${resolved}`,
			'Check "Path in Repository" (the folder that mirrors the dynamic folder)',
		);
	return files;
}
