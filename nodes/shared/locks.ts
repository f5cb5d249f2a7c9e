// Over 350 lines: three lock kinds (Docker name, SSH mkdir, PostgreSQL advisory) share one lease protocol (acquire, renew, take over, release only your own), kept in one place so they cannot drift.
/**
 * Lease locks held on the target itself, so they hold across n8n queue-mode workers (never process
 * memory): a never-started Docker container with a deterministic name (Docker refuses a duplicate
 * name atomically), a directory on an SSH host (`mkdir` is atomic), a PostgreSQL advisory lock.
 * A holder renews its lease while it runs; a lock whose lease ran out (a crashed holder) is taken
 * over; a holder removes a lock only while it is still its own. No n8n import.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import type { Client } from 'pg';

import { errorMessage, InfraOpsError } from './errors';
import { shellQuote, type SshSession } from './ssh';

export interface LockOwner {
	/** n8n execution id: what the finding of a refused run names. */
	executionId?: string;
	workflowId?: string;
	node?: string;
}

export interface LockHolder extends LockOwner {
	/** Random per run: a lock is only ever renewed or removed by the run whose token it carries. */
	token: string;
	since: string;
	expires: string;
}

export type TryResult = { acquired: true } | { acquired: false; holder?: LockHolder };

export interface LeaseLock {
	/** Stable name; a run takes its locks sorted by it, so two runs never wait on each other crosswise. */
	readonly key: string;
	tryAcquire(holder: LockHolder, now: Date): Promise<TryResult>;
	/** Pushes the lease on to `holder.expires`; false when the lock is no longer this holder's. */
	renew(holder: LockHolder): Promise<boolean>;
	/** Removes the lock if it is still this holder's; false (lock left alone) otherwise. */
	release(holder: LockHolder): Promise<boolean>;
}

export interface LockOptions {
	/** How long a run waits for a held lock before it gives up (ms). */
	waitMs: number;
	pollMs?: number;
	/** Lease; renewed every third of it while the run holds the lock. */
	leaseMs?: number;
}

export const DEFAULT_LOCK_WAIT_MS = 60_000;
export const DEFAULT_LEASE_MS = 10 * 60_000;

export function describeHolder(holder?: LockHolder): string {
	if (!holder) return 'another run (holder unknown)';
	const parts = [
		holder.workflowId && `workflow ${holder.workflowId}`,
		holder.node && `node "${holder.node}"`,
		holder.since && `since ${holder.since}`,
		holder.expires && `lease until ${holder.expires}`,
	].filter(Boolean);
	return `execution ${holder.executionId || 'unknown'}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

/** A lock stayed held for the whole wait: the run changes nothing and says who holds it. */
export class LockedError extends InfraOpsError {
	constructor(
		readonly lockKey: string,
		readonly holder: LockHolder | undefined,
		waitedMs: number,
	) {
		super(
			`locked by ${describeHolder(holder)}`,
			`${lockKey} stayed locked for the ${Math.round(waitedMs / 1000)} s this run waits; run it again once the other run ended`,
		);
		this.name = 'LockedError';
	}
}

export interface HeldLocks {
	holder: LockHolder;
	/** Releases every lock still this run's; returns notes on locks that were not (left alone). */
	release(): Promise<string[]>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Takes every lock, in key order, waiting up to `waitMs` in all; on time-out releases what it took
 * and throws a LockedError naming the holder. While held, leases are renewed in the background.
 */
export async function acquireLocks(
	locks: LeaseLock[],
	owner: LockOwner,
	options: LockOptions,
): Promise<HeldLocks> {
	const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
	const pollMs = options.pollMs ?? Math.min(2_000, Math.max(100, options.waitMs / 10));
	const now = new Date();
	const holder: LockHolder = {
		...owner,
		token: randomBytes(12).toString('hex'),
		since: now.toISOString(),
		expires: new Date(now.getTime() + leaseMs).toISOString(),
	};
	const ordered = [...new Map(locks.map((l) => [l.key, l])).values()].sort((a, b) =>
		a.key < b.key ? -1 : a.key > b.key ? 1 : 0,
	);
	const taken: LeaseLock[] = [];
	const releaseTaken = async (): Promise<string[]> => {
		const notes: string[] = [];
		for (const lock of [...taken].reverse()) {
			try {
				if (!(await lock.release(holder)))
					notes.push(`${lock.key}: the lock was no longer this run's, left alone`);
			} catch (error) {
				notes.push(
					`${lock.key}: releasing the lock failed (${errorMessage(error)}); it frees itself when its lease ends`,
				);
			}
		}
		taken.length = 0;
		return notes;
	};
	const deadline = Date.now() + options.waitMs;
	try {
		for (const lock of ordered) {
			for (;;) {
				const result = await lock.tryAcquire(holder, new Date());
				if (result.acquired) {
					taken.push(lock);
					break;
				}
				if (Date.now() >= deadline) throw new LockedError(lock.key, result.holder, options.waitMs);
				await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
			}
		}
	} catch (error) {
		await releaseTaken();
		throw error;
	}
	let renewing = Promise.resolve();
	const timer = setInterval(
		() => {
			holder.expires = new Date(Date.now() + leaseMs).toISOString();
			// a failed renewal is retried at the next tick; the lease still has two thirds left
			renewing = renewing.then(() =>
				Promise.all(taken.map((l) => l.renew(holder).catch(() => false))).then(() => undefined),
			);
		},
		Math.max(1_000, leaseMs / 3),
	);
	timer.unref?.();
	return {
		holder,
		release: async () => {
			clearInterval(timer);
			await renewing;
			return await releaseTaken();
		},
	};
}

