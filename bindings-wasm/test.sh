#!/usr/bin/env bash
# The WebAssembly package's tests in Node (part of tests/all.sh): builds pkg-node
# (bindings-wasm/build.sh) and the native CLI, then runs bindings-wasm/tests/*.test.mjs with
# Node's test runner: the JS API on bare-metal code, and the Debian guest booted in Node with
# the native build's instruction count and state hash. Needs node (20+).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v node >/dev/null || { echo "bindings-wasm/test.sh: node is required" >&2; exit 1; }
bash bindings-wasm/build.sh
cargo build -q --release -p vx86-cli
[ -f guests/out/bzImage ] && [ -f guests/out/initrd.cpio.gz ] || bash guests/build.sh
node --test --test-reporter=spec bindings-wasm/tests/
