/**
 * Writing a tar stream into a volume through Docker's archive API (PUT on a never-started helper),
 * including the symlinks that API refuses: a link whose target leaves the folder it extracts into
 * (`invalid symlink "/dst/x" -> "../../etc/shadow"`) is held back from the stream and written
 * afterwards by a second, small PUT at the container's root, where no target can leave the folder.
 * Memory: the held links and their parent folders' headers, nothing of the file data. No n8n import.
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type Dockerode from 'dockerode';

import { InfraOpsError } from '../shared/errors';
import { entryDataBytes, entryPath, linkLeavesRoot, parseEntry, type TarEntry } from './tarScan';

const BLOCK = 512;
/** A volume with more out-of-volume links than this is refused rather than held in memory. */
const HELD_CAP = 100_000;

function octalField(value: number, width: number): string {
	const max = 8 ** (width - 1) - 1;
	return (
		Math.min(Math.max(0, value), max)
			.toString(8)
			.padStart(width - 1, '0') + '\0'
	);
}

function paxRecord(key: string, value: string): string {
	const body = ` ${key}=${value}\n`;
	let length = Buffer.byteLength(body) + 1;
	while (String(length).length + Buffer.byteLength(body) !== length)
		length = String(length).length + Buffer.byteLength(body);
	return `${length}${body}`;
}

function ustarHeader(
	name: string,
	type: string,
	size: number,
	mode: number,
	uid: number,
	gid: number,
	mtime: number,
	link = '',
): Buffer {
	const h = Buffer.alloc(BLOCK);
	h.write(name.slice(0, 99), 0, 'latin1');
	h.write(octalField(mode, 8), 100, 'latin1');
	h.write(octalField(uid, 8), 108, 'latin1');
	h.write(octalField(gid, 8), 116, 'latin1');
	h.write(octalField(size, 12), 124, 'latin1');
	h.write(octalField(mtime, 12), 136, 'latin1');
	h.write(type, 156, 'latin1');
	h.write(link.slice(0, 99), 157, 'latin1');
	h.write('ustar\0', 257, 'latin1');
	h.write('00', 263, 'latin1');
	h.fill(0x20, 148, 156);
	let sum = 0;
	for (const byte of h) sum += byte;
	h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
	return h;
}

/** One entry with a pax header carrying its exact path, link, owner and time (no length limits). */
function tarEntry(name: string, entry: TarEntry): Buffer {
	const records = [
		paxRecord('path', name),
		paxRecord('uid', entry.uid),
		paxRecord('gid', entry.gid),
		paxRecord('mtime', String(entry.mtime)),
	];
	if (entry.type === '2') records.push(paxRecord('linkpath', entry.link));
	const pax = Buffer.from(records.join(''), 'utf8');
	const padding = Buffer.alloc((BLOCK - (pax.length % BLOCK)) % BLOCK);
	const placeholder = 'PaxHeaders/entry';
	return Buffer.concat([
		ustarHeader(placeholder, 'x', pax.length, 0o644, 0, 0, entry.mtime),
		pax,
		padding,
		ustarHeader(
			placeholder,
			entry.type,
			0,
			entry.mode,
			Number(entry.uid),
			Number(entry.gid),
			entry.mtime,
			entry.type === '2' ? 'link' : '',
		),
	]);
}

/**
 * Passes a tar stream through, minus the symlinks Docker's PUT would refuse; keeps those (and the
 * headers of their parent folders, whose times the second PUT must set again) for `linkTar`.
 */
export class OutsideLinkFilter extends Transform {
	readonly held: TarEntry[] = [];
	private readonly dirs = new Map<string, TarEntry>();
	/** Folders on the path being walked (Docker's archive is depth first). */
	private stack: TarEntry[] = [];
	private partial = Buffer.alloc(0);
	private pending: Buffer[] = [];
	private meta?: { type: string; size: number; remaining: number; parts: Buffer[] };
	private pax: Record<string, string> = {};
	private longName?: string;
	private longLink?: string;
	private data = 0;

	constructor() {
		super({ highWaterMark: 1024 * 1024 });
	}

