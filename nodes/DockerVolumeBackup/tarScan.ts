// Over 350 lines: one Transform reading tar headers (ustar, pax, GNU long names, sparse) as the stream flows.
/**
 * A pass-through that reads a tar stream as it flows: SHA-256 of every byte, entry count, file
 * bytes, and a digest of the file tree (path, type, mode, owner, size, link target, mtime) so two
 * archives can be compared without holding either. No n8n import.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export interface TarStats {
	/** SHA-256 of the tar stream as Docker produced it (hex). */
	sha256: string;
	/** Bytes of the tar stream. */
	tarBytes: number;
	/** Entries: files, folders, links (the root "./" included). */
	entries: number;
	files: number;
	/** Sum of regular file sizes. */
	fileBytes: number;
	/** SHA-256 over the entries' metadata in archive order, the root folder left out (hex). */
	treeSha256: string;
}

/**
 * What the scan can tell about sparse files. Docker's archive stream (Go's archive/tar) and plain
 * `tar -c` write no sparse headers: holes arrive as zeros, cost their full size to read, and restore
 * fully allocated. So besides GNU sparse entries (counted with their apparent and stored size, when an
 * archive has them), the scan counts 4 KiB-aligned all-zero blocks per file: a file with at least
 * 1 MiB of them is reported as zero-filled, i.e. what a sparse file looks like in such a stream
 * (a hole and written zeros are indistinguishable here; the allocated size is not in the archive).
 */
export interface SparseSeen {
	/** Entries with GNU sparse headers (type S or PAX GNU.sparse.*). */
	sparseEntries: number;
	/** Their apparent size (realsize) and the data actually stored for them. */
	sparseApparentBytes: number;
	sparseStoredBytes: number;
	/** Regular files holding at least 1 MiB of 4 KiB-aligned zero blocks. */
	zeroFilledFiles: number;
	/** Their apparent size, and the zero blocks in them (what a sparse restore could leave unallocated). */
	zeroFilledApparentBytes: number;
	zeroFilledZeroBytes: number;
}

const ZERO_BLOCK = Buffer.alloc(4096);
const ZERO_FILE_THRESHOLD = 1024 * 1024;

const BLOCK = 512;

function octal(field: Buffer): number {
	if (field[0] & 0x80) {
		// base-256 (GNU) for sizes >= 8 GiB
		let value = 0;
		for (let i = 1; i < field.length; i++) value = value * 256 + field[i];
		return value;
	}
	const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
	return text ? parseInt(text, 8) : 0;
}

function cstring(field: Buffer): string {
	const end = field.indexOf(0);
	return field.subarray(0, end < 0 ? field.length : end).toString('utf8');
}

function parsePax(data: Buffer): Record<string, string> {
	const out: Record<string, string> = {};
	let offset = 0;
	while (offset < data.length) {
		const space = data.indexOf(0x20, offset);
		if (space < 0) break;
		const length = parseInt(data.subarray(offset, space).toString('latin1'), 10);
		if (!length) break;
		const record = data.subarray(space + 1, offset + length - 1).toString('utf8');
		const eq = record.indexOf('=');
		if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
		offset += length;
	}
	return out;
}

export class TarScanner extends Transform {
	private readonly hash: Hash = createHash('sha256');
	private readonly tree: Hash = createHash('sha256');
	private tarBytes = 0;
	private entries = 0;
	private files = 0;
	private fileBytes = 0;
	/** Bytes of the current entry's data (plus padding) still to skip. */
	private skip = 0;
	/** Metadata entry being collected (pax 'x' or GNU long name 'L'/'K'). */
	private meta?: { type: string; remaining: number; padding: number; parts: Buffer[] };
	private pax: Record<string, string> = {};
	private longName?: string;
	private longLink?: string;
	private header = Buffer.alloc(0);
	private ended = false;
	private readonly outsideSet = new Set<string>();
	stats?: TarStats;
	/** Symlinks pointing outside the volume (first 50): Docker's archive API alone cannot restore them. */
	readonly linksOutside: string[] = [];
	/** The archive's own folder entry (`./`): the volume root's mode and owner. */
	root?: TarEntry;
	/** Symlinks with an absolute target, as `path -> target` (first 50). */
	readonly absoluteLinks: string[] = [];
	/** Entries no restore path of this node reproduces (first 50), with the reason. */
	readonly unrestorable: string[] = [];
	readonly sparse: SparseSeen = {
		sparseEntries: 0,
		sparseApparentBytes: 0,
		sparseStoredBytes: 0,
		zeroFilledFiles: 0,
		zeroFilledApparentBytes: 0,
		zeroFilledZeroBytes: 0,
	};
	/** The current regular file's data still to come (padding excluded), where it is, and its zero blocks so far. */
	private dataLeft = 0;
	private dataOffset = 0;
	private dataSize = 0;
	private zeroBytes = 0;
	private blockZero = true;

