/**
 * The copy phase's transport: a stream to one S3 object, as one PutObject or a multipart upload that
 * never leaves parts behind, and never replaces an object already at its key. No n8n import.
 */
import type { Readable } from 'node:stream';
import type { S3Client, UploadPartCommandInput, UploadPartCommandOutput } from '@aws-sdk/client-s3';
import type { BuildMiddleware } from '@smithy/types';

import { errorMessage, InfraOpsError } from '../shared/errors';
import { loadS3 } from '../shared/lazy';
import { UploadError } from './errors';

export interface UploadOptions {
	/** Size of the first parts; it doubles every `partsPerSize` parts (see partSizeFor). */
	partSizeBytes: number;
	/** Parts per size step; default 2000. */
	partsPerSize?: number;
	queueSize: number;
	/** How long to keep retrying AbortMultipartUpload after a failure (the server may be back by then). */
	abortRetryMs: number;
	/**
	 * Sign each part's SHA-256 (SigV4's default). Off for age-encrypted backups: age authenticates every
	 * 64 KiB of the payload (ChaCha20-Poly1305) and the manifest holds the stored object's SHA-256, so an
	 * altered part fails restore and Verify instead of restoring; the request itself stays signed. Saves
	 * hashing the whole object a second time (~0.5 CPU-s per GiB stored).
	 */
	signPayload?: boolean;
}

/** S3's limit on the parts of one multipart upload. */
const MAX_PARTS = 10_000;

/** S3's limit on the size of one part. */
const MAX_PART_BYTES = 5 * 1024 ** 3;

export const DEFAULT_UPLOAD: UploadOptions = {
	partSizeBytes: 8 * 1024 * 1024,
	queueSize: 2,
	abortRetryMs: 20_000,
	partsPerSize: 2000,
};

/**
 * The size of part `partNumber` (1-based): the base size for the first `partsPerSize` parts, then twice
 * that, and so on. The size of a stream is not known in advance, and with a fixed 8 MiB an upload
 * would fail after 78 GiB (10,000 parts), the size of a volume of LLM models; doubling every 2000 parts
 * reaches 484 GiB, while backups under 15.6 GiB keep the base size and its memory.
 */
export function partSizeFor(partNumber: number, base: number, partsPerSize: number): number {
	return Math.min(MAX_PART_BYTES, base * 2 ** Math.floor((partNumber - 1) / partsPerSize));
}

export interface UploadOutcome {
	uploadId?: string;
}

/** SigV4 signs the value of x-amz-content-sha256 when the request already has one, instead of hashing the body. */
const unsignedPayload: BuildMiddleware<UploadPartCommandInput, UploadPartCommandOutput> =
	(next) => async (args) => {
		(args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] =
			'UNSIGNED-PAYLOAD';
		return await next(args);
	};

/**
 * Sends a request that creates `key` and must never replace an object already there: a HEAD first
 * (s3rver and fauxqs ignore conditional writes), then the request with `If-None-Match: *`, which AWS,
 * R2 and MinIO enforce atomically (412 when the key exists). A server that answers the header with
 * NotImplemented gets the request again without it; the HEAD still guarded it.
 */
