/** Byte sizes and CPU counts as operators write them (`512m`, `1.5g`, `256MiB`, `0.5`). */
import { InfraOpsError } from '../shared/errors';

const UNITS: Record<string, number> = {
	'': 1,
	b: 1,
	k: 1024,
	kb: 1024,
	kib: 1024,
	m: 1024 ** 2,
	mb: 1024 ** 2,
	mib: 1024 ** 2,
	g: 1024 ** 3,
	gb: 1024 ** 3,
	gib: 1024 ** 3,
	t: 1024 ** 4,
	tb: 1024 ** 4,
	tib: 1024 ** 4,
};

/** Bytes from `512m` / `1.5g` / `256MiB` / a plain number of bytes (binary units, as Docker reads them). */
export function parseBytes(value: unknown, what: string): number {
	if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.round(value);
	const text = String(value ?? '').trim();
	const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text);
	const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
	if (!m || unit === undefined)
		throw new InfraOpsError(
			`${what}: "${text}" is not a size`,
			'Write a number with a unit, e.g. 512m, 1.5g or 256MiB (binary units, as docker run --memory reads them)',
		);
	return Math.round(Number(m[1]) * unit);
}

/** A CPU count (`0.5`, `2`) → NanoCpus. */
export function parseCpus(value: unknown, what: string): number {
	const n = typeof value === 'number' ? value : Number(String(value ?? '').trim());
	// above 1024 is a typo (Docker would refuse it, or JSON would turn 1e308 into null)
	if (!Number.isFinite(n) || n <= 0 || n > 1024)
		throw new InfraOpsError(
			`${what}: "${String(value)}" is not a CPU count`,
			'Write e.g. 0.5 or 2',
		);
	return Math.round(n * 1e9);
}

/** For messages: `40.2 MiB`. */
export function humanBytes(bytes: number): string {
	const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
	let v = bytes;
	let u = 0;
	while (v >= 1024 && u < units.length - 1) {
		v /= 1024;
		u++;
	}
	return `${u === 0 ? v : v.toFixed(1).replace(/\.0$/, '')} ${units[u]}`;
}

/** For compose files and docker flags: the largest whole unit (`512M`, `2G`), else bytes. */
export function composeBytes(bytes: number): string {
	for (const [unit, size] of [
		['G', 1024 ** 3],
		['M', 1024 ** 2],
		['K', 1024],
	] as const)
		if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
	return `${bytes}b`;
}

export function cpusFromNano(nano: number): number {
	return Math.round(nano / 1e6) / 1000;
}
