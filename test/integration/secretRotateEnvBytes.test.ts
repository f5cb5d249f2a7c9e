/** Secret Rotate's .env target edits bytes, not text: a file that is not clean UTF-8 (as .env files
 * written on Windows or by older editors are) keeps every byte but the value's, on the real sshd. */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { generateSecret, type GeneratedSecret } from '../../nodes/SecretRotate/generate';
import { rotate, type RotationTarget } from '../../nodes/SecretRotate/rotation';
import { EnvFileTarget } from '../../nodes/SecretRotate/targets/envFile';
import type { SshConnection } from '../../nodes/shared/ssh';
import { services } from '../harness/services';

jest.setTimeout(60_000);

const run = randomBytes(3).toString('hex');
const log = { info: () => undefined, warn: () => undefined };
const sshConn = (): SshConnection => {
	const { ssh } = services();
	return {
		host: ssh.host,
		port: ssh.port,
		username: ssh.username,
		privateKey: ssh.privateKey,
		hostKeyFingerprints: [ssh.hostKeyFingerprint],
	};
};
const secret = (): GeneratedSecret =>
	generateSecret({
		kind: 'password',
		length: 32,
		classes: ['lower', 'upper', 'digits'],
		symbols: '',
		excludeAmbiguous: true,
	});
const latin1 = (text: string) => Buffer.from(text, 'latin1');

// A .env saved by a Windows editor: UTF-8 BOM right before the first key, CRLF, a Latin-1 `é` (0xE9, not UTF-8) in comments,
// a UTF-8 `à` (C3 A0: its 0xA0 is not whitespace) ending a value, and a last line without newline.
const OLD_PG = `old-${run}-pg`;
const OLD_DB = latin1(`old-${run}-voil\xC3\xA0`);
const parts = (pg: Buffer, db: Buffer) => [
	latin1('\xEF\xBB\xBFPOSTGRES_PASSWORD='),
	pg,
	latin1(
		' # chang\xE9 le 3/12\r\n# Supabase \x97 r\xE9glages du caf\xE9\r\n\r\nSITE_NAME=Caf\xE9 du coin\r\nGREETING="d\xC3\xA9j\xC3\xA0 vu"\r\nexport DB_PASSWORD=',
	),
	db,
];
const fileWith = (pg: Buffer, db: Buffer) => Buffer.concat(parts(pg, db));
const ORIGINAL = fileWith(latin1(OLD_PG), OLD_DB);

function failingAfter(name: string, action: () => void = () => undefined): RotationTarget {
	return {
		kind: 'failing-step',
		target: name,
		phase: 'restorable',
		create: async () => 'ready',
		set: async () => {
			action();
			throw new Error('this step fails, so the run rolls back');
		},
		test: async () => 'ok',
		finish: async () => 'ok',
		rollback: async () => 'nothing to undo',
		close: async () => undefined,
	};
}

describe('Secret Rotate .env target: bytes, not text (real sshd)', () => {
	let envPath: string;
	const target = (backup: boolean) =>
		new EnvFileTarget({
			ssh: sshConn(),
			path: envPath,
			keys: ['POSTGRES_PASSWORD', 'DB_PASSWORD'],
			addIfMissing: false,
			backup,
		});
	const backups = () =>
		readdirSync(services().ssh.dataDir).filter((f) =>
			f.startsWith(`bytes-${run}.env.infra-ops-bak`),
		);

	beforeEach(() => {
		envPath = join(services().ssh.dataDir, `bytes-${run}.env`);
		for (const f of backups()) rmSync(join(services().ssh.dataDir, f));
		writeFileSync(envPath, ORIGINAL, { mode: 0o600 });
	});

	it("a Windows-saved .env (BOM before the first key, CRLF, Latin-1 é in comments, UTF-8 à ending a value, no final newline): set changes only the two values' bytes, and the backup is the original bytes", async () => {
		const s = secret();
		const outcome = await rotate([target(true)], s, log);
		expect(outcome.findings.map((f) => `${f.step} ${f.status}`)).toEqual([
			'create ok',
			'set ok',
			'test ok',
			'finish ok',
			'summary ok',
		]);
		const after = readFileSync(envPath);
		expect(after.equals(fileWith(Buffer.from(s.value), Buffer.from(s.value)))).toBe(true);
		expect(after.includes(Buffer.from([0xef, 0xbf, 0xbd]))).toBe(false);
		const [backup] = backups();
		expect(backups()).toHaveLength(1);
		expect(readFileSync(join(services().ssh.dataDir, backup)).equals(ORIGINAL)).toBe(true);
	});

	it('the same file is byte-identical to the original after a rollback (a later target fails), and the rollback says restored', async () => {
		const outcome = await rotate([target(true), failingAfter('later target')], secret(), log);
		expect(outcome).toMatchObject({ status: 'critical', rotated: false, rolledBack: true });
		expect(
			outcome.findings.find((f) => f.targetKind === 'env-file' && f.step === 'rollback'),
		).toMatchObject({
			status: 'ok',
			summary: expect.stringMatching(/restored; backup .* removed$/),
		});
		expect(readFileSync(envPath).equals(ORIGINAL)).toBe(true);
		expect(backups()).toEqual([]);
	});

	it("when another line changed after this run wrote, the rollback puts back the old values' exact bytes (UTF-8 à, no re-quoting) and keeps that line", async () => {
		const edited = (data: Buffer) =>
			Buffer.from(
				data.toString('latin1').replace('Caf\xE9 du coin', 'Caf\xE9 de la gare'),
				'latin1',
			);
		const outcome = await rotate(
			[
				target(false),
				failingAfter('another edit', () => writeFileSync(envPath, edited(readFileSync(envPath)))),
			],
			secret(),
			log,
		);
		expect(
			outcome.findings.find((f) => f.targetKind === 'env-file' && f.step === 'rollback'),
		).toMatchObject({
			status: 'ok',
			summary: expect.stringMatching(/old value of POSTGRES_PASSWORD, DB_PASSWORD restored/),
		});
		expect(readFileSync(envPath).equals(edited(ORIGINAL))).toBe(true);
	});
});
