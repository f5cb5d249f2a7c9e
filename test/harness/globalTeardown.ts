/** Jest globalTeardown of the integration project: stops what globalSetup started and removes the temp root. */
import { HARNESS_HANDLE, type HarnessGlobal } from './harness';

export default async function globalTeardown(): Promise<void> {
	const state = (globalThis as HarnessGlobal)[HARNESS_HANDLE];
	if (!state) return;
	delete (globalThis as HarnessGlobal)[HARNESS_HANDLE];
	try {
		await state.harness.stop();
	} finally {
		state.removeHooks();
	}
}