	override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
		try {
			this.scan(chunk);
		} catch (error) {
			return callback(error as Error);
		}
		callback();
	}

	override _flush(callback: TransformCallback): void {
		for (const b of this.pending) this.push(b);
		if (this.partial.length) this.push(this.partial);
		callback();
	}

	private scan(chunk: Buffer): void {
		let offset = 0;
		while (offset < chunk.length) {
			if (this.data > 0) {
				const take = Math.min(this.data, chunk.length - offset);
				this.push(chunk.subarray(offset, offset + take));
				this.data -= take;
				offset += take;
				continue;
			}
			if (this.meta) {
				const take = Math.min(this.meta.remaining, chunk.length - offset);
				const part = Buffer.from(chunk.subarray(offset, offset + take));
				this.pending.push(part);
				this.meta.parts.push(part);
				this.meta.remaining -= take;
				offset += take;
				if (this.meta.remaining === 0) this.endMeta();
				continue;
			}
			const take = Math.min(BLOCK - this.partial.length, chunk.length - offset);
			this.partial = Buffer.concat([this.partial, chunk.subarray(offset, offset + take)]);
			offset += take;
			if (this.partial.length === BLOCK) {
				const header = this.partial;
				this.partial = Buffer.alloc(0);
				this.onHeader(header);
			}
		}
	}

	private endMeta(): void {
		const meta = this.meta!;
		this.meta = undefined;
		const data = Buffer.concat(meta.parts).subarray(0, meta.size);
		if (meta.type === 'x') {
			this.pax = {};
			let at = 0;
			while (at < data.length) {
				const space = data.indexOf(0x20, at);
				const length = space < 0 ? 0 : parseInt(data.subarray(at, space).toString('latin1'), 10);
				if (!length) break;
				const record = data.subarray(space + 1, at + length - 1).toString('utf8');
				const eq = record.indexOf('=');
				if (eq > 0) this.pax[record.slice(0, eq)] = record.slice(eq + 1);
				at += length;
			}
		} else if (meta.type === 'L' || meta.type === 'K') {
			const end = data.indexOf(0);
			const text = data.subarray(0, end < 0 ? data.length : end).toString('utf8');
			if (meta.type === 'L') this.longName = text;
			else this.longLink = text;
		}
	}

	private onHeader(header: Buffer): void {
		if (header.every((b) => b === 0)) {
			this.flushPending(header);
			return;
		}
		const type = String.fromCharCode(header[156] || 0x30);
		if (type === 'x' || type === 'L' || type === 'K' || type === 'g') {
			const size = parseInt(
				header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0',
				8,
			);
			this.pending.push(header);
			const padded = Math.ceil(size / BLOCK) * BLOCK;
			if (padded) this.meta = { type, size, remaining: padded, parts: [] };
			return;
		}
		const entry = parseEntry(header, this.pax, this.longName, this.longLink);
		this.pax = {};
		this.longName = undefined;
		this.longLink = undefined;
		const path = entryPath(entry.name);
		const isAncestor = (dir: TarEntry) => path.startsWith(`${dir.name}/`);
		if (entry.type === '5') {
			while (this.stack.length && !isAncestor(this.stack[this.stack.length - 1])) this.stack.pop();
			if (path) this.stack.push({ ...entry, name: path });
		}
		if (entry.type === '2' && linkLeavesRoot(path, entry.link)) {
			if (this.held.length >= HELD_CAP)
				throw new InfraOpsError(
					`More than ${HELD_CAP} symlinks point outside the volume`,
					'Restore this backup with age -d | zstd -d | tar -x instead',
				);
			this.held.push({ ...entry, name: path });
			for (const dir of this.stack) if (isAncestor(dir)) this.dirs.set(dir.name, dir);
			this.pending = [];
			return;
		}
		this.flushPending(header);
		this.data = Math.ceil(entryDataBytes(entry) / BLOCK) * BLOCK;
	}

	private flushPending(header: Buffer): void {
		for (const b of this.pending) this.push(b);
		this.pending = [];
		this.push(header);
	}

	/** The held links as a tar for a PUT at "/", under `base` (the extraction folder without its leading slash). */
	linkTar(base: string): Buffer {
		const parts = this.held.map((e) => tarEntry(`${base}/${e.name}`, e));
		// the links changed their folders' times: set them again (Docker applies folder times last)
		for (const dir of this.dirs.values()) parts.push(tarEntry(`${base}/${dir.name}/`, dir));
		parts.push(Buffer.alloc(BLOCK * 2));
		return Buffer.concat(parts);
	}
}

/**
 * The archive root's mode, owner and time as one folder entry `base/`, for a PUT at "/": Docker does
 * not apply an archive's own `./` entry to the folder it extracts into, but does apply a folder entry
 * to an existing folder (here the volume's mount point).
 */
export function rootFolderTar(
	base: string,
	root: { mode: number; uid: string; gid: string; mtime: number },
): Buffer {
	return Buffer.concat([
		tarEntry(`${base}/`, { name: '', type: '5', link: '', realSize: 0, ...root }),
		Buffer.alloc(BLOCK * 2),
	]);
}

export interface TreeWrite {
	/** Settles when Docker has taken the whole stream (first PUT) and the held links (second PUT). */
	done: Promise<void>;
	filter: OutsideLinkFilter;
}

/**
 * Streams `tar` into `dest` (a folder inside the helper, e.g. /dst) via PUT; then writes the held
 * links. The caller awaits its own read side first: a read failure must abort, not wait for Docker.
 */
export function putTree(helper: Dockerode.Container, dest: string, tar: Readable): TreeWrite {
	const filter = new OutsideLinkFilter();
	tar.on('error', (error) => filter.destroy(error));
	filter.on('error', () => tar.destroy());
	tar.pipe(filter);
	const done = (async () => {
		await helper.putArchive(filter as unknown as NodeJS.ReadableStream, { path: dest });
		if (filter.held.length)
			await helper.putArchive(filter.linkTar(dest.replace(/^\/+/, '')), { path: '/' });
	})();
	// Docker refused the stream: keep reading it to the end (into nothing), so the caller's read side
	// finishes and can still say whether the archive itself is intact
	done.catch(() => {
		filter.unpipe();
		filter.resume();
	});
	return { done, filter };
}
