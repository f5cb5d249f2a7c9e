/**
 * proxmox-drift-detection.json in real n8n against the PVE API simulator (schema-conformance: every
 * request and answer checked against ../shared/reference/proxmox/apidata.js). The workflow's own
 * desired-state document is planned against a cluster where Traefik's container is named "Traefic"
 * and postgres is missing: one Slack message and one email each; a second run alerts on nothing;
 * a manual edit afterwards (n8n's memory) alerts once more, naming the key.
 */
import type { PveSimulator } from '../../harness/pveSimulator';
import { check, preparePve, pveSkipped } from '../pveScenario';
import type { Scenario } from '../scenario';

let sim: PveSimulator | undefined;
const TOKEN_ID = 'automation@pve!n8n';
const SECRET = 'e2e00000-drift-4000-8000-000000000001';

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
						swap: 512,
						rootfs: 'local-lvm:subvol-105-disk-0,size=8G',
						features: 'nesting=1',
						onboot: 1,
						tags: 'external',
						net0: 'name=eth0,bridge=vmbr0,firewall=1,gw=10.0.40.1,hwaddr=BC:24:11:00:01:05,ip=10.0.40.5/24,tag=40,type=veth',
					},
				},
				{
					vmid: 110,
					status: 'running',
					config: {
						hostname: 'n8n',
						cores: 4,
						memory: 4096,
						swap: 512,
						rootfs: 'local-lvm:subvol-110-disk-0,size=16G',
						features: 'nesting=1',
						onboot: 1,
						tags: 'application',
						net0: 'name=eth0,bridge=vmbr0,firewall=1,gw=10.0.20.1,hwaddr=BC:24:11:00:01:10,ip=10.0.20.10/24,tag=20,type=veth',
					},
				},
			],
			settings: {
				defaultNode: 'pve',
				slackChannel: '#infra-alerts',
				alertEmail: 'ops@example.com',
				fromEmail: 'n8n@example.com',
			},
		});
		sim = setup.sim;
		return setup.prepared;
	},

	async run(ctx) {
		if (!sim) return pveSkipped('proxmox-drift-detection');
		const mails = ctx.sinks.smtp.messages.length;
		const slack = ctx.sinks.slack.messages.length;
		const first = await ctx.runWebhook();
		check(
			first.status === 'success',
			`first run ended ${first.status}`,
			first.data?.resultData.error,
		);
		const findings = ctx.outputOf(first, 'Plan Desired State');
		const by = Object.fromEntries(findings.map((f) => [String(f.target), f]));
		check(
			findings.length === 3,
			'one finding per desired container',
			findings.map((f) => f.summary),
		);
		check(
			by['pve/105']?.status === 'warning' &&
				by['pve/105'].summary === 'CT 105 (Traefic): drift in hostname',
			'Traefic drifts in hostname only',
			by['pve/105'],
		);
		check(
			by['pve/110']?.status === 'ok',
			"n8n is in sync (PVE's spelling of net0 and features is not drift)",
			by['pve/110'],
		);
		check(
			by['pve/120']?.status === 'warning' && by['pve/120'].drift === 'missing',
			'postgres is missing',
			by['pve/120'],
		);
		check(!JSON.stringify(first).includes(SECRET), 'the token secret is in no output');
		const newMails = ctx.sinks.smtp.messages.slice(mails);
		const newSlack = ctx.sinks.slack.messages.slice(slack);
		check(newMails.length === 2 && newSlack.length === 2, 'two alerts each to Slack and email', {
			mails: newMails.map((m) => m.subject),
			slack: newSlack.map((m) => m.text),
		});
		check(
			newMails.some(
				(m) => m.subject.includes('pve/105') && /hostname: Traefic -> traefik/.test(m.text),
			),
			'the email names the drifted key',
			newMails.map((m) => m.text),
		);
		check(
			newSlack.some((m) => m.text.includes('pve/120') && /missing/.test(m.text)),
			'Slack names the missing container',
			newSlack.map((m) => m.text),
		);
		check(
			!sim.requests.some((r) => r.method !== 'GET'),
			'plan changed nothing',
			sim.requests.filter((r) => r.method !== 'GET'),
		);

		const second = await ctx.runWebhook();
		check(second.status === 'success', `second run ended ${second.status}`);
		check(
			ctx.sinks.smtp.messages.length === mails + 2 && ctx.sinks.slack.messages.length === slack + 2,
			'no new alert while nothing changed',
		);

		sim.editConfig(110, { memory: 2048 });
		const third = await ctx.runWebhook();
		check(third.status === 'success', `third run ended ${third.status}`);
		const latest = ctx.sinks.slack.messages.slice(slack + 2);
		check(
			latest.length === 1 &&
				latest[0].text.includes('pve/110') &&
				latest[0].text.includes('drift in memory'),
			'a manual edit is alerted once, naming memory',
			latest.map((m) => m.text),
		);

		// a container whose config cannot be read is an error finding of its own, alerted as such
		const mailsBefore = ctx.sinks.smtp.messages.length;
		sim.beforeRequest = (method, apiPath) => {
			if (method === 'GET' && apiPath === '/nodes/pve/lxc/110/config')
				throw new Error("can't lock file '/run/lock/lxc/pve-config-110.lock' - got timeout");
		};
		let fourth;
		try {
			fourth = await ctx.runWebhook();
		} finally {
			sim.beforeRequest = undefined;
		}
		check(
			fourth.status === 'success',
			`fourth run ended ${fourth.status}`,
			fourth.data?.resultData.error,
		);
		const unread = ctx.outputOf(fourth, 'Plan Desired State').map((f) => [f.target, f.status]);
		check(
			JSON.stringify(unread) ===
				JSON.stringify([
					['pve/105', 'warning'],
					['pve/110', 'error'],
					['pve/120', 'warning'],
				]),
			'the unreadable container is an error finding, the others are still planned',
			unread,
		);
		const errorMails = ctx.sinks.smtp.messages.slice(mailsBefore);
		check(
			errorMails.length === 1 &&
				/error: Proxmox pve\/110 cannot be read/.test(errorMails[0].subject) &&
				/can't lock file/.test(errorMails[0].text),
			'the error is emailed as such',
			errorMails.map((m) => [m.subject, m.text]),
		);
		return '3 findings (hostname drift, in sync, missing) → 2 Slack + 2 email; rerun: no alert; manual memory edit → 1 alert; unreadable container → error finding, emailed; plan sent no write; no secret in output';
	},
};

export default scenario;
