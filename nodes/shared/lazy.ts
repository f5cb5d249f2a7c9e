/** Heavy SDKs load on first use, not when n8n loads the pack (n8n requires every node file at start). */
import type * as Ssh2 from 'ssh2';
import type DockerodeClass from 'dockerode';
import type * as S3 from '@aws-sdk/client-s3';
import type * as Pg from 'pg';

function once<T>(load: () => T): () => T {
	let cached: T | undefined;
	return () => (cached ??= load());
}

/* eslint-disable @typescript-eslint/no-require-imports */
export const loadSsh2 = once(() => require('ssh2') as typeof Ssh2);
export const loadDockerode = once(() => require('dockerode') as typeof DockerodeClass);
export const loadS3 = once(() => require('@aws-sdk/client-s3') as typeof S3);
export const loadPg = once(() => require('pg') as typeof Pg);
/* eslint-enable @typescript-eslint/no-require-imports */
