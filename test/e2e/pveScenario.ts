/**
 * What the Proxmox scenarios share: a PVE API simulator validating against
 * ../shared/reference/proxmox/apidata.js, with the given containers, and the Proxmox credential
 * pinned to its certificate. Without the reference folder there is no simulator: the credential
 * points nowhere and each scenario's run() reports itself skipped.
 */
import * as fs from 'node:fs';

import { PVE_APIDATA } from '../harness/pveSchema';
import { startPveSimulator, type PveSimulator } from '../harness/pveSimulator';
import { scenarioSkip } from '../support/reference';
import type { Prepared, SettingValue } from './scenario';

/** What run() returns without the simulator: skipped by name, or (CI set) an error naming the missing folder. */
export const pveSkipped = (scenario: string): string =>
	scenarioSkip(scenario, 'proxmox', 'apidata.js') ?? 'skipped';

export async function preparePve(setup: {
	tokenId: string;
	secret: string;
	nodes?: string[];
	containers: Parameters<PveSimulator['addContainer']>[0][];
	settings: Record<string, SettingValue>;
}): Promise<{ sim?: PveSimulator; prepared: Prepared }> {
	const { tokenId, secret } = setup;
	if (!fs.existsSync(PVE_APIDATA)) {
		return {
			prepared: {
				credentials: {
					infraOpsProxmoxApi: {
						url: 'https://127.0.0.1:9',
						tokenId,
						tokenSecret: secret,
						tls: 'insecure',
					},
				},
			},
		};
	}
	const sim = await startPveSimulator({
		...(setup.nodes ? { nodes: setup.nodes } : {}),
		tokens: { [tokenId]: secret },
	});
	for (const container of setup.containers) sim.addContainer(container);
	return {
		sim,
		prepared: {
			settings: setup.settings,
			credentials: {
				infraOpsProxmoxApi: {
					url: sim.url,
					tokenId,
					tokenSecret: secret,
					tls: 'fingerprint',
					fingerprint: sim.fingerprint,
				},
			},
			cleanup: async () => await sim.close(),
		},
	};
}

/** An assertion whose message carries the data that failed it (the e2e line names what was checked). */
export function check(cond: boolean, what: string, data?: unknown): void {
	if (!cond) throw new Error(`${what}${data === undefined ? '' : `: ${JSON.stringify(data)}`}`);
}
