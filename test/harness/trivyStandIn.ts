/**
 * A stand-in for the `trivy` program, since no vulnerability DB can be downloaded here: a shell script
 * that checks the arguments it is given the way Trivy's flag parser would (unknown flag, missing
 * value, no image), checks what Docker mode must provide (the socket mounted read-only, a writable
 * cache directory, the server token in its environment or its config file), holds the scan cache lock as Trivy does
 * (its fs scan cache is a BoltDB file one process has at a time; a second one fails after waiting 5 s),
 * optionally takes a fixed time per scan, and
 * prints a recorded Trivy report (from ../shared/reference/trivy, copied in at test time) for the images
 * it knows; for any other image it fails as Trivy does, exit 1 and a FATAL line on stderr.
 *
 * Two forms: a Docker image (busybox-static rootfs + the script as ENTRYPOINT, `docker import`), and
 * the script with its data in a folder, for SSH mode.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { referencePath } from '../support/reference';
import { requireBinary, run } from './proc';

export const TRIVY_REFERENCE_DIR = referencePath('trivy');

export interface StandInSpec {
	/** Image reference → recorded report file name in ../shared/reference/trivy (e.g. alpine-310.json.golden). */
	reports: Record<string, string>;
	/** Each scan sleeps this long (the benchmark's simulated scan time). */
	scanSeconds?: number;
	/** When set, a scan with --server must carry this token (TRIVY_TOKEN, or server.token in the --config file). */
	expectedToken?: string;
	/** Docker form only: each scan, once past the token check, waits until /tmp/standin-release exists in its container. */
	holdUntilReleased?: boolean;
}

const SCRIPT = String.raw`#!/bin/sh
# Trivy stand-in (test/harness/trivyStandIn.ts): checks its arguments, prints a recorded report.
data="$(cd "$(dirname "$0")" && pwd)/standin"
fatal() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ)	FATAL	$*" >&2; exit 1; }
[ "$1" = image ] || fatal "unknown command \"$1\" for \"trivy\" (the stand-in knows only image)"
shift
format= exit_code= severity= server= image_src= cache_dir= cache_backend= timeout= image= quiet= config=
while [ $# -gt 0 ]; do
	case "$1" in
		--format|--exit-code|--scanners|--severity|--server|--image-src|--cache-dir|--cache-backend|--timeout|--config|-c)
			[ $# -ge 2 ] || fatal "flag needs an argument: $1"
			case "$1" in
				--format) format=$2 ;; --exit-code) exit_code=$2 ;; --severity) severity=$2 ;; --server) server=$2 ;;
				--image-src) image_src=$2 ;; --cache-dir) cache_dir=$2 ;; --cache-backend) cache_backend=$2 ;; --timeout) timeout=$2 ;;
				--config|-c) config=$2 ;;
				--scanners) [ "$2" = vuln ] || fatal "the stand-in scans vulnerabilities only, got --scanners $2" ;;
			esac
			shift 2 ;;
		--quiet) quiet=1; shift ;;
		--ignore-unfixed|--skip-db-update) shift ;;
		-*) fatal "unknown flag: $1" ;;
		*) [ -z "$image" ] || fatal "accepts 1 arg(s), received more ($image, $1)"; image=$1; shift ;;
	esac
done
[ -n "$image" ] || fatal "accepts 1 arg(s), received 0"
[ "$format" = json ] || fatal "the node must ask for --format json (got \"$format\")"
[ "$exit_code" = 0 ] || fatal "the node must run with --exit-code 0 (got \"$exit_code\")"
[ -n "$quiet" ] || fatal "the node must pass --quiet so stdout is only the report"
[ -n "$severity" ] || fatal "the node must pass --severity"
for s in $(echo "$severity" | tr , ' '); do
	case "$s" in CRITICAL|HIGH|MEDIUM|LOW|UNKNOWN) ;; *) fatal "invalid severity: $s (in --severity $severity)" ;; esac
done
for s in $(echo "$image_src" | tr , ' '); do
	case "$s" in docker|containerd|podman|remote) ;; *) fatal "invalid image source: $s" ;; esac
done
case "$timeout" in *s) ;; *) fatal "bad --timeout \"$timeout\"" ;; esac
case "$cache_backend" in ""|fs|memory|redis://*) ;; *) fatal "unknown cache backend: $cache_backend" ;; esac
if [ -f "$data/in-docker" ]; then
	[ -S /var/run/docker.sock ] || fatal "unable to inspect the image ($image): no Docker socket at /var/run/docker.sock"
	grep -q ' /var/run/docker.sock [^ ]* ro[, ]' /proc/mounts || fatal "the Docker socket is not mounted read-only"
	[ "$cache_dir" = /root/.cache/trivy ] || fatal "Docker mode must keep the cache in /root/.cache/trivy (got \"$cache_dir\")"
	grep -q " $cache_dir " /proc/mounts || fatal "the cache directory $cache_dir is not a mounted volume"
fi
if [ -n "$cache_dir" ]; then
	mkdir -p "$cache_dir" && echo "$image" >> "$cache_dir/standin-scans.log" || fatal "cache directory $cache_dir is not writable"
	if [ -z "$server" ] && { [ -z "$cache_backend" ] || [ "$cache_backend" = fs ]; }; then
		waited=0
		until mkdir "$cache_dir/fanal.lock" 2>/dev/null; do
			[ "$waited" -lt 10 ] || fatal "image scan error: unable to initialize fs cache: cache may be in use by another process: timeout"
			sleep 0.5
			waited=$((waited + 1))
		done
		trap 'rmdir "$cache_dir/fanal.lock"' EXIT
	fi
fi
# trivy.yaml's server.token, as a double-quoted scalar without escapes (what the node writes for such tokens)
config_token=
if [ -n "$config" ]; then
	[ -r "$config" ] || fatal "config file $config: no such file or directory"
	config_token=$(sed -n 's/^  token: "\(.*\)"$/\1/p' "$config")
	if [ -f "$data/in-docker" ]; then
		[ "$(stat -c %a "$config")" = 400 ] || fatal "the token file $config has mode $(stat -c %a "$config"), not 400"
	fi
fi
# Trivy's precedence: flags, then environment, then the config file
token=$TRIVY_TOKEN
[ -n "$token" ] || token=$config_token
if [ -n "$server" ] && [ -f "$data/expected-token" ]; then
	[ "$token" = "$(cat "$data/expected-token")" ] || fatal "scan error: twirp error unauthenticated: invalid token"
fi
if [ -f "$data/hold" ]; then
	# held mid-scan, token already read, until the test creates the release file (Docker form: inside the container)
	held=0
	until [ -e /tmp/standin-release ]; do
		[ "$held" -lt 600 ] || fatal "the stand-in was held for 120 s and never released"
		sleep 0.2
		held=$((held + 1))
	done
fi
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ)	INFO	stand-in scanning $image (severity $severity)" >&2
[ -f "$data/scan-seconds" ] && sleep "$(cat "$data/scan-seconds")"
report=$(awk -v want="$image" '$1 == want { print $2 }' "$data/map")
[ -n "$report" ] || fatal "unable to find the image \"$image\": No such image: $image"
cat "$data/reports/$report"
`;

