/**
 * The `restic` variant of the Docker Volume Backup scenarios: a restic repository in the harness's s3rver
 * bucket, reached through an HTTPS front (test/harness/s3TlsFront.ts says why restic needs HTTPS here),
 * the e2e n8n's S3 and Restic Repository credentials pointing at it, and the node's restic parameters set
 * to the harness's test image on the host network (the front listens on loopback).
 */
import { randomBytes } from 'node:crypto';
import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';

import { resticRepository, type ResticSetup } from '../../nodes/DockerVolumeBackup/restic';
import { createDockerClient } from '../../nodes/shared/docker';
import { createS3Client } from '../../nodes/shared/s3';
import type { Services } from '../harness/services';
import { startS3TlsFront } from '../harness/s3TlsFront';
import type { VariantPrepared } from './scenario';

export const RESTIC_TYPE = 'infraOpsResticRepositoryApi';
export const NODE_TYPE = 'n8n-nodes-infra-ops.dockerVolumeBackup';

export interface ResticRepo {
	prepared: VariantPrepared;
	password: string;
	/** The repository as the engine opens it, for listing snapshots or making a backup from the test. */
	withSetup<T>(work: (setup: ResticSetup) => Promise<T>): Promise<T>;
	/** Deletes one pack file of the repository from the bucket (restic check must then fail); returns its key. */
	deletePack(): Promise<string>;
}

export async function resticRepo(
	services: Services,
	repoPath: string,
	settings: VariantPrepared['settings'],
): Promise<ResticRepo> {
	const { s3, docker } = services;
	const front = await startS3TlsFront(s3.endpoint);
	const password = `e2e-restic-${randomBytes(12).toString('hex')}`;
	const s3Cred = {
		provider: 'other',
		endpoint: front.endpoint,
		region: s3.region,
		bucket: s3.bucket,
		accessKeyId: s3.accessKeyId,
		secretAccessKey: s3.secretAccessKey,
		forcePathStyle: true,
	};
	const resticCred = { repositoryType: 's3', path: repoPath, password, caPem: front.caPem };
	const direct = () =>
		createS3Client({
			provider: 'other',
			endpoint: s3.endpoint,
			region: s3.region,
			bucket: s3.bucket,
			accessKeyId: s3.accessKeyId,
			secretAccessKey: s3.secretAccessKey,
			forcePathStyle: true,
		} as never);
	return {
		password,
		prepared: {
			settings: { engine: 'restic', ...settings },
			credentials: { infraOpsS3Api: s3Cred, [RESTIC_TYPE]: resticCred },
			nodeParameters: {
				[NODE_TYPE]: {
					resticImage: docker.resticImage,
					resticNetwork: 'host',
					readerImage: docker.image,
				},
			},
			cleanup: async () => await front.close(),
		},
		async withSetup(work) {
			const client = await createDockerClient({ kind: 'socket', socketPath: docker.socketPath });
			try {
				return await work({
					docker: client.docker,
					repo: resticRepository(s3Cred as never, resticCred),
					image: docker.resticImage,
					networkMode: 'host',
				});
			} finally {
				client.close();
			}
		},
		async deletePack() {
			const client = direct();
			try {
				const listed = await client.send(
					new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${repoPath}/data/` }),
				);
				const key = listed.Contents?.[0]?.Key;
				if (!key) throw new Error(`no pack file under ${repoPath}/data/ in the bucket`);
				await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key }));
				return key;
			} finally {
				client.destroy();
			}
		},
	};
}
