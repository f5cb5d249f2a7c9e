/** A private PostgreSQL cluster on loopback with SCRAM passwords and TLS, run as the postgres user. */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Daemon, freePort, run, settleAll, waitUntil } from './proc';
import type { PostgresInfo } from './services';
import { makeCertificates } from './tls';

const PG_USER = 'infraops';
const PG_PASSWORD = 'infra-ops-pg-password';
const PG_DATABASE = 'postgres';

export interface PostgresService {
	info: PostgresInfo;
	stop(): Promise<void>;
}

/** Server binaries of the preferred major version (15), else the newest installed. */
export function postgresBinDir(): string {
	const base = '/usr/lib/postgresql';
	const versions = fs.existsSync(base)
		? fs
				.readdirSync(base)
				.filter((v) => fs.existsSync(path.join(base, v, 'bin', 'postgres')))
				.sort((a, b) => Number(b) - Number(a))
		: [];
	const version = versions.includes('15') ? '15' : versions[0];
	if (version === undefined)
		throw new Error(`postgres not found in ${base}/*/bin: apt-get install postgresql`);
	return path.join(base, version, 'bin');
}

export function systemUser(name: string): { uid: number; gid: number } {
	const line = fs
		.readFileSync('/etc/passwd', 'utf8')
		.split('\n')
		.find((l) => l.startsWith(`${name}:`));
	if (!line)
		throw new Error(`user ${name} not found: apt-get install postgresql (its package creates it)`);
	const [, , uid, gid] = line.split(':');
	return { uid: Number(uid), gid: Number(gid) };
}

export interface PostgresOptions {
	/** Names the server certificate lists; default localhost and 127.0.0.1 (a test of host name checks sets others). */
	dnsNames?: string[];
	ipAddresses?: string[];
}

export async function startPostgres(
	root: string,
	options: PostgresOptions = {},
): Promise<PostgresService> {
	const bin = postgresBinDir();
	const owner = systemUser('postgres');
	const dir = path.join(root, 'pg');
	const dataDir = path.join(dir, 'data');
	fs.mkdirSync(dir, { mode: 0o700 });
	fs.chownSync(dir, owner.uid, owner.gid);
	const asPostgres = {
		uid: owner.uid,
		gid: owner.gid,
		cwd: dir,
		env: { ...process.env, HOME: dir, LC_ALL: 'C.UTF-8' },
	};

	const pwFile = path.join(dir, 'pwfile');
	fs.writeFileSync(pwFile, `${PG_PASSWORD}\n`, { mode: 0o600 });
	fs.chownSync(pwFile, owner.uid, owner.gid);
	const [certs] = await settleAll([
		makeCertificates({
			dir: path.join(root, 'pg-certs'),
			ca: { commonName: 'Infra Ops Test PostgreSQL CA' },
			leaves: [{ days: 30, dnsNames: options.dnsNames, ipAddresses: options.ipAddresses }],
		}),
		// initdb and postgres refuse to run as root
		run(
			path.join(bin, 'initdb'),
			[
				'-D',
				dataDir,
				'-U',
				PG_USER,
				`--pwfile=${pwFile}`,
				'--auth-host=scram-sha-256',
				'--auth-local=trust',
				'-E',
				'UTF8',
				'--locale=C',
				'--no-sync',
			],
			asPostgres,
		),
	]);
	fs.rmSync(pwFile);
	const certFile = path.join(dataDir, 'server.crt');
	const keyFile = path.join(dataDir, 'server.key');
	fs.writeFileSync(certFile, certs.leaf.certPem);
	fs.writeFileSync(keyFile, certs.leaf.keyPem, { mode: 0o600 });
	fs.chownSync(certFile, owner.uid, owner.gid);
	fs.chownSync(keyFile, owner.uid, owner.gid);

	let lastError: unknown;
	for (let attempt = 0; attempt < 3; attempt++) {
		const port = await freePort();
		const settings = {
			listen_addresses: '127.0.0.1',
			port: String(port),
			unix_socket_directories: dir,
			password_encryption: 'scram-sha-256',
			ssl: 'on',
			ssl_cert_file: certFile,
			ssl_key_file: keyFile,
			// throwaway cluster: durability only costs time
			fsync: 'off',
			synchronous_commit: 'off',
			full_page_writes: 'off',
		};
		const args = [
			'-D',
			dataDir,
			...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
		];
		const daemon = new Daemon('postgres', path.join(bin, 'postgres'), args, {
			...asPostgres,
			logFile: path.join(root, `postgres.${attempt}.log`),
		});
		try {
			await waitUntil(
				'postgres to accept connections',
				async () => {
					await run(path.join(bin, 'pg_isready'), [
						'-q',
						'-h',
						'127.0.0.1',
						'-p',
						String(port),
						'-U',
						PG_USER,
						'-d',
						PG_DATABASE,
						'-t',
						'2',
					]);
					return true;
				},
				{ timeoutMs: 30_000, daemon },
			);
		} catch (err) {
			await daemon.stop('SIGKILL', 1_000);
			lastError = err;
			if (/Address already in use/.test(daemon.logTail())) continue;
			throw err;
		}
		return {
			info: {
				host: '127.0.0.1',
				port,
				user: PG_USER,
				password: PG_PASSWORD,
				database: PG_DATABASE,
				ssl: {
					caPem: certs.ca.certPem,
					certPem: certs.leaf.certPem,
					notAfter: certs.leaf.notAfter.toISOString(),
				},
			},
			// SIGINT is postgres's fast shutdown: it does not wait for clients to disconnect
			stop: () => daemon.stop('SIGINT', 15_000),
		};
	}
	throw lastError;
}
