/**
 * Schema-conformance tests of the Proxmox LXC node in n8n's engine (WorkflowExecute): Ensure plan and
 * apply, Update Config, Create, bad input, continueOnFail, pairedItem, no secret in the output. The
 * PVE API is the simulator of test/harness/pveSimulator.ts, validating requests and answers against
 * ../shared/reference/proxmox/apidata.js at test time.
 */
import type { IDataObject } from 'n8n-workflow';

import { ProxmoxLxc } from '../../nodes/ProxmoxLxc/ProxmoxLxc.node';
import { startPveSimulator, type PveSimulator } from '../harness/pveSimulator';
import { describeWithReference } from '../support/reference';
import { runWorkflow, type WorkflowJson, startThen } from '../support/workflowRunner';

const describeRef = describeWithReference('proxmox', 'apidata.js');

const TYPE = 'n8n-nodes-infra-ops.proxmoxLxc';
const TOKEN_ID = 'automation@pve!n8n';
const SECRET = '0a1b2c3d-4e5f-6789-abcd-ef0123456789';
const PASSWORD = 'correct-horse-battery';

let sim: PveSimulator;

function workflow(parameters: IDataObject, continueOnFail = false): WorkflowJson {
	return startThen(
		{
			name: 'Proxmox LXC',
			type: TYPE,
			parameters,
			credentials: { infraOpsProxmoxApi: { id: 'pve', name: 'pve' } },
		},
		continueOnFail,
	);
}

async function run(
	parameters: IDataObject,
	opts: {
		continueOnFail?: boolean;
		input?: IDataObject[];
		staticData?: IDataObject;
		credential?: IDataObject;
	} = {},
) {
	const result = await runWorkflow({
		workflow: workflow(parameters, opts.continueOnFail),
		nodeTypes: { [TYPE]: new ProxmoxLxc() },
		credentials: {
			infraOpsProxmoxApi: {
				url: sim.url,
				tokenId: TOKEN_ID,
				tokenSecret: SECRET,
				tls: 'fingerprint',
				fingerprint: sim.fingerprint,
				...opts.credential,
			},
		},
		input: opts.input,
		staticData: opts.staticData,
	});
	const items = result.outputs['Proxmox LXC']?.[0] ?? [];
	expect(JSON.stringify(result.outputs)).not.toContain(SECRET);
	expect(JSON.stringify(result.outputs)).not.toContain(PASSWORD);
	return { ...result, items, json: items.map((i) => i.json) };
}

const DESIRED = `
defaults:
  node: pve
containers:
  - vmid: 101
    hostname: traefik          # the review: "Traefic"
    cores: 2
    memory: 1024
    rootfs: 8G
    features: { nesting: true }
    onboot: true
    tags: [external, traefik]
    net:
      net0: { bridge: vmbr0, ip: 10.0.40.5/24, gw: 10.0.40.1, tag: 40, firewall: true }
  - vmid: 103
    hostname: qdrant
    memory: 2048
    tags: [data]
    net:
      - { bridge: vmbr0, dhcp: true, tag: 30 }
  - vmid: 130
    hostname: searxng
    template: local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst
    storage: local-lvm
    rootfs: local-lvm:4
    password: ${PASSWORD}
    cores: 1
    memory: 512
    state: running
    net:
      net0: { bridge: vmbr0, ip: 10.0.20.30/24, gw: 10.0.20.1, tag: 20 }
`;

