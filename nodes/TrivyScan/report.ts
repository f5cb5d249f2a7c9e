/** Reads Trivy's JSON report (`trivy image --format json`, SchemaVersion 2) into plain data.
 * Tolerant of what Trivy leaves out: no `Results` (nothing detected, or every scanner skipped), a
 * result without `Vulnerabilities`, a vulnerability without `Title`, `FixedVersion` or `Status`. */
import { InfraOpsError } from '../shared/errors';

export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Vulnerability {
	id: string;
	pkgName: string;
	installedVersion: string;
	/** Empty when no fixed version is known. */
	fixedVersion: string;
	severity: Severity;
	/** Trivy's status: fixed, affected, will_not_fix, fix_deferred, end_of_life, …; empty in old reports. */
	status: string;
	title: string;
	primaryUrl: string;
	/** The first result (target) it was found in, e.g. `… (alpine 3.9.4)` or `app/package-lock.json`. */
	target: string;
	/** Every place it was found: a lockfile or layer path per result, with Trivy's `PkgPath` (e.g. a jar inside an image) when it gives one. */
	locations: VulnerabilityLocation[];
}

export interface VulnerabilityLocation {
	target: string;
	/** Empty when Trivy gives none (OS packages, most lockfiles). */
	pkgPath: string;
}

export interface TrivyReport {
	schemaVersion: number;
	artifactName: string;
	artifactType: string;
	/** `sha256:…` of the image config, when Trivy scanned an image. */
	imageId: string;
	repoTags: string[];
	repoDigests: string[];
	/** e.g. `alpine 3.9.4`; empty when Trivy detected no OS. */
	os: string;
	/** Trivy says the OS is past its end of support (no more fixes). */
	osEndOfLife: boolean;
	vulnerabilities: Vulnerability[];
}

type Json = Record<string, unknown>;

const asObject = (value: unknown): Json | undefined =>
	value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
const asString = (value: unknown): string => (typeof value === 'string' ? value : '');
const asStrings = (value: unknown): string[] =>
	Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

export function normalizeSeverity(value: unknown): Severity {
	const upper = asString(value).toUpperCase();
	return (SEVERITIES as readonly string[]).includes(upper) ? (upper as Severity) : 'UNKNOWN';
}

/**
 * Parses a report given as text or bytes. `source` names where it came from, for messages.
 * The same vulnerability in the same package and version is listed once, even when Trivy lists it per
 * result (two lockfiles, two jars): that entry keeps every target and `PkgPath` it was found in.
 */
export function parseTrivyReport(input: string | Buffer, source = 'the report'): TrivyReport {
	const text = (typeof input === 'string' ? input : input.toString('utf8'))
		.replace(/^\uFEFF/, '')
		.trim();
	if (!text) {
		throw new InfraOpsError(
			`${source} is empty`,
			'Trivy writes the JSON report to stdout with --format json; check that it ran and that nothing else was written there',
		);
	}
	let data: unknown;
	try {
		data = JSON.parse(text);
	} catch (error) {
		throw new InfraOpsError(
			`${source} is not JSON: ${(error as Error).message}`,
			'Give the output of `trivy image --format json` (not the table format, and without log lines: Trivy logs to stderr, use --quiet)',
		);
	}
	const root = asObject(data);
	if (!root) throw new InfraOpsError(`${source} is not a Trivy JSON report (expected an object)`);
	const schemaVersion = Number(root.SchemaVersion);
	if (schemaVersion !== 2) {
		throw new InfraOpsError(
			`${source} has SchemaVersion ${root.SchemaVersion === undefined ? '(none)' : JSON.stringify(root.SchemaVersion)}, not 2`,
			'This node reads Trivy JSON reports of SchemaVersion 2 (Trivy 0.20 and later); upgrade Trivy or give a report it wrote with --format json',
		);
	}
	if (root.Results !== undefined && root.Results !== null && !Array.isArray(root.Results)) {
		throw new InfraOpsError(`${source}: "Results" is not a list`);
	}
	const metadata = asObject(root.Metadata) ?? {};
	const os = asObject(metadata.OS);
	const osText =
		os && asString(os.Family) && asString(os.Family) !== 'none'
			? `${asString(os.Family)} ${asString(os.Name)}`.trim()
			: '';

	const seen = new Map<string, Vulnerability>();
	const vulnerabilities: Vulnerability[] = [];
	for (const result of (root.Results as unknown[] | undefined) ?? []) {
		const r = asObject(result);
		if (!r) continue;
		const target = asString(r.Target);
		// absent means none found; anything else that is not a list would otherwise read as "no vulnerabilities"
		if (
			r.Vulnerabilities !== undefined &&
			r.Vulnerabilities !== null &&
			!Array.isArray(r.Vulnerabilities)
		) {
			throw new InfraOpsError(
				`${source}: "Vulnerabilities" of ${target ? `"${target}"` : 'a result'} is not a list`,
			);
		}
		const list = (r.Vulnerabilities as unknown[] | null | undefined) ?? [];
		for (const item of list) {
			const v = asObject(item);
			const id = v && asString(v.VulnerabilityID);
			if (!v || !id) continue;
			const pkgName = asString(v.PkgName);
			const installedVersion = asString(v.InstalledVersion);
			const location = { target, pkgPath: asString(v.PkgPath) };
			const key = `${id}|${pkgName}|${installedVersion}`;
			const known = seen.get(key);
			if (known) {
				if (
					!known.locations.some(
						(l) => l.target === location.target && l.pkgPath === location.pkgPath,
					)
				)
					known.locations.push(location);
				continue;
			}
			const entry: Vulnerability = {
				id,
				pkgName,
				installedVersion,
				fixedVersion: asString(v.FixedVersion),
				severity: normalizeSeverity(v.Severity),
				status: asString(v.Status),
				title: asString(v.Title),
				primaryUrl: asString(v.PrimaryURL),
				target,
				locations: [location],
			};
			seen.set(key, entry);
			vulnerabilities.push(entry);
		}
	}
	return {
		schemaVersion,
		artifactName: asString(root.ArtifactName),
		artifactType: asString(root.ArtifactType),
		imageId: asString(metadata.ImageID),
		repoTags: asStrings(metadata.RepoTags),
		repoDigests: asStrings(metadata.RepoDigests),
		os: osText,
		osEndOfLife: os?.EOSL === true,
		vulnerabilities,
	};
}
