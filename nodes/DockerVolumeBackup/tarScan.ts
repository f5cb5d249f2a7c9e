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
	stats?: TarStats;

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
				this.skip -= take;
				offset += take;
				continue;
			}
			const need = BLOCK - this.header.length;
			const take = Math.min(need, chunk.length - offset);
			this.header = this.header.length ? Buffer.concat([this.header, chunk.subarray(offset, offset + take)]) : Buffer.from(chunk.subarray(offset, offset + take));
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
		const prefix = cstring(header.subarray(345, 500));
		const name = this.pax.path ?? this.longName ?? (prefix ? `${prefix}/${cstring(header.subarray(0, 100))}` : cstring(header.subarray(0, 100)));
		const link = this.pax.linkpath ?? this.longLink ?? cstring(header.subarray(157, 257));
		const realSize = this.pax.size !== undefined ? Number(this.pax.size) : size;
		const mode = octal(header.subarray(100, 108)) & 0o7777;
		const uid = this.pax.uid ?? String(octal(header.subarray(108, 116)));
		const gid = this.pax.gid ?? String(octal(header.subarray(116, 124)));
		const mtime = Math.floor(Number(this.pax.mtime ?? octal(header.subarray(136, 148))));
		this.entries++;
		if (type === '0' || type === '\0' || type === '7') {
			this.files++;
			this.fileBytes += realSize;
		}
		// the root folder's own times and mode belong to the volume, not to its content
		const root = name === '.' || name === './' || name === '';
		if (!root) this.tree.update(`${name.replace(/\/$/, '')}\0${type}\0${mode.toString(8)}\0${uid}:${gid}\0${type === '5' ? 0 : realSize}\0${link}\0${mtime}\n`);
		this.pax = {};
		this.longName = undefined;
		this.longLink = undefined;
		const dataBytes = type === '5' || type === '2' || type === '1' ? 0 : realSize;
		this.skip = Math.ceil(dataBytes / BLOCK) * BLOCK;
	}
}
