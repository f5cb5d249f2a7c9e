/**
 * Schema-conformance tests of the Proxmox LXC client and operations. Proxmox VE cannot run here, so
 * they run against test/harness/pveSimulator.ts: HTTPS with a self-signed certificate, every request
 * and every answer checked against the published PVE API schema (../shared/reference/proxmox/apidata.js,
 * read at test time). A request the schema rejects fails as PVE would fail it.
 */
import * as fs from 'node:fs';

import { proxmoxConnectionFrom } from '../../nodes/shared/connections';
import {
	cloneContainer,
	createContainer,
	createSnapshot,
	deleteContainer,
	deleteSnapshot,
	getContainer,
	listContainers,
	listSnapshots,
	power,
	rollbackSnapshot,
	updateConfig,
} from '../../nodes/ProxmoxLxc/lxc';
import { auditSegmentation, parseTierMap } from '../../nodes/ProxmoxLxc/segmentation';
import { PveApiError, PveClient, PveTaskError } from '../../nodes/ProxmoxLxc/transport/pveClient';
import { checkValue, PVE_APIDATA, PveSchema } from '../harness/pveSchema';
import { startPveSimulator, type PveSimulator } from '../harness/pveSimulator';
import { describeWithReference } from '../support/reference';

const haveReference = fs.existsSync(PVE_APIDATA);
const describeRef = describeWithReference('proxmox', 'apidata.js');

const TOKEN_ID = 'automation@pve!n8n';
const SECRET = '6f1c1a52-8d36-4b0e-9e0c-1a2b3c4d5e6f';
const ROOT_TOKEN = 'root@pam!ops';
const ROOT_SECRET = 'c0ffee00-1111-2222-3333-444455556666';

let sim: PveSimulator;

function clientFor(
	overrides: Record<string, unknown> = {},
	tokenId = TOKEN_ID,
	secret = SECRET,
): PveClient {
	return new PveClient(
		proxmoxConnectionFrom({
			url: sim.url,
			tokenId,
			tokenSecret: secret,
			tls: 'fingerprint',
			fingerprint: sim.fingerprint,
			...overrides,
		}),
		{ pollMs: 20, timeoutMs: 5000 },
	);
}

