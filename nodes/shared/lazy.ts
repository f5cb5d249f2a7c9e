/** Heavy SDKs load on first use, not when n8n loads the pack (n8n requires every node file at start). */
import type * as Ssh2 from 'ssh2';
import type DockerodeClass from 'dockerode';
import type * as S3 from '@aws-sdk/client-s3';
import type * as Pg from 'pg';
import type * as Yaml from 'yaml';
import type * as Diff from 'diff';
import type * as Bcrypt from 'bcryptjs';

function once<T>(load: () => T): () => T {
	let cached: T | undefined;
	return () => (cached ??= load());
}

/* eslint-disable @typescript-eslint/no-require-imports */
export const loadSsh2 = once(() => require('ssh2') as typeof Ssh2);
export const loadDockerode = once(() => require('dockerode') as typeof DockerodeClass);
export const loadS3 = once(() => require('@aws-sdk/client-s3') as typeof S3);
export const loadPg = once(() => require('pg') as typeof Pg);
// yaml, diff and bcryptjs add ~75 ms to n8n's start when required eagerly (npm run bench -- pack-load)
export const loadYaml = once(() => require('yaml') as typeof Yaml);
export const loadDiff = once(() => require('diff') as typeof Diff);
export const loadBcrypt = once(() => require('bcryptjs') as typeof Bcrypt);
/* eslint-enable @typescript-eslint/no-require-imports */
