/**
 * proxmox-fix-hostname.json in real n8n against the PVE API simulator (schema-conformance against
 * ../shared/reference/proxmox/apidata.js): the review's typo — Traefik's container is named
 * "Traefic" — is fixed by an Update Config carrying the digest of the config just read, and a Get
 * afterwards proves the new name is in effect. A second run finds nothing to rename.
 */
import type { PveSimulator } from '../../harness/pveSimulator';
import { check, preparePve, pveSkipped } from '../pveScenario';
import type { Scenario } from '../scenario';

let sim: PveSimulator | undefined;
const TOKEN_ID = 'automation@pve!n8n';
const SECRET = 'e2e00000-host-4000-8000-000000000002';

const scenario: Scenario = {
	async prepare() {
		const setup = await preparePve({
			tokenId: TOKEN_ID,
			secret: SECRET,
			containers: [
				{
					vmid: 105,
					status: 'running',
					config: {
						hostname: 'Traefic',
						cores: 2,
						memory: 1024,
						rootfs: 'local-lvm:subvol-105-disk-0,size=8G',
						net0: 'name=eth0,bridge=vmbr0,firewall=1,gw=10.0.40.1,hwaddr=BC:24:11:00:01:05,ip=10.0.40.5/24,tag=40,type=veth',
						tags: 'external',
					},
				},
			],
			settings: {
				node: 'pve',
				vmid: 105,
				newHostname: 'traefik',
				rebootIfPending: false,
				slackChannel: '#infra-alerts',
				alertEmail: 'ops@example.com',
				fromEmail: 'n8n@example.com',
			},
		});
		sim = setup.sim;
		return setup.prepared;
	},

	async run(ctx) {
		if (!sim) return pveSkipped('proxmox-fix-hostname');
		const slack = ctx.sinks.slack.messages.length;
		const mails = ctx.sinks.smtp.messages.length;
		const digestBefore = sim.digestOf(105);
		const first = await ctx.runWebhook();
		check(
			first.status === 'success',
			`first run ended ${first.status}`,
			first.data?.resultData.error,
		);
		const puts = sim.requests.filter((r) => r.method === 'PUT');
		check(
			puts.length === 1 &&
				puts[0].path === '/nodes/pve/lxc/105/config' &&
				puts[0].params.includes('digest') &&
				puts[0].params.includes('hostname'),
			'one config update, with the digest',
			puts,
		);
		check(
			sim.containers.get(105)!.config.hostname === 'traefik' && sim.digestOf(105) !== digestBefore,
			'the container is named traefik now',
		);
		const [verdict] = ctx.outputOf(first, 'Check New Name');
		check(
			verdict?.status === 'ok' &&
				verdict.previousHostname === 'Traefic' &&
				verdict.hostname === 'traefik',
			'the Get after the update shows the new name in effect',
			verdict,
		);
		const newSlack = ctx.sinks.slack.messages.slice(slack);
		check(
			newSlack.length === 1 && /renamed from Traefic to traefik/.test(newSlack[0].text),
			'Slack reports the fix',
			newSlack.map((m) => m.text),
		);
		check(ctx.sinks.smtp.messages.length === mails, 'no failure email');

		const second = await ctx.runWebhook();
		check(second.status === 'success', `second run ended ${second.status}`);
		check(
			sim.requests.filter((r) => r.method === 'PUT').length === 1,
			'nothing to rename on the second run',
		);
		check(ctx.sinks.slack.messages.length === slack + 1, 'no message on the second run');
		return 'Traefic → traefik by one digest-checked PUT; Get after shows it in effect; Slack confirms; second run: no update, no message';
	},
};

export default scenario;
