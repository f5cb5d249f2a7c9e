/** Test certificates made with the openssl CLI, and a TLS (HTTPS) server that presents them. */
import { randomBytes, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';

import { requireBinary, run } from './proc';

export type KeySpec =
	| { type: 'rsa'; bits?: number }
	| { type: 'ec'; curve?: 'P-256' | 'P-384' | 'P-521' }
	| { type: 'ed25519' };

export type SignatureHash = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

export interface CertSpec {
	commonName?: string;
	/** Start of validity in days from now; negative is in the past. Default -1. */
	notBeforeDays?: number;
	/** End of validity in days from now; negative makes an expired certificate. Default 90 (CA: 3650). */
	days?: number;
	/** Default EC P-256. */
	key?: KeySpec;
	/** Digest of the issuer's signature on this certificate. Default sha256; ignored when the issuer's key is ed25519. */
	hash?: SignatureHash;
}

export interface LeafSpec extends CertSpec {
	/** Default ['localhost']. */
	dnsNames?: string[];
	/** Default ['127.0.0.1']. */
	ipAddresses?: string[];
}

export interface CertificateOptions {
	ca?: CertSpec;
	/** Issue the leaves from an intermediate CA signed by the root. */
	intermediate?: CertSpec | boolean;
	/** Default one leaf for localhost / 127.0.0.1. */
	leaves?: LeafSpec[];
	/** Where the files go; default a new folder under the harness root (or the OS temp dir without one). */
	dir?: string;
}

export interface IssuedCertificate {
	certPem: string;
	keyPem: string;
	certFile: string;
	keyFile: string;
	notBefore: Date;
	notAfter: Date;
	/** Colon-separated upper-case hex, as X509Certificate.fingerprint256 gives it. */
	fingerprint256: string;
	serialNumber: string;
}

export interface LeafCertificate extends IssuedCertificate {
	/** Intermediate certificate(s) between leaf and root; '' without an intermediate. */
	chainPem: string;
	/** Leaf followed by chainPem. */
	fullchainPem: string;
}

export interface CertificateSet {
	dir: string;
	ca: IssuedCertificate;
	intermediate?: IssuedCertificate;
	leaves: LeafCertificate[];
	/** leaves[0]. */
	leaf: LeafCertificate;
	/** Deletes dir if makeCertificates created it (a harness run's root is removed at teardown anyway). */
	remove(): Promise<void>;
}

const DAY_MS = 86_400_000;

interface Issuer {
	name: string;
	keyType: KeySpec['type'];
}

class Authority {
	constructor(
		private readonly openssl: string,
		private readonly dir: string,
	) {}

	async init(): Promise<void> {
		await fs.promises.writeFile(path.join(this.dir, 'index.txt'), '');
		await fs.promises.writeFile(
			path.join(this.dir, 'ca.cnf'),
			[
				'[ ca ]',
				'default_ca = ca_default',
				'[ ca_default ]',
				`database = ${path.join(this.dir, 'index.txt')}`,
				`new_certs_dir = ${this.dir}`,
				`serial = ${path.join(this.dir, 'serial')}`,
				'default_md = sha256',
				'policy = policy_any',
				'preserve = yes',
				'unique_subject = no',
				'email_in_dn = no',
				'[ policy_any ]',
				'commonName = supplied',
				'',
			].join('\n'),
		);
	}

	/** Creates a key and a certificate for it, signed by `issuer` or, without one, by itself. */
	async issue(
		name: string,
		spec: CertSpec,
		extensions: string[],
		issuer?: Issuer,
	): Promise<IssuedCertificate> {
		const keyFile = path.join(this.dir, `${name}.key`);
		const csrFile = path.join(this.dir, `${name}.csr`);
		const certFile = path.join(this.dir, `${name}.crt`);
		const extFile = path.join(this.dir, `${name}.ext`);
		const key = spec.key ?? { type: 'ec' };
		await run(this.openssl, ['genpkey', ...keyArgs(key), '-out', keyFile]);
		await run(this.openssl, [
			'req',
			'-new',
			'-key',
			keyFile,
			'-subj',
			`/CN=${spec.commonName ?? name}`,
			'-out',
			csrFile,
		]);
		await fs.promises.writeFile(extFile, `${extensions.join('\n')}\n`);
		await fs.promises.writeFile(
			path.join(this.dir, 'serial'),
			`${randomBytes(16).toString('hex')}\n`,
		);

		const now = Date.now();
		const signerKeyType = issuer?.keyType ?? key.type;
		const args = [
			'ca',
			'-batch',
			'-notext',
			'-config',
			path.join(this.dir, 'ca.cnf'),
			'-in',
			csrFile,
			'-out',
			certFile,
			'-extfile',
			extFile,
		];
		args.push('-startdate', opensslTime(now + (spec.notBeforeDays ?? -1) * DAY_MS));
		args.push('-enddate', opensslTime(now + (spec.days ?? 90) * DAY_MS));
		// ed25519 signatures have a fixed digest; openssl rejects -md for them
		if (signerKeyType !== 'ed25519') args.push('-md', spec.hash ?? 'sha256');
		if (issuer) {
			args.push(
				'-keyfile',
				path.join(this.dir, `${issuer.name}.key`),
				'-cert',
				path.join(this.dir, `${issuer.name}.crt`),
			);
		} else {
			args.push('-selfsign', '-keyfile', keyFile);
		}
		await run(this.openssl, args);

		const certPem = await fs.promises.readFile(certFile, 'utf8');
		const x509 = new X509Certificate(certPem);
		return {
			certPem,
			keyPem: await fs.promises.readFile(keyFile, 'utf8'),
			certFile,
			keyFile,
			notBefore: new Date(x509.validFrom),
			notAfter: new Date(x509.validTo),
			fingerprint256: x509.fingerprint256,
			serialNumber: x509.serialNumber,
		};
	}
}

function keyArgs(key: KeySpec): string[] {
	switch (key.type) {
		case 'rsa':
			return ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${key.bits ?? 2048}`];
		case 'ec':
			return ['-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${key.curve ?? 'P-256'}`];
		case 'ed25519':
			return ['-algorithm', 'ED25519'];
	}
}

