/** Object keys and the manifest stored beside each archive. No n8n import. */
import { randomBytes } from 'node:crypto';

import type { Compression } from './compression';
import type { ManifestSignature } from './signing';

export const MANIFEST_SUFFIX = '.manifest.json';
export const MANIFEST_FORMAT = 'infra-ops-volume-backup/1';

export type SourceKind = 'volume' | 'host-path';

export interface BackupManifest {
	format: typeof MANIFEST_FORMAT;
	/** The volume name, or for host paths the name given to the path set. */
	volume: string;
	sourceKind: SourceKind;
	/** Host paths read over SSH (host-path sources only). */
	paths?: string[];
	host?: string;
	labels: Record<string, string>;
	driver?: string;
	key: string;
	createdAt: string;
	tar: {
		sha256: string;
		bytes: number;
		entries: number;
		files: number;
		fileBytes: number;
		treeSha256: string;
	};
	stored: { sha256: string; bytes: number };
	compression: Compression;
	encryption:
		| { kind: 'age-x25519'; recipients: string[] }
		| { kind: 'age-scrypt' }
		| { kind: 'none' };
	containersStopped: string[];
	liveBackup: boolean;
	durationsMs: Record<string, number>;
	packVersion: string;
	verified?: { at: string; ok: boolean; scratchRestore: boolean; message?: string };
	/** HMAC of every other field but `verified` (see signing.ts); absent when Backup had no signing key. */
	signature?: ManifestSignature;
}

/** `20261127T020000Z`: sortable, no colons (they need escaping in some S3 tools). */
export function formatStamp(date: Date): string {
	return date
		.toISOString()
		.replace(/\.\d{3}Z$/, 'Z')
		.replace(/[-:]/g, '');
}

/** `20261127T020000.123Z`: the stamp of new keys, with milliseconds. */
export function formatStampMs(date: Date): string {
	return date.toISOString().replace(/[-:]/g, '');
}

/** Reads both stamps: `20261127T020000Z` (keys written before 0.x) and `20261127T020000.123Z`. */
export function parseStamp(stamp: string): Date | undefined {
	const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(?:\.(\d{3}))?Z$/.exec(stamp);
	if (!m) return undefined;
	return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], m[7] ? +m[7] : 0));
}

export function normalizePrefix(prefix: string): string {
	return prefix.trim().replace(/^\/+|\/+$/g, '');
}

export function volumeFolder(prefix: string, volume: string): string {
	const p = normalizePrefix(prefix);
	return p ? `${p}/${volume}/` : `${volume}/`;
}

export function archiveExtension(compression: Compression, encrypted: boolean): string {
	return `.tar${compression === 'zstd' ? '.zst' : compression === 'gzip' ? '.gz' : ''}${encrypted ? '.age' : ''}`;
}

/**
 * `<prefix>/<volume>/<volume>-20261127T020000.123Z-1a2b3c4d.tar.zst.age`. Two runs of one volume in the
 * same second (a schedule and a "Run now" webhook) wrote the same key before, the second replacing the
 * first while both reported ok: `unique` (random hex, see uniqueSuffix) keeps every run's key its own.
 * Without it the key has the old one-second form, which listing and retention still read.
 */
export function archiveKey(
	prefix: string,
	volume: string,
	at: Date,
	compression: Compression,
	encrypted: boolean,
	unique?: string,
): string {
	const stamp = unique ? `${formatStampMs(at)}-${unique}` : formatStamp(at);
	return `${volumeFolder(prefix, volume)}${volume}-${stamp}${archiveExtension(compression, encrypted)}`;
}

export function uniqueSuffix(): string {
	return randomBytes(4).toString('hex');
}

export interface ParsedKey {
	key: string;
	volume: string;
	at: Date;
	compression: Compression;
	encrypted: boolean;
}

/** Only keys this node writes parse; anything else in the folder is never touched. */
export function parseArchiveKey(
	prefix: string,
	volume: string,
	key: string,
): ParsedKey | undefined {
	const folder = volumeFolder(prefix, volume);
	if (!key.startsWith(folder)) return undefined;
	const name = key.slice(folder.length);
	if (!name.startsWith(`${volume}-`)) return undefined;
	const m = /^(\d{8}T\d{6}Z|\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{8})\.tar(\.zst|\.gz)?(\.age)?$/.exec(
		name.slice(volume.length + 1),
	);
	if (!m) return undefined;
	const at = parseStamp(m[1].replace(/-[0-9a-f]{8}$/, ''));
	if (!at) return undefined;
	return {
		key,
		volume,
		at,
		compression: m[2] === '.zst' ? 'zstd' : m[2] === '.gz' ? 'gzip' : 'none',
		encrypted: Boolean(m[3]),
	};
}

export function manifestKey(archive: string): string {
	return archive + MANIFEST_SUFFIX;
}

/** Docker volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ ; host path sets use the same rule. */
export function isSafeName(name: string): boolean {
	return /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name);
}
