/** Jest globalSetup of the integration project: starts the services and hands their details to the workers. */
import { emergencyStop, HARNESS_HANDLE, startHarness, type HarnessGlobal } from './harness';
import { CHROMIUM } from '../e2e/browser';
import { preflightProblem } from './preflight';
import { SERVICES_ENV } from './services';

export default async function globalSetup(): Promise<void> {
	// one line and out, before anything starts, when this machine cannot run the harness
	const problem = preflightProblem(process.env.INFRA_OPS_E2E ? { chromium: CHROMIUM } : {});
	if (problem) {
		process.stderr.write(`\n${problem}\n`);
		process.exit(1);
	}
	const harness = await startHarness();
	// workers are forked after globalSetup, so they inherit this
	process.env[SERVICES_ENV] = harness.servicesFile;

	// jest runs no globalTeardown when interrupted or crashing; without these, dockerd, sshd and postgres would outlive it
	const onExit = () => emergencyStop(harness.root);
	const onSignal = (signal: NodeJS.Signals) => {
		removeHooks();
		emergencyStop(harness.root);
		process.kill(process.pid, signal);
	};
	const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
	const removeHooks = () => {
		process.off('exit', onExit);
		for (const signal of signals) process.off(signal, onSignal);
	};
	process.on('exit', onExit);
	for (const signal of signals) process.on(signal, onSignal);

	(globalThis as HarnessGlobal)[HARNESS_HANDLE] = { harness, removeHooks };
}
