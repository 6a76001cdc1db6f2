#!/usr/bin/env bash
# The whole test suite, the README's test command (.ci/run calls exactly this): every Rust test
# of the workspace (unit, conformance, differential, Linux boots, CLI end to end), then the
# fuzz targets of tests/fuzz for a fixed time each (FUZZ_SECONDS, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
tests/fuzz/run.sh "${FUZZ_SECONDS:-60}"