describeRef(
	'Proxmox LXC node schema-conformance tests (n8n engine, PVE simulator validating against apidata.js)',
	() => {
		beforeAll(async () => {
			sim = await startPveSimulator({ tokens: { [TOKEN_ID]: SECRET }, taskMs: 40 });
			sim.addContainer({
				vmid: 101,
				status: 'running',
				config: {
					hostname: 'Traefic',
					cores: 2,
					memory: 1024,
					swap: 512,
					rootfs: 'local-lvm:subvol-101-disk-0,size=8G',
					net0: 'name=eth0,bridge=vmbr0,firewall=1,gw=10.0.40.1,hwaddr=BC:24:11:2A:3B:4C,ip=10.0.40.5/24,tag=40,type=veth',
					features: 'nesting=1',
					onboot: 1,
					tags: 'external;traefik',
				},
			});
			sim.addContainer({
				vmid: 103,
				status: 'running',
				config: {
					hostname: 'qdrant',
					memory: 2048,
					rootfs: 'local-lvm:subvol-103-disk-0,size=16G',
					net0: 'name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:03,ip=dhcp,tag=30,type=veth',
					net1: 'name=eth1,bridge=vmbr1,ip=dhcp,type=veth',
					tags: 'data',
				},
			});
		});
		afterAll(async () => {
			await sim?.close();
		});
		afterEach(() => {
			expect(sim.schemaViolations.splice(0)).toEqual([]);
		});

		it("Ensure plan: one finding per container — drift with the changed keys, in sync despite PVE's spelling, missing", async () => {
			const { json, items } = await run({
				resource: 'desiredState',
				operation: 'ensure',
				ensureMode: 'plan',
				desiredState: DESIRED,
			});
			expect(json.map((f) => [f.target, f.status, f.drift])).toEqual([
				['pve/101', 'warning', 'drift'],
				['pve/103', 'warning', 'drift'],
				['pve/130', 'warning', 'missing'],
			]);
			expect(json[0].changes).toEqual([{ key: 'hostname', desired: 'traefik', actual: 'Traefic' }]);
			expect(json[0].summary).toBe('CT 101 (Traefic): drift in hostname');
			// net1 exists in PVE but not in the desired state: reported, never removed without Allow Delete
			expect(json[1].extraKeys).toEqual(['net1']);
			expect(json[1].changes).toEqual([]);
			expect(json[2].summary).toMatch(/missing on pve: Apply would create it/);
			expect(items.every((i) => (i.pairedItem as { item: number }).item === 0)).toBe(true);
			expect(json.every((f) => f.check === 'proxmox-drift' && typeof f.changed === 'boolean')).toBe(
				true,
			);
			expect(sim.requests.some((r) => r.method === 'PUT' || r.method === 'POST')).toBe(false);
		});

		it('Ensure apply: creates the missing one, updates only the drifted key with the digest, removes nothing; then plan is in sync', async () => {
			const before = sim.requests.length;
			const { json } = await run({
				resource: 'desiredState',
				operation: 'ensure',
				ensureMode: 'apply',
				desiredState: DESIRED,
				allowDelete: false,
			});
			expect(json.map((f) => [f.target, f.status])).toEqual([
				['pve/101', 'ok'],
				['pve/103', 'warning'],
				['pve/130', 'ok'],
			]);
			expect(json[0].actions).toEqual(['updated hostname']);
			expect(json[1].skipped).toEqual(['net1 not removed: Allow Delete is off']);
			expect((json[2].actions as string[])[0]).toMatch(/^created on pve \(UPID:pve:/);
			expect(json[2].actions).toContain('started');
			const puts = sim.requests.slice(before).filter((r) => r.method === 'PUT');
			expect(puts).toEqual([
				{
					method: 'PUT',
					path: '/nodes/pve/lxc/101/config',
					params: expect.arrayContaining(['hostname', 'digest']),
					status: 200,
				},
			]);
			expect(puts[0].params).toHaveLength(4);
			expect(sim.containers.get(101)!.config.hostname).toBe('traefik');
			expect(sim.containers.get(103)!.config.net1).toBeDefined();
			expect(sim.containers.get(130)).toMatchObject({
				status: 'running',
				config: expect.objectContaining({
					hostname: 'searxng',
					rootfs: 'local-lvm:subvol-130-disk-0,size=4G',
				}),
			});

			const again = await run({
				resource: 'desiredState',
				operation: 'ensure',
				ensureMode: 'plan',
				desiredState: DESIRED,
			});
			expect(again.json.map((f) => f.status)).toEqual(['ok', 'warning', 'ok']);
			expect(again.json[0].summary).toBe('CT 101 (traefik) is in sync (8 keys)');
		});

		it('Ensure tells a pending change from drift, and reports root@pam-only feature flags as such', async () => {
			const doc = {
				containers: [
					{ vmid: 101, node: 'pve', features: { nesting: true, keyctl: true }, memory: 1024 },
				],
			};
			const plan = await run({
				resource: 'desiredState',
				operation: 'ensure',
				ensureMode: 'plan',
				desiredState: JSON.stringify(doc),
			});
			expect(plan.json[0].rootOnlyKeys).toEqual(['features']);
			expect(plan.json[0].summary).toMatch(
				/features can only be changed by root@pam with its password, not through an API token/,
			);
			const apply = await run({
				resource: 'desiredState',
				operation: 'ensure',
				ensureMode: 'apply',
				desiredState: JSON.stringify(doc),
			});
			expect(apply.json[0].status).toBe('warning');
			expect(apply.json[0].skipped).toEqual([
				'features not changed: PVE lets only root@pam logged in with its password change it, no API token (set it with pct set 101 on the node)',
			]);
			expect(sim.containers.get(101)!.config.features).toBe('nesting=1');

			// a change PVE queues on a running container: applied → pending, not drift
			const swapDoc = {
				containers: [{ vmid: 101, node: 'pve', config: { timezone: 'Europe/Berlin' } }],
			};
			await run({
				resource: 'desiredState',
				operation: 'ensure',
				ensureMode: 'apply',
				desiredState: JSON.stringify(swapDoc),
			});
			const pending = await run({
				resource: 'desiredState',
				operation: 'ensure',
				ensureMode: 'plan',
				desiredState: JSON.stringify(swapDoc),
			});
			expect(pending.json[0]).toMatchObject({
				status: 'warning',
				drift: 'pending',
				pendingKeys: ['timezone'],
				changes: [],
			});
			expect(pending.json[0].summary).toMatch(/timezone pending until the next restart/);
		});

		it('Ensure apply refuses to write over a config changed after it was read (digest), as an error finding', async () => {
			const doc = JSON.stringify({ containers: [{ vmid: 103, node: 'pve', memory: 4096 }] });
			// someone edits the config by hand between Ensure's read and its write
			sim.beforeRequest = (method, apiPath) => {
				if (method === 'PUT' && apiPath === '/nodes/pve/lxc/103/config') {
					sim.editConfig(103, { description: 'edited by hand' });
					sim.beforeRequest = undefined;
				}
			};
			const { json } = await run({
				resource: 'desiredState',
				operation: 'ensure',
				ensureMode: 'apply',
				desiredState: doc,
			});
			expect(json[0].status).toBe('error');
			expect(json[0].summary).toMatch(/changed since it was read \(digest mismatch\)/);
			expect(sim.containers.get(103)!.config.memory).toBe(2048);
		});

		it('Ensure: a container that cannot be read is an error finding of its own; the others are still planned, and apply writes nothing to it', async () => {
			const doc = JSON.stringify({
				containers: [
					{ vmid: 101, node: 'pve', hostname: 'traefik' },
					{ vmid: 103, node: 'pve', memory: 4096 },
				],
			});
			sim.beforeRequest = (method, apiPath) => {
				if (method === 'GET' && apiPath === '/nodes/pve/lxc/103/config')
					throw new Error("can't lock file '/run/lock/lxc/pve-config-103.lock' - got timeout");
			};
			try {
				const plan = await run({
					resource: 'desiredState',
					operation: 'ensure',
					ensureMode: 'plan',
					desiredState: doc,
				});
				expect(plan.json.map((f) => [f.target, f.status])).toEqual([
					['pve/101', 'ok'],
					['pve/103', 'error'],
				]);
				expect(plan.json[1]).toMatchObject({
					drift: 'unknown',
					summary:
						"CT 103 cannot be read: GET /nodes/pve/lxc/103/config: can't lock file '/run/lock/lxc/pve-config-103.lock' - got timeout (HTTP 500)",
				});
				expect(plan.items.map((i) => (i.pairedItem as { item: number }).item)).toEqual([0, 0]);
				const before = sim.requests.length;
				const apply = await run({
					resource: 'desiredState',
					operation: 'ensure',
					ensureMode: 'apply',
					desiredState: doc,
				});
				expect(apply.json.map((f) => [f.target, f.status])).toEqual([
					['pve/101', 'ok'],
					['pve/103', 'error'],
				]);
				expect(apply.json[1].summary).toMatch(
					/^CT 103: failed: cannot be read: GET \/nodes\/pve\/lxc\/103\/config: /,
				);
				expect(sim.requests.slice(before).filter((r) => r.method !== 'GET')).toEqual([]);
			} finally {
				sim.beforeRequest = undefined;
			}
		});

		it('threat: Ensure with Allow Delete never destroys a container that reused the VMID of one the document wants gone (hostname and tags must match)', async () => {
			// the document was written when 150–153 were old-app, old-worker, old-cache and a nameless one; since then
			// 151 and 152 were destroyed by hand and their VMIDs reused by other containers
			sim.addContainer({
				vmid: 150,
				status: 'running',
				config: {
					hostname: 'old-app',
					memory: 512,
					rootfs: 'local-lvm:subvol-150-disk-0,size=4G',
					tags: 'legacy',
				},
			});
			sim.addContainer({
				vmid: 151,
				status: 'running',
				config: {
					hostname: 'billing-db',
					memory: 4096,
					rootfs: 'local-lvm:subvol-151-disk-0,size=32G',
				},
			});
			sim.addContainer({
				vmid: 152,
				status: 'running',
				config: {
					hostname: 'old-cache',
					memory: 512,
					rootfs: 'local-lvm:subvol-152-disk-0,size=4G',
					tags: 'prod',
				},
			});
			sim.addContainer({
				vmid: 153,
				status: 'stopped',
				config: { hostname: 'scratch', memory: 256, rootfs: 'local-lvm:subvol-153-disk-0,size=2G' },
			});
			const doc = {
				containers: [
					{ vmid: 150, node: 'pve', hostname: 'Old-App', tags: ['legacy'], state: 'absent' },
					{ vmid: 151, node: 'pve', hostname: 'old-worker', state: 'absent' },
					{ vmid: 152, node: 'pve', hostname: 'old-cache', tags: ['legacy'], state: 'absent' },
					{ vmid: 153, node: 'pve', state: 'absent' },
				],
			};
			const plan = await run({
				resource: 'desiredState',
				operation: 'ensure',
				ensureMode: 'plan',
				desiredState: JSON.stringify(doc),
				allowDelete: true,
			});
			expect(plan.json.map((f) => [f.target, f.status, f.identityMismatch])).toEqual([
				['pve/150', 'warning', undefined],
				['pve/151', 'error', ['its hostname is "billing-db", not "old-worker"']],
				['pve/152', 'error', ['its tags are "prod", not "legacy"']],
				[
					'pve/153',
					'warning',
					['the document gives no hostname to confirm it is the container meant'],
				],
			]);
			expect(plan.json[1].summary).toBe(
				'CT 151 (billing-db) exists but should be absent; it is not destroyed: its hostname is "billing-db", not "old-worker": the VMID may have been reused by another container (check it, then fix the document)',
			);

			const before = sim.requests.length;
			const apply = await run({
				resource: 'desiredState',
				operation: 'ensure',
				ensureMode: 'apply',
				desiredState: JSON.stringify(doc),
				allowDelete: true,
			});
			expect(apply.json.map((f) => [f.target, f.status])).toEqual([
				['pve/150', 'ok'],
				['pve/151', 'error'],
				['pve/152', 'error'],
				['pve/153', 'warning'],
			]);
			expect(apply.json[0].actions).toEqual(['destroyed']);
			expect(apply.json[1].error).toBe(
				'not destroyed: its hostname is "billing-db", not "old-worker": the VMID may have been reused by another container (check it, then fix the document)',
			);
			expect(apply.json[3].skipped).toEqual([
				'not destroyed: the document gives no hostname to confirm it is the container meant (add its hostname to the document)',
			]);
			const deletes = sim.requests.slice(before).filter((r) => r.method === 'DELETE');
			expect(deletes.map((r) => r.path)).toEqual(['/nodes/pve/lxc/150']);
			expect(sim.containers.has(150)).toBe(false);
			expect([151, 152, 153].map((vmid) => sim.containers.get(vmid)?.config.hostname)).toEqual([
				'billing-db',
				'old-cache',
				'scratch',
			]);
			for (const vmid of [151, 152, 153]) sim.containers.delete(vmid);
		});

		it('bad desired-state input: a NodeOperationError naming the field; with continueOnFail an error item per input', async () => {
			const bad =
				'containers:\n  - vmid: 101\n    node: pve\n    net:\n      net0: { bridge: vmbr0, tag: 5000 }\n';
			const failed = await run({
				resource: 'desiredState',
				operation: 'ensure',
				ensureMode: 'plan',
				desiredState: bad,
			});
			expect(failed.error?.name).toBe('NodeOperationError');
			expect(failed.error?.message).toBe(
				'Desired state: containers[0].net.net0.tag must be a whole number from 1 to 4094, got 5000',
			);
			const typo = await run({
				resource: 'desiredState',
				operation: 'ensure',
				ensureMode: 'plan',
				desiredState: '[{"vmid": 101, "node": "pve", "memroy": 512}]',
			});
			expect(typo.error?.message).toMatch(/\[0\]\.memroy is not a known field/);
			const yaml = await run({
				resource: 'desiredState',
				operation: 'ensure',
				ensureMode: 'plan',
				desiredState: 'containers: [vmid: 1',
			});
			expect(yaml.error?.message).toMatch(/neither valid JSON nor YAML/);
			const cont = await run(
				{
					resource: 'desiredState',
					operation: 'ensure',
					ensureMode: 'plan',
					desiredState: '={{ $json.doc }}',
				},
				{
					continueOnFail: true,
					input: [{ doc: bad }, { doc: '{"vmid": 101, "node": "pve", "hostname": "traefik"}' }],
				},
			);
			expect(cont.json[0]).toEqual({
				error: expect.stringMatching(/net0\.tag/),
				hint: "Fix that field of the desired-state document (see the node's documentation for the format)",
			});
			expect(cont.json[1]).toMatchObject({ target: 'pve/101', status: 'ok' });
			expect(cont.items.map((i) => (i.pairedItem as { item: number }).item)).toEqual([0, 1]);
		});

		it('a credential mistake is a NodeOperationError with the fix, or with continueOnFail an error item per input, in every operation', async () => {
			const credential = { tokenId: 'automation@pve' };
			const message = 'Proxmox API token ID "automation@pve" is not of the form USER@REALM!TOKENID';
			for (const parameters of [
				{
					resource: 'desiredState',
					operation: 'ensure',
					ensureMode: 'plan',
					desiredState: '{"vmid": 101, "node": "pve"}',
				},
				{ resource: 'container', operation: 'auditSegmentation', tierMap: '{}', auditNode: '' },
				{ resource: 'container', operation: 'list', listNode: '' },
			]) {
				const failed = await run(parameters, { credential });
				expect(failed.error).toMatchObject({
					name: 'NodeOperationError',
					message,
					description: 'For example automation@pve!n8n',
				});
				const cont = await run(parameters, {
					credential,
					continueOnFail: true,
					input: [{ n: 1 }, { n: 2 }],
				});
				expect(cont.error).toBeUndefined();
				expect(cont.json).toEqual([
					{ error: message, hint: 'For example automation@pve!n8n' },
					{ error: message, hint: 'For example automation@pve!n8n' },
				]);
				expect(cont.items.map((i) => (i.pairedItem as { item: number }).item)).toEqual([0, 1]);
			}
		});

		it('Update Config renames with a digest and Get shows the new name; a wrong digest is refused', async () => {
			const got = await run({ resource: 'container', operation: 'get', node: 'pve', vmid: 103 });
			const digest = got.json[0].digest as string;
			const updated = await run({
				resource: 'container',
				operation: 'updateConfig',
				node: 'pve',
				vmid: 103,
				setValues: { value: [{ key: 'hostname', value: 'qdrant-1' }] },
				updateOptions: { digest },
			});
			expect(updated.json[0]).toMatchObject({ set: ['hostname'], pending: [], rebooted: false });
			const stale = await run({
				resource: 'container',
				operation: 'updateConfig',
				node: 'pve',
				vmid: 103,
				setValues: { value: [{ key: 'hostname', value: 'qdrant-2' }] },
				updateOptions: { digest },
			});
			expect(stale.error?.message).toMatch(/digest mismatch/);
			const after = await run({ resource: 'container', operation: 'get', node: 'pve', vmid: 103 });
			expect(after.json[0]).toMatchObject({ hostname: 'qdrant-1', status: 'running' });
		});

		it('Create builds net0 from fields and keeps the password out of the output; List filters to LXC', async () => {
			const created = await run({
				resource: 'container',
				operation: 'create',
				node: 'pve',
				vmid: 140,
				ostemplate: 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst',
				hostname: 'langfuse',
				storage: 'local-lvm',
				diskGiB: 10,
				cores: 2,
				memory: 2048,
				swap: 0,
				password: PASSWORD,
				sshPublicKeys: '',
				network: {
					bridge: 'vmbr0',
					ipMode: 'static',
					ip: '10.0.20.40/24',
					gw: '10.0.20.1',
					tag: 20,
					firewall: true,
				},
				createOptions: { features: ['nesting'], tags: 'application, observability', start: true },
			});
			expect(created.json[0]).toMatchObject({ vmid: 140, created: true });
			expect(sim.containers.get(140)!.config).toMatchObject({
				net0: 'name=eth0,bridge=vmbr0,firewall=1,gw=10.0.20.1,ip=10.0.20.40/24,tag=20',
				features: 'nesting=1',
				tags: 'application;observability',
				swap: 0,
			});
			const listed = await run({ resource: 'container', operation: 'list', listNode: '' });
			expect(listed.json.map((c) => c.vmid)).toEqual([101, 103, 130, 140]);
			const wrongToken = await run(
				{ resource: 'container', operation: 'list', listNode: '' },
				{ credential: { tokenSecret: 'not-the-secret-at-all' } },
			);
			expect(wrongToken.error?.message).toMatch(/refused the API token/);
		});

		it('Audit VLAN Segmentation: tier by tag, then name; bad tier map is a clear error', async () => {
			const tierMap = JSON.stringify({
				tiers: { management: 10, application: 20, data: 30, external: 40 },
				containers: { searxng: 'application', langfuse: 'application' },
			});
			const { json } = await run({
				resource: 'container',
				operation: 'auditSegmentation',
				tierMap,
				auditNode: '',
			});
			const verdicts = Object.fromEntries(json.map((f) => [f.target, [f.status, f.tier]]));
			expect(verdicts).toMatchObject({
				'pve/101': ['ok', 'external'],
				'pve/103': ['critical', 'data'],
				'pve/130': ['ok', 'application'],
				'pve/140': ['ok', 'application'],
			});
			expect(json.find((f) => f.target === 'pve/103')!.summary).toBe(
				'CT 103 (qdrant-1) is outside its tier data (VLAN 30): net1 untagged',
			);
			// a container whose config cannot be read is an error finding; the others are still judged
			sim.beforeRequest = (method, apiPath) => {
				if (method === 'GET' && apiPath === '/nodes/pve/lxc/130/config')
					throw new Error("can't lock file '/run/lock/lxc/pve-config-130.lock' - got timeout");
			};
			try {
				const partial = await run({
					resource: 'container',
					operation: 'auditSegmentation',
					tierMap,
					auditNode: '',
				});
				expect(Object.fromEntries(partial.json.map((f) => [f.target, f.status]))).toEqual({
					'pve/101': 'ok',
					'pve/103': 'critical',
					'pve/130': 'error',
					'pve/140': 'ok',
				});
				expect(partial.json.find((f) => f.target === 'pve/130')!.summary).toMatch(
					/^CT 130 \(searxng\): its network config cannot be read: GET \/nodes\/pve\/lxc\/130\/config: can't lock file/,
				);
			} finally {
				sim.beforeRequest = undefined;
			}
			const bad = await run({
				resource: 'container',
				operation: 'auditSegmentation',
				tierMap: '{"tiers": {"data": 30}, "containers": {"x": "dmz"}}',
				auditNode: '',
			});
			expect(bad.error?.message).toMatch(
				/containers.x names tier "dmz", which is not in tiers \(data\)/,
			);
		});

		it('Power, Snapshot, Clone and Delete through the node, item by item with continueOnFail', async () => {
			const stop = await run(
				{
					resource: 'container',
					operation: 'power',
					node: 'pve',
					vmid: '={{ $json.vmid }}',
					powerAction: 'shutdown',
					powerOptions: { shutdownTimeout: 30, forceStop: true },
				},
				{ input: [{ vmid: 140 }] },
			);
			expect(stop.json[0]).toMatchObject({
				vmid: 140,
				action: 'shutdown',
				status: 'stopped',
				unchanged: false,
			});
			const snap = await run({
				resource: 'container',
				operation: 'snapshot',
				node: 'pve',
				vmid: 140,
				snapshotAction: 'create',
				snapname: 'before_upgrade',
				snapDescription: 'e2e',
			});
			expect(snap.json[0]).toMatchObject({
				snapshot: 'before_upgrade',
				action: 'create',
				task: expect.objectContaining({ type: 'vzsnapshot', exitstatus: 'OK' }),
			});
			const list = await run({
				resource: 'container',
				operation: 'snapshot',
				node: 'pve',
				vmid: 140,
				snapshotAction: 'list',
			});
			expect(list.json.map((s) => s.name)).toEqual(['before_upgrade']);
			const badName = await run({
				resource: 'container',
				operation: 'snapshot',
				node: 'pve',
				vmid: 140,
				snapshotAction: 'create',
				snapname: '1st',
			});
			expect(badName.error?.message).toBe('Snapshot name "1st" is not allowed');
			const clone = await run({
				resource: 'container',
				operation: 'clone',
				node: 'pve',
				vmid: 140,
				newid: 141,
				cloneMode: 'full',
				cloneOptions: { hostname: 'langfuse-2', storage: 'local-lvm' },
			});
			expect(clone.json[0]).toMatchObject({
				vmid: 141,
				source: 140,
				task: expect.objectContaining({ type: 'vzclone' }),
			});
			expect(sim.containers.get(141)!.config.hostname).toBe('langfuse-2');
			// one item deletes the stopped clone, the other is refused (running) and becomes an error item
			const del = await run(
				{
					resource: 'container',
					operation: 'delete',
					node: 'pve',
					vmid: '={{ $json.vmid }}',
					force: false,
					purge: true,
				},
				{ continueOnFail: true, input: [{ vmid: 141 }, { vmid: 101 }] },
			);
			expect(del.json[0]).toMatchObject({ vmid: 141, deleted: true });
			expect(del.json[1]).toEqual({
				error: 'CT 101 on pve is running: not deleting it',
				hint: 'Stop it first (Power → Stop), or turn on Force',
			});
			expect(del.items.map((i) => (i.pairedItem as { item: number }).item)).toEqual([0, 1]);
			expect(sim.containers.has(141)).toBe(false);
			expect(sim.containers.has(101)).toBe(true);
			const noLogin = await run({
				resource: 'container',
				operation: 'create',
				node: 'pve',
				vmid: 150,
				ostemplate: 'local:vztmpl/x.tar.zst',
				hostname: 'x',
				storage: 'local-lvm',
				diskGiB: 4,
				cores: 1,
				memory: 512,
				swap: 0,
				password: '',
				sshPublicKeys: '',
			});
			expect(noLogin.error?.name).toBe('NodeOperationError');
			expect(noLogin.error?.message).toBe('Neither a root password nor SSH public keys are set');
			expect(sim.containers.has(150)).toBe(false);
		});

		it('Ensure grows a root disk with resize, refuses to shrink, and powers a container to its desired state', async () => {
			const grow = JSON.stringify({
				containers: [
					{ vmid: 101, node: 'pve', rootfs: '12G', state: 'running' },
					{ vmid: 103, node: 'pve', rootfs: { size: '4G' }, state: 'stopped' },
				],
			});
			const plan = await run({
				resource: 'desiredState',
				operation: 'ensure',
				ensureMode: 'plan',
				desiredState: grow,
			});
			expect(plan.json[0].summary).toBe('CT 101 (traefik): rootfs 8G → 12G');
			expect(plan.json[1].summary).toBe(
				'CT 103 (qdrant-1): running, desired stopped; rootfs is 16G, desired 4G: PVE cannot shrink a volume',
			);
			const apply = await run({
				resource: 'desiredState',
				operation: 'ensure',
				ensureMode: 'apply',
				desiredState: grow,
			});
			expect(apply.json[0]).toMatchObject({ status: 'ok', actions: ['rootfs grown to 12G'] });
			expect(apply.json[1]).toMatchObject({
				status: 'warning',
				actions: ['shut down'],
				skipped: ['rootfs is 16G, desired 4G: PVE cannot shrink a volume'],
			});
			expect(sim.containers.get(101)!.config.rootfs).toBe('local-lvm:subvol-101-disk-0,size=12G');
			expect(sim.containers.get(103)!.status).toBe('stopped');
		});
	},
);
