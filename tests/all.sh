#!/usr/bin/env bash
# The whole test suite, the README's test command (.ci/run calls exactly this): every Rust test
# of the workspace (unit, conformance, differential, Linux boots, CLI end to end), the Python
# package's pytest suite (bindings-python/test.sh), the WebAssembly package in Node
# (bindings-wasm/test.sh) and the web demo in headless Chromium (web-demo/test.sh), then the
# fuzz targets of tests/fuzz for a fixed time each (FUZZ_SECONDS, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
# gdb drives the GDB-stub test (cli/tests/gdb_stub.rs)
if ! command -v gdb >/dev/null 2>&1; then
    echo "tests/all.sh: installing gdb" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get install -y gdb >/dev/null || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y gdb >/dev/null; }
fi
# the Python extension is built and tested by maturin + pytest, not by cargo test
cargo test --workspace --exclude vx86-python
bindings-python/test.sh
bindings-wasm/test.sh
web-demo/test.sh
tests/fuzz/run.sh "${FUZZ_SECONDS:-60}"
