import type { ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

import { postgresCredentialFields } from '../nodes/shared/postgresCredentialFields';

export class InfraOpsPostgresApi implements ICredentialType {
	name = 'infraOpsPostgresApi';

	displayName = 'PostgreSQL Admin (Infra Ops)';

	icon: Icon = { light: 'file:icons/postgres.svg', dark: 'file:icons/postgres.dark.svg' };

	documentationUrl =
		'https://github.com/infra-ops/n8n-nodes-infra-ops/blob/main/docs/deploy.md#postgresql-admin';

	properties: INodeProperties[] = postgresCredentialFields({
		userDefault: 'postgres',
		userDescription:
			'A superuser (in the stack: postgres): Secret Rotate reads the old verifier from pg_authid, which only a superuser may, so a failed rotation can put it back',
		sslDescription:
			'Secret Rotate logs in as a superuser and reads password verifiers from pg_authid: keep Verify Full. Choose Disable only for a server on a private link (localhost, an internal Docker network): the login and every verifier then cross that link in clear text.',
		sslDisabledNotice:
			'With SSL disabled, the superuser login and the password verifiers Secret Rotate reads cross the network in clear text: use it only on an internal Docker network or localhost',
	});
}
