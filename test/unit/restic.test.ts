/** The restic engine's plain parts: repository URL and options, failure classes (restic 0.14's own
 * messages, as it prints them), secret scrubbing, JSON lines, the secret files' tar, --time. */
import { execFileSync } from 'node:child_process';

import {
	classify,
	jsonLines,
	repositoryPath,
	resticRepository,
	scrub,
	sftpRepository,
} from '../../nodes/DockerVolumeBackup/restic';
import { resticTime } from '../../nodes/DockerVolumeBackup/resticOps';
import { secretFilesTar } from '../../nodes/shared/secretFiles';

const s3 = {
	provider: 'minio' as const,
	endpoint: 'https://minio.example.com:9000/',
	bucket: 'backups',
	accessKeyId: 'AKIAEXAMPLE',
	secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
	forcePathStyle: true,
};

describe('resticRepository', () => {
	it('puts the repository in the bucket of the S3 credential, path-style when asked', () => {
		const repo = resticRepository(s3, { path: '/restic/', password: 'pw' });
		expect(repo.url).toBe('s3:https://minio.example.com:9000/backups/restic');
		expect(repo.options).toEqual(['s3.region=us-east-1', 's3.bucket-lookup=path']);
		expect(repo.url).not.toContain(s3.secretAccessKey);
	});

	it("uses AWS's regional endpoint when the credential has none", () => {
		const repo = resticRepository(
			{
				...s3,
				provider: 'aws',
				endpoint: undefined,
				region: 'eu-central-1',
				forcePathStyle: false,
			},
			{ path: 'r', password: 'pw' },
		);
		expect(repo.url).toBe('s3:https://s3.eu-central-1.amazonaws.com/backups/r');
		expect(repo.options).toContain('s3.bucket-lookup=auto');
	});

	it('refuses an empty password and paths restic cannot take', () => {
		expect(() => resticRepository(s3, { path: 'r', password: '' })).toThrow(/no password/);
		for (const bad of ['', '/', 'a b', '../x', "it's"])
			expect(() => repositoryPath(bad)).toThrow(/not a usable repository path/);
		expect(repositoryPath('backups/restic')).toBe('backups/restic');
	});
});

describe('sftpRepository', () => {
	const ssh = {
		host: 'backup.example.com',
		port: 2222,
		username: 'restic',
		privateKey:
			'-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n',
		hostKeyFingerprints: ['SHA256:x'],
	};
	const knownHosts = '[backup.example.com]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n';

	it('reaches the host through ssh with the key and the checked host key as files, nothing secret in the options', () => {
		const repo = sftpRepository(ssh, knownHosts, { path: '/srv/restic', password: 'pw-pw' });
		expect(repo.url).toBe('sftp:restic@backup.example.com:/srv/restic');
		expect(repo.options).toEqual([
			'sftp.command=ssh -F /dev/null -i /infra-ops-restic/ssh_key -p 2222 -o UserKnownHostsFile=/infra-ops-restic/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes restic@backup.example.com -s sftp',
		]);
		expect(repo.files).toEqual({ ssh_key: ssh.privateKey, known_hosts: knownHosts });
		expect(JSON.stringify(repo.options)).not.toContain('b3BlbnNzaC1rZXktdjEAAAAA');
		expect(scrub('key line b3BlbnNzaC1rZXktdjEAAAAA', repo)).toBe('key line ***');
		expect(sftpRepository(ssh, knownHosts, { path: 'restic', password: 'pw' }).url).toBe(
			'sftp:restic@backup.example.com:restic',
		);
	});

	it('refuses password logins and keys with a passphrase (ssh in the helper cannot type them)', () => {
		expect(() =>
			sftpRepository({ ...ssh, privateKey: undefined, password: 'x' }, knownHosts, {
				path: 'r',
				password: 'pw',
			}),
		).toThrow(/private key without passphrase/);
		expect(() =>
			sftpRepository({ ...ssh, passphrase: 'p' }, knownHosts, { path: 'r', password: 'pw' }),
		).toThrow(/private key without passphrase/);
	});
});

describe('classify', () => {
	it.each([
		['Fatal: wrong password or no key found\n', 'password'],
		[
			'unable to create lock in backend: repository is already locked exclusively by PID 12 on infra-ops-restic-1a2b3c by root (UID 0, GID 0)\nlock was created at 2026-12-04 19:00:00 (2s ago)',
			'locked',
		],
		[
			'Fatal: unable to open config file: Stat: The specified key does not exist.\nIs there a repository at the following location?\ns3:https://x/b/r',
			'no-repository',
		],
		['Fatal: unable to save snapshot: client.PutObject: connection refused', 'other'],
		[
			'Fatal: unable to open config file: Stat: Head "https://x/b/r/config": dial tcp: connect: connection refused\nIs there a repository at the following location?',
			'other',
		],
	])('%s → %s', (stderr, kind) => {
		expect(classify(stderr)).toBe(kind);
	});
});

it('scrub removes the password and both keys from what restic printed', () => {
	const repo = resticRepository(s3, { path: 'r', password: 'correct horse battery' });
	const text = `key ${s3.accessKeyId} secret ${s3.secretAccessKey} pw correct horse battery`;
	const out = scrub(text, repo);
	for (const secret of [s3.accessKeyId, s3.secretAccessKey, 'correct horse battery'])
		expect(out).not.toContain(secret);
});

it('jsonLines keeps the JSON values of a --json output and skips the rest', () => {
	expect(
		jsonLines('{"message_type":"status"}\nusing temporary cache\n[{"id":"a"}]\n{"cut'),
	).toEqual([{ message_type: 'status' }, [{ id: 'a' }]]);
});

it('secretFilesTar is a tar GNU tar lists as a 0700 folder with 0400 files owned by root', () => {
	const tar = secretFilesTar('infra-ops-restic', { password: 'pw\n', aws: 'x'.repeat(700) });
	const listing = execFileSync('tar', ['-tvf', '-', '--numeric-owner'], { input: tar })
		.toString()
		.trim()
		.split('\n')
		.map((l) => l.split(/\s+/));
	expect(listing.map((l) => [l[0], l[1], l[2], l[5]])).toEqual([
		['drwx------', '0/0', '0', 'infra-ops-restic/'],
		['-r--------', '0/0', '3', 'infra-ops-restic/password'],
		['-r--------', '0/0', '700', 'infra-ops-restic/aws'],
	]);
	expect(
		execFileSync('tar', ['-xOf', '-', 'infra-ops-restic/password'], { input: tar }).toString(),
	).toBe('pw\n');
});

it("resticTime is restic's --time format, in UTC", () => {
	expect(resticTime(new Date('2026-01-02T03:04:05.678Z'))).toBe('2026-01-02 03:04:05');
});
