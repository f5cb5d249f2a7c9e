/**
 * A lock on the deploy folder held by the host itself: `flock` on a file in the repository's git
 * folder, kept by a shell on its own SSH channel for as long as the deploy runs. It holds across n8n
 * queue-mode workers (the host decides, not a process's memory) and frees itself when the holder
 * dies: a closed channel or a dropped connection ends the shell, and the kernel drops the flock.
 * No lease to renew, no stale lock to take over.
 */
import type { ClientChannel } from 'ssh2';

import { InfraOpsError } from '../shared/errors';
import { shellQuote, type SshSession } from '../shared/ssh';

export interface HeldRepoLock {
	release(): Promise<void>;
}

const GRACE_MS = 30_000;

/** Waits up to `waitS` seconds for the lock on `lockFile`; refuses naming the holder when it stays held. */
export async function holdRepoLock(
	session: SshSession,
	lockFile: string,
	waitS: number,
	holder: string,
): Promise<HeldRepoLock> {
	const wait = Math.max(0, Math.floor(waitS));
	const label = holder.replace(/[^\w .:@()/-]/g, '?').slice(0, 200);
	const file = shellQuote(lockFile);
	// after the lock is taken the holder's name goes into the file (the lock is on the open file, not
	// its content), so a refused run can say who holds it; `cat` keeps fd 9 open until stdin closes
	const script =
		`exec 9>>${file} || exit 71; ` +
		`if flock ${wait === 0 ? '-n' : `-w ${wait}`} 9; then printf '%s\\n' ${shellQuote(label)} > ${file}; ` +
		`echo infra-ops-locked; exec cat >/dev/null; ` +
		`else echo infra-ops-busy; head -c 300 -- ${file}; exit 75; fi`;
	const channel = await new Promise<ClientChannel>((resolve, reject) =>
		session.client.exec(script, (error, ch) =>
			error
				? reject(new InfraOpsError(`${session.target}: cannot start flock: ${error.message}`))
				: resolve(ch),
		),
	);
	const closed = new Promise<void>((resolve) => channel.once('close', () => resolve()));
	let out = '';
	let err = '';
	channel.stderr.on('data', (chunk: Buffer) => (err = (err + chunk.toString('utf8')).slice(-2000)));
	const verdict = await new Promise<'locked' | 'busy' | 'failed'>((resolve) => {
		const timer = setTimeout(() => resolve('failed'), wait * 1000 + GRACE_MS);
		channel.on('data', (chunk: Buffer) => {
			out = (out + chunk.toString('utf8')).slice(0, 4000);
			if (out.startsWith('infra-ops-locked\n')) {
				clearTimeout(timer);
				resolve('locked');
			}
		});
		void closed.then(() => {
			clearTimeout(timer);
			resolve(out.startsWith('infra-ops-busy') ? 'busy' : 'failed');
		});
	});
	if (verdict === 'locked') {
		return {
			release: async () => {
				channel.end();
				let timer: NodeJS.Timeout | undefined;
				await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, 5000)))]);
				clearTimeout(timer);
				channel.close();
			},
		};
	}
	channel.close();
	if (verdict === 'busy') {
		const by = out.replace(/^infra-ops-busy\n?/, '').trim() || 'another run';
		throw new InfraOpsError(
			`${lockFile} is locked by ${by}: another deploy of this folder is running`,
			`This run waited ${wait} s; run it again once the other deploy ended, or raise "Lock Wait (Seconds)"`,
		);
	}
	throw new InfraOpsError(
		`${session.target}: cannot lock ${lockFile}: ${err.trim().slice(-300) || 'flock did not answer'}`,
		"The deploy needs `flock` (util-linux) on the host and write access to the repository's .git folder",
	);
}
