import type { ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

/** The shared secret of a Git host's push webhook (GitHub, Gitea, GitLab), kept encrypted by n8n
 * instead of in a workflow parameter. */
export class InfraOpsGitWebhookApi implements ICredentialType {
	name = 'infraOpsGitWebhookApi';

	displayName = 'Git Webhook Secret (Infra Ops)';

	icon: Icon = { light: 'file:icons/git.svg', dark: 'file:icons/git.dark.svg' };

	documentationUrl =
		'https://github.com/infra-ops/n8n-nodes-infra-ops/blob/main/workflows/README.md#traefik-gitopsjson';

	properties: INodeProperties[] = [
		{
			displayName: 'Secret',
			name: 'secret',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description:
				"The secret set in the repository's webhook settings (GitHub, Gitea: signs the body with HMAC-SHA256; GitLab: sent as X-Gitlab-Token)",
		},
	];
}
