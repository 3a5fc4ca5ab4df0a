#!/usr/bin/env bash
# Runs every benchmark once, in turn; each writes bench/results/<name>.json and prints one line.
# Needs Redis at redis://127.0.0.1:6379. Run from the repository root: bash bench/run-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for name in overhead latency-hiding discovery-fan-in enqueue politeness redis-cost; do
  timeout 120 npx tsx "bench/${name}.ts"
done
# Keep the committed results in the repository's format (biome checks bench/).
npx biome format --write bench/results >/dev/null
