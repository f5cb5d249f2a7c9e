import type { ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

import { postgresCredentialFields } from '../nodes/shared/postgresCredentialFields';

/**
 * Where the checking nodes keep what they compare the next run with (last status per finding,
 * cursors, samples) when n8n runs on several processes: one PostgreSQL table every worker shares,
 * with row locks so overlapping runs alert once per transition. Without it, workflow static data
 * holds that state, which only a single regular-mode n8n keeps between runs.
 */
export class InfraOpsStateStoreApi implements ICredentialType {
	name = 'infraOpsStateStoreApi';

	displayName = 'Infra Ops State Store';

	icon: Icon = { light: 'file:icons/postgres.svg', dark: 'file:icons/postgres.dark.svg' };

	documentationUrl =
		'https://github.com/infra-ops/n8n-nodes-infra-ops/blob/main/docs/deploy.md#state-store-queue-mode';

	properties: INodeProperties[] = [
		...postgresCredentialFields({
			userDefault: 'n8n',
			userDescription:
				"A role that may create the state table in the database (once) and read and write it: no superuser needed. n8n's own database user works; a dedicated role is cleaner",
			sslDescription:
				"The state rows hold check targets and statuses, no secrets. Keep Verify Full across a network; Disable suits a server on a private link (the queue-mode stack's internal Docker network, localhost)",
			sslDisabledNotice:
				'With SSL disabled, this login and the state rows cross the network in clear text: use it only on an internal Docker network or localhost',
		}),
		{
			displayName: 'Table Name',
			name: 'table',
			type: 'string',
			default: 'infra_ops_state',
			placeholder: 'infra_ops_state',
			description:
				'Created on first use if missing. A plain name (letters, digits, underscores) or schema.name',
		},
	];
}
