/** Audit Limits: one finding per container with each rule of its policy entry it violates. */
import type { NewFinding } from '../shared/findings';
import { composeSnippet } from './apply';
import { describeContainer, type InspectInfo, type ListedContainer } from './containers';
import { currentLimits, evaluate, policyFor, type PolicyEntry } from './policy';
import { composeBytes, cpusFromNano } from './sizes';

export function auditContainers(
	containers: Array<{ listed: ListedContainer; info: InspectInfo }>,
	policy: PolicyEntry[],
): NewFinding[] {
	return containers.map(({ listed, info }) => {
		const who = describeContainer(listed);
		const now = currentLimits(info);
		const base = {
			check: 'container-limits',
			target: listed.name,
			containerId: listed.id.slice(0, 12),
			image: listed.image,
			state: listed.state,
			composeProject: listed.compose?.project ?? null,
			composeService: listed.compose?.service ?? null,
			composeFile: listed.compose?.configFiles[0] ?? null,
			current: {
				memory: now.memory ? composeBytes(now.memory) : null,
				memoryReservation: now.memoryReservation ? composeBytes(now.memoryReservation) : null,
				cpus: now.nanoCpus ? cpusFromNano(now.nanoCpus) : null,
				pidsLimit: now.pidsLimit || null,
				restartPolicy: now.restartPolicy,
				healthcheck: now.healthcheck,
				oomKillDisable: now.oomKillDisable,
			},
		};
		const entry = policyFor(policy, listed.name, listed.compose);
		if (!entry)
			return {
				...base,
				status: 'ok',
				summary: `${who}: no policy entry matches`,
				policyEntry: null,
				violations: [],
			};
		const { violations, recommended } = evaluate(entry, now);
		const hasRecommendation = Object.keys(recommended).length > 0;
		return {
			...base,
			status: violations.length ? entry.severity : 'ok',
			summary: violations.length
				? `${who}: ${violations.map((v) => v.message).join('; ')}`
				: `${who} meets the policy "${entry.match}"`,
			// a new violation or a fixed one is a change even when the status stays the same
			changeKey: violations.map((v) => v.rule).join(','),
			policyEntry: entry.match,
			policyLine: entry.line,
			violations,
			recommended: hasRecommendation ? recommended : null,
			composeSnippet: hasRecommendation
				? composeSnippet({
						service: listed.compose?.service ?? listed.name,
						// the limits it keeps too, so pasting the snippet does not drop one
						memory: recommended.memory ?? base.current.memory ?? undefined,
						memoryReservation:
							recommended.memoryReservation ?? base.current.memoryReservation ?? undefined,
						cpus: recommended.cpus ?? base.current.cpus ?? undefined,
						pidsLimit: recommended.pidsLimit ?? base.current.pidsLimit ?? undefined,
					})
				: null,
		};
	});
}
