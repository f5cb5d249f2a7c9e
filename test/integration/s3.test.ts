/** S3 transport against a real S3 protocol server (s3rver) started by the harness. */
import { DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

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

describe('S3 transport (real s3rver)', () => {
	it('HeadBucket succeeds, and a missing bucket is named as such', async () => {
		await expect(checkBucket(minio())).resolves.toBeUndefined();
		await expect(checkBucket(minio({ bucket: 'no-such-bucket' }))).rejects.toThrow(/bucket does not exist/);
	});

	it('uploads a stream in several parts, lists it, and deletes it with Content-MD5 instead of CRC32', async () => {
		const conn = minio();
		const client = createS3Client(conn);
		const sent: Record<string, string>[] = [];
		client.middlewareStack.add(
			(next, context) => async (args) => {
				if (context.commandName === 'DeleteObjectsCommand') sent.push({ ...(args.request as { headers: Record<string, string> }).headers });
				return await next(args);
			},
			{ step: 'finalizeRequest', name: 'recordHeaders' },
		);
		try {
			const prefix = `transport-${Date.now()}/`;
			const data = randomBytes(12 * 1024 * 1024);
			const upload = new Upload({
				client,
				params: { Bucket: conn.bucket, Key: `${prefix}big.bin`, Body: Readable.from([data.subarray(0, 7e6), data.subarray(7e6)]) },
				partSize: 5 * 1024 * 1024,
				queueSize: 2,
			});
			let parts = 0;
			upload.on('httpUploadProgress', (p) => (parts = Math.max(parts, p.part ?? 0)));
			await upload.done();
			expect(parts).toBe(3);

			const listed = await client.send(new ListObjectsV2Command({ Bucket: conn.bucket, Prefix: prefix }));
			expect(listed.Contents?.map((o) => [o.Key, o.Size])).toEqual([[`${prefix}big.bin`, data.length]]);

			const deleted = await client.send(new DeleteObjectsCommand({ Bucket: conn.bucket, Delete: { Objects: [{ Key: `${prefix}big.bin` }] } }));
			expect(deleted.Errors ?? []).toEqual([]);
			expect(sent).toHaveLength(1);
			expect(sent[0]['content-md5']).toMatch(/^[A-Za-z0-9+/]{22}==$/);
			expect(Object.keys(sent[0]).filter((h) => h.startsWith('x-amz-checksum'))).toEqual([]);
			const after = await client.send(new ListObjectsV2Command({ Bucket: conn.bucket, Prefix: prefix }));
			expect(after.Contents ?? []).toEqual([]);
		} finally {
			client.destroy();
		}
	});

	it('explains refused keys and an unreachable endpoint', async () => {
		await expect(checkBucket(minio({ endpoint: 'http://127.0.0.1:1' }))).rejects.toThrow(/Cannot reach s3:\/\/.*ECONNREFUSED/);
	});
});
