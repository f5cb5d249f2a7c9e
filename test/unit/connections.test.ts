import {
	dockerConnectionFrom,
	n8nApiConnectionFrom,
	postgresConnectionFrom,
	proxmoxConnectionFrom,
	s3ConnectionFrom,
	sshConnectionFrom,
	traefikConnectionFrom,
} from '../../nodes/shared/connections';
import { normaliseCertFingerprint } from '../../nodes/shared/http';
import { resolveS3Endpoint } from '../../nodes/shared/s3';
import { parseFingerprints, sha256Fingerprint } from '../../nodes/shared/ssh';

const FP = 'SHA256:' + 'A'.repeat(43);

describe('credential data to connections', () => {
	it('SSH: key or password, fingerprints required and normalised', () => {
		const key = sshConnectionFrom({
			host: 'h',
			port: 2222,
			username: 'u',
			authentication: 'privateKey',
			privateKey: 'K',
			hostKeyFingerprint: `${FP}=, ${'B'.repeat(43)}`,
		});
		expect(key).toEqual({
			host: 'h',
			port: 2222,
			username: 'u',
			privateKey: 'K',
			passphrase: undefined,
			password: undefined,
			hostKeyFingerprints: [FP, 'SHA256:' + 'B'.repeat(43)],
		});
		const pw = sshConnectionFrom({
			host: 'h',
			username: 'u',
			authentication: 'password',
			password: 'p',
			hostKeyFingerprint: FP,
		});
		expect(pw).toMatchObject({ port: 22, password: 'p', privateKey: undefined });
		expect(() => sshConnectionFrom({ host: 'h', username: 'u', privateKey: 'K' })).toThrow(
			/no Host Key Fingerprint/,
		);
		expect(() =>
			sshConnectionFrom({
				host: 'h',
				username: 'u',
				privateKey: 'K',
				hostKeyFingerprint: 'MD5:aa:bb',
			}),
		).toThrow(/not a SHA-256 host key fingerprint/);
	});

	it('SSH fingerprints match what ssh-keygen prints (unpadded base64 of SHA-256)', () => {
		expect(sha256Fingerprint(Buffer.from('abc'))).toBe(
			'SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0',
		);
		expect(parseFingerprints('ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=')).toEqual([
			'SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0',
		]);
	});

	it('Docker: the three kinds', () => {
		expect(dockerConnectionFrom({})).toEqual({
			kind: 'socket',
			socketPath: '/var/run/docker.sock',
		});
		expect(
			dockerConnectionFrom({ connection: 'tcp', host: 'proxy', port: 2375, tls: false }),
		).toMatchObject({ kind: 'tcp', host: 'proxy', port: 2375, tls: false });
		expect(
			dockerConnectionFrom({
				connection: 'ssh',
				host: 'h',
				sshUser: 'u',
				sshPrivateKey: 'K',
				hostKeyFingerprint: FP,
			}),
		).toMatchObject({ kind: 'ssh', ssh: { host: 'h', port: 22, username: 'u' } });
		expect(() =>
			dockerConnectionFrom({ connection: 'ssh', host: 'h', sshUser: 'u', sshPrivateKey: 'K' }),
		).toThrow(/Host Key Fingerprint/);
	});

	it('S3 presets: R2 region auto, MinIO path style, B2 and Wasabi endpoints, explicit endpoint wins', () => {
		const base = { bucket: 'b', accessKeyId: 'a', secretAccessKey: 's' };
		expect(resolveS3Endpoint({ ...base, provider: 'r2', accountId: 'acc' })).toEqual({
			endpoint: 'https://acc.r2.cloudflarestorage.com',
			region: 'auto',
			forcePathStyle: false,
		});
		expect(
			resolveS3Endpoint({ ...base, provider: 'minio', endpoint: 'http://minio:9000/' }),
		).toEqual({ endpoint: 'http://minio:9000', region: 'us-east-1', forcePathStyle: true });
		expect(resolveS3Endpoint({ ...base, provider: 'b2', region: 'us-west-004' }).endpoint).toBe(
			'https://s3.us-west-004.backblazeb2.com',
		);
		expect(
			resolveS3Endpoint({ ...base, provider: 'wasabi', region: 'eu-central-1' }).endpoint,
		).toBe('https://s3.eu-central-1.wasabisys.com');
		expect(resolveS3Endpoint({ ...base, provider: 'aws', region: 'eu-west-1' })).toEqual({
			endpoint: undefined,
			region: 'eu-west-1',
			forcePathStyle: false,
		});
		expect(() => resolveS3Endpoint({ ...base, provider: 'r2' })).toThrow(/Cloudflare account ID/);
		expect(() => resolveS3Endpoint({ ...base, provider: 'minio' })).toThrow(/needs the endpoint/);
		expect(
			s3ConnectionFrom({
				provider: 'minio',
				bucket: 'b',
				accessKeyId: 'a',
				secretAccessKey: 's',
				endpoint: 'http://m:9000',
			}),
		).toMatchObject({ provider: 'minio', endpoint: 'http://m:9000' });
		expect(() =>
			s3ConnectionFrom({ provider: 'aws', accessKeyId: 'a', secretAccessKey: 's' }),
		).toThrow(/no Bucket/);
	});

	it('Proxmox: token header form, TLS trust modes, bad token id named', () => {
		const conn = proxmoxConnectionFrom({
			url: 'https://pve:8006/',
			tokenId: 'automation@pve!n8n',
			tokenSecret: 'uuid',
			tls: 'fingerprint',
			fingerprint: 'ab'.repeat(32),
		});
		expect(conn.baseUrl).toBe('https://pve:8006');
		expect(conn.headers.authorization).toBe('PVEAPIToken=automation@pve!n8n=uuid');
		expect(conn.tls).toEqual({ mode: 'fingerprint', fingerprint: Array(32).fill('AB').join(':') });
		expect(() =>
			proxmoxConnectionFrom({ url: 'https://pve:8006', tokenId: 'automation', tokenSecret: 'x' }),
		).toThrow(/USER@REALM!TOKENID/);
		expect(normaliseCertFingerprint('ab'.repeat(32))).toBe(Array(32).fill('AB').join(':'));
		expect(() => normaliseCertFingerprint('abc')).toThrow(/not a SHA-256 certificate fingerprint/);
	});

	it('Traefik basic and bearer, n8n API base URL, PostgreSQL SSL modes', () => {
		expect(
			traefikConnectionFrom({
				url: 'http://t:8080',
				authentication: 'basic',
				username: 'u',
				password: 'p',
			}).headers.authorization,
		).toBe('Basic dTpw');
		expect(
			traefikConnectionFrom({ url: 'http://t:8080', authentication: 'bearer', token: 't' }).headers
				.authorization,
		).toBe('Bearer t');
		expect(n8nApiConnectionFrom({ baseUrl: 'http://n8n:5678/api/v1/', apiKey: 'k' }).baseUrl).toBe(
			'http://n8n:5678/api/v1',
		);
		expect(postgresConnectionFrom({ host: 'db', user: 'postgres', password: 'x' })).toMatchObject({
			port: 5432,
			database: 'postgres',
			ssl: 'verify-full',
		});
		expect(() => postgresConnectionFrom({ host: 'db', user: 'u', ssl: 'prefer' })).toThrow(
			/Unknown SSL mode/,
		);
	});
});
