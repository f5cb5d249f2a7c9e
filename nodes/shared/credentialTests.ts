/** n8n credential-test functions for every credential of the pack. A node lists them in
 * `methods.credentialTest` and names one in its credential's `testedBy`. */
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
};
