/**
 * Key material never reaches an error message: a mistyped age identity, a secret key pasted into
 * Recipients, and unreadable SSH private keys, through every parser that reads them (age identity and
 * recipients, the age decrypt stream, the Backup Encryption credential test, ssh2's key parser in the
 * SSH connect path and in Secret Rotate). The bech32 library quotes its whole input in its checksum
 * error; these messages land in execution data, manifests and alerts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ICredentialTestFunctions } from 'n8n-workflow';

import { AgeDecryptStream, AgeEncryptStream } from '../../nodes/DockerVolumeBackup/age';
import { identityToRecipient, parseRecipients } from '../../nodes/shared/ageKeys';
import { credentialTests } from '../../nodes/shared/credentialTests';
import { errorFields, errorMessage, InfraOpsError } from '../../nodes/shared/errors';
import { connectSsh } from '../../nodes/shared/ssh';
import { publicBlobOf } from '../../nodes/SecretRotate/targets/sshAuthorizedKey';
import { containsKeyFragment, firstKeyFragment, typoInIdentity } from '../support/keyFragments';

let dir: string;
let identity: string;
let typo: string;
let sshKey: string;

beforeAll(() => {
	dir = mkdtempSync(join(tmpdir(), 'key-leaks-'));
	execFileSync('age-keygen', ['-o', join(dir, 'key.txt')], { stdio: 'ignore' });
	identity = readFileSync(join(dir, 'key.txt'), 'utf8');
	typo = typoInIdentity(identity);
	execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')], {
		stdio: 'ignore',
	});
	sshKey = readFileSync(join(dir, 'id'), 'utf8');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Everything an error can show: message, hint, and what n8n and continueOnFail keep of it. */
function shown(error: unknown): string {
	return [
		errorMessage(error),
		(error as InfraOpsError).hint ?? '',
		JSON.stringify(errorFields(error)),
		String((error as Error).stack ?? ''),
	].join('\n');
}

function caught(fn: () => unknown): unknown {
	try {
		fn();
	} catch (error) {
		return error;
	}
	throw new Error('expected a throw');
}

function expectNoFragment(text: string, key: string) {
	expect(firstKeyFragment(text, key)).toBeUndefined();
}

describe('threat: a mistyped age identity is echoed into errors, manifests and alerts', () => {
	it('the typo is a real checksum failure, and the helper finds the key in a message that quotes it', () => {
		expect(typo).not.toBe(identity);
		expect(
			containsKeyFragment(`Invalid checksum in ${typo.trim().split('\n').pop()}`, identity),
		).toBe(true);
		expect(containsKeyFragment('AGE-SECRET-KEY-1 only the public prefix', identity)).toBe(false);
	});

	it('identity parse: names the field and the problem, quotes no 8 characters of the key', () => {
		const error = caught(() => identityToRecipient(typo));
		expect(error).toBeInstanceOf(InfraOpsError);
		expect(errorMessage(error)).toMatch(/Identity \(Private Key\).*checksum/);
		expectNoFragment(shown(error), identity);
	});

	it('the age decrypt stream with a mistyped identity fails without quoting it', async () => {
		const sealed: Buffer[] = [];
		await pipeline(
			Readable.from([Buffer.from('data')]),
			new AgeEncryptStream({
				kind: 'recipients',
				publicKeys: [identityToRecipient(identity).publicKey],
			}),
			async function* (source) {
				for await (const c of source) sealed.push(c as Buffer);
			},
		);
		const error = await pipeline(
			Readable.from([Buffer.concat(sealed)]),
			new AgeDecryptStream({ kind: 'identity', identity: typo }),
			async function* (source) {
				for await (const c of source) void c;
			},
		).then(
			() => undefined,
			(e: unknown) => e,
		);
		expect(errorMessage(error)).toMatch(/age identity .* not valid/);
		expectNoFragment(shown(error), identity);
	});

	it('a secret key pasted into Recipients is refused without quoting it', () => {
		const error = caught(() =>
			parseRecipients(`# mine\n${identity.split('\n').find((l) => l.startsWith('AGE-'))}`),
		);
		expect(errorMessage(error)).toMatch(/line 2 of Recipients/);
		expectNoFragment(shown(error), identity);
	});

	it('the Backup Encryption credential test shows the field and the problem only', async () => {
		const result = await credentialTests.infraOpsBackupEncryptionTest.call(
			{} as ICredentialTestFunctions,
			{
				id: '1',
				name: 'age',
				type: 'infraOpsBackupEncryption',
				data: {
					recipients: identityToRecipient(identity).recipient,
					secretKey: typo,
					passphrase: '',
				},
			},
		);
		expect(result.status).toBe('Error');
		expect(result.message).toMatch(/Identity \(Private Key\)/);
		expectNoFragment(result.message, identity);
	});
});

describe('threat: an unreadable SSH private key is echoed into errors', () => {
	const damaged = () => {
		// change the key's magic (the first base64 characters after the BEGIN line): ssh2 then quotes what it decoded
		const lines = sshKey.split('\n');
		lines[1] = 'AAAA' + lines[1].slice(4);
		return lines.join('\n');
	};

	it('the SSH connect path names the field and the problem only', async () => {
		const error = await connectSsh({
			host: '127.0.0.1',
			port: 1,
			username: 'root',
			privateKey: damaged(),
			hostKeyFingerprints: ['SHA256:x'],
		} as never).then(
			() => undefined,
			(e: unknown) => e,
		);
		expect(errorMessage(error)).toMatch(/Private Key field cannot be used/);
		expectNoFragment(shown(error), sshKey);
		expect(shown(error)).not.toMatch(/magic/i);
	});

	it('Secret Rotate reading the credential key names the field and the problem only', () => {
		const error = caught(() => publicBlobOf(damaged()));
		expect(errorMessage(error)).toMatch(/Private Key cannot be read/);
		expectNoFragment(shown(error), sshKey);
		expect(shown(error)).not.toMatch(/magic/i);
	});
});
