/** How one `trivy image` run is asked for and judged, whatever runs it (Docker, SSH, local).
 *
 * Trivy runs with `--exit-code 0`: with it, Trivy exits 0 whenever it produced a report, so any other
 * code (1 for a bad image name, an unreachable server, a DB it cannot download, or a kill on timeout)
 * means Trivy failed. Choosing a distinct "found vulnerabilities" code instead would make the report's
 * judgement depend on Trivy's own filters; with 0 the report is judged here, once, against the ignore
 * list and its expiry dates. A zero exit without a readable SchemaVersion 2 report is a failure too. */
import { mapConcurrent } from '../shared/concurrency';
import { errorMessage, InfraOpsError } from '../shared/errors';
import { parseTrivyReport, type Severity, type TrivyReport } from './report';

export interface TrivyScanOptions {
	severities: Severity[];
	ignoreUnfixed: boolean;
	skipDbUpdate: boolean;
	/** Client/server mode: the Trivy server URL (the token travels in the environment, never in argv). */
	serverUrl?: string;
	/** Only the local Docker Engine (scanning what runs, never a same-named image from a registry). */
	dockerOnly?: boolean;
	/** Passed to Trivy's own --timeout; our runners stop it a little later. */
	timeoutSeconds: number;
	/** Where Trivy keeps its DB (the cache volume in Docker mode). */
	cacheDir?: string;
	/** Keep the scan cache (layer analyses) in memory instead of the BoltDB file under the cache dir. */
	memoryScanCache?: boolean;
}

export interface ProcessResult {
	code: number | null;
	stdout: string;
	stderr: string;
}

/** Runs `trivy <args>` somewhere; a non-zero exit is returned, not thrown. */
export interface TrivyRunner {
	/** Where it runs, for messages (never a secret). */
	readonly where: string;
	run(args: string[], env: Record<string, string>, timeoutMs: number): Promise<ProcessResult>;
	close(): void;
}

export type ScanOutcome =
	| { ok: true; image: string; report: TrivyReport; seconds: number }
	| { ok: false; image: string; error: string; exitCode: number | null; seconds: number };

/** Image references and IDs as Docker prints them; anything else (spaces, leading dash, quotes) is refused. */
const IMAGE_REFERENCE = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/;

export function isImageReference(text: string): boolean {
	return IMAGE_REFERENCE.test(text) && text.length <= 512;
}

/**
 * The URL for --server. It sits on Trivy's command line (any user of the host sees it in the process
 * list) and in Trivy's messages, so a password in it would leak: the token belongs in the credential's
 * Token, which travels in the environment.
 */
export function trivyServerUrl(text: string): string {
	const url = text.trim().replace(/\/+$/, '');
	if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*@/.test(url)) {
		throw new InfraOpsError(
			"The Trivy Server credential's URL carries a user name or password",
			"Remove them from the URL (Trivy would show them in its process list and messages); put the server's --token in the credential's Token",
		);
	}
	if (!/^https?:\/\/[^\s'"]+$/.test(url)) {
		throw new InfraOpsError(
			`The Trivy Server credential's URL "${url}" is not an http(s) URL`,
			'For example http://trivy-server:4954',
		);
	}
	return url;
}

export function trivyImageArgs(image: string, options: TrivyScanOptions): string[] {
	const args = ['image', '--format', 'json', '--quiet', '--exit-code', '0', '--scanners', 'vuln'];
	args.push('--severity', options.severities.join(','));
	if (options.ignoreUnfixed) args.push('--ignore-unfixed');
	if (options.serverUrl) args.push('--server', options.serverUrl);
	else if (options.skipDbUpdate) args.push('--skip-db-update');
	if (options.dockerOnly) args.push('--image-src', 'docker');
	if (options.cacheDir) args.push('--cache-dir', options.cacheDir);
	if (options.memoryScanCache && !options.serverUrl) args.push('--cache-backend', 'memory');
	args.push('--timeout', `${Math.max(1, Math.round(options.timeoutSeconds))}s`);
	args.push(image);
	return args;
}

