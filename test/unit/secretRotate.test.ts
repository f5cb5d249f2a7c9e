import { execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { addKey, findKey, removeKey } from '../../nodes/SecretRotate/authorizedKeys';
import { findAssignments, readEnvValue, setEnvValue } from '../../nodes/SecretRotate/envFile';
import {
	classAlphabets,
	generatePassword,
	generateSecret,
	hasWholeEd25519Key,
	passwordEntropyBits,
	publicKeyFingerprint,
	secretFingerprint,
	type PasswordSpec,
} from '../../nodes/SecretRotate/generate';
import { redact, rotate, type RotationTarget } from '../../nodes/SecretRotate/rotation';
import { scramSha256Verifier, verifierMatches } from '../../nodes/SecretRotate/scram';
import { rotateEnv } from '../../nodes/SecretRotate/targets/containers';

describe('generate', () => {
	const spec: PasswordSpec = {
		kind: 'password',
		length: 12,
		classes: ['lower', 'upper', 'digits', 'symbols'],
		excludeAmbiguous: true,
	};

	it('makes passwords of the length, every class present, nothing ambiguous', () => {
		for (let n = 0; n < 500; n++) {
			const pw = generatePassword(spec);
			expect(pw).toHaveLength(12);
			expect(pw).toMatch(/[a-z]/);
			expect(pw).toMatch(/[A-Z]/);
			expect(pw).toMatch(/[0-9]/);
			expect(pw).toMatch(/[-_.~]/);
			expect(pw).not.toMatch(/[Il1O0o|`'"]/);
		}
	});

	it('reports entropy from the alphabet size, and refuses empty classes and short lengths', () => {
		// 24 lower + 24 upper + 8 digits + 4 symbols = 60 characters
		expect(classAlphabets(spec).reduce((n, c) => n + c.chars.length, 0)).toBe(60);
		expect(passwordEntropyBits({ ...spec, length: 32 })).toBe(Math.floor(32 * Math.log2(60)));
		expect(() => generatePassword({ ...spec, classes: [] })).toThrow(/No character class/);
		expect(() => generatePassword({ ...spec, length: 4 })).toThrow(/out of range/);
		expect(() => generatePassword({ ...spec, classes: ['symbols'], symbols: 'l1' })).toThrow(
			/"symbols" is empty/,
		);
	});

	it('fingerprints a strong secret by its SHA-256, and a weak password with a discarded key (no oracle for guesses)', () => {
		const strong = generateSecret({
			kind: 'password',
			length: 32,
			classes: ['lower', 'upper', 'digits'],
			excludeAmbiguous: true,
		});
		expect(strong.metadata.entropyBits).toBeGreaterThanOrEqual(96);
		expect(strong.metadata.fingerprint).toBe(
			'sha256:' + createHash('sha256').update(strong.value).digest('hex').slice(0, 12),
		);
		const weak = generateSecret({
			kind: 'password',
			length: 8,
			classes: ['digits'],
			excludeAmbiguous: false,
		});
		expect(weak.metadata.entropyBits).toBe(26);
		expect(weak.metadata.fingerprint).toMatch(/^hmac:[0-9a-f]{12}$/);
		// an attacker holding the fingerprint cannot test the 10^8 candidates against it
		expect(weak.metadata.fingerprint.slice(5)).not.toBe(
			createHash('sha256').update(weak.value).digest('hex').slice(0, 12),
		);
		expect(secretFingerprint(weak.value, 26)).not.toBe(secretFingerprint(weak.value, 26));
	});

	it('makes hex and base64url tokens of the byte size', () => {
		const hex = generateSecret({ kind: 'token', bytes: 32, encoding: 'hex' });
		expect(hex.value).toMatch(/^[0-9a-f]{64}$/);
		expect(hex.metadata).toMatchObject({ kind: 'token', entropyBits: 256, length: 64 });
		const b64 = generateSecret({ kind: 'token', bytes: 48, encoding: 'base64url' });
		expect(b64.value).toMatch(/^[A-Za-z0-9_-]{64}$/);
		expect(JSON.stringify(hex.metadata)).not.toContain(hex.value);
	});

	it('makes OpenSSH key pairs that ssh-keygen reads, with the fingerprint ssh-keygen prints', () => {
		const dir = mkdtempSync(join(tmpdir(), 'secret-rotate-'));
		try {
			for (const algorithm of ['ed25519', 'rsa4096'] as const) {
				const key = generateSecret({ kind: 'sshKey', algorithm, comment: 'deploy@n8n' });
				expect(key.value).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
				writeFileSync(join(dir, algorithm), key.value, { mode: 0o600 });
				// ssh-keygen -y derives the public key from the private one: proves the pair matches
				const derived = execFileSync('ssh-keygen', ['-y', '-f', join(dir, algorithm)], {
					encoding: 'utf8',
				}).trim();
				expect(key.publicKey!.startsWith(derived.split(' ').slice(0, 2).join(' '))).toBe(true);
				writeFileSync(join(dir, `${algorithm}.pub`), key.publicKey + '\n');
				const printed = execFileSync('ssh-keygen', ['-lf', join(dir, `${algorithm}.pub`)], {
					encoding: 'utf8',
				});
				expect(printed).toContain(key.metadata.fingerprint);
				expect(publicKeyFingerprint(key.publicKey!)).toBe(key.metadata.fingerprint);
				expect(printed).toContain(algorithm === 'rsa4096' ? '4096' : 'ED25519');
				expect(JSON.stringify(key.metadata)).not.toContain('PRIVATE KEY');
			}
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
	it('never hands out an ed25519 key whose public key lost a leading zero byte (ssh2 1.17 strips it in 1 key of 256; OpenSSH then refuses the private key)', () => {
		// 2,000 draws: the old code returns a 31-byte key here with probability 1 - (255/256)^2000 > 99.9 %
		for (let i = 0; i < 2000; i++) {
			const key = generateSecret({ kind: 'sshKey', algorithm: 'ed25519' });
			const blob = Buffer.from(key.publicKey!.split(' ')[1], 'base64');
			expect(blob.readUInt32BE(4 + 'ssh-ed25519'.length)).toBe(32);
			expect(hasWholeEd25519Key(key.publicKey!)).toBe(true);
		}
		// the shape ssh2 produced: a 31-byte key is recognised as broken
		const broken = Buffer.concat([
			Buffer.from([0, 0, 0, 11]),
			Buffer.from('ssh-ed25519'),
			Buffer.from([0, 0, 0, 31]),
			Buffer.alloc(31, 7),
		]);
		expect(hasWholeEd25519Key(`ssh-ed25519 ${broken.toString('base64')}`)).toBe(false);
	});
});

describe('SCRAM-SHA-256 verifier', () => {
	it('matches RFC 7677 section 3 (user "user", password "pencil", its salt and 4096 iterations)', () => {
		// RFC 7677's exchange: salt W22ZaJ0SNY7soEsUEjb6gQ==; its ServerSignature v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=
		// follows from ServerKey, and ClientProof from StoredKey: rebuilt here with node:crypto from those published values
		const verifier = scramSha256Verifier(
			'pencil',
			Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
			4096,
		);
		const [, keys] = verifier.split('$').slice(1);
		const [storedKeyB64, serverKeyB64] = keys.split(':');
		const authMessage =
			'n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
		const serverSignature = createHmac('sha256', Buffer.from(serverKeyB64, 'base64'))
			.update(authMessage)
			.digest('base64');
		expect(serverSignature).toBe('6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
		// the client's proof p= is ClientKey XOR HMAC(StoredKey, AuthMessage); SHA-256(ClientKey) must be StoredKey
		const clientSignature = createHmac('sha256', Buffer.from(storedKeyB64, 'base64'))
			.update(authMessage)
			.digest();
		const proof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
		const clientKey = Buffer.from(proof.map((b, i) => b ^ clientSignature[i]));
		expect(createHash('sha256').update(clientKey).digest('base64')).toBe(storedKeyB64);
		expect(verifier).toMatch(
			/^SCRAM-SHA-256\$4096:W22ZaJ0SNY7soEsUEjb6gQ==\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/,
		);
		expect(verifierMatches(verifier, 'pencil')).toBe(true);
		expect(verifierMatches(verifier, 'pencil2')).toBe(false);
	});

	it('uses a fresh salt each time', () => {
		expect(scramSha256Verifier('same')).not.toBe(scramSha256Verifier('same'));
	});
});

describe('.env edits', () => {
	const text = [
		'# Supabase',
		'POSTGRES_PASSWORD=old-one   # inline comment',
		'export JWT_SECRET="a b"',
		"QUOTED='single'",
		'',
		'POSTGRES_PASSWORD = "dup"',
		'OTHER=keep',
		'',
	].join('\n');

	it('sets every assignment of the key, keeping comments, export, spacing and quote style', () => {
		const edit = setEnvValue(text, 'POSTGRES_PASSWORD', 'N3w-pass.w0rd', {});
		expect(edit.lines).toEqual([2, 6]);
		expect(edit.text).toBe(
			text.replace('old-one', 'N3w-pass.w0rd').replace('"dup"', '"N3w-pass.w0rd"'),
		);
		expect(readEnvValue(edit.text, 'POSTGRES_PASSWORD')).toBe('N3w-pass.w0rd');
		const exported = setEnvValue(text, 'JWT_SECRET', 'x y', {}).text;
		expect(exported).toContain('export JWT_SECRET="x y"');
		expect(setEnvValue(text, 'QUOTED', 'z', {}).text).toContain("QUOTED='z'");
	});

	it('quotes values that need it and reads them back as compose does', () => {
		const withDollar = setEnvValue('A=1\n', 'A', 'p$ss#1', {}).text;
		expect(withDollar).toBe("A='p$ss#1'\n");
		expect(readEnvValue(withDollar, 'A')).toBe('p$ss#1');
		const withQuote = setEnvValue('A=1\n', 'A', 'say "hi"', {}).text;
		expect(withQuote).toBe('A="say \\"hi\\""\n');
		expect(readEnvValue(withQuote, 'A')).toBe('say "hi"');
	});

	it('keeps CRLF line endings', () => {
		expect(setEnvValue('A=1\r\nB=2\r\n', 'A', 'x', {}).text).toBe('A=x\r\nB=2\r\n');
		expect(findAssignments('A=1\r\n', 'A')[0].value).toBe('1');
	});

	it('reads and sets values holding = and #, empty values, and export on duplicate lines', () => {
		const file = [
			'URL=postgres://u:p@h/db?sslmode=require',
			'HASH=a#b',
			'EMPTY=',
			'export DUP=1',
			'DUP=2 # second',
			'',
		].join('\n');
		// only the first = splits, and # starts a comment only after whitespace, as compose reads it
		expect(readEnvValue(file, 'URL')).toBe('postgres://u:p@h/db?sslmode=require');
		expect(readEnvValue(file, 'HASH')).toBe('a#b');
		expect(readEnvValue(file, 'EMPTY')).toBe('');
		expect(readEnvValue(file, 'DUP')).toBe('2');
		const url = setEnvValue(file, 'URL', 'x=y', {});
		expect(url.text.split('\n')[0]).toBe('URL=x=y');
		expect(readEnvValue(url.text, 'URL')).toBe('x=y');
		// a value with # must be quoted, or compose would cut it at the comment
		const hash = setEnvValue(file, 'EMPTY', 'a #b', {});
		expect(hash.text.split('\n')[2]).toBe('EMPTY="a #b"');
		expect(readEnvValue(hash.text, 'EMPTY')).toBe('a #b');
		const dup = setEnvValue(file, 'DUP', 'N3w', {});
		expect(dup.lines).toEqual([4, 5]);
		expect(dup.text.split('\n').slice(3, 5)).toEqual(['export DUP=N3w', 'DUP=N3w # second']);
		expect(findAssignments(dup.text, 'DUP').map((a) => a.value)).toEqual(['N3w', 'N3w']);
	});

	it("keeps CRLF with quotes and comments, and appends with the file's line ending", () => {
		const crlf = 'A="1" # one\r\nexport B=\'2\'\r\nC=3';
		expect(setEnvValue(crlf, 'A', 'x', {}).text).toBe('A="x" # one\r\nexport B=\'2\'\r\nC=3');
		expect(setEnvValue(crlf, 'B', 'y', {}).text).toBe('A="1" # one\r\nexport B=\'y\'\r\nC=3');
		expect(readEnvValue(crlf, 'A')).toBe('1');
		expect(setEnvValue(crlf, 'D', 'z', { addIfMissing: true }).text).toBe(crlf + '\r\nD=z\r\n');
	});

	it('refuses to rewrite a value whose quote does not close on its line (a multi-line value)', () => {
		const multi = 'KEY="-----BEGIN\nline two\n-----END"\nOTHER=1\n';
		expect(() => setEnvValue(multi, 'KEY', 'new', { file: '/x/.env' })).toThrow(
			'/x/.env line 1: the value of KEY opens a quote that does not close',
		);
		expect(() => setEnvValue("K='open\n", 'K', 'new', {})).toThrow(/does not close/);
		// other keys of such a file are still edited
		expect(setEnvValue(multi, 'OTHER', '2', {}).text).toBe(
			'KEY="-----BEGIN\nline two\n-----END"\nOTHER=2\n',
		);
	});

	it('refuses a missing key unless asked to append it', () => {
		expect(() => setEnvValue(text, 'MISSING', 'v', { file: '/x/.env' })).toThrow(
			'/x/.env has no MISSING= line',
		);
		const appended = setEnvValue('A=1', 'MISSING', 'v', { addIfMissing: true });
		expect(appended).toMatchObject({ text: 'A=1\nMISSING=v\n', appended: true });
	});
});

describe('rotation engine', () => {
	const secret = generateSecret({ kind: 'token', bytes: 16, encoding: 'hex' });

	function target(
		name: string,
		calls: string[],
		fail?: string,
		phase: RotationTarget['phase'] = 'restorable',
	): RotationTarget {
		const step = (s: string) => async () => {
			calls.push(`${s} ${name}`);
			if (fail === s) throw new Error(`${s} broke with ${secret.value}`);
			return `${s} done`;
		};
		return {
			kind: 'test',
			target: name,
			phase,
			create: step('create'),
			set: step('set'),
			test: step('test'),
			finish: step('finish'),
			rollback: step('rollback'),
			close: async () => undefined,
		};
	}

	it('runs create, set, test, finish across targets in phase order', async () => {
		const calls: string[] = [];
		const outcome = await rotate(
			[
				target('late', calls, undefined, 'late'),
				target('a', calls),
				target('deps', calls, undefined, 'dependents'),
				target('b', calls),
			],
			secret,
			{ info: () => undefined, warn: () => undefined },
		);
		expect(outcome).toMatchObject({ status: 'ok', rotated: true, rolledBack: false });
		expect(calls).toEqual([
			'create a',
			'create b',
			'create deps',
			'create late',
			'set a',
			'set b',
			'set deps',
			'test a',
			'test b',
			'test deps',
			'set late',
			'test late',
			'finish a',
			'finish b',
			'finish deps',
			'finish late',
		]);
	});

	it('rolls back every target that was set when a test fails, dependents last, and never reports the secret', async () => {
		const calls: string[] = [];
		const logs: string[] = [];
		const outcome = await rotate(
			[
				target('a', calls),
				target('b', calls, 'test'),
				target('deps', calls, undefined, 'dependents'),
			],
			secret,
			{
				info: (m) => logs.push(m),
				warn: (m) => logs.push(m),
			},
		);
		expect(outcome).toMatchObject({ status: 'critical', rotated: false, rolledBack: true });
		expect(calls.filter((c) => c.startsWith('rollback'))).toEqual([
			'rollback b',
			'rollback a',
			'rollback deps',
		]);
		expect(JSON.stringify(outcome.findings) + logs.join('\n')).not.toContain(secret.value);
		expect(outcome.findings.find((f) => f.step === 'test' && f.target === 'b')!.summary).toContain(
			'[redacted]',
		);
	});

	it('changes nothing when a create step fails', async () => {
		const calls: string[] = [];
		const outcome = await rotate([target('a', calls), target('b', calls, 'create')], secret, {
			info: () => undefined,
			warn: () => undefined,
		});
		expect(outcome).toMatchObject({ status: 'critical', rotated: false, rolledBack: false });
		expect(calls).toEqual(['create a', 'create b']);
	});

	it('reports an error naming what to restore by hand when a rollback fails too, and still rolls back the others', async () => {
		const calls: string[] = [];
		const broken = {
			...target('a', calls),
			rollback: async () => Promise.reject(new Error('disk full')),
		};
		const outcome = await rotate([broken, target('b', calls, 'set')], secret, {
			info: () => undefined,
			warn: () => undefined,
		});
		expect(outcome.status).toBe('error');
		expect(calls).toContain('rollback b');
		expect(outcome.findings.find((f) => f.step === 'rollback' && f.target === 'a')).toMatchObject({
			status: 'error',
			summary: 'a: rollback failed, restore by hand: disk full',
		});
		const summary = outcome.findings.at(-1)!;
		expect(summary).toMatchObject({
			step: 'summary',
			status: 'error',
			rolledBack: true,
			restoreByHand: ['a'],
		});
		expect(summary.summary).toBe(
			'Rotation failed (b: set failed) and the rollback failed on a: restore those by hand (see their rollback findings); the other targets were rolled back',
		);
	});

	it('keeps the old secret (no finish) when a late target fails its test after its update', async () => {
		const calls: string[] = [];
		const outcome = await rotate(
			[target('key', calls), target('credential', calls, 'test', 'late')],
			secret,
			{ info: () => undefined, warn: () => undefined },
		);
		expect(outcome).toMatchObject({ status: 'critical', rotated: true, rolledBack: false });
		// no rollback (the credential cannot be put back) and no finish (that would retire the old key)
		expect(calls).toEqual([
			'create key',
			'create credential',
			'set key',
			'test key',
			'set credential',
			'test credential',
		]);
		expect(
			outcome.findings.filter((f) => f.step === 'finish').map((f) => `${f.target} ${f.status}`),
		).toEqual(['key warning', 'credential warning']);
		expect(outcome.findings.at(-1)!.summary).toMatch(
			/but credential failed its test after the update: check it by hand; the old secret was not retired/,
		);
	});

	it('redacts the secret and the lines of a multi-line key', () => {
		const key = generateSecret({ kind: 'sshKey', algorithm: 'ed25519' });
		const line = key.value.split('\n')[1];
		expect(redact(`oops ${line}`, key)).toBe('oops [redacted]');
	});

	it('redacts the forms a service may echo the secret in: JSON-escaped, percent-encoded, base64', () => {
		const value = 'pa"ss\\w@rd/1';
		const odd = {
			kind: 'password' as const,
			value,
			metadata: { kind: 'password' as const, entropyBits: 0, fingerprint: 'sha256:x' },
		};
		const echoed = [
			JSON.stringify({ password: value }),
			`postgres://u:${encodeURIComponent(value)}@h/db`,
			`Data: ${Buffer.from(value).toString('base64')}`,
			value,
		].join(' | ');
		expect(redact(echoed, odd)).toBe(
			'{"password":"[redacted]"} | postgres://u:[redacted]@h/db | Data: [redacted] | [redacted]',
		);
	});
});

describe('authorized_keys edits', () => {
	const key = generateSecret({ kind: 'sshKey', algorithm: 'ed25519', comment: 'old' });
	const blob = key.publicKey!.split(' ')[1];
	const file = `# managed\nssh-ed25519 AAAAother harness\nrestrict,command="echo \\"hi there\\"" ${key.publicKey}\n`;

	it('finds a key behind options with quoted spaces, adds the new one with those options, removes the old', () => {
		expect(findKey(file, blob)).toEqual([
			{ index: 2, options: 'restrict,command="echo \\"hi there\\""', type: 'ssh-ed25519', blob },
		]);
		const next = generateSecret({ kind: 'sshKey', algorithm: 'ed25519', comment: 'new' });
		const added = addKey(file, next.publicKey!, findKey(file, blob)[0].options);
		expect(added.endsWith(`restrict,command="echo \\"hi there\\"" ${next.publicKey}\n`)).toBe(true);
		expect(removeKey(added, blob)).toBe(
			`# managed\nssh-ed25519 AAAAother harness\nrestrict,command="echo \\"hi there\\"" ${next.publicKey}\n`,
		);
	});
});

describe('container environment with the new secret', () => {
	it('sets the named keys and replaces the old value inside other variables only when it is long enough', () => {
		const env = [
			'POSTGRES_PASSWORD=old-secret-1',
			'DATABASE_URL=postgres://u:old-secret-1@db/x',
			'OTHER=keep',
			'FLAG',
		];
		expect(rotateEnv(env, ['POSTGRES_PASSWORD'], 'old-secret-1', 'NEW')).toEqual({
			env: ['POSTGRES_PASSWORD=NEW', 'DATABASE_URL=postgres://u:NEW@db/x', 'OTHER=keep', 'FLAG'],
			changed: 2,
		});
		expect(rotateEnv(['A=short', 'B=xshortx'], ['A'], 'short', 'NEW').env).toEqual([
			'A=NEW',
			'B=xshortx',
		]);
	});
});
