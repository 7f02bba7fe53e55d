#!/usr/bin/env bash
# Runs every test: lint, unit, in-process gRPC, privileged (real CRIU on the
# local testbed; the privileged suites bring up and tear down their own hosts).
set -euo pipefail
cd "$(dirname "$0")/.."
npx biome check . >/dev/null || { npx biome check . 2>&1 | tail -30; echo "lint failed"; exit 1; }
npx mocha "$@"
