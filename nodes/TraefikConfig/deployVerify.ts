/**
 * The verify-or-rollback phase of a deploy: with Traefik API access, wait until Traefik serves what
 * each written file says; if one is not served, put every written file back and check the previous
 * versions are served again. No n8n import.
 */
import { mapConcurrent } from '../shared/concurrency';
import { errorMessage } from '../shared/errors';
import type { SshSession } from '../shared/ssh';
import { putBack, type Folder } from './deployFolder';
import type { DeployOutcome, DeployPlan, FileChange } from './deployPlan';
import { waitUntilLoaded, type LoadCheck, type TraefikApi } from './traefikApi';
import { loadedNames } from './validate';

export interface Verification {
	ok: boolean;
	waitedMs: number;
	checks: LoadCheck[];
}

export interface VerifyOptions {
	api: TraefikApi;
	timeoutMs: number;
	intervalMs?: number;
}

export async function verifyLoaded(
	verify: VerifyOptions,
	text: string,
): Promise<Verification | undefined> {
	const expected = loadedNames(text);
	if (Object.keys(expected.routers).length + Object.keys(expected.middlewares).length === 0)
		return undefined;
	return await waitUntilLoaded(verify.api, expected, {
		timeoutMs: verify.timeoutMs,
		intervalMs: verify.intervalMs,
	});
}

/** A Traefik API that cannot be asked (refused, unreachable) is a failed verification, so the files already written are put back. */
async function verifyOrFail(
	verify: VerifyOptions,
	text: string,
): Promise<Verification | undefined> {
	const started = Date.now();
	try {
		return await verifyLoaded(verify, text);
	} catch (error) {
		return {
			ok: false,
			waitedMs: Date.now() - started,
			checks: [{ name: 'Traefik', kind: 'api', ok: false, reason: errorMessage(error) }],
		};
	}
}

const failedChecks = (v: Verification) =>
	v.checks
		.filter((c) => !c.ok)
		.map((c) => `${c.kind} ${c.name}: ${c.reason}`)
		.join('; ');

/** Files are verified side by side: each may wait the whole timeout, and they do not depend on each other. */
export async function verifyWritten(
	verify: VerifyOptions | undefined,
	toWrite: FileChange[],
): Promise<Map<string, Verification | undefined>> {
	const verifications = new Map<string, Verification | undefined>();
	if (verify) {
		const results = await mapConcurrent(
			toWrite,
			4,
			async (c) => await verifyOrFail(verify, c.content),
		);
		toWrite.forEach((c, k) => verifications.set(c.fileName, results[k]));
	}
	return verifications;
}

/**
 * Some written file is not served: every written file is put back, the previous versions verified,
 * and each written file's outcome says what failed and what state the host is in now.
 */
export async function rollBackUnserved(
	session: SshSession,
	folder: Folder,
	plan: DeployPlan,
	written: string[],
	verifications: Map<string, Verification | undefined>,
	failed: [string, Verification | undefined][],
	options: { verify?: VerifyOptions; label: string },
): Promise<DeployOutcome[]> {
	const { olds, outcomes } = plan;
	const verify = options.verify;
	let restoreError: string | undefined;
	const restored = new Map<string, Verification | undefined>();
	try {
		await putBack(session, folder, written, olds);
		const back = await mapConcurrent(written, 4, async (name) => {
			const old = olds.get(name);
			return old !== undefined && verify ? await verifyOrFail(verify, old) : undefined;
		});
		written.forEach((name, k) => restored.set(name, back[k]));
	} catch (error) {
		restoreError = errorMessage(error);
	}
	const cause = failed.map(([name, v]) => `${name}: ${failedChecks(v!)}`).join('; ');
	const apiFailed = failed.some(([, v]) => v!.checks.some((c) => c.kind === 'api'));
	for (const o of outcomes) {
		if (!written.includes(o.file)) continue;
		const v = verifications.get(o.file);
		const back = restored.get(o.file);
		o.status = 'critical';
		o.action = 'rolledBack';
		o.verification = v;
		o.restoredVerification = back;
		o.summary =
			`${options.label} of ${o.file} rolled back: ${apiFailed ? 'the Traefik API could not confirm the change' : `Traefik did not serve the change within ${Math.round((options.verify?.timeoutMs ?? 0) / 1000)} s`} (${cause})` +
			(restoreError
				? `; restoring the previous version FAILED: ${restoreError}`
				: olds.get(o.file) === undefined
					? '; the new file was removed'
					: back && !back.ok
						? '; the previous version is back but not served cleanly either'
						: '; the previous version is back');
	}
	return outcomes;
}
