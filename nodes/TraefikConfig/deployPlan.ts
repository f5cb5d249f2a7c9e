/**
 * The plan phase of a deploy: read the folder, validate it as it is and as it would be, and decide
 * per file what happens (written, unchanged, or the whole change set rejected), with a redacted diff.
 * Nothing is written here. No n8n import.
 */
import { posix } from 'node:path';

import { InfraOpsError } from '../shared/errors';
import { loadDiff } from '../shared/lazy';
import type { SshSession } from '../shared/ssh';
import { checkFileName, readFolder, type Folder } from './deployFolder';
import type { Verification } from './deployVerify';
import { validateFiles, type ConfigProblem } from './validate';

export interface DeployOutcome {
	file: string;
	path: string;
	status: 'ok' | 'warning' | 'critical';
	action: 'written' | 'unchanged' | 'rejected' | 'rolledBack' | 'dryRun' | 'refused';
	summary: string;
	diff: string;
	problems: ConfigProblem[];
	backup?: string;
	verification?: Verification;
	/** After an automatic rollback: whether the restored version is served again. */
	restoredVerification?: Verification;
}

export interface FileChange {
	fileName: string;
	content: string;
}

const PASSWORD_HASHES = [
	/\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}/g, // bcrypt (htpasswd -B, what Build Middleware writes)
	/\$(?:apr1|1)\$[./0-9A-Za-z]{1,8}\$[./0-9A-Za-z]{22}/g, // MD5-crypt (htpasswd -m)
	/\$[56]\$(?:rounds=\d+\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{43,86}/g, // SHA-crypt
	/\{SHA\}[A-Za-z0-9+/]{27}=/g, // htpasswd -s
];
const KEY_BEGIN = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const KEY_END = /-----END [A-Z0-9 ]*PRIVATE KEY-----/;

/**
 * The diff goes to Slack, email and n8n's execution log, further than the file itself: password
 * hashes (enough to guess weak passwords offline) keep only their last characters, so a changed
 * hash still shows as a changed line, and inline private keys are masked line by line.
 */
export function redactDiff(diff: string): string {
	let inKey = false;
	return diff
		.split('\n')
		.map((line) => {
			if (inKey) {
				if (KEY_END.test(line)) {
					inKey = false;
					return line;
				}
				return line.replace(/^([ +-]?\s*)\S.*$/, '$1(private key redacted)');
			}
			if (KEY_BEGIN.test(line)) {
				inKey = !KEY_END.test(line);
				return line.replace(/(-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----).*$/, '$1 (redacted)');
			}
			return PASSWORD_HASHES.reduce(
				(text, re) => text.replace(re, (hash) => `<password hash …${hash.slice(-4)}>`),
				line,
			);
		})
		.join('\n');
}

const problemKey = (p: ConfigProblem) => `${p.file}|${p.path}|${p.message}`;

/** Problems that stop a deploy: any in the file itself, new ones elsewhere, and anything that makes Traefik drop the whole update. */
function blocking(
	before: ConfigProblem[],
	after: ConfigProblem[],
	fileNames: string[],
): ConfigProblem[] {
	const existed = new Set(before.map(problemKey));
	return after.filter(
		(p) =>
			p.status === 'critical' &&
			(fileNames.includes(p.file) || p.fatal || !existed.has(problemKey(p))),
	);
}

export interface DeployPlan {
	/** The files to deploy, names checked and content ending in a newline. */
	changes: FileChange[];
	/** Each file's current content on the host; undefined where the file is new. */
	olds: Map<string, string | undefined>;
	outcomes: DeployOutcome[];
	/** Problems that stop the whole change set (see blocking). */
	stop: ConfigProblem[];
}

export async function planDeploy(
	session: SshSession,
	folder: Folder,
	changesIn: FileChange[],
	behindProxy: boolean | undefined,
): Promise<DeployPlan> {
	const changes = changesIn.map((c) => ({
		fileName: checkFileName(c.fileName),
		content: c.content.endsWith('\n') || c.content === '' ? c.content : `${c.content}\n`,
	}));
	const names = changes.map((c) => c.fileName);
	if (new Set(names).size !== names.length)
		throw new InfraOpsError(
			`A file is given twice in one deploy: ${names.join(', ')}`,
			'Give each file once',
		);
	const folderFiles = await readFolder(session, folder.dynamicDir);
	const others = folderFiles.filter((f) => !names.includes(f.name));
	const olds = new Map<string, string | undefined>();
	for (const c of changes)
		olds.set(c.fileName, folderFiles.find((f) => f.name === c.fileName)?.text);

	const beforeFiles = [
		...others,
		...changes.flatMap((c) =>
			olds.get(c.fileName) === undefined ? [] : [{ name: c.fileName, text: olds.get(c.fileName)! }],
		),
	];
	const afterFiles = [...others, ...changes.map((c) => ({ name: c.fileName, text: c.content }))];
	const before = validateFiles(beforeFiles, { behindProxy });
	const after = validateFiles(afterFiles, { behindProxy });
	const stop = blocking(before.problems, after.problems, names);

	const outcomes: DeployOutcome[] = changes.map((c) => {
		const old = olds.get(c.fileName);
		const path = posix.join(folder.dynamicDir, c.fileName);
		const diff = redactDiff(
			loadDiff().createTwoFilesPatch(
				`a/${c.fileName}`,
				`b/${c.fileName}`,
				old ?? '',
				c.content,
				old === undefined ? 'new file' : undefined,
				undefined,
				{ context: 3 },
			),
		);
		const own = stop.filter((p) => p.file === c.fileName);
		const warnings = after.problems.filter((p) => p.file === c.fileName && p.status === 'warning');
		return {
			file: c.fileName,
			path,
			diff,
			problems: [...own, ...warnings],
			status: warnings.length ? 'warning' : 'ok',
			action: old === c.content ? 'unchanged' : 'written',
			summary: '',
		};
	});
	return { changes, olds, outcomes, stop };
}

/** A change set with blocking problems: nothing is written, and every file says why. */
export function rejectChangeSet(plan: DeployPlan): DeployOutcome[] {
	const { outcomes, stop } = plan;
	for (const o of outcomes) {
		const own = stop.filter((p) => p.file === o.file);
		const first = own[0] ?? stop[0];
		if (o.action === 'unchanged' && own.length === 0) {
			o.summary = `${o.file} is unchanged (the change set was refused because of ${first.file})`;
			continue;
		}
		o.status = 'critical';
		o.action = 'rejected';
		o.problems = [...new Set([...own, ...stop])];
		o.summary = `${o.file} was not written: ${own.length ? `${own.length} problem${own.length === 1 ? '' : 's'} in it` : 'the change set has problems'} (${first.file}: ${first.message})`;
	}
	return outcomes;
}