/** Trivy's last FATAL/ERROR line (its logs go to stderr), else the last line; secrets masked. */
export function trivyFailureText(stderr: string, secrets: string[] = []): string {
	let text = stderr;
	for (const secret of secrets) if (secret) text = text.split(secret).join('***');
	const lines = text
		.split(/\r?\n/)
		.map((l) => l.trim())
		.filter(Boolean);
	const fatal = [...lines].reverse().find((l) => /\b(FATAL|ERROR)\b/.test(l));
	return (fatal ?? lines[lines.length - 1] ?? '').slice(0, 1000);
}

export async function runTrivyScan(
	runner: TrivyRunner,
	image: string,
	options: TrivyScanOptions,
	token?: string,
): Promise<ScanOutcome> {
	const started = Date.now();
	const seconds = () => (Date.now() - started) / 1000;
	if (!isImageReference(image)) {
		return {
			ok: false,
			image,
			error: `"${image}" is not an image reference`,
			exitCode: null,
			seconds: 0,
		};
	}
	const env: Record<string, string> = token ? { TRIVY_TOKEN: token } : {};
	// Trivy stops itself at its --timeout; the runner's own limit is the backstop for a hung process
	const timeoutMs = (options.timeoutSeconds + 30) * 1000;
	let result: ProcessResult;
	try {
		result = await runner.run(trivyImageArgs(image, options), env, timeoutMs);
	} catch (error) {
		return {
			ok: false,
			image,
			error: maskSecret(errorMessage(error), token),
			exitCode: null,
			seconds: seconds(),
		};
	}
	if (result.code !== 0) {
		const reason = trivyFailureText(result.stderr, token ? [token] : []);
		const what =
			result.code === 127
				? 'trivy was not found'
				: `Trivy exited with ${result.code ?? 'a signal'}`;
		return {
			ok: false,
			image,
			error: `${what} on ${runner.where}${reason ? `: ${reason}` : ''}`,
			exitCode: result.code,
			seconds: seconds(),
		};
	}
	try {
		return {
			ok: true,
			image,
			report: parseTrivyReport(result.stdout, `Trivy's report for ${image}`),
			seconds: seconds(),
		};
	} catch (error) {
		return {
			ok: false,
			image,
			error: errorMessage(error),
			exitCode: result.code,
			seconds: seconds(),
		};
	}
}

function maskSecret(text: string, secret?: string): string {
	return secret ? text.split(secret).join('***') : text;
}

/**
 * Scans each image once, at most `concurrency` at a time; results keep the input order.
 *
 * Trivy's scan cache is a BoltDB file in its cache dir that one process holds at a time: a second
 * Trivy on the same cache dir waits, and recent Trivy gives up after 5 s ("cache may be in use by
 * another process"). So concurrent scans keep their scan cache in memory, and the first scan runs
 * alone so that only it downloads the vulnerability DB; the others then use that DB. In client/server
 * mode the server holds both, and scans just run side by side.
 */
export async function scanAll(
	runner: TrivyRunner,
	images: string[],
	options: TrivyScanOptions,
	concurrency: number,
	token?: string,
): Promise<ScanOutcome[]> {
	const limit = Math.max(1, Math.floor(concurrency));
	if (limit === 1 || images.length < 2)
		return await mapConcurrent(
			images,
			1,
			async (image) => await runTrivyScan(runner, image, options, token),
		);
	const side = { ...options, memoryScanCache: true };
	if (options.serverUrl)
		return await mapConcurrent(
			images,
			limit,
			async (image) => await runTrivyScan(runner, image, side, token),
		);
	const first = await runTrivyScan(runner, images[0], side, token);
	// after a failed first scan the DB may be missing: each later scan then tries to get it itself
	const later = first.ok ? { ...side, skipDbUpdate: true } : side;
	const rest = await mapConcurrent(
		images.slice(1),
		limit,
		async (image) => await runTrivyScan(runner, image, later, token),
	);
	return [first, ...rest];
}
