import { execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { addKey, findKey, removeKey } from '../../nodes/SecretRotate/authorizedKeys';
import { findAssignments, readEnvValue, setEnvValue } from '../../nodes/SecretRotate/envFile';
import { classAlphabets, generatePassword, generateSecret, passwordEntropyBits, publicKeyFingerprint, type PasswordSpec } from '../../nodes/SecretRotate/generate';
import { redact, rotate, type RotationTarget } from '../../nodes/SecretRotate/rotation';
import { scramSha256Verifier, verifierMatches } from '../../nodes/SecretRotate/scram';
import { rotateEnv } from '../../nodes/SecretRotate/targets/containers';

describe('generate', () => {
	const spec: PasswordSpec = { kind: 'password', length: 12, classes: ['lower', 'upper', 'digits', 'symbols'], excludeAmbiguous: true };

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
		expect(() => generatePassword({ ...spec, classes: ['symbols'], symbols: 'l1' })).toThrow(/"symbols" is empty/);
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
				const derived = execFileSync('ssh-keygen', ['-y', '-f', join(dir, algorithm)], { encoding: 'utf8' }).trim();
				expect(key.publicKey!.startsWith(derived.split(' ').slice(0, 2).join(' '))).toBe(true);
				writeFileSync(join(dir, `${algorithm}.pub`), key.publicKey + '\n');
				const printed = execFileSync('ssh-keygen', ['-lf', join(dir, `${algorithm}.pub`)], { encoding: 'utf8' });
				expect(printed).toContain(key.metadata.fingerprint);
				expect(publicKeyFingerprint(key.publicKey!)).toBe(key.metadata.fingerprint);
				expect(printed).toContain(algorithm === 'rsa4096' ? '4096' : 'ED25519');
				expect(JSON.stringify(key.metadata)).not.toContain('PRIVATE KEY');
			}
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});