/** GeneralizedTime as `openssl ca -startdate/-enddate` take it. */
function opensslTime(ms: number): string {
	return `${new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

const caExtensions = (basicConstraints: string) => [
	`basicConstraints = critical,${basicConstraints}`,
	'keyUsage = critical,keyCertSign,cRLSign',
	'subjectKeyIdentifier = hash',
];

function defaultDir(): string {
	const servicesFile = process.env.INFRA_OPS_SERVICES;
	const parent = servicesFile ? path.dirname(servicesFile) : os.tmpdir();
	return fs.mkdtempSync(path.join(parent, 'certs-'));
}

/** A root CA, an optional intermediate, and leaf certificates, each with the validity, key and signature hash asked for. */
export async function makeCertificates(options: CertificateOptions = {}): Promise<CertificateSet> {
	const openssl = requireBinary('openssl', 'openssl');
	const ownDir = options.dir === undefined;
	const dir = options.dir ?? defaultDir();
	await fs.promises.mkdir(dir, { recursive: true });
	const authority = new Authority(openssl, dir);
	await authority.init();

	const caSpec: CertSpec = { commonName: 'Infra Ops Test Root CA', days: 3650, ...options.ca };
	const ca = await authority.issue('ca', caSpec, caExtensions('CA:TRUE'));
	let issuer: Issuer = { name: 'ca', keyType: caSpec.key?.type ?? 'ec' };

	let intermediate: IssuedCertificate | undefined;
	if (options.intermediate) {
		const spec: CertSpec = {
			commonName: 'Infra Ops Test Intermediate CA',
			days: 1825,
			...(options.intermediate === true ? {} : options.intermediate),
		};
		intermediate = await authority.issue(
			'intermediate',
			spec,
			[...caExtensions('CA:TRUE,pathlen:0'), 'authorityKeyIdentifier = keyid'],
			issuer,
		);
		issuer = { name: 'intermediate', keyType: spec.key?.type ?? 'ec' };
	}

	const leaves: LeafCertificate[] = [];
	for (const [index, spec] of (options.leaves ?? [{}]).entries()) {
		const sans = [
			...(spec.dnsNames ?? ['localhost']).map((name) => `DNS:${name}`),
			...(spec.ipAddresses ?? ['127.0.0.1']).map((ip) => `IP:${ip}`),
		];
		const extensions = [
			'basicConstraints = critical,CA:FALSE',
			`keyUsage = critical,${spec.key?.type === 'rsa' ? 'digitalSignature,keyEncipherment' : 'digitalSignature'}`,
			'extendedKeyUsage = serverAuth',
			'subjectKeyIdentifier = hash',
			'authorityKeyIdentifier = keyid',
		];
		if (sans.length > 0) extensions.push(`subjectAltName = ${sans.join(',')}`);
		const issued = await authority.issue(
			`leaf${index}`,
			{ commonName: spec.dnsNames?.[0] ?? 'localhost', ...spec },
			extensions,
			issuer,
		);
		const chainPem = intermediate?.certPem ?? '';
		leaves.push({ ...issued, chainPem, fullchainPem: issued.certPem + chainPem });
	}

	return {
		dir,
		ca,
		intermediate,
		leaves,
		leaf: leaves[0],
		remove: async () => {
			if (ownDir) await fs.promises.rm(dir, { recursive: true, force: true });
		},
	};
}

export interface TlsServerOptions {
	certPem: string;
	keyPem: string;
	/** Intermediate certificates sent after the leaf. */
	chainPem?: string;
	/** Default 127.0.0.1. */
	host?: string;
	minVersion?: tls.SecureVersion;
	maxVersion?: tls.SecureVersion;
	/** Anything else tls.createServer accepts (ciphers, sigalgs, ...). */
	tlsOptions?: tls.TlsOptions;
}

export interface TlsServer {
	port: number;
	close(): Promise<void>;
}

/** An HTTPS server on a free port: a handshake is all a certificate check needs, and any request gets 200 "ok". */
export async function startTlsServer(opts: TlsServerOptions): Promise<TlsServer> {
	const server = https.createServer(
		{
			...opts.tlsOptions,
			cert: opts.chainPem ? `${opts.certPem.trimEnd()}\n${opts.chainPem}` : opts.certPem,
			key: opts.keyPem,
			minVersion: opts.minVersion ?? opts.tlsOptions?.minVersion,
			maxVersion: opts.maxVersion ?? opts.tlsOptions?.maxVersion,
		},
		(_req, res) => {
			res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
		},
	);
	const sockets = new Set<Socket>();
	server.on('connection', (socket: Socket) => {
		sockets.add(socket);
		socket.once('close', () => sockets.delete(socket));
	});
	// clients that reject the certificate abort the handshake; that is an expected outcome here
	server.on('tlsClientError', () => undefined);

	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, opts.host ?? '127.0.0.1', () => resolve());
	});
	return {
		port: (server.address() as AddressInfo).port,
		close: () =>
			new Promise<void>((resolve) => {
				for (const socket of sockets) socket.destroy();
				server.close(() => resolve());
			}),
	};
}

export interface TlsFrontOptions extends TlsServerOptions {
	/** The plain TCP (HTTP) server behind, on loopback. */
	backendPort: number;
}

/** A TLS server that forwards each connection, decrypted, to a plain server: puts a certificate in front of an
 * HTTP stand-in (Vault KV, the Traefik API replay) as a TLS listener or a reverse proxy would. A client that
 * rejects the certificate aborts the handshake, so nothing it would send reaches the backend. */
export async function startTlsFront(opts: TlsFrontOptions): Promise<TlsServer> {
	const sockets = new Set<Socket>();
	const track = (socket: Socket) => {
		sockets.add(socket);
		socket.once('close', () => sockets.delete(socket));
	};
	const server = tls.createServer(
		{
			...opts.tlsOptions,
			cert: opts.chainPem ? `${opts.certPem.trimEnd()}\n${opts.chainPem}` : opts.certPem,
			key: opts.keyPem,
			minVersion: opts.minVersion ?? opts.tlsOptions?.minVersion,
			maxVersion: opts.maxVersion ?? opts.tlsOptions?.maxVersion,
		},
		(client) => {
			const backend = netConnect(opts.backendPort, '127.0.0.1');
			track(backend);
			client.pipe(backend).pipe(client);
			client.on('error', () => backend.destroy());
			backend.on('error', () => client.destroy());
			client.once('close', () => backend.destroy());
			backend.once('close', () => client.destroy());
		},
	);
	server.on('connection', track);
	server.on('tlsClientError', () => undefined);
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, opts.host ?? '127.0.0.1', () => resolve());
	});
	return {
		port: (server.address() as AddressInfo).port,
		close: () =>
			new Promise<void>((resolve) => {
				for (const socket of sockets) socket.destroy();
				server.close(() => resolve());
			}),
	};
}