describeRef(
	'Proxmox LXC schema-conformance tests (PVE API simulator validating against apidata.js)',
	() => {
		beforeAll(async () => {
			sim = await startPveSimulator({
				nodes: ['pve', 'pve2'],
				tokens: { [TOKEN_ID]: SECRET, [ROOT_TOKEN]: ROOT_SECRET },
				taskMs: 60,
			});
			sim.addContainer({
				vmid: 101,
				status: 'running',
				config: {
					hostname: 'Traefic',
					cores: 2,
					memory: 1024,
					swap: 512,
					rootfs: 'local-lvm:subvol-101-disk-0,size=8G',
					net0: 'name=eth0,bridge=vmbr0,hwaddr=BC:24:11:2A:3B:4C,ip=10.0.40.5/24,gw=10.0.40.1,tag=40,type=veth',
					features: 'nesting=1',
					onboot: 1,
					tags: 'external;traefik',
				},
			});
			sim.addContainer({
				vmid: 102,
				node: 'pve2',
				status: 'stopped',
				config: {
					hostname: 'postgres',
					cores: 4,
					memory: 4096,
					rootfs: 'local-lvm:subvol-102-disk-0,size=32G',
					net0: 'name=eth0,bridge=vmbr0,ip=dhcp,tag=30,type=veth',
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

		it("lists the cluster's containers from cluster resources, without the QEMU VM, and one node's", async () => {
			const client = clientFor();
			const all = await listContainers(client);
			expect(all.map((c) => [c.vmid, c.node, c.name, c.status])).toEqual([
				[101, 'pve', 'Traefic', 'running'],
				[102, 'pve2', 'postgres', 'stopped'],
			]);
			expect(all[0].tags).toEqual(['external', 'traefik']);
			const onPve2 = await listContainers(client, { node: 'pve2' });
			expect(onPve2.map((c) => c.vmid)).toEqual([102]);
			expect(
				sim.requests.some((r) => r.path === '/cluster/resources' && r.params.includes('type')),
			).toBe(true);
		});

		it('gets config, status and digest; a change PVE queues on a running container shows as pending, a hotplugged one as applied', async () => {
			const client = clientFor();
			const update = await updateConfig(client, 'pve', 101, {
				set: { timezone: 'Europe/Berlin', memory: 2048 },
			});
			expect(update.pending).toEqual(['timezone']);
			const details = await getContainer(client, 'pve', 101);
			expect(details.status).toBe('running');
			expect(details.config.timezone).toBeUndefined();
			expect(details.config.memory).toBe(2048);
			expect(details.pending).toEqual([{ key: 'timezone', pending: 'Europe/Berlin' }]);
			expect(details.digest).toMatch(/^[0-9a-f]{40}$/);
		});

		it('refuses an update when the config changed since it was read (digest), and names the cause', async () => {
			const client = clientFor();
			const before = await getContainer(client, 'pve2', 102);
			sim.editConfig(102, { memory: 8192 });
			const error = await updateConfig(client, 'pve2', 102, {
				set: { memory: 2048 },
				digest: before.digest,
			}).catch((e: unknown) => e);
			expect(error).toBeInstanceOf(PveApiError);
			expect((error as Error).message).toMatch(/changed since it was read \(digest mismatch\)/);
			expect(sim.containers.get(102)!.config.memory).toBe(8192);
		});

		it('updates and deletes keys with the digest it read; a stopped container applies at once', async () => {
			const client = clientFor();
			const result = await updateConfig(client, 'pve2', 102, {
				set: { memory: 2048, description: 'db tier' },
				delete: ['tags'],
			});
			expect(result.pending).toEqual([]);
			expect(result.digestAfter).not.toBe(result.digestBefore);
			const put = sim.requests.filter((r) => r.method === 'PUT').at(-1)!;
			expect(put.params.sort()).toEqual([
				'delete',
				'description',
				'digest',
				'memory',
				'node',
				'vmid',
			]);
			expect(sim.containers.get(102)!.config).toMatchObject({
				memory: 2048,
				description: 'db tier',
			});
			expect(sim.containers.get(102)!.config.tags).toBeUndefined();
		});

		it("rejects what the schema rejects, with PVE's per-parameter errors", async () => {
			const client = clientFor();
			const badNet = await updateConfig(client, 'pve2', 102, {
				set: { net0: 'name=eth0,bridge=vmbr0,tag=5000' },
			}).catch((e: unknown) => e);
			expect(badNet).toBeInstanceOf(PveApiError);
			expect((badNet as PveApiError).status).toBe(400);
			expect((badNet as Error).message).toMatch(/net0: .*tag.*4094/);
			const unknownKey = await client
				.request('PUT', '/nodes/pve2/lxc/102/config', { colour: 'blue' })
				.catch((e: unknown) => e);
			expect((unknownKey as Error).message).toMatch(/colour: property is not defined in schema/);
			const badHostname = await updateConfig(client, 'pve2', 102, {
				set: { hostname: 'not_a_dns_name!' },
			}).catch((e: unknown) => e);
			expect((badHostname as Error).message).toMatch(
				/hostname: value 'not_a_dns_name!' does not match format 'dns-name'/,
			);
			const missingTemplate = await client
				.request('POST', '/nodes/pve/lxc', { vmid: 150 })
				.catch((e: unknown) => e);
			expect((missingTemplate as Error).message).toMatch(/ostemplate: property is missing/);
		});

		it('starts a container and waits for the task (also one not readable yet: early HTTP 400) and the running state; a failing start reports exit status and log tail', async () => {
			const client = clientFor();
			sim.failNextTask.set('vzstart', "startup for container '102' failed");
			const failed = await power(client, 'pve2', 102, 'start').catch((e: unknown) => e);
			expect(failed).toBeInstanceOf(PveTaskError);
			expect((failed as Error).message).toMatch(
				/vzstart 102 on pve2 failed: startup for container '102' failed/,
			);
			expect((failed as PveTaskError).logTail.join('\n')).toMatch(/lxc.hook.pre-start/);
			const started = await power(client, 'pve2', 102, 'start');
			expect(started).toMatchObject({ status: 'running', unchanged: false });
			expect(started.task?.upid).toMatch(
				/^UPID:pve2:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:vzstart:102:automation@pve!n8n:$/,
			);
			expect(await power(client, 'pve2', 102, 'start')).toMatchObject({ unchanged: true });
			// a task whose status is not readable yet (HTTP 400 at first) is waited for, not failed
			sim.taskStatusDelayMs = 200;
			const before = sim.requests.length;
			try {
				expect(await power(client, 'pve2', 102, 'reboot')).toMatchObject({ status: 'running' });
			} finally {
				sim.taskStatusDelayMs = 0;
			}
			expect(
				sim.requests
					.slice(before)
					.filter((r) => r.path.endsWith('/status') && r.path.includes('/tasks/'))
					.map((r) => r.status),
			).toEqual(expect.arrayContaining([400, 200]));
			expect(await power(client, 'pve2', 102, 'shutdown', { shutdownTimeoutS: 30 })).toMatchObject({
				status: 'stopped',
			});
		});

		it('answers 401 for a wrong secret, and the secret is in no message', async () => {
			const wrong = 'ffffffff-0000-0000-0000-000000000000';
			const error = await listContainers(clientFor({}, TOKEN_ID, wrong)).catch((e: unknown) => e);
			expect((error as PveApiError).status).toBe(401);
			expect((error as Error).message).toMatch(/refused the API token/);
			expect(
				JSON.stringify({ m: (error as Error).message, h: (error as PveApiError).hint }),
			).not.toContain(wrong);
		});

		it('refuses to talk to a server whose certificate does not match the pin, before sending the token; trusts a CA, or any certificate when told to', async () => {
			const before = sim.requests.length;
			const pinned = clientFor({ fingerprint: 'AA'.repeat(32) });
			const error = await listContainers(pinned).catch((e: unknown) => e);
			expect((error as Error).message).toMatch(/not the pinned .*refusing to send the request/);
			expect(sim.requests.length).toBe(before);
			const ca = clientFor({
				tls: 'ca',
				ca: sim.certs.ca.certPem,
				url: sim.url.replace('127.0.0.1', 'localhost'),
			});
			expect((await listContainers(ca)).length).toBeGreaterThan(0);
			expect((await listContainers(clientFor({ tls: 'insecure' }))).length).toBeGreaterThan(0);
			const system = await listContainers(clientFor({ tls: 'system' })).catch((e: unknown) => e);
			expect((system as Error).message).toMatch(/Cannot reach 127\.0\.0\.1:\d+/);
		});

		it('creates a container with netN from fields, retrying a busy storage lock, then clones, snapshots and deletes', async () => {
			const client = clientFor();
			sim.busyCreates = 1;
			const before = sim.requests.length;
			const created = await createContainer(client, {
				node: 'pve',
				vmid: 120,
				ostemplate: 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst',
				storage: 'local-lvm',
				password: 'hunter2-secret',
				sshPublicKeys:
					'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB3Rk4m5DDHfrmKccS3a8CDYGfiq1n2EXAMPLEKEYXXX ops@example',
				config: {
					hostname: 'openwebui',
					cores: 2,
					memory: 2048,
					swap: 512,
					rootfs: 'local-lvm:8',
					net0: 'name=eth0,bridge=vmbr0,firewall=1,gw=10.0.20.1,ip=10.0.20.10/24,tag=20',
					features: 'nesting=1',
					onboot: true,
					tags: 'application',
					unprivileged: true,
				},
			});
			expect(created.type).toBe('vzcreate');
			expect(
				sim.requests
					.slice(before)
					.filter((r) => r.method === 'POST' && r.path === '/nodes/pve/lxc')
					.map((r) => r.status),
			).toEqual([400, 200]);
			const details = await getContainer(client, 'pve', 120);
			expect(details.config.rootfs).toBe('local-lvm:subvol-120-disk-0,size=8G');
			expect(JSON.stringify(details)).not.toContain('hunter2-secret');

			await updateConfig(client, 'pve', 120, { set: { template: 1 } });
			const linked = await cloneContainer(client, {
				node: 'pve',
				vmid: 120,
				newid: 121,
				full: false,
				hostname: 'openwebui-2',
				target: 'pve2',
			});
			expect(linked.type).toBe('vzclone');
			expect(sim.containers.get(121)).toMatchObject({ node: 'pve2' });

			await createSnapshot(client, 'pve2', 121, 'before_upgrade', 'before apt upgrade');
			await updateConfig(client, 'pve2', 121, { set: { memory: 4096 } });
			expect((await listSnapshots(client, 'pve2', 121)).map((s) => s.name)).toEqual([
				'before_upgrade',
			]);
			await rollbackSnapshot(client, 'pve2', 121, 'before_upgrade');
			expect(sim.containers.get(121)!.config.memory).toBe(2048);
			await deleteSnapshot(client, 'pve2', 121, 'before_upgrade');
			expect(await listSnapshots(client, 'pve2', 121)).toEqual([]);

			await power(client, 'pve2', 121, 'start');
			const refused = await deleteContainer(client, 'pve2', 121).catch((e: unknown) => e);
			expect((refused as Error).message).toMatch(/is running: not deleting it/);
			await deleteContainer(client, 'pve2', 121, { force: true, purge: true });
			expect(sim.containers.has(121)).toBe(false);
		});

		it("reports that only root@pam may set feature flags such as keyctl (not even root@pam's token), not a bare 403; nesting is allowed", async () => {
			for (const [tokenId, secret] of [
				[TOKEN_ID, SECRET],
				[ROOT_TOKEN, ROOT_SECRET],
			]) {
				const error = await updateConfig(clientFor({}, tokenId, secret), 'pve', 101, {
					set: { features: 'nesting=1,keyctl=1' },
				}).catch((e: unknown) => e);
				expect((error as PveApiError).status).toBe(403);
				expect((error as Error).message).toMatch(
					/only root@pam may do this \(Permission check failed \(changing feature flags \(except nesting\) is only allowed for root@pam\)\); no API token can/,
				);
				expect((error as PveApiError).hint).toMatch(/keyctl/);
			}
			const bind = await updateConfig(clientFor(), 'pve', 101, {
				set: { mp0: '/srv/data,mp=/data' },
			}).catch((e: unknown) => e);
			expect((bind as Error).message).toMatch(/mount point type bind is only allowed for root@pam/);
			await updateConfig(clientFor(), 'pve2', 102, { set: { features: 'nesting=1' } });
			expect(sim.containers.get(102)!.config.features).toBe('nesting=1');
		});

		it("the simulator's own answers are checked too: the schema catches a wrong type, a missing key, an unknown key", () => {
			const schema = PveSchema.load();
			const status = schema.resolve('/nodes/pve/lxc/101/status/current', 'GET');
			expect(status.template).toBe('/nodes/{node}/lxc/{vmid}/status/current');
			expect(status.pathParams).toEqual({ node: 'pve', vmid: '101' });
			const returns = status.method!.returns!;
			expect(checkValue({ vmid: 101, status: 'running', ha: {} }, returns, 'r', 'return')).toEqual(
				[],
			);
			expect(checkValue({ vmid: '101', status: 'paused', ha: {} }, returns, 'r', 'return')).toEqual(
				[
					'r.vmid: must be a JSON number, got "101"',
					"r.status: value 'paused' does not have a value in the enumeration 'stopped, running'",
				],
			);
			expect(checkValue({ vmid: 101, status: 'running' }, returns, 'r', 'return')).toEqual([
				'r.ha: property is missing and it is not optional',
			]);
			expect(
				checkValue({ vmid: 101, status: 'running', ha: {}, colour: 'x' }, returns, 'r', 'return'),
			).toEqual([expect.stringMatching(/r.colour: property is not defined/)]);
			const config = schema.resolve('/nodes/pve/lxc/101/config', 'GET').method!.returns!;
			expect(
				checkValue({ digest: 'x', net0: 'name=eth0,bridge=vmbr0,tag=40' }, config, 'c', 'return'),
			).toEqual([]);
			expect(checkValue({ digest: 'x', net0: 'bridge=vmbr0' }, config, 'c', 'return')).toEqual([
				'c.net0: invalid format - property name is missing',
			]);
			// a format the validator has no check for fails loudly instead of passing unchecked
			expect(checkValue('x', { type: 'string', format: 'no-such-format' }, 'p', 'param')).toEqual([
				expect.stringMatching(
					/^p: format 'no-such-format' is not known to the simulator's validator/,
				),
			]);
			const create = schema.resolve('/nodes/pve/lxc', 'POST').method!.parameters!;
			expect(
				checkValue('/dev/../etc/shadow', create.properties!['dev[n]'], 'dev0', 'param'),
			).toEqual([
				expect.stringMatching(
					/dev0.path: value '\/dev\/..\/etc\/shadow' does not match format 'pve-lxc-dev-string'/,
				),
			]);
		});

		it("keeps the token secret and a create's root password out of every message, also where PVE quotes a value back", async () => {
			const client = clientFor();
			// PVE quotes the value a format check refuses in its per-parameter errors
			const quoted = await updateConfig(client, 'pve2', 102, { set: { tags: `${SECRET}!` } }).catch(
				(e: unknown) => e,
			);
			expect((quoted as PveApiError).status).toBe(400);
			expect((quoted as Error).message).toMatch(
				/tags: value '\*\*\*!' does not match format 'pve-tag-list'/,
			);
			expect(JSON.stringify((quoted as PveApiError).errors)).not.toContain(SECRET);

			const password = 'Echoed-Root-Pa55';
			const spec = {
				node: 'pve',
				ostemplate: 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst',
				password,
				config: { hostname: 'echo' },
			};
			// a server error that echoes the request's root password
			sim.beforeRequest = (method, apiPath) => {
				if (method !== 'POST' || apiPath !== '/nodes/pve/lxc') return;
				sim.beforeRequest = undefined;
				throw new Error(`unable to set password '${password}'`);
			};
			const echoed = await createContainer(client, { ...spec, vmid: 170 }).catch((e: unknown) => e);
			expect((echoed as Error).message).toBe(
				"POST /nodes/pve/lxc: unable to set password '***' (HTTP 500)",
			);
			expect(sim.requests.filter((r) => r.path === '/nodes/pve/lxc').at(-1)!.params).toEqual(
				expect.arrayContaining(['password']),
			);
			// a create task that fails with the password in its exit status and log
			sim.failNextTask.set('vzcreate', `chpasswd: unable to set password '${password}'`);
			const failed = await createContainer(client, { ...spec, vmid: 171 }).catch((e: unknown) => e);
			expect(failed).toBeInstanceOf(PveTaskError);
			expect((failed as Error).message).toMatch(
				/^Proxmox task vzcreate 171 on pve failed: chpasswd: unable to set password '\*\*\*'/,
			);
			expect((failed as PveTaskError).logTail).toContain(
				"TASK ERROR: chpasswd: unable to set password '***'",
			);
			expect(
				JSON.stringify({
					m: (failed as Error).message,
					t: (failed as PveTaskError).logTail,
					task: (failed as PveTaskError).task,
				}),
			).not.toContain(password);
			sim.containers.delete(171);
		});

		it('gives up waiting for a task after the task timeout, naming the task', async () => {
			const impatient = new PveClient(
				proxmoxConnectionFrom({
					url: sim.url,
					tokenId: TOKEN_ID,
					tokenSecret: SECRET,
					tls: 'fingerprint',
					fingerprint: sim.fingerprint,
				}),
				{ pollMs: 10, taskTimeoutMs: 20 },
			);
			const error = await createSnapshot(impatient, 'pve', 101, 'timeout_probe').catch(
				(e: unknown) => e,
			);
			expect((error as Error).message).toMatch(
				/^Proxmox task vzsnapshot 101 on pve still running after 20 ms$/,
			);
			expect((error as { hint?: string }).hint).toMatch(/UPID:pve:/);
		});
	},
);

describeRef(
	'Proxmox LXC: /cluster/resources row variants (each row checked against apidata.js here)',
	() => {
		const schema = haveReference ? PveSchema.load() : undefined;
		const resourcesReturns = () => schema!.resolve('/cluster/resources', 'GET').method!.returns!;
		const tierMap = parseTierMap({ tiers: { data: 30, external: 40 }, containers: {} });
		/** Serves the simulator's /cluster/resources rows changed by `change`; returns the rows it served. */
		const rewriteRows = (change: (row: Record<string, unknown>) => Record<string, unknown>) => {
			const served: Record<string, unknown>[] = [];
			sim.rewriteAnswer = (method, template, data) => {
				if (method !== 'GET' || template !== '/cluster/resources') return data;
				const rows = (data as Record<string, unknown>[]).map((r) =>
					r.type === 'lxc' ? change({ ...r }) : r,
				);
				served.push(...rows);
				return rows;
			};
			return served;
		};
		const configReads = () =>
			sim.requests.filter((r) => /\/lxc\/[^/]+\/config$/.test(r.path)).map((r) => r.path);

		beforeAll(async () => {
			sim = await startPveSimulator({
				nodes: ['pve', 'pve2'],
				tokens: { [TOKEN_ID]: SECRET },
				taskMs: 60,
			});
			sim.addContainer({
				vmid: 101,
				status: 'running',
				config: {
					hostname: 'traefik',
					net0: 'name=eth0,bridge=vmbr0,ip=dhcp,tag=40,type=veth',
					tags: 'external',
				},
			});
			sim.addContainer({
				vmid: 102,
				node: 'pve2',
				status: 'stopped',
				config: {
					hostname: 'postgres',
					net0: 'name=eth0,bridge=vmbr0,ip=dhcp,tag=30,type=veth',
					tags: 'data',
				},
			});
		});
		afterAll(async () => {
			await sim?.close();
		});
		beforeEach(() => {
			sim.requests.splice(0);
		});
		afterEach(() => {
			sim.rewriteAnswer = undefined;
			expect(sim.schemaViolations.splice(0)).toEqual([]);
		});

		it('schema: vmid is optional in /cluster/resources rows (id "lxc/101" carries it) — a row without vmid is listed with the VMID from id, and Audit reads /nodes/pve/lxc/101/config', async () => {
			const served = rewriteRows((row) => {
				delete row.vmid;
				return row;
			});
			const listed = await listContainers(clientFor());
			expect(
				served
					.filter((r) => r.type === 'lxc')
					.map((r) => checkValue([r], resourcesReturns(), 'row', 'return')),
			).toEqual([[], []]);
			expect(served.some((r) => r.type === 'lxc' && 'vmid' in r)).toBe(false);
			expect(listed.map((c) => [c.vmid, c.node, c.name])).toEqual([
				[101, 'pve', 'traefik'],
				[102, 'pve2', 'postgres'],
			]);
			const findings = await auditSegmentation(clientFor(), tierMap);
			expect(findings.map((f) => [f.target, f.status])).toEqual([
				['pve/101', 'ok'],
				['pve2/102', 'ok'],
			]);
			expect(configReads()).toEqual(['/nodes/pve/lxc/101/config', '/nodes/pve2/lxc/102/config']);
		});

		it('off-schema variant (apidata.js types vmid as integer; PVE\'s Perl JSON encoder emits a value it holds as text as a string): vmid "101" is read as 101', async () => {
			const served = rewriteRows((row) => ({ ...row, vmid: String(row.vmid) }));
			const listed = await listContainers(clientFor());
			expect(
				checkValue([served.find((r) => r.id === 'lxc/101')], resourcesReturns(), 'row', 'return'),
			).toEqual(['row[0].vmid: must be a JSON number, got "101"']);
			expect(listed.map((c) => c.vmid)).toEqual([101, 102]);
			expect(typeof listed[0].vmid).toBe('number');
		});

		it('a row whose vmid is neither given nor in its id ("lxc/abc", vmid "x", vmid 0) is refused with a clear error (List), an error finding for that row (Audit), and no /lxc/NaN/ request is made', async () => {
			for (const broken of [
				{ id: 'lxc/abc' },
				{ vmid: 'x' },
				{ vmid: 0, id: 'lxc/0' },
				{ vmid: 101.5 },
			]) {
				rewriteRows((row) => {
					if (row.id !== 'lxc/102') return row;
					delete row.vmid;
					return { ...row, ...broken };
				});
				await expect(listContainers(clientFor())).rejects.toThrow(
					/^PVE's \/cluster\/resources lists a container without a usable VMID \(id "lxc\/.*", vmid .*name "postgres"\)$/,
				);
				// Audit reports that row as an error finding and still judges the others
				const findings = await auditSegmentation(clientFor(), tierMap);
				expect(findings.map((f) => [f.target, f.status])).toEqual([
					['pve/101', 'ok'],
					[broken.id ?? 'lxc/102', 'error'],
				]);
				expect(findings[1]).toMatchObject({
					summary: expect.stringMatching(/without a usable VMID/),
					hint: expect.stringMatching(/nothing was requested for this row/),
				});
			}
			expect(
				sim.requests.filter((r) => r.path !== '/cluster/resources').map((r) => r.path),
			).toEqual(Array(4).fill('/nodes/pve/lxc/101/config'));
		});

		it('schema: node is optional in /cluster/resources rows — a container row without node is refused naming the CT (List; an error finding in Audit), instead of requesting /nodes/undefined/…', async () => {
			const served = rewriteRows(({ node: _node, ...row }) =>
				row.id === 'lxc/102' ? row : { ...row, node: _node },
			);
			await expect(listContainers(clientFor())).rejects.toThrow(
				"PVE's /cluster/resources lists CT 102 (postgres) without its node",
			);
			const findings = await auditSegmentation(clientFor(), tierMap);
			expect(findings.map((f) => [f.target, f.status, f.summary])).toEqual([
				['pve/101', 'ok', 'CT 101 (traefik) is on VLAN 40 (external)'],
				['lxc/102', 'error', "PVE's /cluster/resources lists CT 102 (postgres) without its node"],
			]);
			expect(
				served
					.filter((r) => r.id === 'lxc/102')
					.every(
						(r) =>
							!('node' in r) && checkValue([r], resourcesReturns(), 'row', 'return').length === 0,
					),
			).toBe(true);
			expect(
				sim.requests.filter((r) => r.path !== '/cluster/resources').map((r) => r.path),
			).toEqual(['/nodes/pve/lxc/101/config']);
		});

		it('schema: template is a boolean that PVE writes as 1 — a template container (template: 1, and template: true) is listed as a template, and Audit does not read its config', async () => {
			for (const template of [1, true]) {
				sim.requests.splice(0);
				const served = rewriteRows((row) =>
					row.id === 'lxc/102' ? { ...row, template, status: 'stopped' } : row,
				);
				const listed = await listContainers(clientFor());
				expect(
					checkValue(
						served.filter((r) => r.type === 'lxc'),
						resourcesReturns(),
						'rows',
						'return',
					),
				).toEqual([]);
				expect(listed.map((c) => [c.vmid, c.template])).toEqual([
					[101, false],
					[102, true],
				]);
				const findings = await auditSegmentation(clientFor(), tierMap);
				expect(findings.map((f) => f.target)).toEqual(['pve/101']);
				expect(configReads()).toEqual(['/nodes/pve/lxc/101/config']);
			}
		});
	},
);
