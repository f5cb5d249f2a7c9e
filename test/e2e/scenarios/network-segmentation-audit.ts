/**
 * network-segmentation-audit.json in real n8n against the PVE API simulator (schema-conformance
 * against ../shared/reference/proxmox/apidata.js): containers are matched to a tier by tag, else by
 * name (the workflow's tier map), and their VLAN tags compared with the tier's VLAN. Two are outside
 * their tier (email and Slack), one has no tier (Slack), two are fine (no alert).
 */
import type { PveSimulator } from '../../harness/pveSimulator';
import { check, preparePve, pveSkipped } from '../pveScenario';
import type { Scenario } from '../scenario';

let sim: PveSimulator | undefined;
const TOKEN_ID = 'audit@pve!n8n';
const SECRET = 'e2e00000-vlan-4000-8000-000000000003';
const net = (n: number, tag?: number, bridge = 'vmbr0') =>
	`name=eth${n},bridge=${bridge},hwaddr=BC:24:11:00:0${n}:00,ip=dhcp${tag ? `,tag=${tag}` : ''},type=veth`;

const scenario: Scenario = {
	async prepare() {
		const setup = await preparePve({
			tokenId: TOKEN_ID,
			secret: SECRET,
			nodes: ['pve', 'pve2'],
			containers: [
				{
					vmid: 105,
					status: 'running',
					config: { hostname: 'traefik', tags: 'external', net0: net(0, 40) },
				},
				{
					vmid: 110,
					status: 'running',
					config: { hostname: 'n8n', tags: 'application', net0: net(0, 30) },
				},
				{
					vmid: 120,
					node: 'pve2',
					status: 'running',
					config: { hostname: 'postgres', net0: net(0, 30) },
				},
				{
					vmid: 131,
					status: 'running',
					config: { hostname: 'ollama', net0: net(0, 20), net1: net(1, undefined, 'vmbr1') },
				},
				{ vmid: 140, status: 'stopped', config: { hostname: 'whoami', net0: net(0, 20) } },
			],
			settings: {
				auditNode: '',
				slackChannel: '#infra-alerts',
				alertEmail: 'ops@example.com',
				fromEmail: 'n8n@example.com',
			},
		});
		sim = setup.sim;
		return setup.prepared;
	},

	async run(ctx) {
		if (!sim) return pveSkipped('network-segmentation-audit');
		const slack = ctx.sinks.slack.messages.length;
		const mails = ctx.sinks.smtp.messages.length;
		const run = await ctx.runWebhook();
		check(run.status === 'success', `run ended ${run.status}`, run.data?.resultData.error);
		const findings = ctx.outputOf(run, 'List and Compare VLAN Tiers');
		const status = Object.fromEntries(findings.map((f) => [String(f.target), f.status]));
		check(
			JSON.stringify(status) ===
				JSON.stringify({
					'pve/105': 'ok',
					'pve/110': 'critical',
					'pve2/120': 'ok',
					'pve/131': 'critical',
					'pve/140': 'warning',
				}),
			'tier verdicts per container',
			findings.map((f) => [f.target, f.status, f.summary]),
		);
		const newSlack = ctx.sinks.slack.messages.slice(slack).map((m) => m.text);
		const newMails = ctx.sinks.smtp.messages.slice(mails);
		check(newSlack.length === 3, 'three Slack alerts (2 outside tier, 1 without tier)', newSlack);
		check(
			newSlack.some((t) =>
				/n8n[\s\S]*outside its tier application \(VLAN 20\): net0 on VLAN 30/.test(t),
			),
			'n8n on the data VLAN is named',
			newSlack,
		);
		check(
			newSlack.some((t) => /ollama[\s\S]*net1 untagged/.test(t)),
			"ollama's untagged second interface is named",
			newSlack,
		);
		check(
			newMails.length === 2 && newMails.every((m) => /outside its VLAN tier/.test(m.subject)),
			'two emails, for the containers outside their tier',
			newMails.map((m) => m.subject),
		);
		check(!sim.requests.some((r) => r.method !== 'GET'), 'the audit only reads');
		return '5 containers: 2 outside their tier (critical: Slack + email), 1 without tier (Slack), 2 ok; read-only';
	},
};

export default scenario;
