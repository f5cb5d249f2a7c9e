/** One finding per scanned image, and optionally one item per vulnerability. No n8n import. */
import {
	isTransition,
	markChanged,
	type ChangeRule,
	type Finding,
	type NewFinding,
} from '../shared/findings';
import {
	assessVulnerabilities,
	describeAssessment,
	trackNewCves,
	type Assessment,
	type Policy,
} from './assess';
import type { ContainerRef } from './containers';
import type { TrivyReport, Vulnerability } from './report';
import type { ScanOutcome } from './trivyRun';

export const IMAGE_CHECK = 'trivy-image';
export const VULNERABILITY_CHECK = 'trivy-vulnerability';

export interface ImageResult {
	finding: NewFinding;
	assessment?: Assessment;
	newCves: string[];
}

export interface ImageContext {
	/** What the finding is about and what `changed` is tracked by: a tag (so a re-pulled tag keeps its history), or the image ID. */
	reference: string;
	imageId?: string;
	containers?: ContainerRef[];
	scannedOn?: string;
}

function usedBy(containers: ContainerRef[] | undefined): string {
	if (!containers?.length) return '';
	const names = containers.slice(0, 5).map((c) => c.name);
	return ` — used by ${names.join(', ')}${containers.length > names.length ? ` and ${containers.length - names.length} more` : ''}`;
}

/** Judges a report; `store` (workflow static data) holds the previous run's CVE ids per image. */
export function reportFinding(
	context: ImageContext,
	report: TrivyReport,
	policy: Policy,
	store: Record<string, unknown>,
	extra: Record<string, unknown> = {},
): ImageResult {
	const assessment = assessVulnerabilities(report.vulnerabilities, policy);
	const { newCves, changeKey } = trackNewCves(
		store,
		`${IMAGE_CHECK}|${context.reference}`,
		assessment.cveIds,
	);
	const newText =
		newCves.length && assessment.total
			? ` [new: ${newCves.slice(0, 5).join(', ')}${newCves.length > 5 ? ', …' : ''}]`
			: '';
	const eol = report.osEndOfLife ? ` (${report.os} is end of life)` : '';
	const finding: NewFinding = {
		check: IMAGE_CHECK,
		target: context.reference,
		status: assessment.status,
		summary: `${context.reference}: ${describeAssessment(assessment, policy.severities)}${newText}${eol}${usedBy(context.containers)}`,
		changeKey,
		imageId: context.imageId || report.imageId,
		artifactName: report.artifactName,
		repoDigests: report.repoDigests,
		os: report.os,
		osEndOfLife: report.osEndOfLife,
		severities: policy.severities,
		counts: assessment.counts,
		total: assessment.total,
		fixable: assessment.fixable,
		newCves,
		topCves: assessment.topCves.map((c) => ({ ...c, packages: [...c.packages] })),
		ignored: assessment.ignored,
		containers: (context.containers ?? []).map((c) => ({ ...c })),
		...(context.scannedOn ? { scannedOn: context.scannedOn } : {}),
		...extra,
	};
	return { finding, assessment, newCves };
}

export function outcomeFinding(
	context: ImageContext,
	outcome: ScanOutcome,
	policy: Policy,
	store: Record<string, unknown>,
): ImageResult {
	if (outcome.ok)
		return reportFinding(context, outcome.report, policy, store, {
			scanSeconds: Math.round(outcome.seconds * 10) / 10,
		});
	return {
		finding: {
			check: IMAGE_CHECK,
			target: context.reference,
			status: 'error',
			summary: `${context.reference}: scan failed: ${outcome.error}${usedBy(context.containers)}`,
			imageId: context.imageId ?? '',
			error: outcome.error,
			exitCode: outcome.exitCode,
			containers: (context.containers ?? []).map((c) => ({ ...c })),
			...(context.scannedOn ? { scannedOn: context.scannedOn } : {}),
		},
		newCves: [],
	};
}