function writeStandIn(binDir: string, spec: StandInSpec, inDocker: boolean): void {
	const data = path.join(binDir, 'standin');
	fs.mkdirSync(path.join(data, 'reports'), { recursive: true });
	const lines: string[] = [];
	for (const [image, report] of Object.entries(spec.reports)) {
		fs.copyFileSync(path.join(TRIVY_REFERENCE_DIR, report), path.join(data, 'reports', report));
		lines.push(`${image} ${report}`);
	}
	fs.writeFileSync(path.join(data, 'map'), lines.join('\n') + '\n');
	if (spec.scanSeconds) fs.writeFileSync(path.join(data, 'scan-seconds'), String(spec.scanSeconds));
	if (spec.expectedToken) fs.writeFileSync(path.join(data, 'expected-token'), spec.expectedToken);
	if (inDocker) fs.writeFileSync(path.join(data, 'in-docker'), '');
	if (spec.holdUntilReleased) fs.writeFileSync(path.join(data, 'hold'), '');
	fs.writeFileSync(path.join(binDir, 'trivy'), SCRIPT, { mode: 0o755 });
}

/** The script as `<dir>/bin/trivy`, for SSH mode (the harness's sshd runs on this machine). Returns its path. */
export function installTrivyStandIn(dir: string, spec: StandInSpec): string {
	const bin = path.join(dir, 'bin');
	fs.mkdirSync(bin, { recursive: true });
	writeStandIn(bin, spec, false);
	return path.join(bin, 'trivy');
}

/** Builds the stand-in image `tag` on the Docker Engine at `socketPath`: busybox-static, ENTRYPOINT the script. */
export async function buildTrivyStandInImage(
	socketPath: string,
	workDir: string,
	tag: string,
	spec: StandInSpec,
): Promise<string> {
	const busybox = requireBinary('busybox', 'busybox-static', ['/bin']);
	const cli = requireBinary('docker', 'docker.io');
	const rootfs = path.join(workDir, 'rootfs');
	for (const sub of [
		'bin',
		'sbin',
		'usr/bin',
		'usr/sbin',
		'usr/local/bin',
		'etc',
		'tmp',
		'root',
		'proc',
		'dev',
		'var/run',
	]) {
		fs.mkdirSync(path.join(rootfs, sub), { recursive: true });
	}
	fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
	fs.copyFileSync(busybox, path.join(rootfs, 'bin/busybox'));
	fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
	const applets = (await run(busybox, ['--list-full']))
		.split('\n')
		.filter((line) => line && line !== 'bin/busybox');
	for (const applet of applets) fs.symlinkSync('/bin/busybox', path.join(rootfs, applet));
	fs.writeFileSync(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
	fs.writeFileSync(path.join(rootfs, 'etc/group'), 'root:x:0:\n');
	writeStandIn(path.join(rootfs, 'usr/local/bin'), spec, true);
	const tar = path.join(workDir, 'rootfs.tar');
	await run('tar', ['-C', rootfs, '--numeric-owner', '--owner=0', '--group=0', '-cf', tar, '.']);
	const env = {
		...process.env,
		DOCKER_HOST: `unix://${socketPath}`,
		DOCKER_CONFIG: path.join(workDir, 'cli'),
	};
	await run(
		cli,
		[
			'import',
			'--change',
			'ENTRYPOINT ["/usr/local/bin/trivy"]',
			'--change',
			'ENV PATH=/usr/local/bin:/usr/bin:/bin',
			tar,
			tag,
		],
		{ env },
	);
	fs.rmSync(rootfs, { recursive: true, force: true });
	return tag;
}
