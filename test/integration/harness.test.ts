/** The harness itself: every service it starts answers, with the credentials it hands out. */
import {
	CompleteMultipartUploadCommand,
	CreateMultipartUploadCommand,
	HeadObjectCommand,
	ListObjectsV2Command,
	PutObjectCommand,
	S3Client,
	UploadPartCommand,
} from '@aws-sdk/client-s3';
import Docker from 'dockerode';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { Client as PgClient } from 'pg';
import { Client as SshClient, type ConnectConfig } from 'ssh2';

import { startFauxqs } from '../harness/fauxqs';
import { makeCertificates, services, startS3rver, startTlsServer } from '../harness/services';

function sshExec(
	config: ConnectConfig,
	command: string,
): Promise<{ code: number; stdout: string; hostKey: string }> {
	return new Promise((resolve, reject) => {
		const client = new SshClient();
		let hostKey = '';
		client
			.on('ready', () => {
				client.exec(command, (err, channel) => {
					if (err) return reject(err);
					let stdout = '';
					channel.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
					channel.stderr.on('data', () => undefined);
					channel.on('exit', (code: number) => {
						client.end();
						resolve({ code, stdout, hostKey });
					});
				});
			})
			.on('error', reject)
			.connect({
				...config,
				readyTimeout: 10_000,
				hostVerifier: (key: Buffer) => {
					hostKey = `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
					return true;
				},
			});
	});
}

function s3Client(endpoint: string): S3Client {
	const { region, accessKeyId, secretAccessKey } = services().s3;
	return new S3Client({
		endpoint,
		region,
		credentials: { accessKeyId, secretAccessKey },
		forcePathStyle: true,
	});
}

describe('test harness', () => {
	it('runs a Docker Engine with the busybox test image', async () => {
		const { socketPath, image } = services().docker;
		const docker = new Docker({ socketPath });
		expect(String(await docker.ping())).toBe('OK');
		expect((await docker.getImage(image).inspect()).RepoTags).toContain(image);

		const container = await docker.createContainer({
			Image: image,
			Cmd: ['sh', '-c', 'echo ok; tar --help >/dev/null 2>&1; echo $?'],
		});
		try {
			await container.start();
			expect((await container.wait()).StatusCode).toBe(0);
			const logs = await container.logs({ stdout: true });
			expect(logs.toString('latin1')).toMatch(/ok[\s\S]*0/);
		} finally {
			await container.remove({ force: true });
		}
	});

	it('runs sshd: key login, password login, pinned host key, docker over ssh', async () => {
		const { ssh } = services();
		const keyLogin = await sshExec(
			{ host: ssh.host, port: ssh.port, username: ssh.username, privateKey: ssh.privateKey },
			'echo ok',
		);
		expect(keyLogin).toEqual({ code: 0, stdout: 'ok\n', hostKey: ssh.hostKeyFingerprint });

		const passwordLogin = await sshExec(
			{ host: ssh.host, port: ssh.port, username: ssh.passwordUser, password: ssh.password },
			`id -un && touch ${ssh.dataDir}/written-by-password-user`,
		);
		expect(passwordLogin.code).toBe(0);
		expect(passwordLogin.stdout.trim()).toBe(ssh.passwordUser);

		const dockerOverSsh = await sshExec(
			{ host: ssh.host, port: ssh.port, username: ssh.username, privateKey: ssh.privateKey },
			`docker image inspect --format '{{index .RepoTags 0}}' ${services().docker.image} && touch ${ssh.dataDir}/x`,
		);
		expect(dockerOverSsh).toMatchObject({ code: 0, stdout: `${services().docker.image}\n` });
		expect(fs.existsSync(`${ssh.dataDir}/x`)).toBe(true);
	});

	it('refuses a password for the key user', async () => {
		const { ssh } = services();
		await expect(
			sshExec(
				{ host: ssh.host, port: ssh.port, username: ssh.username, password: ssh.password },
				'true',
			),
		).rejects.toThrow(/authentication methods failed/);
	});

	it('runs s3rver with the test bucket', async () => {
		const { s3 } = services();
		const client = s3Client(s3.endpoint);
		try {
			await client.send(
				new PutObjectCommand({ Bucket: s3.bucket, Key: 'harness/hello.txt', Body: 'hello' }),
			);
			const listed = await client.send(
				new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'harness/' }),
			);
			expect(listed.Contents?.map((o) => [o.Key, o.Size])).toEqual([['harness/hello.txt', 5]]);
		} finally {
			client.destroy();
		}
	});

	it('starts and kills a private s3rver', async () => {
		const extra = await startS3rver({ bucket: 'fault-injection' });
		const client = s3Client(extra.endpoint);
		try {
			const listed = await client.send(new ListObjectsV2Command({ Bucket: 'fault-injection' }));
			expect(listed.KeyCount).toBe(0);
			await extra.stop();
			await expect(
				client.send(new ListObjectsV2Command({ Bucket: 'fault-injection' })),
			).rejects.toThrow();
		} finally {
			client.destroy();
			await extra.stop();
		}
		expect(fs.existsSync(extra.dir)).toBe(false);
	});

	it("restarts fauxqs after a kill cut a part's metadata write short: that part is gone, the upload and its other parts stay", async () => {
		const fq = await startFauxqs({ bucket: 'cut-short' });
		const client = s3Client(fq.endpoint);
		try {
			const { UploadId } = await client.send(
				new CreateMultipartUploadCommand({ Bucket: 'cut-short', Key: 'k' }),
			);
			const etags: string[] = [];
			for (const PartNumber of [1, 2]) {
				const { ETag } = await client.send(
					new UploadPartCommand({
						Bucket: 'cut-short',
						Key: 'k',
						UploadId,
						PartNumber,
						Body: Buffer.alloc(5 * 2 ** 20, PartNumber),
					}),
				);
				etags.push(ETag!);
			}
			await fq.kill();
			// what a SIGKILL during fauxqs's plain writeFileSync of part 2's metadata leaves
			const parts = path.join(fq.dir, '_multipart', UploadId!, 'parts');
			fs.writeFileSync(path.join(parts, '2.meta.json'), '{"partNumber":2,"et');
			await fq.restart();
			expect(fq.pendingMultipartUploads()).toEqual([UploadId]);
			expect(fs.readdirSync(parts).sort()).toEqual(['1.data', '1.meta.json']);
			// the server loaded the upload with part 1: it completes into that part's bytes
			await client.send(
				new CompleteMultipartUploadCommand({
					Bucket: 'cut-short',
					Key: 'k',
					UploadId,
					MultipartUpload: { Parts: [{ PartNumber: 1, ETag: etags[0] }] },
				}),
			);
			const head = await client.send(new HeadObjectCommand({ Bucket: 'cut-short', Key: 'k' }));
			expect(head.ContentLength).toBe(5 * 2 ** 20);
		} finally {
			client.destroy();
			await fq.stop();
		}
	});

	it('runs PostgreSQL with SCRAM passwords and TLS', async () => {
		const { postgres } = services();
		const client = new PgClient({
			host: postgres.host,
			port: postgres.port,
			user: postgres.user,
			password: postgres.password,
			database: postgres.database,
			ssl: { ca: postgres.ssl.caPem, servername: 'localhost' },
		});
		await client.connect();
		try {
			const { rows } = await client.query<{ one: number; ssl: boolean; method: string }>(
				`select 1 as one, ssl, (select distinct auth_method from pg_hba_file_rules where address = '127.0.0.1') as method
				   from pg_stat_ssl where pid = pg_backend_pid()`,
			);
			expect(rows).toEqual([{ one: 1, ssl: true, method: 'scram-sha-256' }]);
		} finally {
			await client.end();
		}

		const wrong = new PgClient({
			host: postgres.host,
			port: postgres.port,
			user: postgres.user,
			password: 'wrong',
			database: postgres.database,
		});
		await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
	});

	it('serves generated certificates over TLS', async () => {
		const certs = await makeCertificates({
			intermediate: true,
			leaves: [
				{ days: 10, key: { type: 'rsa', bits: 2048 }, hash: 'sha384' },
				{ notBeforeDays: -30, days: -2 },
			],
		});
		const [valid, expired] = certs.leaves;
		expect(Math.round((valid.notAfter.getTime() - Date.now()) / 86_400_000)).toBe(10);
		expect(expired.notAfter.getTime()).toBeLessThan(Date.now());

		const server = await startTlsServer({
			certPem: valid.certPem,
			keyPem: valid.keyPem,
			chainPem: valid.chainPem,
			minVersion: 'TLSv1.2',
		});
		try {
			const peer = await new Promise<tls.PeerCertificate>((resolve, reject) => {
				const socket = tls.connect(
					{ host: '127.0.0.1', port: server.port, servername: 'localhost', ca: certs.ca.certPem },
					() => {
						resolve(socket.getPeerCertificate());
						socket.end();
					},
				);
				socket.once('error', reject);
			});
			expect(peer.fingerprint256).toBe(valid.fingerprint256);
			expect(peer.subjectaltname).toBe('DNS:localhost, IP Address:127.0.0.1');
		} finally {
			await server.close();
		}

		const expiredServer = await startTlsServer({
			certPem: expired.certPem,
			keyPem: expired.keyPem,
			chainPem: expired.chainPem,
		});
		try {
			await expect(
				new Promise((resolve, reject) => {
					const socket = tls.connect(
						{
							host: '127.0.0.1',
							port: expiredServer.port,
							servername: 'localhost',
							ca: certs.ca.certPem,
						},
						() => resolve(socket.end()),
					);
					socket.once('error', reject);
				}),
			).rejects.toMatchObject({ code: 'CERT_HAS_EXPIRED' });
		} finally {
			await expiredServer.close();
			await certs.remove();
		}
		expect(fs.existsSync(certs.dir)).toBe(false);
	});
});
