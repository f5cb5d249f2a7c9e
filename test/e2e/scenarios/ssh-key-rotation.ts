/**
 * workflows/ssh-key-rotation.json in real n8n: a deploy key is authorized on the harness's sshd and held
 * by the SSH credential the workflow logs in with. Run 1 puts a new key in place, proves the login with
 * it, writes it into that same n8n credential (n8n's own credential test passes) and removes the old key.
 * Run 2 logs in with what run 1 stored and rotates again: the credential update really carried the key.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import { generateSecret } from '../../../nodes/SecretRotate/generate';
import { openSsh } from '../../../nodes/shared/ssh';
import * as n8n from '../../../scripts/n8n/n8n';
import type { Services } from '../../harness/services';
import type { Scenario } from '../scenario';

const ROOT = path.resolve(__dirname, '../../..');
const deployKey = generateSecret({
	kind: 'sshKey',
	algorithm: 'ed25519',
	comment: 'e2e-deploy-original',
});
let services: Services;
let authorizedKeys = '';

async function canLogin(privateKey: string): Promise<boolean> {
	const { ssh } = services;
	try {
		const session = await openSsh({
			host: ssh.host,
			port: ssh.port,
			username: ssh.username,
			privateKey,
			hostKeyFingerprints: [ssh.hostKeyFingerprint],
		});
		session.close();
		return true;
	} catch (error) {
		if (/authentication failed/.test((error as Error).message)) return false;
		throw error;
	}
}

const deployLines = () =>
	readFileSync(authorizedKeys, 'utf8')
		.split('\n')
		.filter((l) => / e2e-deploy/.test(l));

const scenario: Scenario = {
	prepare(ctx) {
		services = ctx.services;
		const { ssh } = services;
		authorizedKeys = path.join(services.root, 'ssh', 'authorized_keys', ssh.username);
		appendFileSync(authorizedKeys, `${deployKey.publicKey}\n`);
		return {
			credentials: {
				infraOpsSshApi: {
					host: ssh.host,
					port: ssh.port,
					username: ssh.username,
					authentication: 'privateKey',
					privateKey: deployKey.value,
					hostKeyFingerprint: ssh.hostKeyFingerprint,
				},
			},
			settings: {
				sshHosts: `${ssh.host}:${ssh.port}`,
				authorizedKeysPath: authorizedKeys,
				keyComment: 'e2e-deploy',
				n8nCredentialIds: n8n.stableId(
					`credential:${path.relative(ROOT, ctx.file)}:infraOpsSshApi`,
				),
				slackChannel: '#e2e-secrets',
				alertEmail: 'ops@example.com',
				fromEmail: 'n8n@example.com',
			},
		};
	},

	async run(ctx) {
		const check = (cond: boolean, what: string) => {
			if (!cond) throw new Error(what);
		};
		const slackBefore = ctx.sinks.slack.messages.length;
		const fingerprints: string[] = [];
		for (const round of [1, 2]) {
			const execution = await ctx.runWebhook({ timeoutMs: 120_000 });
			const findings = ctx.outputOf(execution, 'Rotate Deploy Key');
			const describe = JSON.stringify(
				findings.map((f) => [f.step, f.targetKind, f.status, f.summary]),
			);
			check(
				execution.status === 'success',
				`run ${round} ended ${execution.status}: ${execution.data?.resultData.error?.message ?? ''} ${describe}`,
			);
			check(findings.at(-1)?.status === 'ok', `run ${round} rotated: ${describe}`);
			check(
				findings.some(
					(f) => f.targetKind === 'n8n-credential' && f.step === 'test' && f.status === 'ok',
				),
				`run ${round}: n8n's own test of the updated credential passed: ${describe}`,
			);
			fingerprints.push(String(findings.at(-1)!.secretFingerprint));
			check(
				!JSON.stringify(execution).includes('PRIVATE KEY'),
				`run ${round}: no private key in the execution data`,
			);
			const lines = deployLines();
			check(
				lines.length === 1 && lines[0].endsWith(' e2e-deploy'),
				`run ${round}: exactly the new deploy key is authorized (got ${lines.length} lines)`,
			);
		}
		check(
			fingerprints[0] !== fingerprints[1] && fingerprints.every((f) => f.startsWith('SHA256:')),
			'two different keys',
		);
		check(!(await canLogin(deployKey.value)), 'the original deploy key no longer logs in');
		check(await canLogin(services.ssh.privateKey), 'the other keys of the file still log in');
		const slack = ctx.sinks.slack.messages.slice(slackBefore);
		check(
			slack.length === 2 &&
				slack.every((m) => /\*OK\* SSH deploy key rotation/.test(m.text)) &&
				slack[1].text.includes(fingerprints[1]),
			`two Slack "OK" messages with the key fingerprint (got ${JSON.stringify(slack.map((m) => m.text))})`,
		);
		return `2 rotations: each added a new ed25519 key, logged in with it, wrote it to the n8n credential (n8n's test passed), removed the old key; run 2 used the key run 1 stored; original key refused; Slack OK twice`;
	},
};

export default scenario;
