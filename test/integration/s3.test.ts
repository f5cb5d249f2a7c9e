/** S3 transport against a real S3 protocol server (s3rver) started by the harness. s3rver does not check
 * signatures: these tests prove what is sent, not that AWS would accept it. */
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

import { partSizeFor, uploadStream } from '../../nodes/DockerVolumeBackup/upload';
import { checkBucket, createS3Client, type S3Connection } from '../../nodes/shared/s3';
import { services } from '../harness/services';

const minio = (overrides: Partial<S3Connection> = {}): S3Connection => {
	const { s3 } = services();
	return {
		provider: 'minio',
		endpoint: s3.endpoint,
		region: s3.region,
		bucket: s3.bucket,
		accessKeyId: s3.accessKeyId,
		secretAccessKey: s3.secretAccessKey,
		...overrides,
	};
};

describe('part sizes of a backup upload', () => {
	it("keep the base for the first 2000 parts, then double, up to S3's 5 GiB; 10,000 parts of 8 MiB first reach 484 GiB", () => {
		const MiB = 2 ** 20;
		expect(
			[1, 2000, 2001, 4000, 4001, 10_000].map((n) => partSizeFor(n, 8 * MiB, 2000) / MiB),
		).toEqual([8, 8, 16, 16, 32, 128]);
		let total = 0;
		for (let n = 1; n <= 10_000; n++) total += partSizeFor(n, 8 * MiB, 2000);
		expect(total / 2 ** 30).toBeCloseTo(484.4, 1);
		expect(partSizeFor(10_000, 1024 * MiB, 2000)).toBe(5 * 1024 * MiB);
	});
});

describe('S3 transport (real s3rver)', () => {
	it('HeadBucket succeeds, and a missing bucket is named as such', async () => {
		await expect(checkBucket(minio())).resolves.toBeUndefined();
		await expect(checkBucket(minio({ bucket: 'no-such-bucket' }))).rejects.toThrow(
			/bucket does not exist/,
		);
	});

	it('uploads a stream in several parts, lists it, and deletes it with Content-MD5 instead of CRC32', async () => {
		const conn = minio();
		const client = createS3Client(conn);
		const sent: Record<string, string>[] = [];
		client.middlewareStack.add(
			(next, context) => async (args) => {
				if (context.commandName === 'DeleteObjectsCommand')
					sent.push({ ...(args.request as { headers: Record<string, string> }).headers });
				return await next(args);
			},
			{ step: 'finalizeRequest', name: 'recordHeaders' },
		);
		try {
			const prefix = `transport-${Date.now()}/`;
			const data = randomBytes(12 * 1024 * 1024);
			const upload = new Upload({
				client,
				params: {
					Bucket: conn.bucket,
					Key: `${prefix}big.bin`,
					Body: Readable.from([data.subarray(0, 7e6), data.subarray(7e6)]),
				},
				partSize: 5 * 1024 * 1024,
				queueSize: 2,
			});
			let parts = 0;
			upload.on('httpUploadProgress', (p) => (parts = Math.max(parts, p.part ?? 0)));
			await upload.done();
			expect(parts).toBe(3);

			const listed = await client.send(
				new ListObjectsV2Command({ Bucket: conn.bucket, Prefix: prefix }),
			);
			expect(listed.Contents?.map((o) => [o.Key, o.Size])).toEqual([
				[`${prefix}big.bin`, data.length],
			]);

			const deleted = await client.send(
				new DeleteObjectsCommand({
					Bucket: conn.bucket,
					Delete: { Objects: [{ Key: `${prefix}big.bin` }] },
				}),
			);
			expect(deleted.Errors ?? []).toEqual([]);
			expect(sent).toHaveLength(1);
			expect(sent[0]['content-md5']).toMatch(/^[A-Za-z0-9+/]{22}==$/);
			expect(Object.keys(sent[0]).filter((h) => h.startsWith('x-amz-checksum'))).toEqual([]);
			const after = await client.send(
				new ListObjectsV2Command({ Bucket: conn.bucket, Prefix: prefix }),
			);
			expect(after.Contents ?? []).toEqual([]);
		} finally {
			client.destroy();
		}
	});

	it("signs each part's SHA-256, or (for age-encrypted backups) sends UNSIGNED-PAYLOAD; the object is stored whole either way", async () => {
		const conn = minio();
		const client = createS3Client(conn);
		const partHashes: string[] = [];
		// the deserialize step sees the request as signed and sent
		client.middlewareStack.add(
			(next, context) => async (args) => {
				if (context.commandName === 'UploadPartCommand')
					partHashes.push(
						(args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'],
					);
				return await next(args);
			},
			{ step: 'deserialize', name: 'recordPayloadHash' },
		);
		try {
			const data = randomBytes(11 * 1024 * 1024);
			const pieces = () =>
				Readable.from([data.subarray(0, 3e6), data.subarray(3e6, 9e6), data.subarray(9e6)]);
			const options = { partSizeBytes: 5 * 1024 * 1024, queueSize: 2, abortRetryMs: 1000 };
			for (const signPayload of [true, false]) {
				partHashes.length = 0;
				const key = `transport-${Date.now()}/signed-${signPayload}.bin`;
				await uploadStream(client, conn.bucket, key, pieces(), { ...options, signPayload });
				expect(partHashes).toHaveLength(3);
				if (signPayload) {
					const parts = [
						data.subarray(0, 5 * 2 ** 20),
						data.subarray(5 * 2 ** 20, 10 * 2 ** 20),
						data.subarray(10 * 2 ** 20),
					];
					expect([...partHashes].sort()).toEqual(
						parts.map((p) => createHash('sha256').update(p).digest('hex')).sort(),
					);
				} else {
					expect(partHashes).toEqual(['UNSIGNED-PAYLOAD', 'UNSIGNED-PAYLOAD', 'UNSIGNED-PAYLOAD']);
				}
				const got = await client.send(new GetObjectCommand({ Bucket: conn.bucket, Key: key }));
				expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
			}
		} finally {
			client.destroy();
		}
	});

	it('doubles the part size every partsPerSize parts (a stream of unknown size can pass 10,000 x the base), and the object is whole', async () => {
		const conn = minio();
		const client = createS3Client(conn);
		const sizes: number[] = [];
		client.middlewareStack.add(
			(next, context) => async (args) => {
				if (context.commandName === 'UploadPartCommand')
					sizes.push(Number((args.input as { ContentLength?: number }).ContentLength));
				return await next(args);
			},
			{ step: 'initialize', name: 'recordPartSizes' },
		);
		try {
			const MiB = 2 ** 20;
			const data = randomBytes(47 * MiB);
			const pieces: Buffer[] = [];
			for (let o = 0; o < data.length; o += 3 * MiB + 17)
				pieces.push(data.subarray(o, o + 3 * MiB + 17));
			const key = `transport-${Date.now()}/growing.bin`;
			await uploadStream(client, conn.bucket, key, Readable.from(pieces), {
				partSizeBytes: 5 * MiB,
				partsPerSize: 2,
				queueSize: 2,
				abortRetryMs: 1000,
			});
			expect([...sizes].sort((a, b) => a - b)).toEqual([5, 5, 10, 10, 17].map((m) => m * MiB));
			const got = await client.send(new GetObjectCommand({ Bucket: conn.bucket, Key: key }));
			expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
		} finally {
			client.destroy();
		}
	});

	it('explains refused keys and an unreachable endpoint', async () => {
		await expect(checkBucket(minio({ endpoint: 'http://127.0.0.1:1' }))).rejects.toThrow(
			/Cannot reach s3:\/\/.*ECONNREFUSED/,
		);
	});
});
