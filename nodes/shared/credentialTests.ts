/** n8n credential-test functions for every credential of the pack. A node lists them in
 * `methods.credentialTest` and names one in its credential's `testedBy`. */
import { X509Certificate } from 'node:crypto';
import type {
	ICredentialTestFunctions,
	ICredentialsDecrypted,
	INodeCredentialTestResult,
} from 'n8n-workflow';

import {
	checkBackupEncryptionCredential,
	checkDockerCredential,
	checkN8nApiCredential,
	checkPostgresCredential,
	checkProxmoxCredential,
	checkS3Credential,
	checkSshCredential,
	checkStateStoreCredential,
	checkTraefikCredential,
	checkVaultCredential,
} from './credentialChecks';
import { repositoryPath } from '../DockerVolumeBackup/restic';
import { errorMessage, InfraOpsError } from './errors';

type Check = (data: Record<string, unknown>) => Promise<string> | string;

/** A webhook secret cannot be tested against the Git host from here; what can be checked is that it is hard to guess. */
function checkGitWebhookSecret(data: Record<string, unknown>): string {
	const secret = typeof data.secret === 'string' ? data.secret : '';
	if (secret.length < 16)
		throw new InfraOpsError(
			`The webhook secret has ${secret.length} characters`,
			'Use at least 16 random characters, e.g. `openssl rand -hex 32`, in both the Git host and this credential',
		);
	return "The secret is set (length ok); the Git host's next delivery checks that both sides match";
}

/** What can be checked without the S3 credential the repository lives behind (the node's next run opens it). */
function checkResticRepository(data: Record<string, unknown>): string {
	const password = typeof data.password === 'string' ? data.password : '';
	if (!password)
		throw new InfraOpsError(
			'The repository password is empty',
			'Set one and keep a copy outside n8n',
		);
	const path = repositoryPath(typeof data.path === 'string' ? data.path : '');
	const ca = typeof data.caPem === 'string' ? data.caPem.trim() : '';
	let caOk = true;
	try {
		if (ca) new X509Certificate(ca);
	} catch {
		caOk = false;
	}
	if (!caOk) throw new InfraOpsError('The CA certificate is not a PEM certificate');
	return `Repository path ${path} and password set; the Docker Volume Backup node opens the repository (in the bucket of its S3 credential) on its next run, and creates it on the first Backup`;
}

function asCredentialTest(check: Check) {
	return async function (
		this: ICredentialTestFunctions,
		credential: ICredentialsDecrypted,
	): Promise<INodeCredentialTestResult> {
		try {
			return { status: 'OK', message: await check(credential.data ?? {}) };
		} catch (error) {
			const hint = error instanceof InfraOpsError && error.hint ? ` (${error.hint})` : '';
			return { status: 'Error', message: errorMessage(error) + hint };
		}
	};
}

export const credentialTests = {
	infraOpsDockerApiTest: asCredentialTest(checkDockerCredential),
	infraOpsSshApiTest: asCredentialTest(checkSshCredential),
	infraOpsS3ApiTest: asCredentialTest(checkS3Credential),
	infraOpsPostgresApiTest: asCredentialTest(checkPostgresCredential),
	infraOpsStateStoreApiTest: asCredentialTest(checkStateStoreCredential),
	infraOpsBackupEncryptionTest: asCredentialTest(checkBackupEncryptionCredential),
	infraOpsProxmoxApiTest: asCredentialTest(checkProxmoxCredential),
	infraOpsTraefikApiTest: asCredentialTest(checkTraefikCredential),
	infraOpsVaultApiTest: asCredentialTest(checkVaultCredential),
	infraOpsN8nApiTest: asCredentialTest(checkN8nApiCredential),
	infraOpsGitWebhookApiTest: asCredentialTest(checkGitWebhookSecret),
	infraOpsResticRepositoryApiTest: asCredentialTest(checkResticRepository),
};