/**
 * When no running container matches, an item still comes out: no items would read as a clean bill of
 * health, and a mistyped label filter would then silence the scan for good. It is an error (nothing
 * was checked), so the daily workflow alerts on it once.
 */
export function nothingRunningResult(dockerTarget: string, labelFilter: string): ImageResult {
	const summary = `No running container on ${dockerTarget}${labelFilter ? ` has the label ${labelFilter}` : ''}: no image was scanned`;
	return {
		finding: {
			check: IMAGE_CHECK,
			target: dockerTarget,
			status: 'error',
			summary,
			error: summary,
			labelFilter,
			containers: [],
		},
		newCves: [],
	};
}

/**
 * The change rule of image findings, for both stores. An image finding is news when its CVE set
 * gained a member or its scan newly failed; the default rule alone would also flag a status that
 * only drops (critical to warning once the CRITICAL CVE is fixed) or a scan that works again with
 * CVEs already reported, and an alert on those would repeat old news. New CVEs move the change key
 * (a new generation): of overlapping runs that saw the same new CVEs, only the one that moves the
 * stored key first reports them.
 */
export const isImageChange: ChangeRule = (before, finding) =>
	finding.status === 'error'
		? isTransition(before, finding)
		: ((finding.newCves as string[] | undefined) ?? []).length > 0 &&
			(before?.changeKey ?? '') !== (finding.changeKey ?? '');

/** Sets `changed` by isImageChange and keeps the state in `store` (workflow static data). */
export function markImageChanged(
	findings: NewFinding[],
	store: Record<string, unknown>,
	now?: Date,
): Finding[] {
	return markChanged(findings, store, now, isImageChange);
}

/** What one input item yields: the image findings, then (optionally) one item per vulnerability. */
export function imageOutput(
	results: ImageResult[],
	perVulnerability: boolean,
): { findings: NewFinding[]; json: Record<string, unknown>[] } {
	return {
		findings: results.map((r) => r.finding),
		json: perVulnerability ? results.flatMap(vulnerabilityItems) : [],
	};
}

function foundIn(locations: Vulnerability['locations']): string {
	const places = [...new Set(locations.map((l) => l.pkgPath || l.target))].filter(Boolean);
	if (!places.length) return '';
	return ` (in ${places.slice(0, 3).join(', ')}${places.length > 3 ? ` and ${places.length - 3} more` : ''})`;
}

/**
 * One item per CVE and package version, `changed` when the CVE is new for the image since the last run.
 * `targets` lists every lockfile or layer it was found in (the image finding counts the CVE once).
 */
export function vulnerabilityItems(result: ImageResult): Record<string, unknown>[] {
	if (!result.assessment) return [];
	const isNew = new Set(result.newCves);
	const image = result.finding.target;
	return result.assessment.vulnerabilities.map((v) => ({
		check: VULNERABILITY_CHECK,
		target: `${image} ${v.id} ${v.pkgName}`,
		status: v.severity === 'CRITICAL' ? 'critical' : 'warning',
		summary: `${image}: ${v.id} (${v.severity}) in ${v.pkgName} ${v.installedVersion}${v.fixedVersion ? `, fixed in ${v.fixedVersion}` : ', no fix yet'}${foundIn(v.locations)}${v.title ? `: ${v.title}` : ''}`,
		changed: isNew.has(v.id),
		image,
		imageId: result.finding.imageId,
		vulnerabilityId: v.id,
		severity: v.severity,
		pkgName: v.pkgName,
		installedVersion: v.installedVersion,
		fixedVersion: v.fixedVersion,
		vulnerabilityStatus: v.status,
		targets: [...new Set(v.locations.map((l) => l.target))],
		locations: v.locations.map((l) =>
			l.pkgPath ? { target: l.target, pkgPath: l.pkgPath } : { target: l.target },
		),
		title: v.title,
		primaryUrl: v.primaryUrl,
		containers: result.finding.containers,
	}));
}