export function isExpired(holder: LockHolder | undefined, now: Date): boolean {
	if (!holder) return false;
	const t = Date.parse(holder.expires);
	return Number.isFinite(t) && t < now.getTime();
}

// ---------------------------------------------------------------- Docker: a never-started container

const LABEL = 'org.infra-ops.lock';

/** `infra-ops-lock-<name>`, in the characters Docker allows in a container name. */
export function dockerLockName(resource: string): string {
	return `infra-ops-lock-${resource.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

function holderFromLabels(labels: Record<string, string> | undefined): LockHolder | undefined {
	if (!labels?.[`${LABEL}.token`]) return undefined;
	return {
		token: labels[`${LABEL}.token`],
		executionId: labels[`${LABEL}.execution`] || undefined,
		workflowId: labels[`${LABEL}.workflow`] || undefined,
		node: labels[`${LABEL}.node`] || undefined,
		since: labels[`${LABEL}.since`] ?? '',
		expires: labels[`${LABEL}.expires`] ?? '',
	};
}

/** One regular file as a tar stream (labels cannot change, so a renewed lease lives in a file). */
function tarOf(name: string, body: Buffer): Buffer {
	const header = Buffer.alloc(512);
	header.write(name, 0, 100, 'utf8');
	header.write('0000644\0', 100, 'latin1');
	header.write('0000000\0', 108, 'latin1');
	header.write('0000000\0', 116, 'latin1');
	header.write(body.length.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
	header.write(
		Math.floor(Date.now() / 1000)
			.toString(8)
			.padStart(11, '0') + '\0',
		136,
		'latin1',
	);
	header.write('        ', 148, 'latin1');
	header.write('0', 156, 'latin1');
	header.write('ustar\0' + '00', 257, 'latin1');
	let sum = 0;
	for (const byte of header) sum += byte;
	header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
	const padding = Buffer.alloc((512 - (body.length % 512)) % 512);
	return Buffer.concat([header, body, padding, Buffer.alloc(1024)]);
}

function firstFileOfTar(tar: Buffer): Buffer | undefined {
	if (tar.length < 512) return undefined;
	const size = parseInt(
		tar.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0',
		8,
	);
	return tar.subarray(512, 512 + size);
}

const LEASE_FILE = 'infra-ops-lease.json';

/** An image already on the host for the never-started lock container (nothing is pulled). */
export async function anyLocalImage(docker: Dockerode, preferred?: string): Promise<string> {
	if (preferred?.trim()) return preferred.trim();
	const images = await docker.listImages();
	const tagged =
		images.find((i) => (i.RepoTags ?? []).some((t) => t !== '<none>:<none>')) ?? images[0];
	if (!tagged)
		throw new InfraOpsError(
			'There is no image on the Docker host to create the lock container from',
			'Pull a small image (docker pull busybox)',
		);
	return tagged.Id;
}

export class DockerLock implements LeaseLock {
	readonly key: string;
	readonly name: string;

	constructor(
		private readonly docker: Dockerode,
		resource: string,
		private readonly image?: string,
	) {
		this.name = dockerLockName(resource);
		this.key = `docker ${this.name}`;
	}

	/**
	 * The Docker daemon's clock minus ours. Leases on a lock container are written and judged in the
	 * daemon's time: n8n workers whose clocks disagree by more than a lease would otherwise take over a
	 * live lock (a waiter ahead) or wait on a dead one (a waiter behind). Without `docker info` (a socket
	 * proxy without INFO) this worker's clock is used.
	 */
	private async daemonOffsetMs(): Promise<number> {
		const before = Date.now();
		try {
			const info = (await this.docker.info()) as { SystemTime?: string };
			const daemon = Date.parse(info.SystemTime ?? '');
			const offset = Number.isFinite(daemon) ? daemon - Math.round((before + Date.now()) / 2) : 0;
			// under a few seconds it is the request's own latency, not skew worth a lease's attention
			return Math.abs(offset) < 5_000 ? 0 : offset;
		} catch {
			return 0;
		}
	}

	async tryAcquire(holder: LockHolder, now: Date): Promise<TryResult> {
		const offset = await this.daemonOffsetMs();
		const onDaemon = (iso: string) => new Date(Date.parse(iso) + offset).toISOString();
		for (let attempt = 0; attempt < 2; attempt++) {
			try {
				await this.docker.createContainer({
					name: this.name,
					Image: await anyLocalImage(this.docker, this.image),
					Entrypoint: [],
					Cmd: ['/infra-ops-lock-never-started'],
					NetworkDisabled: true,
					Labels: {
						[LABEL]: 'true',
						[`${LABEL}.token`]: holder.token,
						[`${LABEL}.execution`]: holder.executionId ?? '',
						[`${LABEL}.workflow`]: holder.workflowId ?? '',
						[`${LABEL}.node`]: holder.node ?? '',
						[`${LABEL}.since`]: onDaemon(holder.since),
						[`${LABEL}.expires`]: onDaemon(holder.expires),
					},
					HostConfig: { NetworkMode: 'none' },
				});
				return { acquired: true };
			} catch (error) {
				if ((error as { statusCode?: number }).statusCode !== 409) throw error;
			}
			const current = await this.current();
			if (!current) continue; // released in between: try again
			if (!isExpired(current.holder, new Date(now.getTime() + offset)))
				return { acquired: false, holder: current.holder };
			// by id, not by name: of several runs taking over at once, only one removes this stale
			// container, and none can remove the fresh one the winner creates under the same name
			await this.docker
				.getContainer(current.id)
				.remove({ force: true })
				.catch((error: { statusCode?: number }) => {
					if (error.statusCode !== 404 && error.statusCode !== 409) throw error;
				});
		}
		const current = await this.current();
		return { acquired: false, holder: current?.holder };
	}

	async renew(holder: LockHolder): Promise<boolean> {
		const current = await this.current();
		if (!current || current.holder?.token !== holder.token) return false;
		const offset = await this.daemonOffsetMs();
		const body = Buffer.from(
			JSON.stringify({
				token: holder.token,
				expires: new Date(Date.parse(holder.expires) + offset).toISOString(),
			}),
		);
		await this.docker.getContainer(current.id).putArchive(tarOf(LEASE_FILE, body), { path: '/' });
		return true;
	}

	async release(holder: LockHolder): Promise<boolean> {
		const current = await this.current();
		if (!current || current.holder?.token !== holder.token) return false;
		await this.docker
			.getContainer(current.id)
			.remove({ force: true })
			.catch((error: { statusCode?: number }) => {
				if (error.statusCode !== 404) throw error;
			});
		return true;
	}

	/** The container under the lock's name, with its holder and the lease as last renewed. */
	async current(): Promise<{ id: string; holder?: LockHolder } | undefined> {
		let info: { Id: string; Config?: { Labels?: Record<string, string> } };
		try {
			info = (await this.docker.getContainer(this.name).inspect()) as typeof info;
		} catch (error) {
			if ((error as { statusCode?: number }).statusCode === 404) return undefined;
			throw error;
		}
		const holder = holderFromLabels(info.Config?.Labels);
		if (holder) {
			try {
				const stream = (await this.docker
					.getContainer(info.Id)
					.getArchive({ path: `/${LEASE_FILE}` })) as unknown as Readable;
				const chunks: Buffer[] = [];
				for await (const chunk of stream) chunks.push(chunk as Buffer);
				const lease = JSON.parse(
					firstFileOfTar(Buffer.concat(chunks))?.toString('utf8') ?? '{}',
				) as { token?: string; expires?: string };
				if (lease.token === holder.token && lease.expires && lease.expires > holder.expires)
					holder.expires = lease.expires;
			} catch {
				// never renewed (404): the label's lease stands
			}
		}
		return { id: info.Id, holder };
	}
}

// ---------------------------------------------------------------- SSH: a directory beside the target

export class SshDirLock implements LeaseLock {
	readonly key: string;
	private absent = false;

	/** `dir` is created next to the file it guards, e.g. `/opt/app/.env.infra-ops-lock`. */
	constructor(
		private readonly session: SshSession,
		private readonly dir: string,
	) {
		this.key = `ssh ${session.target} ${dir}`;
	}

	private async run(script: string): Promise<string> {
		const result = await this.session.exec(`sh -c ${shellQuote(script)}`, { timeoutMs: 30_000 });
		if (result.code !== 0)
			throw new InfraOpsError(
				`${this.session.target}: lock ${this.dir}: ${result.stderr.trim() || `exit ${result.code}`}`,
			);
		return result.stdout;
	}

	async tryAcquire(holder: LockHolder, now: Date): Promise<TryResult> {
		const d = shellQuote(this.dir);
		const json = shellQuote(JSON.stringify(holder));
		for (let attempt = 0; attempt < 2; attempt++) {
			const out = await this.run(
				`if [ ! -d "$(dirname -- ${d})" ]; then echo NOFOLDER; ` +
					`elif mkdir ${d} 2>/dev/null; then printf '%s' ${json} > ${d}/holder.tmp && mv ${d}/holder.tmp ${d}/holder && echo ACQUIRED; ` +
					`elif [ -d ${d} ]; then echo "HELD $(stat -c %Y ${d} 2>/dev/null || echo 0)"; cat ${d}/holder 2>/dev/null; ` +
					`else echo "FAILED $(mkdir ${d} 2>&1)"; fi; exit 0`,
			);
			if (out.startsWith('ACQUIRED')) return { acquired: true };
			// the file's folder is missing: nothing to guard, and the rotation's create says what is wrong
			if (out.startsWith('NOFOLDER')) {
				this.absent = true;
				return { acquired: true };
			}
			if (out.startsWith('FAILED')) {
				throw new InfraOpsError(
					`${this.session.target}: cannot create the lock folder ${this.dir}: ${out.slice(7).trim()}`,
					'The SSH user needs write access to the folder of the file it rotates',
				);
			}
			const [first, ...rest] = out.split('\n');
			const dirMtime = Number(first.split(' ')[1] ?? 0) * 1000;
			let current: LockHolder | undefined;
			try {
				current = JSON.parse(rest.join('\n')) as LockHolder;
			} catch {
				// a holder that died between mkdir and writing its file: the folder's age is its lease
				current = {
					token: '',
					since: new Date(dirMtime).toISOString(),
					expires: new Date(dirMtime + DEFAULT_LEASE_MS).toISOString(),
				};
				if (dirMtime === 0) continue; // gone in between
			}
			if (!isExpired(current, now)) return { acquired: false, holder: current };
			// rename away first, then check it is the stale lock seen above (a fresh one is put back)
			const stale = shellQuote(`${this.dir}.stale-${holder.token}`);
			const seen = shellQuote(`"token":${JSON.stringify(current.token)}`);
			await this.run(
				`mv ${d} ${stale} 2>/dev/null || exit 0; ` +
					`if [ ! -f ${stale}/holder ] || grep -qF ${seen} ${stale}/holder; then rm -rf ${stale}; ` +
					`else [ -e ${d} ] || mv ${stale} ${d}; fi; exit 0`,
			);
		}
		return { acquired: false };
	}

	async renew(holder: LockHolder): Promise<boolean> {
		if (this.absent) return true;
		const d = shellQuote(this.dir);
		const mine = shellQuote(`"token":${JSON.stringify(holder.token)}`);
		const out = await this.run(
			`if grep -qF ${mine} ${d}/holder 2>/dev/null; then printf '%s' ${shellQuote(JSON.stringify(holder))} > ${d}/holder.tmp && mv ${d}/holder.tmp ${d}/holder && echo RENEWED; fi; exit 0`,
		);
		return out.startsWith('RENEWED');
	}

	async release(holder: LockHolder): Promise<boolean> {
		if (this.absent) return true;
		const d = shellQuote(this.dir);
		const mine = shellQuote(`"token":${JSON.stringify(holder.token)}`);
		const out = await this.run(
			`if grep -qF ${mine} ${d}/holder 2>/dev/null; then rm -rf ${d} && echo RELEASED; fi; exit 0`,
		);
		return out.startsWith('RELEASED');
	}
}

// ---------------------------------------------------------------- PostgreSQL: an advisory lock per role

/** High 32 bits of the advisory lock key ('iops'); the low 32 bits are the role's oid. */
export const PG_LOCK_CLASS = 0x696f7073;

/**
 * `pg_try_advisory_lock` on a connection kept for the run: the server drops the lock when that
 * connection ends, so a crashed holder needs no lease. The holder is named in the connection's
 * application_name, which pg_stat_activity shows to the waiting run.
 */
export class PostgresRoleLock implements LeaseLock {
	readonly key: string;

	constructor(
		private readonly client: Client,
		serverLabel: string,
		private readonly role: string,
	) {
		this.key = `postgres ${serverLabel} role ${role}`;
	}

	static applicationName(holder: LockHolder): string {
		// application_name keeps 63 bytes
		return `infra-ops-lock e=${holder.executionId ?? ''} w=${holder.workflowId ?? ''}`.slice(0, 63);
	}

	async tryAcquire(holder: LockHolder): Promise<TryResult> {
		await this.client.query(`select set_config('application_name', $1, false)`, [
			PostgresRoleLock.applicationName(holder),
		]);
		const { rows } = await this.client.query<{ oid: string | null; ok: boolean | null }>(
			`select r.oid::text as oid, case when r.oid is null then null else pg_try_advisory_lock(($1::bigint << 32) | r.oid::bigint) end as ok
			 from (select $2::text as name) n left join pg_roles r on r.rolname = n.name`,
			[PG_LOCK_CLASS, this.role],
		);
		// a role that does not exist is refused by the rotation's create step; there is nothing to guard
		if (rows[0].oid === null || rows[0].ok) return { acquired: true };
		const who = await this.client.query<{ application_name: string; backend_start: Date }>(
			`select a.application_name, a.backend_start from pg_locks l join pg_stat_activity a on a.pid = l.pid
			 where l.locktype = 'advisory' and l.granted and l.classid = $1::bigint::oid and l.objid = $2::oid and l.objsubid = 1`,
			[PG_LOCK_CLASS, rows[0].oid],
		);
		const row = who.rows[0];
		const m = /e=(\S*) w=(\S*)/.exec(row?.application_name ?? '');
		return {
			acquired: false,
			holder: row
				? {
						token: '',
						executionId: m?.[1] || undefined,
						workflowId: m?.[2] || undefined,
						since: new Date(row.backend_start).toISOString(),
						expires: '',
					}
				: undefined,
		};
	}

	async renew(): Promise<boolean> {
		return true;
	}

	async release(): Promise<boolean> {
		const { rows } = await this.client.query<{ ok: boolean }>(
			`select pg_advisory_unlock(($1::bigint << 32) | r.oid::bigint) as ok from pg_roles r where r.rolname = $2`,
			[PG_LOCK_CLASS, this.role],
		);
		return rows[0]?.ok ?? true;
	}
}
