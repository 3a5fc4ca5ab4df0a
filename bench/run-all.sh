#!/usr/bin/env bash
# Runs every benchmark once, in turn; each writes bench/results/<name>.json and prints one line.
# Needs Redis at redis://127.0.0.1:6379 and moto_server on PATH (quota). Run from the repository root:
# bash bench/run-all.sh (about 8 minutes). The memory benchmark runs here with a 1-minute soak
# (SOAK_S=60, written to memory-short.json, trend not judged); its 10-minute soak is run on its own:
# npx tsx bench/memory.ts (about 12 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
for name in overhead latency-hiding discovery-fan-in enqueue politeness smart1-politeness redis-cost; do
  timeout 120 npx tsx "bench/${name}.ts"
done
timeout 300 npx tsx bench/quota.ts
SOAK_S=60 timeout 400 npx tsx bench/memory.ts
# Keep the committed results in the repository's format (biome checks bench/).
npx biome format --write bench/results >/dev/null
