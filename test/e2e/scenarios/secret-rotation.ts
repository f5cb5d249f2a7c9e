/**
 * workflows/secret-rotation.json in real n8n: one role's password on two real PostgreSQL servers (the
 * harness's and one started here), read from two .env files on the harness's sshd, used by a real
 * container, and held by the n8n credential the workflow itself connects with. Run 1 rotates all of it
 * and alerts "ok"; the new password logs in everywhere, the old one nowhere, n8n's credential test
 * passes. Run 2 meets a container that only stays healthy with the current password: the test step
 * fails, everything is rolled back (the run-1 password still works) and the alert is critical.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Docker from 'dockerode';
import { Client } from 'pg';

import { readEnvValue } from '../../../nodes/SecretRotate/envFile';
import * as n8n from '../../../scripts/n8n/n8n';
import { startPostgres, type PostgresService } from '../../harness/postgres';
import type { PostgresInfo } from '../../harness/services';
import { canLogin } from '../../support/pgLogin';
import type { Scenario } from '../scenario';

const ROOT = path.resolve(__dirname, '../../..');
const run = randomBytes(3).toString('hex');
const role = `e2e_rot_${run}`;
const oldPassword = `e2e-old-${run}-password`;
const containerName = `e2e-rot-app-${run}`;
let root = '';
let second: PostgresService | undefined;
let servers: PostgresInfo[] = [];
let envFiles: string[] = [];
let docker: Docker;

async function sql(server: PostgresInfo, text: string) {
	const client = new Client({
		host: server.host,
		port: server.port,
		user: server.user,
		password: server.password,
		database: server.database,
		ssl: { rejectUnauthorized: false },
	});
	await client.connect();
	try {
		await client.query(text);
	} finally {
		await client.end();
	}
}

/** A container whose health check passes only while POSTGRES_PASSWORD is `healthyWith` (any value when omitted). */
async function startApp(password: string, healthyWith?: string) {
	await docker
		.getContainer(containerName)
		.remove({ force: true })
		.catch(() => undefined);
	const created = await docker.createContainer({
		name: containerName,
		Image: 'infra-ops-test/busybox:1',
		Env: [
			`POSTGRES_PASSWORD=${password}`,
			`DATABASE_URL=postgres://${role}:${password}@db:5432/postgres`,
		],
		Labels: { 'com.docker.compose.service': 'app' },
		Cmd: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'],
		HostConfig: { NetworkMode: 'none' },
		Healthcheck: {
			Test: [
				'CMD',
				'sh',
				'-c',
				healthyWith ? `test "$POSTGRES_PASSWORD" = '${healthyWith}'` : 'true',
			],
			Interval: 500_000_000,
			Timeout: 1_000_000_000,
			Retries: 1,
		},
	});
	await created.start();
	for (let i = 0; i < 30 && (await created.inspect()).State.Health?.Status !== 'healthy'; i++)
		await new Promise((r) => setTimeout(r, 300));
}

