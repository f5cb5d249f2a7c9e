/** Parameters shared by the operations: thresholds and trust, and how findings become items. */
import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { markChanged, type NewFinding } from '../../shared/findings';
import { certificateChangeKey, type Assessment, type Thresholds } from '../judge';
import { type ErrorFields, errorItemJson, InfraOpsError } from '../../shared/errors';

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

/** `error`: a bad input of this item when continueOnFail is on. */
export interface CheckResult extends ErrorFields {
	itemIndex: number;
	finding?: NewFinding;
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

/** Marks `changed` against the previous run and turns results into items paired with their input. */
export function toItems(
	context: IExecuteFunctions,
	results: CheckResult[],
	assessments: Map<NewFinding, Assessment>,
): INodeExecutionData[] {
	const store = context.getWorkflowStaticData('node');
	const findings = results.flatMap((r) => (r.finding ? [r.finding] : []));
	for (const finding of findings) {
		const assessment = assessments.get(finding);
		if (assessment)
			finding.changeKey = certificateChangeKey(
				store,
				`${finding.check}|${finding.target}`,
				assessment,
			);
	}
	const marked = markChanged(findings, store);
	let k = 0;
	return results.map((r) =>
		r.finding
			? { json: marked[k++] as unknown as IDataObject, pairedItem: { item: r.itemIndex } }
			: { json: errorItemJson(r), pairedItem: { item: r.itemIndex } },
	);
}
