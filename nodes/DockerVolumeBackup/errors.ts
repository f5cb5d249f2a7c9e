/** The failures of a backup or restore run that carry more than a message. No n8n import. */
import { errorMessage, InfraOpsError } from '../shared/errors';

/** A multipart upload failed; it was aborted (no parts left) or could not be, and the bucket may hold parts. */
export class UploadError extends InfraOpsError {
	constructor(
		message: string,
		hint: string | undefined,
		readonly uploadId: string,
		readonly aborted: boolean,
		options?: { cause?: unknown },
	) {
		super(message, hint, options);
		this.name = 'UploadError';
	}
}

/**
 * A step of a run failed: `step` names it (the finding's `failedStep`), the message says
 * `<step> failed: …` and the hint of the failure is kept. A failed upload's id and whether it was
 * aborted are lifted from the cause, so the finding can name the upload left behind.
 */
export class StepError extends InfraOpsError {
	readonly uploadId?: string;
	readonly uploadAborted?: boolean;

	constructor(
		readonly step: string,
		error: unknown,
	) {
		super(
			`${step} failed: ${errorMessage(error)}`,
			error instanceof InfraOpsError ? error.hint : undefined,
			{ cause: error },
		);
		this.name = 'StepError';
		if (error instanceof UploadError) {
			this.uploadId = error.uploadId;
			this.uploadAborted = error.aborted;
		}
	}
}

/** Runs `fn` as step `name`: a failure not yet named gets the name; `timings` (if given) adds its time. */
export async function inStep<T>(
	name: string,
	fn: () => Promise<T>,
	timings?: Record<string, number>,
): Promise<T> {
	const t0 = Date.now();
	try {
		return await fn();
	} catch (error) {
		throw error instanceof StepError ? error : new StepError(name, error);
	} finally {
		if (timings) timings[name] = (timings[name] ?? 0) + Date.now() - t0;
	}
}
