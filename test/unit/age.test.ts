/** Our age v1 streams against Debian's real `age` CLI, both ways, recipients and passphrase. */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import {
	AgeDecryptStream,
	AgeEncryptStream,
	type AgeDecryptKey,
	type AgeKeyMaterial,
} from '../../nodes/DockerVolumeBackup/age';
import { identityToRecipient, parseRecipient } from '../../nodes/shared/ageKeys';

let dir: string;
let identity: string;
let recipient: string;

beforeAll(() => {
	dir = mkdtempSync(join(tmpdir(), 'age-test-'));
	execFileSync('age-keygen', ['-o', join(dir, 'key.txt')], { stdio: 'ignore' });
	identity = readFileSync(join(dir, 'key.txt'), 'utf8');
	recipient = identityToRecipient(identity).recipient;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function collect(
	input: Buffer,
	transform: NodeJS.ReadWriteStream,
	pieceSize = 10_000,
): Promise<Buffer> {
	const pieces: Buffer[] = [];
	for (let i = 0; i < input.length; i += pieceSize) pieces.push(input.subarray(i, i + pieceSize));
	const out: Buffer[] = [];
	await pipeline(Readable.from(pieces), transform, async function* (source) {
		for await (const chunk of source) out.push(chunk as Buffer);
	});
	return Buffer.concat(out);
}

const encrypt = (data: Buffer, key: AgeKeyMaterial, piece?: number) =>
	collect(data, new AgeEncryptStream(key), piece);
const decrypt = (data: Buffer, key: AgeDecryptKey, piece?: number) =>
	collect(data, new AgeDecryptStream(key), piece);

/** `age -d -p` reads the passphrase from a terminal only: run it under util-linux `script`, which gives it a pty fed from our stdin. */
function ageDecryptWithPassphrase(file: string, out: string, passphrase: string): void {
	const result = spawnSync('script', ['-q', '-e', '-c', `age -d -o ${out} ${file}`, '/dev/null'], {
		input: `${passphrase}\n`,
		timeout: 60_000,
	});
	if (result.status !== 0)
		throw new Error(`age -d -p failed (${result.status}): ${result.stdout}${result.stderr}`);
}

const SIZES = [0, 1, 65_535, 65_536, 65_537, 131_072, 300_001];

describe('age v1 on node:crypto', () => {
	it.each(SIZES)('a %i-byte payload encrypted here decrypts with `age -d -i`', async (size) => {
		const plain = randomBytes(size);
		const sealed = await encrypt(plain, {
			kind: 'recipients',
			publicKeys: [parseRecipient(recipient).publicKey],
		});
		const file = join(dir, `ours-${size}.age`);
		writeFileSync(file, sealed);
		const out = execFileSync('age', ['-d', '-i', join(dir, 'key.txt'), file], {
			maxBuffer: 1 << 26,
		});
		expect(Buffer.compare(out, plain)).toBe(0);
	});

	it.each(SIZES)('a %i-byte file from `age -e -r` decrypts here', async (size) => {
		const plain = randomBytes(size);
		const sealed = execFileSync('age', ['-e', '-r', recipient], {
			input: plain,
			maxBuffer: 1 << 26,
		});
		expect(
			Buffer.compare(await decrypt(sealed, { kind: 'identity', identity }, 7_777), plain),
		).toBe(0);
	});

	it('encrypts to several recipients; each identity decrypts', async () => {
		execFileSync('age-keygen', ['-o', join(dir, 'key2.txt')], { stdio: 'ignore' });
		const other = readFileSync(join(dir, 'key2.txt'), 'utf8');
		const plain = randomBytes(100_000);
		const sealed = await encrypt(plain, {
			kind: 'recipients',
			publicKeys: [parseRecipient(recipient).publicKey, identityToRecipient(other).publicKey],
		});
		writeFileSync(join(dir, 'two.age'), sealed);
		expect(
			Buffer.compare(
				execFileSync('age', ['-d', '-i', join(dir, 'key2.txt'), join(dir, 'two.age')]),
				plain,
			),
		).toBe(0);
		expect(Buffer.compare(await decrypt(sealed, { kind: 'identity', identity }), plain)).toBe(0);
	});

	it('passphrase mode: ours decrypts with `age -d` (passphrase typed into a pty) and here; a wrong passphrase fails', async () => {
		const plain = randomBytes(150_000);
		const passphrase = 'correct horse battery staple';
		const sealed = await encrypt(plain, { kind: 'passphrase', passphrase, workFactor: 14 });
		writeFileSync(join(dir, 'pass.age'), sealed);
		ageDecryptWithPassphrase(join(dir, 'pass.age'), join(dir, 'pass.out'), passphrase);
		expect(Buffer.compare(readFileSync(join(dir, 'pass.out')), plain)).toBe(0);

		expect(Buffer.compare(await decrypt(sealed, { kind: 'passphrase', passphrase }), plain)).toBe(
			0,
		);
		await expect(decrypt(sealed, { kind: 'passphrase', passphrase: 'wrong' })).rejects.toThrow(
			/Wrong passphrase/,
		);
		await expect(decrypt(sealed, { kind: 'identity', identity })).rejects.toThrow(
			/encrypted with a passphrase/,
		);
	}, 60_000);

	it('rejects a flipped byte, a truncated file and a foreign identity', async () => {
		const plain = randomBytes(200_000);
		const sealed = await encrypt(plain, {
			kind: 'recipients',
			publicKeys: [parseRecipient(recipient).publicKey],
		});
		const flipped = Buffer.from(sealed);
		flipped[flipped.length - 1000] ^= 1;
		await expect(decrypt(flipped, { kind: 'identity', identity })).rejects.toThrow(/altered/);
		await expect(
			decrypt(sealed.subarray(0, sealed.length - 65_536 - 16), { kind: 'identity', identity }),
		).rejects.toThrow(/truncated|altered/);
		execFileSync('age-keygen', ['-o', join(dir, 'key3.txt')], { stdio: 'ignore' });
		await expect(
			decrypt(sealed, { kind: 'identity', identity: readFileSync(join(dir, 'key3.txt'), 'utf8') }),
		).rejects.toThrow(/not a recipient/);
	});
});
