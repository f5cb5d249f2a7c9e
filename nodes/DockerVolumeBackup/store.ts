/** S3 side of backups: listing, manifests, reading objects, deletion of named keys (the upload
 * itself: upload.ts). No n8n import. */
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';

import { errorMessage, InfraOpsError } from '../shared/errors';
import { loadS3 } from '../shared/lazy';
import {
	MANIFEST_SUFFIX,
	parseArchiveKey,
	volumeFolder,
	type BackupManifest,
	type ParsedKey,
} from './manifest';
import { createOnly } from './upload';

/** Where backups go: a bucket, and the prefix under which each volume has its folder. */
export interface StorageTarget {
	s3: S3Client;
	bucket: string;
	prefix: string;
}

export async function headSize(
	s3: S3Client,
	bucket: string,
	key: string,
): Promise<number | undefined> {
	const { HeadObjectCommand } = loadS3();
	const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
	return head.ContentLength;
}

/** `createOnly`: the key must not exist yet (a new backup's manifest); else the object is replaced (Verify's record). */
export async function putJson(
	s3: S3Client,
	bucket: string,
	key: string,
	value: unknown,
	options: { createOnly?: boolean } = {},
): Promise<void> {
	const { PutObjectCommand } = loadS3();
	const Body = JSON.stringify(value, null, 2) + '\n';
	const put = (IfNoneMatch: '*' | undefined) =>
		s3.send(
			new PutObjectCommand({
				Bucket: bucket,
				Key: key,
				Body,
				ContentType: 'application/json',
				IfNoneMatch,
			}),
		);
	if (options.createOnly) await createOnly(s3, bucket, key, put);
	else await put(undefined);
}

export async function getJson<T>(s3: S3Client, bucket: string, key: string): Promise<T> {
	const { GetObjectCommand } = loadS3();
	const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
	const text = await out.Body!.transformToString('utf8');
	return JSON.parse(text) as T;
}

export async function getStream(
	s3: S3Client,
	bucket: string,
	key: string,
): Promise<{ body: Readable; size?: number }> {
	const { GetObjectCommand } = loadS3();
	const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
	return { body: out.Body as Readable, size: out.ContentLength };
}

export interface ListedObject {
	key: string;
	size: number;
	lastModified?: Date;
}

export async function listAll(
	s3: S3Client,
	bucket: string,
	prefix: string,
): Promise<ListedObject[]> {
	const { ListObjectsV2Command } = loadS3();
	const out: ListedObject[] = [];
	let token: string | undefined;
	do {
		const page = await s3.send(
			new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
		);
		for (const o of page.Contents ?? [])
			if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified });
		token = page.IsTruncated ? page.NextContinuationToken : undefined;
	} while (token);
	return out;
}

/** Volume folders under the prefix (one level). */
export async function listVolumeFolders(
	s3: S3Client,
	bucket: string,
	prefix: string,
): Promise<string[]> {
	const { ListObjectsV2Command } = loadS3();
	const base = prefix ? `${prefix}/` : '';
	const names = new Set<string>();
	let token: string | undefined;
	do {
		const page = await s3.send(
			new ListObjectsV2Command({
				Bucket: bucket,
				Prefix: base,
				Delimiter: '/',
				ContinuationToken: token,
			}),
		);
		for (const p of page.CommonPrefixes ?? [])
			if (p.Prefix) names.add(p.Prefix.slice(base.length).replace(/\/$/, ''));
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
export async function listBackups(
	s3: S3Client,
	bucket: string,
	prefix: string,
	volume: string,
): Promise<StoredBackup[]> {
	const objects = await listAll(s3, bucket, volumeFolder(prefix, volume));
	const keys = new Set(objects.map((o) => o.key));
	const out: StoredBackup[] = [];
	for (const o of objects) {
		if (o.key.endsWith(MANIFEST_SUFFIX)) continue;
		const parsed = parseArchiveKey(prefix, volume, o.key);
		if (!parsed) continue;
		out.push({ ...parsed, size: o.size, complete: keys.has(o.key + MANIFEST_SUFFIX) });
	}
	return out.sort(
		(a, b) => b.at.getTime() - a.at.getTime() || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0),
	);
}

export async function readManifest(
	s3: S3Client,
	bucket: string,
	archiveKey: string,
): Promise<BackupManifest> {
	try {
		return await getJson<BackupManifest>(s3, bucket, archiveKey + MANIFEST_SUFFIX);
	} catch (error) {
		throw new InfraOpsError(
			`Cannot read the manifest of ${archiveKey}: ${errorMessage(error)}`,
			'The backup may be incomplete; choose another one',
			{ cause: error },
		);
	}
}

/** Deletes exactly these keys (DeleteObjects, 1000 per call); returns the keys that failed. */
export async function deleteKeys(s3: S3Client, bucket: string, keys: string[]): Promise<string[]> {
	const { DeleteObjectsCommand } = loadS3();
	const failed: string[] = [];
	for (let i = 0; i < keys.length; i += 1000) {
		const batch = keys.slice(i, i + 1000);
		const out = await s3.send(
			new DeleteObjectsCommand({
				Bucket: bucket,
				Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
			}),
		);
		for (const e of out.Errors ?? []) if (e.Key) failed.push(e.Key);
	}
	return failed;
}
