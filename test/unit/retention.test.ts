import { planRetention } from '../../nodes/DockerVolumeBackup/retention';
import { archiveKey, parseArchiveKey, uniqueSuffix } from '../../nodes/DockerVolumeBackup/manifest';

const now = new Date('2026-06-30T02:00:00Z');
const daysAgo = (d: number) => ({ key: `k${d}`, at: new Date(now.getTime() - d * 86_400_000) });
const kept = (items: { key: string; at: Date }[], policy: Parameters<typeof planRetention>[1]) =>
	planRetention(items, policy, now)
		.filter((d) => d.keep)
		.map((d) => d.item.key);

describe('retention planning (synthetic clock)', () => {
	const items = Array.from({ length: 120 }, (_, d) => daysAgo(d));

	it('never keeps fewer than one backup, whatever the policy says', () => {
		expect(kept(items, { keepLast: 0 })).toEqual(['k0']);
		expect(kept([daysAgo(400)], { keepLast: 1, maxAgeDays: 30 })).toEqual(['k400']);
	});

	it('keeps the newest of each of the last N days, ISO weeks and months', () => {
		expect(kept(items, { keepLast: 1, keepMonthly: 4 })).toEqual(['k0', 'k30', 'k61', 'k91']);
		expect(kept(items, { keepLast: 2, keepDaily: 3, keepWeekly: 3 })).toEqual([
			'k0',
			'k1',
			'k2',
			'k9',
		]);
	});

	it('max age alone keeps everything younger; with tiers it caps them', () => {
		expect(kept(items, { keepLast: 1, maxAgeDays: 10 })).toEqual(
			Array.from({ length: 11 }, (_, d) => `k${d}`),
		);
		expect(kept(items, { keepLast: 1, keepMonthly: 6, maxAgeDays: 45 })).toEqual(['k0', 'k30']);
	});

	it('parses only keys it writes', () => {
		const key = archiveKey('backups/', 'localai_n8n', now, 'zstd', true);
		expect(key).toBe('backups/localai_n8n/localai_n8n-20260630T020000Z.tar.zst.age');
		expect(parseArchiveKey('backups', 'localai_n8n', key)).toMatchObject({
			compression: 'zstd',
			encrypted: true,
			at: now,
		});
		expect(
			parseArchiveKey('backups', 'localai_n8n', 'backups/localai_n8n/notes.txt'),
		).toBeUndefined();
		expect(parseArchiveKey('backups', 'localai', key)).toBeUndefined();
	});

	it('threat: two runs in the same second share a key; new unique keys and the old one-second keys both parse', () => {
		const at = new Date('2026-06-30T02:00:00.123Z');
		const a = archiveKey('backups', 'localai_n8n', at, 'zstd', true, 'a1b2c3d4');
		expect(a).toBe('backups/localai_n8n/localai_n8n-20260630T020000.123Z-a1b2c3d4.tar.zst.age');
		expect(archiveKey('backups', 'localai_n8n', at, 'zstd', true, uniqueSuffix())).not.toBe(
			archiveKey('backups', 'localai_n8n', at, 'zstd', true, uniqueSuffix()),
		);
		expect(parseArchiveKey('backups', 'localai_n8n', a)).toMatchObject({
			key: a,
			at,
			compression: 'zstd',
			encrypted: true,
		});
		expect(
			parseArchiveKey(
				'backups',
				'localai_n8n',
				'backups/localai_n8n/localai_n8n-20260630T020000Z.tar.gz',
			),
		).toMatchObject({ at: now, compression: 'gzip', encrypted: false });
		// a suffix that is not 8 hex characters is not a key this node writes
		expect(
			parseArchiveKey(
				'backups',
				'localai_n8n',
				'backups/localai_n8n/localai_n8n-20260630T020000.123Z-evil.tar.zst.age',
			),
		).toBeUndefined();
	});
});
