/** S3 side of backups: streaming multipart upload that never leaves parts behind, listing,
 * manifests, deletion of named keys. No n8n import. */
import { createHash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';

import { errorMessage, InfraOpsError } from '../shared/errors';
import { loadS3, loadS3Storage } from '../shared/lazy';
import { MANIFEST_SUFFIX, parseArchiveKey, volumeFolder, type BackupManifest, type ParsedKey } from './manifest';

/** Counts and hashes the bytes that go to storage. */
export class HashCounter extends Transform {
	private readonly hash = createHash('sha256');
	bytes = 0;
	sha256 = '';

	constructor() {
		super({ highWaterMark: 1024 * 1024 });
	}

	override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
		this.hash.update(chunk);
		this.bytes += chunk.length;
		callback(null, chunk);
	}

	override _flush(callback: TransformCallback): void {
		this.sha256 = this.hash.digest('hex');
		callback();
	}
}

export interface UploadOptions {
	partSizeBytes: number;
	queueSize: number;
	/** How long to keep retrying AbortMultipartUpload after a failure (the server may be back by then). */
	abortRetryMs: number;
}

export const DEFAULT_UPLOAD: UploadOptions = { partSizeBytes: 8 * 1024 * 1024, queueSize: 2, abortRetryMs: 20_000 };

export interface UploadOutcome {
	uploadId?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Aborts a multipart upload, retrying until `deadlineMs`; NoSuchUpload counts as done. */
export async function abortUpload(s3: S3Client, bucket: string, key: string, uploadId: string, retryMs: number): Promise<{ aborted: boolean; error?: string }> {
	const { AbortMultipartUploadCommand } = loadS3();
	const deadline = Date.now() + retryMs;
	let delay = 250;
	let lastError = '';
	for (;;) {
		try {
			await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), { abortSignal: AbortSignal.timeout(15_000) });
			return { aborted: true };
		} catch (error) {
			const name = (error as { name?: string }).name;
			if (name === 'NoSuchUpload') return { aborted: true };
			lastError = `${name ?? ''} ${errorMessage(error)}`.trim();
			if (name === 'NotImplemented') return { aborted: false, error: lastError };
		}
		if (Date.now() + delay > deadline) return { aborted: false, error: lastError };
		await sleep(delay);
		delay = Math.min(delay * 2, 4_000);
	}
}

/**
 * Streams `body` to `key`. Any failure (source, network, server) aborts the multipart upload, with
 * retries, and the error says whether the abort went through.
 */
export async function uploadStream(
	s3: S3Client,
	bucket: string,
	key: string,
	body: Readable,
	options: UploadOptions,
	onUploadId?: (id: string) => void,
): Promise<UploadOutcome> {
	const { Upload } = loadS3Storage();
	const upload = new Upload({
		client: s3,
		params: { Bucket: bucket, Key: key, Body: body, ContentType: 'application/octet-stream' },
		partSize: options.partSizeBytes,
		queueSize: options.queueSize,
		// we abort ourselves, with retries, and report the outcome
		leavePartsOnError: true,
	});
	const internals = upload as unknown as { uploadId?: string; createMultiPartPromise?: Promise<{ UploadId?: string }> };
	try {
		await upload.done();
		return { uploadId: internals.uploadId };
	} catch (error) {
		body.destroy();
		let uploadId = internals.uploadId;
		if (!uploadId && internals.createMultiPartPromise) {
			uploadId = await internals.createMultiPartPromise.then((r) => r.UploadId).catch(() => undefined);
		}
		if (uploadId) {
			onUploadId?.(uploadId);
			const result = await abortUpload(s3, bucket, key, uploadId, options.abortRetryMs);
			const note = result.aborted
				? `multipart upload ${uploadId} aborted, no parts left`
				: `multipart upload ${uploadId} could NOT be aborted (${result.error}); set a lifecycle rule that aborts incomplete multipart uploads`;
			throw Object.assign(new InfraOpsError(`${errorMessage(error)} (${note})`, (error as InfraOpsError).hint, { cause: error }), {
				uploadId,
				uploadAborted: result.aborted,
			});
		}
		throw error;
	}
}