describe('SCRAM-SHA-256 verifier', () => {
	it('matches RFC 7677 section 3 (user "user", password "pencil", its salt and 4096 iterations)', () => {
		// RFC 7677's exchange: salt W22ZaJ0SNY7soEsUEjb6gQ==; its ServerSignature v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=
		// follows from ServerKey, and ClientProof from StoredKey: rebuilt here with node:crypto from those published values
		const verifier = scramSha256Verifier('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096);
		const [, keys] = verifier.split('$').slice(1);
		const [storedKeyB64, serverKeyB64] = keys.split(':');
		const authMessage =
			'n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
		const serverSignature = createHmac('sha256', Buffer.from(serverKeyB64, 'base64')).update(authMessage).digest('base64');
		expect(serverSignature).toBe('6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
		// the client's proof p= is ClientKey XOR HMAC(StoredKey, AuthMessage); SHA-256(ClientKey) must be StoredKey
		const clientSignature = createHmac('sha256', Buffer.from(storedKeyB64, 'base64')).update(authMessage).digest();
		const proof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
		const clientKey = Buffer.from(proof.map((b, i) => b ^ clientSignature[i]));
		expect(createHash('sha256').update(clientKey).digest('base64')).toBe(storedKeyB64);
		expect(verifier).toMatch(/^SCRAM-SHA-256\$4096:W22ZaJ0SNY7soEsUEjb6gQ==\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/);
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
		expect(edit.text).toBe(text.replace('old-one', 'N3w-pass.w0rd').replace('"dup"', '"N3w-pass.w0rd"'));
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

	it('refuses a missing key unless asked to append it', () => {
		expect(() => setEnvValue(text, 'MISSING', 'v', { file: '/x/.env' })).toThrow('/x/.env has no MISSING= line');
		const appended = setEnvValue('A=1', 'MISSING', 'v', { addIfMissing: true });
		expect(appended).toMatchObject({ text: 'A=1\nMISSING=v\n', appended: true });
	});
});

describe('rotation engine', () => {
	const secret = generateSecret({ kind: 'token', bytes: 16, encoding: 'hex' });

	function target(name: string, calls: string[], fail?: string, phase: RotationTarget['phase'] = 'restorable'): RotationTarget {
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
		const outcome = await rotate([target('late', calls, undefined, 'late'), target('a', calls), target('deps', calls, undefined, 'dependents'), target('b', calls)], secret, { info: () => undefined, warn: () => undefined });
		expect(outcome).toMatchObject({ status: 'ok', rotated: true, rolledBack: false });
		expect(calls).toEqual([
			'create a', 'create b', 'create deps', 'create late',
			'set a', 'set b', 'set deps', 'test a', 'test b', 'test deps',
			'set late', 'test late',
			'finish a', 'finish b', 'finish deps', 'finish late',
		]);
	});

	it('rolls back every target that was set when a test fails, dependents last, and never reports the secret', async () => {
		const calls: string[] = [];
		const logs: string[] = [];
		const outcome = await rotate([target('a', calls), target('b', calls, 'test'), target('deps', calls, undefined, 'dependents')], secret, {
			info: (m) => logs.push(m),
			warn: (m) => logs.push(m),
		});
		expect(outcome).toMatchObject({ status: 'critical', rotated: false, rolledBack: true });
		expect(calls.filter((c) => c.startsWith('rollback'))).toEqual(['rollback b', 'rollback a', 'rollback deps']);
		expect(JSON.stringify(outcome.findings) + logs.join('\n')).not.toContain(secret.value);
		expect(outcome.findings.find((f) => f.step === 'test' && f.target === 'b')!.summary).toContain('[redacted]');
	});

	it('changes nothing when a create step fails', async () => {
		const calls: string[] = [];
		const outcome = await rotate([target('a', calls), target('b', calls, 'create')], secret, { info: () => undefined, warn: () => undefined });
		expect(outcome).toMatchObject({ status: 'critical', rotated: false, rolledBack: false });
		expect(calls).toEqual(['create a', 'create b']);
	});

	it('reports an error when a rollback fails too', async () => {
		const calls: string[] = [];
		const broken = { ...target('a', calls, 'set'), rollback: async () => Promise.reject(new Error('disk full')) };
		const outcome = await rotate([broken], secret, { info: () => undefined, warn: () => undefined });
		expect(outcome.status).toBe('error');
		expect(outcome.findings.at(-1)!.summary).toMatch(/restore by hand/);
	});

	it('redacts the secret and the lines of a multi-line key', () => {
		const key = generateSecret({ kind: 'sshKey', algorithm: 'ed25519' });
		const line = key.value.split('\n')[1];
		expect(redact(`oops ${line}`, key)).toBe('oops [redacted]');
	});
});

describe('authorized_keys edits', () => {
	const key = generateSecret({ kind: 'sshKey', algorithm: 'ed25519', comment: 'old' });
	const blob = key.publicKey!.split(' ')[1];
	const file = `# managed\nssh-ed25519 AAAAother harness\nrestrict,command="echo \\"hi there\\"" ${key.publicKey}\n`;

	it('finds a key behind options with quoted spaces, adds the new one with those options, removes the old', () => {
		expect(findKey(file, blob)).toEqual([{ index: 2, options: 'restrict,command="echo \\"hi there\\""', type: 'ssh-ed25519', blob }]);
		const next = generateSecret({ kind: 'sshKey', algorithm: 'ed25519', comment: 'new' });
		const added = addKey(file, next.publicKey!, findKey(file, blob)[0].options);
		expect(added.endsWith(`restrict,command="echo \\"hi there\\"" ${next.publicKey}\n`)).toBe(true);
		expect(removeKey(added, blob)).toBe(`# managed\nssh-ed25519 AAAAother harness\nrestrict,command="echo \\"hi there\\"" ${next.publicKey}\n`);
	});
});

describe('container environment with the new secret', () => {
	it('sets the named keys and replaces the old value inside other variables only when it is long enough', () => {
		const env = ['POSTGRES_PASSWORD=old-secret-1', 'DATABASE_URL=postgres://u:old-secret-1@db/x', 'OTHER=keep', 'FLAG'];
		expect(rotateEnv(env, ['POSTGRES_PASSWORD'], 'old-secret-1', 'NEW')).toEqual({
			env: ['POSTGRES_PASSWORD=NEW', 'DATABASE_URL=postgres://u:NEW@db/x', 'OTHER=keep', 'FLAG'],
			changed: 2,
		});
		expect(rotateEnv(['A=short', 'B=xshortx'], ['A'], 'short', 'NEW').env).toEqual(['A=NEW', 'B=xshortx']);
	});
});
