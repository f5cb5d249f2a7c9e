/**
 * Imported first by tests that assert on n8n's log output. n8n's logger takes its level from the
 * environment when its config is first built (possibly as n8n-core loads), and winston's console
 * transport writes to `console._stdout` (jest's consoles have one of their own) or calls a
 * `console.log` it bound when created: so the level is set and every route is tapped here, at
 * import, before any of that happens.
 */
process.env.N8N_LOG_LEVEL = 'debug';

const printed: string[] = [];

// jest's consoles are Node Consoles over streams of their own, exposed as _stdout/_stderr
const consoleStreams = console as unknown as {
	_stdout?: NodeJS.WritableStream;
	_stderr?: NodeJS.WritableStream;
};
for (const stream of new Set([
	process.stdout,
	process.stderr,
	consoleStreams._stdout,
	consoleStreams._stderr,
])) {
	if (!stream) continue;
	const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
	stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
		printed.push(String(chunk));
		return write(chunk, ...rest);
	}) as typeof stream.write;
}
for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
	const original = console[method].bind(console);
	console[method] = (...args: unknown[]) => {
		printed.push(args.map(String).join(' '));
		original(...args);
	};
}

/** What was logged since the last clear(). */
export const capturedOutput = {
	text: (): string => printed.join('\n'),
	clear: (): void => {
		printed.length = 0;
	},
};
