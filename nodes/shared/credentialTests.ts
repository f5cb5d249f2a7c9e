/** n8n credential-test functions for every credential of the pack. A node lists them in
 * `methods.credentialTest` and names one in its credential's `testedBy`. */
import type { ICredentialTestFunctions, ICredentialsDecrypted, INodeCredentialTestResult } from 'n8n-workflow';

import {
	checkBackupEncryptionCredential,
	checkDockerCredential,
	checkN8nApiCredential,
	checkPostgresCredential,
	checkProxmoxCredential,
	checkS3Credential,
	checkSshCredential,
	checkTraefikCredential,
	checkVaultCredential,
} from './credentialChecks';
import { errorMessage, InfraOpsError } from './errors';

type Check = (data: Record<string, unknown>) => Promise<string> | string;

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
	infraOpsBackupEncryptionTest: asCredentialTest(checkBackupEncryptionCredential),
	infraOpsProxmoxApiTest: asCredentialTest(checkProxmoxCredential),
	infraOpsTraefikApiTest: asCredentialTest(checkTraefikCredential),
	infraOpsVaultApiTest: asCredentialTest(checkVaultCredential),
	infraOpsN8nApiTest: asCredentialTest(checkN8nApiCredential),
};
