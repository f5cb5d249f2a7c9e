/**
 * Recorded reference data (Traefik's schema and API responses, the PVE API schema apidata.js, Trivy's
 * golden reports) lives outside the repository, in ../shared/reference beside the clone, and is read at
 * test time, never copied in. The tests that check conformance against it are the only ones allowed to
 * skip, by name, when it is absent; with CI set they fail instead, so a CI run cannot pass with them
 * skipped. Every reader of the folder goes through this module.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The reference folder: ../shared/reference beside the repository. */
export const REFERENCE_DIR = path.resolve(__dirname, '../../../shared/reference');

/** A path inside the reference folder (it may not exist; see referenceMissing). */
export function referencePath(...parts: string[]): string {
	return path.join(REFERENCE_DIR, ...parts);
}

/** Undefined when the file or folder is there, else the sentence that says what is missing. */
export function referenceMissing(...parts: string[]): string | undefined {
	const full = referencePath(...parts);
	if (fs.existsSync(full)) return undefined;
	return `recorded reference data absent: ${full} (the ../shared/reference folder beside the repository)`;
}

const inCi = () => Boolean(process.env.CI) && process.env.CI !== 'false';

type Body = () => void;
type Runner = (name: string, fn: Body) => void;

function guarded(kind: 'describe' | 'it', parts: string[]): Runner {
	return (name, fn) => {
		const missing = referenceMissing(...parts);
		if (!missing) return kind === 'describe' ? describe(name, fn) : it(name, fn);
		if (inCi()) {
			const fail = () => {
				throw new Error(`${missing}; CI is set, so this test fails rather than skips`);
			};
			return kind === 'describe'
				? describe(name, () => it('has its reference data', fail))
				: it(name, fail);
		}
		console.warn(`skipped, ${missing}: ${name}`);
		return kind === 'describe' ? describe.skip(name, fn) : it.skip(name, fn);
	};
}

/** `describe` when the reference file or folder `parts` exists; otherwise skipped by name (or, with CI set,
 * one failing test naming the missing folder). */
export function describeWithReference(...parts: string[]): Runner {
	return guarded('describe', parts);
}

/** As describeWithReference, for one test. */
export function itWithReference(...parts: string[]): Runner {
	return guarded('it', parts);
}

/** For e2e scenarios, whose run() cannot skip: undefined when the reference is there; else, with CI set,
 * throws naming the folder; otherwise returns the `skipped: …` line the E2E report prints. */
export function scenarioSkip(scenario: string, ...parts: string[]): string | undefined {
	const missing = referenceMissing(...parts);
	if (!missing) return undefined;
	if (inCi())
		throw new Error(`${scenario}: ${missing}; CI is set, so this scenario fails rather than skips`);
	console.warn(`${scenario} scenario skipped, ${missing}`);
	return `skipped: ${missing}`;
}
