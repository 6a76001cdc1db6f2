#!/usr/bin/env bash
# Builds the WebAssembly packages of vx86 on a fresh machine of this kind:
#   bindings-wasm/pkg-web   (wasm-bindgen --target web: ES module for browsers and workers)
#   bindings-wasm/pkg-node  (wasm-bindgen --target nodejs: CommonJS for Node)
# each with its .wasm, the JS glue and TypeScript types (vx86_wasm.d.ts).
#
# 1. a compiler for wasm32-unknown-unknown (scripts/toolchain.sh: rustup's target, or Debian's
#    rustc-web with -Zbuild-std where rustup cannot download it);
# 2. wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock, installed with cargo
#    into .cache/wasm-bindgen (git-ignored) when missing;
# 3. cargo build --profile wasm (panic = abort, LTO) into target/wasm (its own target dir:
#    another compiler than the native build may be in use);
# 4. wasm-bindgen for both targets, with --weak-refs (JS objects free their Rust side when
#    collected); wasm-opt -O3 if `wasm-opt` is on PATH (optional).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source bindings-wasm/scripts/toolchain.sh

version=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock)
[ -n "$version" ] || { echo "build.sh: wasm-bindgen not found in Cargo.lock" >&2; exit 1; }
BINDGEN=$ROOT/.cache/wasm-bindgen/bin/wasm-bindgen
if [ ! -x "$BINDGEN" ] || [ "$("$BINDGEN" --version | awk '{print $2}')" != "$version" ]; then
    echo "build.sh: installing wasm-bindgen-cli $version" >&2
    cargo install -q wasm-bindgen-cli --version "$version" --root "$ROOT/.cache/wasm-bindgen"
fi

env "${WASM_ENV[@]}" CARGO_TARGET_DIR="$ROOT/target/wasm" cargo build -q -p vx86-wasm \
    --profile wasm --target wasm32-unknown-unknown ${WASM_CARGO_FLAGS[@]+"${WASM_CARGO_FLAGS[@]}"}
WASM=$ROOT/target/wasm/wasm32-unknown-unknown/wasm/vx86_wasm.wasm

for target in web nodejs; do
    out=bindings-wasm/pkg-${target/nodejs/node}
    rm -rf "$out"
    "$BINDGEN" --target "$target" --weak-refs --out-dir "$out" "$WASM"
    if command -v wasm-opt >/dev/null 2>&1; then
        wasm-opt -O3 --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
            "$out/vx86_wasm_bg.wasm" -o "$out/vx86_wasm_bg.wasm"
    fi
done
echo "build.sh: bindings-wasm/pkg-web and bindings-wasm/pkg-node ($(du -h bindings-wasm/pkg-web/vx86_wasm_bg.wasm | cut -f1) of wasm)"
