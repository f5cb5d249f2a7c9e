/** What integration tests import: the connection details of the services globalSetup started, and helpers to start more. */
import * as fs from 'node:fs';

export interface Services {
	/** Temp root of this run; removed by globalTeardown. */
	root: string;
	docker: {
		socketPath: string;
		/** busybox-static with one symlink per applet; CMD /bin/sh. */
		image: string;
		/** Debian's restic at /usr/bin/restic (ENTRYPOINT) over the busybox file system of `image`. */
		resticImage: string;
	};
	ssh: SshInfo;
	s3: {
		endpoint: string;
		region: string;
		accessKeyId: string;
		secretAccessKey: string;
		bucket: string;
	};
	postgres: PostgresInfo;
}

export interface SshInfo {
	host: string;
	port: number;
	/** The user running the tests (root), logging in with privateKey; password logins are refused for it. */
	username: string;
	/** ed25519, OpenSSH format, no passphrase. */
	privateKey: string;
	publicKey: string;
	/** Password of passwordUser, the only user this sshd accepts passwords for. */
	password: string;
	passwordUser: string;
	/** `SHA256:<base64 without padding>` of the host key, as `ssh-keygen -lf` prints it. */
	hostKeyFingerprint: string;
	/** A folder on the "remote" host that both users can write to (mode 1777). */
	dataDir: string;
}

export interface PostgresInfo {
	host: string;
	port: number;
	/** Superuser, SCRAM-SHA-256 password over TCP. */
	user: string;
	password: string;
	database: string;
	/** The server's certificate (ssl=on), issued by caPem for CN/SAN localhost and 127.0.0.1. */
	ssl: { caPem: string; certPem: string; notAfter: string };
}

export const SERVICES_ENV = 'INFRA_OPS_SERVICES';

let cached: { file: string; services: Services } | undefined;

/** Reads the file globalSetup wrote; throws if the tests were not started through the integration project. */
export function services(): Services {
	const file = process.env[SERVICES_ENV];
	if (!file) {
		throw new Error(
			`${SERVICES_ENV} is not set: run integration tests with \`npx jest --selectProjects integration\`, whose globalSetup (test/harness/globalSetup.ts) starts the services`,
		);
	}
	if (cached?.file !== file) {
		let text: string;
		try {
			text = fs.readFileSync(file, 'utf8');
		} catch (err) {
			throw new Error(
				`${SERVICES_ENV}=${file} cannot be read (${(err as Error).message}); was the harness torn down already?`,
			);
		}
		cached = { file, services: JSON.parse(text) as Services };
	}
	return cached.services;
}

export { startS3rver, type S3rverHandle, type S3rverOptions } from './s3';
export {
	makeCertificates,
	startTlsServer,
	type CertificateOptions,
	type CertificateSet,
	type CertSpec,
	type IssuedCertificate,
	type KeySpec,
	type LeafCertificate,
	type LeafSpec,
	type SignatureHash,
	type TlsServer,
	type TlsServerOptions,
} from './tls';
