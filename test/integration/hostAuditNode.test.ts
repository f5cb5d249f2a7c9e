/**
 * The Host Audit node through n8n's own engine: Audit Host per input item over the harness sshd
 * (pairedItem, continueOnFail, `changed` across runs), Audit Containers on the harness dockerd, and
 * Audit Backups on the harness S3 with backups the real Docker Volume Backup node wrote.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import { DockerVolumeBackup } from '../../nodes/DockerVolumeBackup/DockerVolumeBackup.node';
import { HostAudit } from '../../nodes/HostAudit/HostAudit.node';
import { createDockerClient, type DockerClient } from '../../nodes/shared/docker';
import { services } from '../harness/services';
import { runWorkflow, type WorkflowJson, startThen } from '../support/workflowRunner';

jest.setTimeout(180_000);

const AUDIT = 'n8n-nodes-infra-ops.hostAudit';
const BACKUP = 'n8n-nodes-infra-ops.dockerVolumeBackup';
const nodeTypes = { [AUDIT]: new HostAudit(), [BACKUP]: new DockerVolumeBackup() };
const run = randomBytes(3).toString('hex');
const json = (items: INodeExecutionData[]) => items.map((i) => i.json as Record<string, unknown>);

let dir: string;
let recipient: string;
let identity: string;
let docker: DockerClient;
const SIGNING = randomBytes(32).toString('hex');

function credentials() {
	const { ssh, s3, docker: d } = services();
	return {
		infraOpsSshApi: {
			host: ssh.host,
			port: ssh.port,
			username: ssh.username,
			authentication: 'privateKey',
			privateKey: ssh.privateKey,
			hostKeyFingerprint: ssh.hostKeyFingerprint,
		},
		infraOpsDockerApi: { connection: 'socket', socketPath: d.socketPath },
		infraOpsS3Api: {
			provider: 'other',
			endpoint: s3.endpoint,
			region: s3.region,
			bucket: s3.bucket,
			accessKeyId: s3.accessKeyId,
			secretAccessKey: s3.secretAccessKey,
			forcePathStyle: true,
		},
		infraOpsBackupEncryption: {
			recipients: recipient,
			secretKey: identity,
			passphrase: '',
			manifestSigningSecret: SIGNING,
		},
	};
}

function workflow(type: string, parameters: IDataObject, continueOnFail = false): WorkflowJson {
	return startThen(
		{
			name: 'Node',
			type,
			parameters,
			credentials: {
				infraOpsSshApi: { id: '1', name: 'ssh' },
				infraOpsDockerApi: { id: '2', name: 'docker' },
				infraOpsS3Api: { id: '3', name: 's3' },
				infraOpsBackupEncryption: { id: '4', name: 'age' },
			},
		},
		continueOnFail,
	);
}

beforeAll(async () => {
	dir = mkdtempSync(join(tmpdir(), 'hostaudit-'));
	execFileSync('age-keygen', ['-o', join(dir, 'key.txt')], { stdio: 'ignore' });
	identity = readFileSync(join(dir, 'key.txt'), 'utf8');
	recipient = /public key: (age1\S+)/.exec(identity)![1];
	docker = await createDockerClient({ kind: 'socket', socketPath: services().docker.socketPath });
});
afterAll(() => {
	docker?.close();
	rmSync(dir, { recursive: true, force: true });
});

describe('Audit Host (node)', () => {
	test('one item per host: findings paired with their input, a bad Allowed Ports entry an error item under continueOnFail, `changed` only on transitions', async () => {
		const parameters = {
			operation: 'auditHost',
			hostLabel: '={{ $json.host }}',
			// the credential names another host: Connect To takes its user, key and pinned host keys elsewhere
			hostAddress: `${services().ssh.host}:${services().ssh.port}`,
			allowedPorts: '={{ $json.ports }}',
			expectedHostname: 'Traefik',
			options: {
				controls: ['sshd', 'hostname'],
				sshdConfigFile: join(services().root, 'ssh', 'sshd_config'),
			},
		};
		const input = [
			{ host: 'first', ports: '22' },
			{ host: 'second', ports: '22, 99999' },
		];
		const creds = credentials();
		creds.infraOpsSshApi = { ...creds.infraOpsSshApi, host: 'nowhere.invalid', port: 1 };
		const first = await runWorkflow({
			workflow: workflow(AUDIT, parameters, true),
			nodeTypes,
			credentials: creds,
			input,
		});
		expect(first.error).toBeUndefined();
		const items = first.outputs.Node[0];
		expect(items.map((i) => i.pairedItem)).toEqual([{ item: 0 }, { item: 0 }, { item: 1 }]);
		const [sshd, hostname, failed] = json(items);
		expect(sshd).toMatchObject({ target: 'first', control: 'sshd', status: 'ok', changed: false });
		expect(hostname).toMatchObject({
			control: 'hostname',
			status: 'warning',
			result: 'fail',
			changed: true,
		});
		expect(sshd).not.toHaveProperty('stateKey');
		expect(failed.error).toMatch(/"99999" is not a port/);
		expect(failed.hint).toMatch(/Allowed Ports/);

		const again = await runWorkflow({
			workflow: workflow(AUDIT, parameters, true),
			nodeTypes,
			credentials: creds,
			input: [input[0]],
			staticData: first.staticData,
		});
		expect(json(again.outputs.Node[0]).map((f) => f.changed)).toEqual([false, false]);
	});
});

describe('Audit Containers (node, real dockerd)', () => {
	const made: string[] = [];
	afterAll(async () => {
		for (const id of made)
			await docker.docker
				.getContainer(id)
				.remove({ force: true })
				.catch(() => undefined);
	});

	async function start(
		name: string,
		user: string,
		host: IDataObject,
		labels: Record<string, string> = {},
	) {
		const c = await docker.docker.createContainer({
			name,
			Image: services().docker.image,
			Cmd: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'],
			User: user,
			Labels: labels,
			HostConfig: { NetworkMode: 'none', ...host },
		});
		made.push(c.id);
		await c.start();
	}

	test('privileged, socket-mounted, host-network and root containers fail; a clean one passes', async () => {
		const socket = services().docker.socketPath;
		await start(`priv-${run}`, '1000', { Privileged: true });
		await start(`sock-${run}`, '1000', { Binds: [`${socket}:/var/run/docker.sock:ro`] });
		await start(`hostnet-${run}`, '1000', { NetworkMode: 'host' });
		await start(`root-${run}`, '', { CapAdd: ['NET_ADMIN'] });
		await start(`clean-${run}`, '1000:1000', {});
		const { outputs, error } = await runWorkflow({
			workflow: workflow(AUDIT, {
				operation: 'auditContainers',
				dockerLabel: 'docker1',
				containerControls: ['privilege'],
			}),
			nodeTypes,
			credentials: credentials(),
		});
		expect(error).toBeUndefined();
		const by = Object.fromEntries(
			json(outputs.Node[0])
				.filter((f) => String(f.container).endsWith(run))
				.map((f) => [String(f.container).replace(`-${run}`, ''), f]),
		);
		expect(by.priv).toMatchObject({
			check: 'container-privilege',
			status: 'critical',
			target: `docker1/priv-${run}`,
		});
		expect(by.priv.summary).toContain('runs privileged');
		expect(by.sock).toMatchObject({ status: 'critical' });
		expect(by.sock.summary).toContain('mounts the Docker socket');
		expect(by.hostnet).toMatchObject({ status: 'warning' });
		expect(by.hostnet.summary).toContain("uses the host's network");
		expect(by.root).toMatchObject({ status: 'warning' });
		expect(by.root.problems).toEqual(['runs as root', 'adds capabilities NET_ADMIN']);
		expect(by.clean).toMatchObject({ status: 'ok', result: 'pass', problems: [] });
	});

	test('network isolation: the edge and data tiers meeting on one network, from two compose projects, is reported', async () => {
		const name = `net-${run}`;
		const network = await docker.docker.createNetwork({
			Name: name,
			Driver: 'bridge',
			Internal: true,
		});
		try {
			const labels = (project: string, service: string) => ({
				'com.docker.compose.project': project,
				'com.docker.compose.service': service,
			});
			await start(`traefik-${run}`, '1000', { NetworkMode: name }, labels('edge', 'traefik'));
			await start(`postgres-${run}`, '1000', { NetworkMode: name }, labels('localai', 'postgres'));
			const { outputs } = await runWorkflow({
				workflow: workflow(AUDIT, {
					operation: 'auditContainers',
					containerControls: ['networks'],
					tierMap: JSON.stringify({ edge: ['traefik'], data: ['postgres'] }),
				}),
				nodeTypes,
				credentials: credentials(),
			});
			const f = json(outputs.Node[0]).find((x) => x.network === name)!;
			expect(f).toMatchObject({
				check: 'network-isolation',
				status: 'warning',
				tiers: ['data', 'edge'],
				projects: ['edge', 'localai'],
			});
			expect(f.summary).toContain(
				`tiers "edge" (traefik-${run}) and "data" (postgres-${run}) meet`,
			);
			expect(f.summary).toContain('compose projects edge, localai share it');
		} finally {
			for (const id of made.splice(-2))
				await docker.docker.getContainer(id).remove({ force: true });
			await network.remove();
		}
	});
});

describe('Audit Backups (node, harness S3, backups by the Docker Volume Backup node)', () => {
	const prefix = `ha-${run}`;
	const enc = `e${run}_data`;
	const plain = `u${run}_data`;

	beforeAll(async () => {
		for (const [volume, encryption] of [
			[enc, 'recipients'],
			[plain, 'none'],
		]) {
			await docker.docker.createVolume({ Name: volume });
			const { error } = await runWorkflow({
				workflow: workflow(BACKUP, {
					operation: 'backup',
					prefix,
					selectBy: 'names',
					volumeNames: volume,
					encryption,
					compression: 'gzip',
				}),
				nodeTypes,
				credentials: credentials(),
			});
			expect(error).toBeUndefined();
		}
	});

	const audit = async (parameters: IDataObject) => {
		const { outputs, error } = await runWorkflow({
			workflow: workflow(AUDIT, { operation: 'auditBackups', prefix, ...parameters }),
			nodeTypes,
			credentials: credentials(),
		});
		expect(error).toBeUndefined();
		return Object.fromEntries(json(outputs.Node[0]).map((f) => [f.volume, f]));
	};

	test('fresh and encrypted passes; unencrypted fails; too old fails; a volume without backups fails', async () => {
		const by = await audit({ maxAgeHours: 26, volumes: `${enc}, ${plain}, missing${run}` });
		expect(by[enc]).toMatchObject({
			check: 'backup-encrypted-fresh',
			status: 'ok',
			encryption: 'age-x25519',
			signed: true,
		});
		expect(by[plain]).toMatchObject({ status: 'critical', result: 'fail' });
		expect(by[plain].summary).toContain('the latest backup is not encrypted');
		expect(by[`missing${run}`]).toMatchObject({ status: 'critical' });
		expect(by[`missing${run}`].summary).toMatch(/No complete signed backup/);
		const old = await audit({ maxAgeHours: 0 });
		expect(Object.keys(old).sort()).toEqual([enc, plain].sort());
		expect(old[enc].status).toBe('critical');
		expect(old[enc].summary).toMatch(/the latest backup is [\d.]+ h old \(allowed: 0 h\)/);
	});
});
