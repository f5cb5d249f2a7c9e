/** S3-compatible storage client: provider presets, checksums only when required, Content-MD5 on DeleteObjects. */
import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { BuildMiddleware, MetadataBearer } from '@smithy/types';

import { describeConnectError, InfraOpsError } from './errors';
import { loadS3 } from './lazy';

export type S3Provider = 'aws' | 'r2' | 'b2' | 'minio' | 'wasabi' | 'other';

export interface S3Connection {
	provider: S3Provider;
	bucket: string;
	accessKeyId: string;
	secretAccessKey: string;
	region?: string;
	/** Overrides the preset's endpoint; required for MinIO and other. */
	endpoint?: string;
	/** Cloudflare account id, for R2's endpoint. */
	accountId?: string;
	forcePathStyle?: boolean;
}

export interface ResolvedS3Endpoint {
	endpoint?: string;
	region: string;
	forcePathStyle: boolean;
}

/** Where each provider lives; an explicit endpoint always wins. */
export function resolveS3Endpoint(conn: S3Connection): ResolvedS3Endpoint {
	const region = conn.region?.trim() || undefined;
	const endpoint = conn.endpoint?.trim().replace(/\/+$/, '') || undefined;
	const need = (value: string | undefined, field: string, example: string) => {
		if (!value)
			throw new InfraOpsError(
				`S3 provider "${conn.provider}" needs the ${field}`,
				`For example ${example}`,
			);
		return value;
	};
	switch (conn.provider) {
		case 'aws':
			return {
				endpoint,
				region: region ?? 'us-east-1',
				forcePathStyle: conn.forcePathStyle ?? false,
			};
		case 'r2':
			// R2 only accepts the region "auto"
			return {
				endpoint:
					endpoint ??
					`https://${need(conn.accountId?.trim(), 'Cloudflare account ID', '0123456789abcdef0123456789abcdef')}.r2.cloudflarestorage.com`,
				region: 'auto',
				forcePathStyle: conn.forcePathStyle ?? false,
			};
		case 'b2': {
			const r = need(region, 'region', 'us-west-004');
			return {
				endpoint: endpoint ?? `https://s3.${r}.backblazeb2.com`,
				region: r,
				forcePathStyle: conn.forcePathStyle ?? false,
			};
		}
		case 'wasabi': {
			const r = region ?? 'us-east-1';
			return {
				endpoint: endpoint ?? `https://s3.${r}.wasabisys.com`,
				region: r,
				forcePathStyle: conn.forcePathStyle ?? false,
			};
		}
		case 'minio':
			return {
				endpoint: need(endpoint, 'endpoint', 'http://minio:9000'),
				region: region ?? 'us-east-1',
				forcePathStyle: true,
			};
		case 'other':
			return {
				endpoint: need(endpoint, 'endpoint', 'https://s3.example.com'),
				region: region ?? 'us-east-1',
				forcePathStyle: conn.forcePathStyle ?? true,
			};
		default:
			throw new InfraOpsError(`Unknown S3 provider "${String(conn.provider)}"`);
	}
}

export function describeS3Target(conn: S3Connection): string {
	try {
		const { endpoint } = resolveS3Endpoint(conn);
		return `s3://${conn.bucket}${endpoint ? ` at ${endpoint}` : ''}`;
	} catch {
		return `s3://${conn.bucket}`;
	}
}

const REQUEST_TIMEOUT_MS = 60_000;
const CONNECT_TIMEOUT_MS = 10_000;

export function createS3Client(conn: S3Connection): S3Client {
	if (!conn.bucket?.trim()) throw new InfraOpsError('No bucket is set in the S3 credential');
	if (!conn.accessKeyId || !conn.secretAccessKey) {
		throw new InfraOpsError('The S3 credential needs an access key ID and a secret access key');
	}
	const { S3Client } = loadS3();
	const { endpoint, region, forcePathStyle } = resolveS3Endpoint(conn);
	const client = new S3Client({
		region,
		endpoint,
		forcePathStyle,
		credentials: { accessKeyId: conn.accessKeyId, secretAccessKey: conn.secretAccessKey },
		// The SDK's 2025 default (WHEN_SUPPORTED) sends CRC32 trailers that B2, R2 and MinIO reject
		requestChecksumCalculation: 'WHEN_REQUIRED',
		responseChecksumValidation: 'WHEN_REQUIRED',
		maxAttempts: 3,
		requestHandler: { requestTimeout: REQUEST_TIMEOUT_MS, connectionTimeout: CONNECT_TIMEOUT_MS },
	});
	const contentMd5: BuildMiddleware<object, MetadataBearer> = (next, context) => async (args) => {
		const request = args.request as { headers?: Record<string, string>; body?: unknown };
		if (
			context.commandName === 'DeleteObjectsCommand' &&
			request.headers &&
			typeof request.body === 'string'
		) {
			// DeleteObjects must carry a checksum; Content-MD5 is the one every S3 implementation accepts
			for (const name of Object.keys(request.headers)) {
				if (/^x-amz-(checksum-|sdk-checksum-algorithm)/i.test(name)) delete request.headers[name];
			}
			request.headers['content-md5'] = createHash('md5').update(request.body).digest('base64');
		}
		return await next(args);
	};
	// low priority in the build step: runs after the SDK's flexibleChecksumsMiddleware (added per command) set its headers
	client.middlewareStack.add(contentMd5, {
		step: 'build',
		priority: 'low',
		name: 'infraOpsContentMd5Middleware',
	});
	return client;
}

/** HeadBucket with a message per failure kind: the credential test. */
export async function checkBucket(conn: S3Connection): Promise<void> {
	const client = createS3Client(conn);
	const { HeadBucketCommand } = loadS3();
	try {
		await client.send(new HeadBucketCommand({ Bucket: conn.bucket }), {
			abortSignal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
		});
	} catch (error) {
		throw explainS3Error(error, conn);
	} finally {
		client.destroy();
	}
}

export function explainS3Error(error: unknown, conn: S3Connection): InfraOpsError {
	const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
	const name = (error as { name?: string }).name;
	const target = describeS3Target(conn);
	if (status === 404 || name === 'NotFound' || name === 'NoSuchBucket') {
		return new InfraOpsError(
			`${target}: the bucket does not exist`,
			'Create it first, or fix the bucket name and region',
		);
	}
	if (status === 403 || name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch') {
		return new InfraOpsError(
			`${target}: access denied (${name ?? status})`,
			'Check the access key pair, and that the key may list and write this bucket',
		);
	}
	if (status === 301 || name === 'PermanentRedirect') {
		return new InfraOpsError(
			`${target}: the bucket is in another region`,
			"Set the bucket's region in the credential",
		);
	}
	if (status)
		return new InfraOpsError(`${target}: HTTP ${status} ${name ?? ''}`.trim(), undefined, {
			cause: error,
		});
	return describeConnectError(target, error);
}
