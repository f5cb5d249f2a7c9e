/** Parameters shared by the operations: thresholds and trust, and the certificate change key. */
import type { IDataObject, INodeProperties } from 'n8n-workflow';

import type { NewFinding } from '../../shared/findings';
import type { StateValues } from '../../shared/nodeState';
import {
	certificateChangeKey,
	LATEST_EXPIRY_KEY,
	mergeLatestExpiry,
	type Assessment,
	type Thresholds,
} from '../judge';
import { InfraOpsError } from '../../shared/errors';

export const thresholdOptions: INodeProperties[] = [
	{
		displayName: 'Thresholds',
		name: 'thresholds',
		type: 'options',
		options: [
			{
				name: 'Scale With Lifetime',
				value: 'lifetime',
				description:
					'Warning at ≤ min(21 days, 1/3 of the lifetime), critical at ≤ min(7 days, 1/6): right for 90-day and 45-day ACME certificates alike',
			},
			{ name: 'Fixed Days', value: 'fixed' },
		],
		default: 'lifetime',
	},
	{
		displayName: 'Warning Days',
		name: 'warningDays',
		type: 'number',
		default: 21,
		displayOptions: { show: { thresholds: ['fixed'] } },
	},
	{
		displayName: 'Critical Days',
		name: 'criticalDays',
		type: 'number',
		default: 7,
		displayOptions: { show: { thresholds: ['fixed'] } },
	},
	{
		displayName: 'Custom CA Certificate',
		name: 'customCa',
		type: 'string',
		typeOptions: { rows: 4 },
		default: '',
		placeholder: '-----BEGIN CERTIFICATE-----',
		description: 'Trusted beside the system roots (e.g. an internal CA)',
	},
];

export function readThresholds(options: IDataObject): Thresholds {
	return options.thresholds === 'fixed'
		? {
				mode: 'fixed',
				warningDays: Number(options.warningDays ?? 21),
				criticalDays: Number(options.criticalDays ?? 7),
			}
		: { mode: 'lifetime' };
}

/** Sub-second timeouts are honoured as given (a LAN endpoint answers in milliseconds); zero, negative
 * or non-numeric ones are refused, since they would time out every endpoint. */
export function readTimeoutMs(options: IDataObject): number {
	const raw = options.timeoutSeconds ?? 10;
	const seconds = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
	if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
		throw new InfraOpsError(
			`Timeout (Seconds) must be a number above 0, not "${String(raw)}"`,
			'Give the seconds to wait per endpoint, e.g. 10, or 0.5 for half a second',
		);
	}
	return Math.max(1, Math.round(seconds * 1000));
}

export function assessmentFinding(
	check: string,
	target: string,
	assessment: Assessment,
	extra: IDataObject = {},
): NewFinding {
	return {
		check,
		target,
		status: assessment.status,
		summary: `${target}: ${assessment.summary}`,
		...assessment.details,
		problems: assessment.problems.map((p) => ({ ...p })),
		...extra,
	};
}

/** The value certificate change keys keep besides `changed` (latest expiry per target), with its merge. */
export const CERT_VALUES: StateValues = { [LATEST_EXPIRY_KEY]: mergeLatestExpiry };

/**
 * `findingsToItems`' `beforeMark` for certificate findings: a renewed certificate (new fingerprint)
 * counts as a change even when its status stays the same.
 */
export function certificateChangeKeys(
	assessments: Map<NewFinding, Assessment>,
): (findings: NewFinding[], store: Record<string, unknown>) => void {
	return (findings, store) => {
		for (const finding of findings) {
			const assessment = assessments.get(finding);
			if (assessment)
				finding.changeKey = certificateChangeKey(
					store,
					`${finding.check}|${finding.target}`,
					assessment,
				);
		}
	};
}