	constructor() {
		super({ highWaterMark: 1024 * 1024 });
	}

	override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
		this.hash.update(chunk);
		this.tarBytes += chunk.length;
		try {
			this.scan(chunk);
		} catch (error) {
			return callback(error as Error);
		}
		callback(null, chunk);
	}

	override _flush(callback: TransformCallback): void {
		this.stats = {
			sha256: this.hash.digest('hex'),
			tarBytes: this.tarBytes,
			entries: this.entries,
			files: this.files,
			fileBytes: this.fileBytes,
			treeSha256: this.tree.digest('hex'),
		};
		callback();
	}

	private scan(chunk: Buffer): void {
		let offset = 0;
		while (offset < chunk.length && !this.ended) {
			if (this.meta) {
				const take = Math.min(this.meta.remaining, chunk.length - offset);
				this.meta.parts.push(chunk.subarray(offset, offset + take));
				this.meta.remaining -= take;
				offset += take;
				if (this.meta.remaining === 0) {
					const data = Buffer.concat(this.meta.parts);
					if (this.meta.type === 'x') this.pax = parsePax(data);
					else if (this.meta.type === 'L') this.longName = cstring(data);
					else if (this.meta.type === 'K') this.longLink = cstring(data);
					this.skip = this.meta.padding;
					this.meta = undefined;
				}
				continue;
			}
			if (this.skip > 0) {
				const take = Math.min(this.skip, chunk.length - offset);
				if (this.dataLeft > 0) this.countZeroBlocks(chunk, offset, Math.min(take, this.dataLeft));
				this.skip -= take;
				offset += take;
				continue;
			}
			const need = BLOCK - this.header.length;
			const take = Math.min(need, chunk.length - offset);
			this.header = this.header.length
				? Buffer.concat([this.header, chunk.subarray(offset, offset + take)])
				: Buffer.from(chunk.subarray(offset, offset + take));
			offset += take;
			if (this.header.length === BLOCK) {
				const header = this.header;
				this.header = Buffer.alloc(0);
				this.onHeader(header);
			}
		}
	}

	private onHeader(header: Buffer): void {
		if (header.every((b) => b === 0)) {
			// end-of-archive blocks (two zero blocks); anything after is padding
			return;
		}
		const type = String.fromCharCode(header[156] || 0x30);
		const size = octal(header.subarray(124, 136));
		const padded = Math.ceil(size / BLOCK) * BLOCK;
		if (type === 'x' || type === 'L' || type === 'K') {
			this.meta = { type, remaining: size, padding: padded - size, parts: [] };
			if (size === 0) {
				this.meta = undefined;
			}
			return;
		}
		if (type === 'g') {
			this.skip = padded;
			return;
		}
		const entry = parseEntry(header, this.pax, this.longName, this.longLink);
		const { name, link, realSize, mode, uid, gid, mtime } = entry;
		this.entries++;
		if (type === '0' || type === '\0' || type === '7') {
			this.files++;
			this.fileBytes += realSize;
		}
		// the root folder's own times and mode belong to the volume, not to its content
		const root = name === '.' || name === './' || name === '';
		if (root) this.root ??= entry;
		else
			this.tree.update(
				`${name.replace(/\/$/, '')}\0${type}\0${mode.toString(8)}\0${uid}:${gid}\0${type === '5' ? 0 : realSize}\0${link}\0${mtime}\n`,
			);
		this.noteLinks(entry);
		this.longName = undefined;
		this.longLink = undefined;
		this.skip = Math.ceil(entryDataBytes(entry) / BLOCK) * BLOCK;
		const gnuSparse =
			type === 'S' || Object.keys(this.pax).some((k) => k.startsWith('GNU.sparse.'));
		if (gnuSparse) {
			this.sparse.sparseEntries++;
			const apparent = Number(
				this.pax['GNU.sparse.realsize'] ??
					this.pax['GNU.sparse.size'] ??
					(type === 'S' ? octal(header.subarray(483, 495)) : realSize),
			);
			this.sparse.sparseApparentBytes += Number.isFinite(apparent) ? apparent : 0;
			this.sparse.sparseStoredBytes += entryDataBytes(entry);
		} else if ((type === '0' || type === '\0' || type === '7') && realSize >= ZERO_FILE_THRESHOLD) {
			this.dataLeft = realSize;
			this.dataSize = realSize;
			this.dataOffset = 0;
			this.zeroBytes = 0;
			this.blockZero = true;
		}
		this.pax = {};
	}

	/** Counts the file's 4 KiB-aligned blocks that are all zero; a block split across stream chunks is followed across them. */
	private countZeroBlocks(chunk: Buffer, start: number, length: number): void {
		let at = start;
		const end = start + length;
		while (at < end) {
			const inBlock = this.dataOffset % 4096;
			const n = Math.min(4096 - inBlock, end - at);
			if (this.blockZero)
				this.blockZero =
					chunk[at] === 0 &&
					chunk.subarray(at, at + n).equals(n === 4096 ? ZERO_BLOCK : ZERO_BLOCK.subarray(0, n));
			at += n;
			this.dataOffset += n;
			if (this.dataOffset % 4096 === 0) {
				if (this.blockZero) this.zeroBytes += 4096;
				this.blockZero = true;
			}
		}
		this.dataLeft -= length;
		if (this.dataLeft === 0 && this.zeroBytes >= ZERO_FILE_THRESHOLD) {
			this.sparse.zeroFilledFiles++;
			this.sparse.zeroFilledApparentBytes += this.dataSize;
			this.sparse.zeroFilledZeroBytes += this.zeroBytes;
		}
	}

	/** Symlinks leaving the volume are restored in a second pass (Docker's archive API refuses them);
	 * a hard link to one of them cannot be, so the backup names it as a warning. */
	private noteLinks(entry: TarEntry): void {
		const path = entryPath(entry.name);
		if (entry.type === '2' && entry.link.startsWith('/') && this.absoluteLinks.length < LIST_CAP)
			this.absoluteLinks.push(`${path} -> ${entry.link}`);
		if (entry.type === '2' && linkLeavesRoot(path, entry.link)) {
			if (this.linksOutside.length < LIST_CAP) this.linksOutside.push(path);
			if (this.outsideSet.size < SET_CAP) this.outsideSet.add(path);
		} else if (entry.type === '1' && this.outsideSet.has(entryPath(entry.link))) {
			if (this.unrestorable.length < LIST_CAP)
				this.unrestorable.push(
					`${path} (hard link to the symlink ${entryPath(entry.link)}, which points outside the volume)`,
				);
		}
	}
}

