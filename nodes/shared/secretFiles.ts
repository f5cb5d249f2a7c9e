/**
 * Secret files for a created, not yet started container, as a tar for Docker's archive API (PUT): a
 * 0700 folder and 0400 files owned by root. Secrets given this way never appear in `docker inspect`
 * (Env, Cmd), unlike environment variables. No n8n import.
 */

/** One ustar header block (512 bytes). */
function tarHeader(name: string, mode: number, size: number, type: '0' | '5'): Buffer {
	const block = Buffer.alloc(512);
	const field = (offset: number, length: number, value: string) =>
		block.write(value, offset, length, 'utf8');
	const octal = (offset: number, length: number, value: number) =>
		field(offset, length, value.toString(8).padStart(length - 1, '0') + '\0');
	field(0, 100, name);
	octal(100, 8, mode);
	octal(108, 8, 0);
	octal(116, 8, 0);
	octal(124, 12, size);
	octal(136, 12, Math.floor(Date.now() / 1000));
	field(148, 8, '        ');
	field(156, 1, type);
	field(257, 6, 'ustar\0');
	field(263, 2, '00');
	let sum = 0;
	for (const byte of block) sum += byte;
	field(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
	return block;
}

/** `dir` (one path segment) holding `files` (name → content), for a PUT at the container's `/`. */
export function secretFilesTar(dir: string, files: Record<string, string | Buffer>): Buffer {
	const parts = [tarHeader(`${dir}/`, 0o700, 0, '5')];
	for (const [name, value] of Object.entries(files)) {
		const content = Buffer.isBuffer(value) ? value : Buffer.from(value);
		parts.push(
			tarHeader(`${dir}/${name}`, 0o400, content.length, '0'),
			content,
			Buffer.alloc((512 - (content.length % 512)) % 512),
		);
	}
	parts.push(Buffer.alloc(1024));
	return Buffer.concat(parts);
}
