#!/usr/bin/env bash
# Puts the recorded reference data (published schemas and outputs of systems that cannot run in a test:
# Traefik, Proxmox VE, Trivy) into ../shared/reference, where the conformance tests read it. Each file is
# fetched from its public repository at a pinned commit and must match its SHA-256; nothing is committed
# here. With CI set those tests fail rather than skip, so CI runs this first.
# Usage: scripts/fetch-reference.sh [DEST]   (default: ../shared/reference beside the checkout)
# INFRA_OPS_REFERENCE_FROM=<folder> copies from a local copy instead of downloading (same checks).
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-../shared/reference}"

# dest path | repository | path in it | commit | sha256
files=(
  "traefik/traefik-v3-file-provider.json|SchemaStore/schemastore|src/schemas/json/traefik-v3-file-provider.json|3b6446ad8a077bac56f4a4796c0b7fd88927fc8e|8734891c888025bd1821a52f9c743c44bc5b10bcbb01aa84fb267c3f67b1416e"
  "traefik/traefik-v2-file-provider.json|SchemaStore/schemastore|src/schemas/json/traefik-v2-file-provider.json|3b6446ad8a077bac56f4a4796c0b7fd88927fc8e|522a5910fa1ac59ec8d5be21039f93aa16687c3e311c098893dab6c34c78691c"
  "traefik/api/routers.json|traefik/traefik|pkg/api/testdata/routers.json|fd5a576df2e8aeb0bfc8a96b6ef6e60a61f7ec0a|bf178724a0c2812efc4662fa44b1cc3d84d250cb6b62bf395023ed30dbb7eb95"
  "traefik/api/router-bar.json|traefik/traefik|pkg/api/testdata/router-bar.json|fd5a576df2e8aeb0bfc8a96b6ef6e60a61f7ec0a|f447246e7138babbb24b8d80da446c4a01dbd1f6e6ebb724e50c5ac9410a823c"
  "traefik/api/middlewares.json|traefik/traefik|pkg/api/testdata/middlewares.json|fd5a576df2e8aeb0bfc8a96b6ef6e60a61f7ec0a|43ad19da8c66f89c6cd47bc416c3cd2ec666d7d8a8cb46225744140a4f531ddc"
  "traefik/api/services.json|traefik/traefik|pkg/api/testdata/services.json|fd5a576df2e8aeb0bfc8a96b6ef6e60a61f7ec0a|f724b4f7ee69b4f991d8717d80fc797d7e5233866a5d0b255261b2eafa2cc4b6"
  "traefik/api/overview-dynamic.json|traefik/traefik|pkg/api/testdata/overview-dynamic.json|fd5a576df2e8aeb0bfc8a96b6ef6e60a61f7ec0a|6bd26fa37609d956eab84f68d6eeb110649bb0282819cce5cfb94d9074c3433a"
  "traefik/api/getrawdata.json|traefik/traefik|pkg/api/testdata/getrawdata.json|fd5a576df2e8aeb0bfc8a96b6ef6e60a61f7ec0a|9572add7a6b89ca0b9c83442888241d4df6c758b8d92dcdb4d92a52d674f8c55"
  "proxmox/apidata.js|proxmox/pve-docs|api-viewer/apidata.js|e5010dcea566a205770572cfbc5fe0af220d5077|dfbaf0b9eaf1a73884ad66f5a7d9a061be32a05df5dae4e5a812c8508d0afd30"
  "trivy/alpine-39-high-critical.json.golden|aquasecurity/trivy|integration/testdata/alpine-39-high-critical.json.golden|dc3c56eed58ab21c7e08d26757c517bc946a86c5|36f1abc789afe452464a9bb14a20afc292d570f7c3ef0107f4ac226f5f3052b0"
  "trivy/alpine-310.json.golden|aquasecurity/trivy|integration/testdata/alpine-310.json.golden|dc3c56eed58ab21c7e08d26757c517bc946a86c5|3320485c817ca9a88e424a18a4490643ace8ba8d042284997f6d36cceca4ddaa"
  "trivy/debian-buster-ignore-unfixed.json.golden|aquasecurity/trivy|integration/testdata/debian-buster-ignore-unfixed.json.golden|dc3c56eed58ab21c7e08d26757c517bc946a86c5|df62b2a1173b75dfa593da157e0cd5e2fffa5cf476cf7d422a416120b66019c5"
  "trivy/alpine-39-skip.json.golden|aquasecurity/trivy|integration/testdata/alpine-39-skip.json.golden|dc3c56eed58ab21c7e08d26757c517bc946a86c5|f801f381fb4a2e1efa2ffbb7188e6005a4c0711a4453189fc036011788b64ace"
)

for entry in "${files[@]}"; do
  IFS='|' read -r file repo path commit sha <<<"$entry"
  mkdir -p "$(dirname "$dest/$file")"
  tmp="$dest/$file.part"
  if [ -n "${INFRA_OPS_REFERENCE_FROM:-}" ]; then
    cp "$INFRA_OPS_REFERENCE_FROM/$file" "$tmp"
  else
    curl -fsSL --retry 3 --max-time 120 -o "$tmp" "https://raw.githubusercontent.com/$repo/$commit/$path"
  fi
  got="$(sha256sum "$tmp" | cut -d' ' -f1)"
  if [ "$got" != "$sha" ]; then
    rm -f "$tmp"
    echo "fetch-reference: $file from $repo@$commit has SHA-256 $got, expected $sha" >&2
    exit 1
  fi
  mv "$tmp" "$dest/$file"
done
echo "fetch-reference: ${#files[@]} files in $dest"