export async function headSize(s3: S3Client, bucket: string, key: string): Promise<number | undefined> {
	const { HeadObjectCommand } = loadS3();
	const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
	return head.ContentLength;
}

export async function putJson(s3: S3Client, bucket: string, key: string, value: unknown): Promise<void> {
	const { PutObjectCommand } = loadS3();
	await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(value, null, 2) + '\n', ContentType: 'application/json' }));
}

export async function getJson<T>(s3: S3Client, bucket: string, key: string): Promise<T> {
	const { GetObjectCommand } = loadS3();
	const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
	const text = await out.Body!.transformToString('utf8');
	return JSON.parse(text) as T;
}

export async function getStream(s3: S3Client, bucket: string, key: string): Promise<{ body: Readable; size?: number }> {
	const { GetObjectCommand } = loadS3();
	const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
	return { body: out.Body as Readable, size: out.ContentLength };
}

export interface ListedObject {
	key: string;
	size: number;
	lastModified?: Date;
}

export async function listAll(s3: S3Client, bucket: string, prefix: string): Promise<ListedObject[]> {
	const { ListObjectsV2Command } = loadS3();
	const out: ListedObject[] = [];
	let token: string | undefined;
	do {
		const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
		for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified });
		token = page.IsTruncated ? page.NextContinuationToken : undefined;
	} while (token);
	return out;
}

/** Volume folders under the prefix (one level). */
export async function listVolumeFolders(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
	const { ListObjectsV2Command } = loadS3();
	const base = prefix ? `${prefix}/` : '';
	const names = new Set<string>();
	let token: string | undefined;
	do {
		const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: base, Delimiter: '/', ContinuationToken: token }));
		for (const p of page.CommonPrefixes ?? []) if (p.Prefix) names.add(p.Prefix.slice(base.length).replace(/\/$/, ''));
		token = page.IsTruncated ? page.NextContinuationToken : undefined;
	} while (token);
	return [...names].sort();
}

export interface StoredBackup extends ParsedKey {
	size: number;
	/** The manifest exists: the backup completed. */
	complete: boolean;
}

/** The backups of one volume, newest first; only keys this node writes. */
export async function listBackups(s3: S3Client, bucket: string, prefix: string, volume: string): Promise<StoredBackup[]> {
	const objects = await listAll(s3, bucket, volumeFolder(prefix, volume));
	const keys = new Set(objects.map((o) => o.key));
	const out: StoredBackup[] = [];
	for (const o of objects) {
		if (o.key.endsWith(MANIFEST_SUFFIX)) continue;
		const parsed = parseArchiveKey(prefix, volume, o.key);
		if (!parsed) continue;
		out.push({ ...parsed, size: o.size, complete: keys.has(o.key + MANIFEST_SUFFIX) });
	}
	return out.sort((a, b) => b.at.getTime() - a.at.getTime());
}

export async function readManifest(s3: S3Client, bucket: string, archiveKey: string): Promise<BackupManifest> {
	try {
		return await getJson<BackupManifest>(s3, bucket, archiveKey + MANIFEST_SUFFIX);
	} catch (error) {
		throw new InfraOpsError(`Cannot read the manifest of ${archiveKey}: ${errorMessage(error)}`, 'The backup may be incomplete; choose another one', { cause: error });
	}
}

/** Deletes exactly these keys (DeleteObjects, 1000 per call); returns the keys that failed. */
export async function deleteKeys(s3: S3Client, bucket: string, keys: string[]): Promise<string[]> {
	const { DeleteObjectsCommand } = loadS3();
	const failed: string[] = [];
	for (let i = 0; i < keys.length; i += 1000) {
		const batch = keys.slice(i, i + 1000);
		const out = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
		for (const e of out.Errors ?? []) if (e.Key) failed.push(e.Key);
	}
	return failed;
}