export async function createOnly<T>(
	s3: S3Client,
	bucket: string,
	key: string,
	send: (ifNoneMatch: '*' | undefined) => Promise<T>,
): Promise<T> {
	const exists = () =>
		new InfraOpsError(
			`${key} already exists in the bucket: refusing to replace it`,
			'Another run (or someone with write access to the bucket) wrote this key; nothing was overwritten',
		);
	const { HeadObjectCommand } = loadS3();
	try {
		await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), {
			abortSignal: AbortSignal.timeout(30_000),
		});
		throw exists();
	} catch (error) {
		if (error instanceof InfraOpsError) throw error;
		const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
		// AWS answers 403 for a missing key when the caller may not list the bucket: the conditional write still guards it
		if (status !== 404 && status !== 403 && (error as { name?: string }).name !== 'NotFound')
			throw error;
	}
	try {
		return await send('*');
	} catch (error) {
		const name = (error as { name?: string }).name;
		const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
		if (status === 412 || name === 'PreconditionFailed') throw exists();
		if (status === 501 || name === 'NotImplemented') return await send(undefined);
		throw error;
	}
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Aborts a multipart upload, retrying until `deadlineMs`; NoSuchUpload counts as done. */
export async function abortUpload(
	s3: S3Client,
	bucket: string,
	key: string,
	uploadId: string,
	retryMs: number,
): Promise<{ aborted: boolean; error?: string }> {
	const { AbortMultipartUploadCommand } = loadS3();
	const deadline = Date.now() + retryMs;
	let delay = 250;
	let lastError = '';
	for (;;) {
		try {
			await s3.send(
				new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }),
				{ abortSignal: AbortSignal.timeout(15_000) },
			);
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
 * Streams `body` to `key`: one PutObject when it fits in a part, else a multipart upload. The parts
 * are filled into a pool of `queueSize + 1` buffers of the current part size, reused from part
 * to part, so memory is bounded by that pool (three 8 MiB parts at the defaults up to 15.6 GiB, then
 * three of each larger size, see partSizeFor) whatever the length of the stream, and the stream's bytes
 * are copied once (lib-storage's Upload concatenates every part into a fresh buffer instead, which
 * on a 1 GiB backup means hundreds of MiB of short-lived buffers and the garbage collections that
 * follow). At most `queueSize` parts are in flight; reading pauses while none is free.
 * Any failure (source, network, server) aborts the multipart upload, with retries, and the error
 * says whether the abort went through.
 */
export async function uploadStream(
	s3: S3Client,
	bucket: string,
	key: string,
	body: Readable,
	options: UploadOptions,
	onUploadId?: (id: string) => void,
): Promise<UploadOutcome> {
	const {
		CreateMultipartUploadCommand,
		UploadPartCommand,
		CompleteMultipartUploadCommand,
		PutObjectCommand,
	} = loadS3();
	const partsPerSize = Math.max(1, options.partsPerSize ?? DEFAULT_UPLOAD.partsPerSize!);
	/** The size of the part being filled (number `partNumber + 1`). */
	const nextPartSize = () => partSizeFor(partNumber + 1, options.partSizeBytes, partsPerSize);
	const queueSize = Math.max(1, options.queueSize);
	const contentType = 'application/octet-stream';
	let uploadId: string | undefined;
	let createPromise: Promise<string> | undefined;
	const parts: { PartNumber: number; ETag?: string }[] = [];
	const inFlight = new Set<Promise<void>>();
	const free: Buffer[] = [];
	let buffers = 0;
	let failure: unknown;
	let current: Buffer | undefined;
	let fill = 0;
	let partNumber = 0;

	const createUpload = () =>
		(createPromise ??= s3
			.send(
				new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: contentType }),
			)
			.then((out) => {
				if (!out.UploadId)
					throw new InfraOpsError('The S3 server returned no upload id for the multipart upload');
				uploadId = out.UploadId;
				return uploadId;
			}));

	const sendPart = (buffer: Buffer, length: number) => {
		if (partNumber === MAX_PARTS) {
			throw new InfraOpsError(
				`The backup needs more than ${MAX_PARTS} parts (the last ones of ${partSizeFor(MAX_PARTS, options.partSizeBytes, partsPerSize) / 2 ** 20} MiB)`,
				'Raise Part Size in the Backup options',
			);
		}
		const number = ++partNumber;
		const task: Promise<void> = (async () => {
			const id = await createUpload();
			const command = new UploadPartCommand({
				Bucket: bucket,
				Key: key,
				UploadId: id,
				PartNumber: number,
				Body: buffer.subarray(0, length),
				ContentLength: length,
			});
			if (options.signPayload === false)
				command.middlewareStack.add(unsignedPayload, {
					step: 'build',
					name: 'infraOpsUnsignedPayload',
				});
			const out = await s3.send(command);
			parts.push({ PartNumber: number, ETag: out.ETag });
			free.push(buffer);
		})()
			.catch((error: unknown) => {
				failure ??= error;
			})
			.finally(() => inFlight.delete(task));
		inFlight.add(task);
	};

	/** A free part buffer, waiting for an in-flight part while all `queueSize + 1` are taken. */
	const nextBuffer = async (): Promise<Buffer> => {
		for (;;) {
			if (failure) throw failure;
			const size = nextPartSize();
			const buffer = free.pop();
			if (buffer?.length === size) return buffer;
			// a smaller buffer of an earlier size step is left to the garbage collector
			if (buffer) buffers--;
			if (buffers < queueSize + 1) {
				buffers++;
				return Buffer.allocUnsafeSlow(size);
			}
			await Promise.race(inFlight);
		}
	};

	try {
		for await (const data of body as AsyncIterable<Buffer | string>) {
			const chunk = typeof data === 'string' ? Buffer.from(data) : data;
			let offset = 0;
			while (offset < chunk.length) {
				if (failure) throw failure;
				if (!current || fill === current.length) {
					// a full part goes out only once more data shows it is not the last (a small backup is one PutObject)
					if (current) sendPart(current, fill);
					current = await nextBuffer();
					fill = 0;
				}
				const n = chunk.copy(
					current,
					fill,
					offset,
					Math.min(chunk.length, offset + current.length - fill),
				);
				fill += n;
				offset += n;
			}
		}
		if (partNumber === 0) {
			const data = current ? current.subarray(0, fill) : Buffer.alloc(0);
			await createOnly(s3, bucket, key, (IfNoneMatch) =>
				s3.send(
					new PutObjectCommand({
						Bucket: bucket,
						Key: key,
						Body: data,
						ContentLength: fill,
						ContentType: contentType,
						IfNoneMatch,
					}),
				),
			);
			return {};
		}
		if (current && fill > 0) sendPart(current, fill);
		current = undefined;
		while (inFlight.size) await Promise.race(inFlight);
		if (failure) throw failure;
		parts.sort((a, b) => a.PartNumber - b.PartNumber);
		await createOnly(s3, bucket, key, (IfNoneMatch) =>
			s3.send(
				new CompleteMultipartUploadCommand({
					Bucket: bucket,
					Key: key,
					UploadId: uploadId,
					MultipartUpload: { Parts: parts },
					IfNoneMatch,
				}),
			),
		);
		return { uploadId };
	} catch (error) {
		body.destroy();
		await Promise.allSettled([...inFlight]);
		if (!uploadId && createPromise) uploadId = await createPromise.catch(() => undefined);
		if (uploadId) {
			onUploadId?.(uploadId);
			const result = await abortUpload(s3, bucket, key, uploadId, options.abortRetryMs);
			const note = result.aborted
				? `multipart upload ${uploadId} aborted, no parts left`
				: `multipart upload ${uploadId} could NOT be aborted (${result.error}); set a lifecycle rule that aborts incomplete multipart uploads`;
			throw new UploadError(
				`${errorMessage(error)} (${note})`,
				(error as InfraOpsError).hint,
				uploadId,
				result.aborted,
				{ cause: error },
			);
		}
		throw error;
	}
}
