/** Credentials → clients for the three operations; each opened client is closed by its caller. */
import type { IExecuteFunctions } from 'n8n-workflow';

import {
	backupEncryptionFrom,
	dockerConnectionFrom,
	s3ConnectionFrom,
	sshConnectionFrom,
} from '../../shared/connections';
import { createDockerClient, pingDocker, type DockerClient } from '../../shared/docker';
import { InfraOpsError } from '../../shared/errors';
import { toNodeError } from '../../shared/nodeErrors';
import { createS3Client } from '../../shared/s3';
import { openSsh, type SshConnection, type SshSession } from '../../shared/ssh';
import type { StorageTarget } from '../../DockerVolumeBackup/engine';
import { normalizePrefix } from '../../DockerVolumeBackup/manifest';
import { signingKeyFrom, type SigningKey } from '../../DockerVolumeBackup/signing';

/** The credential's connection, optionally to another `host[:port]` with the same user, key and pinned host keys. */
export async function sshTarget(
	ctx: IExecuteFunctions,
	itemIndex: number,
	address = '',
): Promise<{ conn: SshConnection; open: () => Promise<SshSession> }> {
	const conn = sshConnectionFrom(await ctx.getCredentials('infraOpsSshApi', itemIndex));
	if (address) {
		const m = /^(\[[^\]]+\]|[^:\s]+)(?::(\d{1,5}))?$/.exec(address);
		if (!m)
			throw new InfraOpsError(
				`Connect To "${address}" is not a host or host:port`,
				'Write it as 10.0.20.5, traefik.lan or traefik.lan:2222',
			);
		conn.host = m[1].replace(/^\[|\]$/g, '');
		if (m[2]) conn.port = Number(m[2]);
	}
	return { conn, open: async () => await openSsh(conn) };
}

export async function openDocker(ctx: IExecuteFunctions, itemIndex: number): Promise<DockerClient> {
	const client = await createDockerClient(
		dockerConnectionFrom(await ctx.getCredentials('infraOpsDockerApi', itemIndex)),
	);
	await pingDocker(client).catch((error: unknown) => {
		client.close();
		throw toNodeError(ctx.getNode(), error, itemIndex);
	});
	return client;
}

export async function openStore(
	ctx: IExecuteFunctions,
	itemIndex: number,
	prefix: string,
): Promise<StorageTarget & { close(): void }> {
	const conn = s3ConnectionFrom(await ctx.getCredentials('infraOpsS3Api', itemIndex));
	const s3 = createS3Client(conn);
	return { s3, bucket: conn.bucket, prefix: normalizePrefix(prefix), close: () => s3.destroy() };
}

/** The manifest signing key of an attached Backup Encryption credential; none when not attached. */
export async function optionalSigningKey(
	ctx: IExecuteFunctions,
	itemIndex: number,
): Promise<SigningKey | undefined> {
	let data;
	try {
		data = await ctx.getCredentials('infraOpsBackupEncryption', itemIndex);
	} catch {
		return undefined;
	}
	return signingKeyFrom(backupEncryptionFrom(data)).key;
}
