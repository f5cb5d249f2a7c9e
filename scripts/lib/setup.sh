# Shared by scripts/dev and scripts/test (sourced, not run): Debian packages, Node 24, npm ci when stale.
# Every line it prints starts with the calling script's name ($SETUP_NAME).

say() { echo "[$SETUP_NAME] $*" >&2; }

# Installs the missing packages of scripts/debian-packages.txt (all of them, or only those marked `dev`)
# when root; otherwise prints the exact `sudo apt-get install` line and returns 1.
ensure_debian_packages() {
	local which="$1" list=() missing=() p tag
	while read -r p tag _; do
		[ -z "$p" ] || [ "${p#\#}" != "$p" ] && continue
		[ "$which" = dev ] && [ "$tag" != dev ] && continue
		list+=("$p")
	done < scripts/debian-packages.txt
	if ! command -v dpkg >/dev/null; then
		say "not a Debian/Ubuntu system (no dpkg): make sure these are installed: ${list[*]}"
		return 0
	fi
	for p in "${list[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ]; then
		say "missing Debian packages; install them, then run this again:"
		echo "sudo apt-get install -y --no-install-recommends ${missing[*]}"
		return 1
	fi
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Node 24 first on PATH (scripts/node24.sh fetches it into ~/.cache/infra-ops on first use); native
# modules build against its headers.
use_node24() {
	local bin
	bin="$(scripts/node24.sh)"
	export PATH="$bin:$PATH"
	export npm_config_nodedir="$(dirname "$bin")"
	export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
}

# `npm ci` when node_modules is missing or does not match package-lock.json: the lock's SHA-256 recorded
# after the last `npm ci` differs, or (no record yet) the lock is newer than node_modules/.package-lock.json.
npm_ci_if_stale() {
	local stamp=node_modules/.infra-ops-lock.sha256 hash reason=
	hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
	if [ ! -e node_modules/.package-lock.json ]; then
		reason='node_modules is missing'
	elif [ -e "$stamp" ]; then
		[ "$(cat "$stamp")" = "$hash" ] || reason='package-lock.json changed since the last npm ci'
	elif [ package-lock.json -nt node_modules/.package-lock.json ]; then
		reason='package-lock.json is newer than node_modules'
	fi
	if [ -z "$reason" ]; then
		echo "$hash" >"$stamp"
		return 0
	fi
	say "npm ci ($reason)"
	local t0=$SECONDS
	npm ci --no-audit --no-fund --loglevel=error
	echo "$hash" >"$stamp"
	say "npm ci done in $((SECONDS - t0))s"
}
