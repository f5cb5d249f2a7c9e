/** What every operation shares: credentials → clients, the storage target, encryption keys. */
import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import { parseRecipients } from '../../shared/ageKeys';
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
import { openSsh, type SshSession } from '../../shared/ssh';
import type { AgeDecryptKey } from '../age';
import type { EncryptionSetting } from '../pipeline';
import { normalizePrefix } from '../manifest';
import { signingKeyFrom, type SigningKey } from '../signing';
import type { StorageTarget } from '../store';

export const prefixProperty: INodeProperties = {
	displayName: 'Key Prefix',
	name: 'prefix',
	type: 'string',
	default: 'docker-volumes',
	description: 'Folder in the bucket; each volume gets <prefix>/<volume>/',
};

export const stopTimeoutOption: INodeProperties = {
	displayName: 'Stop Timeout (Seconds)',
	name: 'stopTimeoutS',
	type: 'number',
	default: 30,
	typeOptions: { minValue: 1 },
	description:
		'How long Docker waits after SIGTERM before it kills a container it stops; give databases time to flush',
};

export const helperImageOption: INodeProperties = {
	displayName: 'Helper Image',
	name: 'helperImage',
	type: 'string',
	default: '',
	placeholder: 'busybox:latest',
	description:
		'Image of the never-started helper container that mounts the volume. Empty: reuse an image already on the host (nothing is pulled). Replace on restore needs one with /bin/sh.',
};

export const allowUnencryptedOption: INodeProperties = {
	displayName: 'Allow Unencrypted Backups',
	name: 'allowUnencrypted',
	type: 'boolean',
	default: false,
	description:
		'Whether to accept a backup stored without encryption although the Backup Encryption credential has an identity or passphrase. Off: such a backup is refused, as anyone with write access to the bucket can write one.',
};

export const allowUnsignedOption: INodeProperties = {
	displayName: 'Allow Unsigned Backups',
	name: 'allowUnsigned',
	type: 'boolean',
	default: false,
	description:
		'Whether to accept a backup whose manifest is not signed with the signing key of the Backup Encryption credential (e.g. written before signing existed). Off: "latest" is the newest signed backup and an unsigned or forged one given by key is refused, as anyone with write access to the bucket can write one.',
};

/**
 * The manifest signing key of the Backup Encryption credential, when one is attached and holds a signing
 * secret, an identity or a passphrase. `problem`: an identity that is not valid (no key derives from it).
 */
export async function signingKey(
	ctx: IExecuteFunctions,
): Promise<{ key?: SigningKey; problem?: string }> {
	let data;
	try {
		data = await ctx.getCredentials('infraOpsBackupEncryption');
	} catch {
		return {};
	}
	return signingKeyFrom(backupEncryptionFrom(data));
}

export async function openDocker(ctx: IExecuteFunctions): Promise<DockerClient> {
	const data = await ctx.getCredentials('infraOpsDockerApi').catch((error: unknown) => {
		throw new InfraOpsError(
			'This operation needs the Docker Engine credential',
			'Attach a Docker Engine (Infra Ops) credential to the node',
			{ cause: error },
		);
	});
	const client = await createDockerClient(dockerConnectionFrom(data));
	await pingDocker(client).catch((error: unknown) => {
		client.close();
		throw toNodeError(ctx.getNode(), error);
	});
	return client;
}

export async function openSshSession(ctx: IExecuteFunctions): Promise<SshSession> {
	return await openSsh(sshConnectionFrom(await ctx.getCredentials('infraOpsSshApi')));
}

export async function storageTarget(
	ctx: IExecuteFunctions,
	itemIndex: number,
): Promise<StorageTarget & { close(): void }> {
	const conn = s3ConnectionFrom(await ctx.getCredentials('infraOpsS3Api'));
	const s3 = createS3Client(conn);
	return {
		s3,
		bucket: conn.bucket,
		prefix: normalizePrefix(ctx.getNodeParameter('prefix', itemIndex, '') as string),
		close: () => s3.destroy(),
	};
}

export async function encryptionSetting(
	ctx: IExecuteFunctions,
	mode: string,
): Promise<EncryptionSetting> {
	if (mode === 'none') return { kind: 'none' };
	const keys = backupEncryptionFrom(await ctx.getCredentials('infraOpsBackupEncryption'));
	if (mode === 'passphrase') {
		if (!keys.passphrase)
			throw new InfraOpsError(
				'The Backup Encryption credential has no passphrase',
				'Set one, or encrypt to recipients (age1… public keys)',
			);
		return { kind: 'passphrase', passphrase: keys.passphrase };
	}
	const recipients = parseRecipients(keys.recipients);
	if (!recipients.length)
		throw new InfraOpsError(
			'The Backup Encryption credential has no recipients',
			'Paste the age1… public key that `age-keygen` printed',
		);
	return {
		kind: 'recipients',
		publicKeys: recipients.map((r) => r.publicKey),
		fingerprints: recipients.map((r) => r.fingerprint),
	};
}

/** Identity first, passphrase second; undefined when the credential is not attached or empty. */
export async function decryptKey(ctx: IExecuteFunctions): Promise<AgeDecryptKey | undefined> {
	let data;
	try {
		data = await ctx.getCredentials('infraOpsBackupEncryption');
	} catch {
		return undefined;
	}
	const keys = backupEncryptionFrom(data);
	if (keys.identity) return { kind: 'identity', identity: keys.identity };
	if (keys.passphrase) return { kind: 'passphrase', passphrase: keys.passphrase };
	return undefined;
}

export function bytesText(n: number): string {
	const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
	let v = n;
	let u = 0;
	while (v >= 1024 && u < units.length - 1) {
		v /= 1024;
		u++;
	}
	return `${v.toFixed(u ? 1 : 0)} ${units[u]}`;
}
