/** Error lines from the Docker Engine's container logs (`GET /containers/{id}/logs`), per container since its cursor. */
import type { IncomingMessage } from 'node:http';
import type Dockerode from 'dockerode';

import { mapConcurrent } from '../shared/concurrency';
import { describeConnectError, InfraOpsError, withTimeout } from '../shared/errors';
import type { NewFinding } from '../shared/findings';
import type { ListedContainer } from './containers';
import {
	cursorsOf,
	cutAtCursor,
	digestFinding,
	digestLines,
	LOG_TIMEOUT_MS,
	timestampToNs,
	type DigestOptions,
	type LogLine,
} from './logDigest';

function nsToDockerSince(ns: bigint): string {
	return `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
}

/**
 * The payload of Docker's log stream: raw for a TTY container, else frames of an 8-byte header
 * (stream type, 3 zero bytes, big-endian length) and that many bytes. A frame cut off at the byte
 * bound is dropped whole.
 */
export function demultiplex(buffer: Buffer, tty: boolean): string {
	if (tty) return buffer.toString('utf8');
	const parts: Buffer[] = [];
	let offset = 0;
	while (offset + 8 <= buffer.length) {
		const size = buffer.readUInt32BE(offset + 4);
		if (offset + 8 + size > buffer.length) break;
		parts.push(buffer.subarray(offset + 8, offset + 8 + size));
		offset += 8 + size;
	}
	return Buffer.concat(parts).toString('utf8');
}

/** Lines of `docker logs --timestamps` output; a last line without its newline was cut and is left for the next run. */
export function parseTimestampedLines(text: string): LogLine[] {
	const lines: LogLine[] = [];
	const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
	for (const raw of complete.split('\n')) {
		const line = raw.replace(/\r$/, '');
		const space = line.indexOf(' ');
		const ns = space > 0 ? timestampToNs(line.slice(0, space)) : undefined;
		if (ns !== undefined) lines.push({ ns, text: line.slice(space + 1) });
	}
	return lines;
}

/** The message with what varies between repeats masked: timestamps, UUIDs, hex ids, IPs, numbers. */

export interface DockerLogOptions extends DigestOptions {
	/** Where a container without a cursor starts reading (first run, new container). */
	lookbackMinutes: number;
	/** Bytes read per container and run; the rest is read by the next run. */
	maxBytes: number;
	concurrency: number;
	/** Cursor scope: the Docker target and selection, so two nodes in one workflow do not share. */
	scope: string;
	/** Name prefix of targets (`<host>/<container>`). */
	host: string;
	now: Date;
}

async function readLogBytes(
	docker: Dockerode,
	id: string,
	since: string,
	until: string,
	maxBytes: number,
): Promise<{ buffer: Buffer; truncated: boolean }> {
	const stream = await new Promise<IncomingMessage>((resolve, reject) =>
		docker.modem.dial(
			{
				path: `/containers/${id}/logs?`,
				method: 'GET',
				options: { since, until, timestamps: true, stdout: true, stderr: true, follow: false },
				isStream: true,
				statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
			},
			(error: unknown, response: unknown) =>
				error ? reject(error as Error) : resolve(response as IncomingMessage),
		),
	);
	const chunks: Buffer[] = [];
	let size = 0;
	let truncated = false;
	// a daemon that stops sending mid-stream must not hold the run (nor leave the socket open)
	const timer = setTimeout(
		() => stream.destroy(new InfraOpsError(`Docker sent the logs of ${id} too slowly`)),
		LOG_TIMEOUT_MS,
	);
	await new Promise<void>((resolve, reject) => {
		stream.on('data', (chunk: Buffer) => {
			if (truncated) return;
			chunks.push(chunk);
			size += chunk.length;
			if (size >= maxBytes) {
				truncated = true;
				stream.destroy();
				resolve();
			}
		});
		stream.on('end', resolve);
		stream.on('close', resolve);
		stream.on('error', (error) => (truncated ? resolve() : reject(error)));
	}).finally(() => clearTimeout(timer));
	const buffer = Buffer.concat(chunks);
	return { buffer: buffer.subarray(0, maxBytes), truncated };
}

/**
 * One finding per container with new error lines since its cursor (or the lookback), a finding
 * `error` for a container whose logs cannot be read, and the cursors moved to the last line read.
 */
export async function dockerErrorDigest(
	docker: Dockerode,
	containers: (ListedContainer & { tty: boolean })[],
	store: Record<string, unknown>,
	options: DockerLogOptions,
): Promise<NewFinding[]> {
	const cursors = cursorsOf(store, `docker ${options.scope}`);
	const nowNs = BigInt(options.now.getTime()) * 1_000_000n;
	const lookbackNs = nowNs - BigInt(Math.round(options.lookbackMinutes * 60_000)) * 1_000_000n;
	const results = await mapConcurrent(containers, Math.max(1, options.concurrency), async (c) => {
		const target = `${options.host}/${c.name}`;
		const previous = cursors[c.id] ? BigInt(cursors[c.id]) : undefined;
		const since = previous ?? lookbackNs;
		try {
			const { buffer, truncated } = await withTimeout(
				readLogBytes(
					docker,
					c.id,
					// the cursor is the last line handled: read from just after it
					nsToDockerSince(previous !== undefined ? previous + 1n : since),
					nsToDockerSince(nowNs),
					options.maxBytes,
				),
				LOG_TIMEOUT_MS,
				`reading the logs of ${c.name}`,
			);
			// `since` is inclusive at the second's fraction Docker keeps: drop what the cursor covers
			let read = parseTimestampedLines(demultiplex(buffer, c.tty)).filter(
				(l) => previous === undefined || l.ns > previous,
			);
			if (truncated && !read.length) {
				// one line longer than Max KiB would hold the cursor forever; Docker stamps every 16 KiB
				// piece of a line with the line's time, so its start is digested and the cursor passes it
				const head = parseTimestampedLines(
					`${buffer.toString('utf8', c.tty ? 0 : 8, (c.tty ? 0 : 8) + 2_000).split(/\r?\n/)[0]}\n`,
				)[0];
				if (head && (previous === undefined || head.ns > previous))
					read = [{ ns: head.ns, text: `${head.text} … (cut: the line is longer than Max KiB)` }];
			}
			const { lines, cursor } = cutAtCursor(read, truncated, previous ?? since);
			return {
				id: c.id,
				cursor,
				finding: digestFinding('log-errors', target, digestLines(lines, options), cursor, options, {
					container: c.name,
					source: 'docker',
					truncated,
				}),
			};
		} catch (error) {
			const status = (error as { statusCode?: number }).statusCode;
			const reason =
				status === 403
					? 'Docker refused the logs call (403)'
					: error instanceof InfraOpsError
						? error.message
						: describeConnectError('container logs', error).message;
			return {
				id: c.id,
				cursor: previous,
				finding: {
					check: 'log-errors',
					target,
					status: 'error' as const,
					summary: `Cannot read the logs of ${c.name}: ${reason}`,
					hint:
						status === 403
							? 'A docker-socket-proxy in front of the socket must allow CONTAINERS (GET /containers/{id}/logs)'
							: undefined,
					container: c.name,
					source: 'docker',
				},
			};
		}
	});
	// containers that are gone drop their cursor; the store does not grow with every container ever run
	const next: Record<string, string> = {};
	for (const r of results) if (r.cursor !== undefined) next[r.id] = String(r.cursor);
	for (const key of Object.keys(cursors)) delete cursors[key];
	Object.assign(cursors, next);
	return results.flatMap((r) => (r.finding ? [r.finding] : []));
}