const scenario: Scenario = {
	async prepare({ services, file }) {
		docker = new Docker({ socketPath: services.docker.socketPath });
		root = mkdtempSync(path.join(tmpdir(), 'e2e-secret-rotation-'));
		chmodSync(root, 0o755);
		second = await startPostgres(root);
		servers = [services.postgres, second.info];
		for (const server of servers)
			await sql(server, `create role ${role} superuser login password '${oldPassword}'`);
		envFiles = ['supabase', 'langfuse'].map((name) =>
			path.join(services.ssh.dataDir, `e2e-${name}-${run}.env`),
		);
		writeFileSync(envFiles[0], `# Supabase\nPOSTGRES_PASSWORD=${oldPassword}\nJWT_SECRET=keep\n`);
		writeFileSync(envFiles[1], `# Langfuse\nexport POSTGRES_PASSWORD="${oldPassword}"\n`);
		await startApp(oldPassword);
		// the workflow's own PostgreSQL credential logs in as the role it rotates, as in the stack (postgres)
		const credentialId = n8n.stableId(
			`credential:${path.relative(ROOT, file)}:infraOpsPostgresApi`,
		);
		return {
			credentials: {
				infraOpsPostgresApi: {
					host: servers[0].host,
					port: servers[0].port,
					database: 'postgres',
					user: role,
					password: oldPassword,
					ssl: 'verify-full',
					ca: servers.map((s) => s.ssl.caPem).join(''),
				},
			},
			settings: {
				pgRoles: role,
				pgServers: servers.map((s) => `${s.host}:${s.port}`).join('\n'),
				envPaths: envFiles.join('\n'),
				envKeys: 'POSTGRES_PASSWORD',
				containerNames: containerName,
				containerEnvKeys: 'POSTGRES_PASSWORD',
				// the health check of run 2 never passes: no need to wait the 180 s a real stack gets
				healthTimeoutSeconds: 20,
				n8nCredentialIds: credentialId,
				n8nCredentialField: 'password',
				slackChannel: '#e2e-secrets',
				alertEmail: 'ops@example.com',
				fromEmail: 'n8n@example.com',
			},
			cleanup: async () => {
				await docker
					.getContainer(containerName)
					.remove({ force: true })
					.catch(() => undefined);
				for (const f of envFiles) rmSync(f, { force: true });
				await second?.stop();
				rmSync(root, { recursive: true, force: true });
			},
		};
	},

	async run(ctx) {
		const check = (cond: boolean, what: string) => {
			if (!cond) throw new Error(what);
		};
		const slackBefore = ctx.sinks.slack.messages.length;
		const mailsBefore = ctx.sinks.smtp.messages.length;

		const first = await ctx.runWebhook({ timeoutMs: 240_000 });
		const findings = ctx.outputOf(first, 'Rotate Postgres Password');
		const describe = () =>
			JSON.stringify(findings.map((f) => [f.step, f.targetKind, f.status, f.summary]));
		check(
			first.status === 'success',
			`run 1 ended ${first.status}: ${first.data?.resultData.error?.message ?? ''} ${describe()}`,
		);
		const summary = findings.at(-1)!;
		check(summary.step === 'summary' && summary.status === 'ok', `run 1 rotated: ${describe()}`);
		const secret = readEnvValue(readFileSync(envFiles[0], 'utf8'), 'POSTGRES_PASSWORD')!;
		check(
			secret !== oldPassword && secret.length === 32,
			'the .env file holds a new 32-character password',
		);
		check(
			readEnvValue(readFileSync(envFiles[1], 'utf8'), 'POSTGRES_PASSWORD') === secret,
			'both .env files hold it',
		);
		check(
			readFileSync(envFiles[1], 'utf8') === `# Langfuse\nexport POSTGRES_PASSWORD="${secret}"\n`,
			'export and quotes kept',
		);
		for (const server of servers) {
			check(await canLogin(server, role, secret), `the new password logs in on ${server.port}`);
			check(
				!(await canLogin(server, role, oldPassword)),
				`the old password fails on ${server.port}`,
			);
		}
		const app = await docker.getContainer(containerName).inspect();
		check(
			app.Config.Env.includes(`POSTGRES_PASSWORD=${secret}`) &&
				app.Config.Env.includes(`DATABASE_URL=postgres://${role}:${secret}@db:5432/postgres`),
			'the container was recreated with the new password',
		);
		const pgCredential = (
			await ctx.api<{ data: { id: string; name: string; type: string }[] }>(
				'GET',
				'/credentials?limit=250',
			)
		).data.find((c) => c.type === 'infraOpsPostgresApi' && c.name.includes('secret-rotation'))!;
		const tested = await ctx.api<{ status: string; message: string }>(
			'POST',
			`/credentials/${pgCredential.id}/test`,
		);
		check(
			tested.status === 'OK',
			`n8n's credential test passes with the new password: ${JSON.stringify(tested)}`,
		);
		check(!JSON.stringify(first).includes(secret), 'the execution data does not hold the password');
		const slack = ctx.sinks.slack.messages.slice(slackBefore);
		check(
			slack.length === 1 &&
				/\*OK\* PostgreSQL password rotation/.test(slack[0].text) &&
				!slack[0].text.includes(secret),
			`one Slack message "OK" (got ${JSON.stringify(slack.map((m) => m.text))})`,
		);
		check(ctx.sinks.smtp.messages.length === mailsBefore, 'no email for a successful rotation');

		// run 2: the app now only stays healthy with the run-1 password, so the recreated one fails its test
		await startApp(secret, secret);
		const envBefore = envFiles.map((f) => readFileSync(f, 'utf8'));
		const second = await ctx.runWebhook({ timeoutMs: 240_000 });
		const failed = ctx.outputOf(second, 'Rotate Postgres Password');
		const describe2 = () =>
			JSON.stringify(failed.map((f) => [f.step, f.targetKind, f.status, f.summary]));
		check(second.status === 'success', `run 2 ended ${second.status}`);
		check(
			failed.at(-1)!.status === 'critical' && failed.at(-1)!.rolledBack === true,
			`run 2 failed and rolled back: ${describe2()}`,
		);
		check(
			failed.some(
				(f) => f.step === 'test' && f.targetKind === 'containers' && f.status === 'critical',
			),
			`the container test failed: ${describe2()}`,
		);
		check(
			!failed.some((f) => f.targetKind === 'n8n-credential' && f.step === 'set'),
			'the n8n credential was not touched',
		);
		for (const server of servers)
			check(
				await canLogin(server, role, secret),
				`the run-1 password still works on ${server.port}`,
			);
		check(
			envFiles.every((f, i) => readFileSync(f, 'utf8') === envBefore[i]),
			'the .env files are restored',
		);
		const restored = await docker.getContainer(containerName).inspect();
		check(
			restored.State.Health?.Status === 'healthy' &&
				restored.Config.Env.includes(`POSTGRES_PASSWORD=${secret}`),
			'the old container is back and healthy',
		);
		const again = await ctx.api<{ status: string }>('POST', `/credentials/${pgCredential.id}/test`);
		check(again.status === 'OK', 'the n8n credential still works');
		const mails = ctx.sinks.smtp.messages.slice(mailsBefore);
		const slack2 = ctx.sinks.slack.messages.slice(slackBefore + 1);
		check(
			mails.length === 1 &&
				/critical: PostgreSQL password rotation/.test(mails[0].subject) &&
				/rolled back/.test(mails[0].text),
			`one critical email (got ${JSON.stringify(mails.map((m) => m.subject))})`,
		);
		check(
			slack2.length === 1 &&
				/\*CRITICAL\*/.test(slack2[0].text) &&
				/did not come back healthy/.test(slack2[0].text),
			`one critical Slack message naming the failed step (got ${JSON.stringify(slack2.map((m) => m.text))})`,
		);
		check(
			!JSON.stringify(second).includes(secret) && !mails[0].text.includes(secret),
			'no password in execution data or alerts',
		);
		return `run 1: role rotated on 2 servers, 2 .env files, 1 container recreated, n8n credential updated and tested, Slack OK; run 2: container unhealthy → rolled back, run-1 password still works, critical Slack + email; no secret in execution data`;
	},
};

export default scenario;