const LIST_CAP = 50;
const SET_CAP = 100_000;

export interface TarEntry {
	/** As in the archive, e.g. `./sub/a.txt` or `sub/`. */
	name: string;
	type: string;
	link: string;
	realSize: number;
	mode: number;
	uid: string;
	gid: string;
	mtime: number;
}

export function parseEntry(
	header: Buffer,
	pax: Record<string, string>,
	longName?: string,
	longLink?: string,
): TarEntry {
	const size = octal(header.subarray(124, 136));
	const prefix = cstring(header.subarray(345, 500));
	return {
		name:
			pax.path ??
			longName ??
			(prefix ? `${prefix}/${cstring(header.subarray(0, 100))}` : cstring(header.subarray(0, 100))),
		type: String.fromCharCode(header[156] || 0x30),
		link: pax.linkpath ?? longLink ?? cstring(header.subarray(157, 257)),
		realSize: pax.size !== undefined ? Number(pax.size) : size,
		mode: octal(header.subarray(100, 108)) & 0o7777,
		uid: pax.uid ?? String(octal(header.subarray(108, 116))),
		gid: pax.gid ?? String(octal(header.subarray(116, 124))),
		mtime: Math.floor(Number(pax.mtime ?? octal(header.subarray(136, 148)))),
	};
}

export function entryDataBytes(entry: TarEntry): number {
	return entry.type === '5' || entry.type === '2' || entry.type === '1' ? 0 : entry.realSize;
}

/** `./sub/a/` → `sub/a`: the path below the archive's root. */
export function entryPath(name: string): string {
	return name
		.replace(/^(\.\/)+/, '')
		.replace(/^\/+/, '')
		.replace(/\/+$/, '');
}

/**
 * Docker's archive API (PUT) refuses a symlink whose target, joined to the link's folder, leaves the
 * folder it extracts into (`invalid symlink "/dst/x" -> "../../etc/shadow"`); an absolute target is
 * joined too and stays inside. Same rule, for a link at `path` below the root.
 */
export function linkLeavesRoot(path: string, target: string): boolean {
	const parts = path.split('/').slice(0, -1);
	for (const part of target.split('/')) {
		if (part === '' || part === '.') continue;
		if (part === '..') {
			if (!parts.length) return true;
			parts.pop();
		} else parts.push(part);
	}
	return false;
}
