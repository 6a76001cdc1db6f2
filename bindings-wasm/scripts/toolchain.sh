#!/usr/bin/env bash
# Sourced by bindings-wasm/build.sh and scripts/native-vs-wasm.sh: makes a Rust compiler that
# can build for wasm32-unknown-unknown available and sets WASM_ENV (an `env` prefix) and
# WASM_CARGO_FLAGS for `env "${WASM_ENV[@]}" cargo build --target wasm32-unknown-unknown
# "${WASM_CARGO_FLAGS[@]}"`.
#
# Two routes (FACTS.md, "Building for WebAssembly"):
# - rustup's target, when it is installed or `rustup target add wasm32-unknown-unknown` works;
# - otherwise Debian's rustc-web with the Rust standard library's source, built with
#   -Zbuild-std (the rustup cargo drives Debian's rustc). Package names are resolved through
#   apt-cache (a security update can move the version numbers) and unpacked, without root,
#   into bindings-wasm/scripts/out/prefix (git-ignored).
# VX86_WASM_TOOLCHAIN=debian forces the second route (to check it where the first works).
set -euo pipefail
WASM_TOOLCHAIN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/out
WASM_ENV=()
WASM_CARGO_FLAGS=()
if [ "${VX86_WASM_TOOLCHAIN:-}" != debian ] && {
    rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
        || rustup target add wasm32-unknown-unknown >/dev/null 2>&1
}; then
    echo "wasm toolchain: rustup's wasm32-unknown-unknown target" >&2
else
    P=$WASM_TOOLCHAIN_DIR/prefix
    if [ ! -x "$P/usr/bin/rustc" ]; then
        mkdir -p "$WASM_TOOLCHAIN_DIR/debs" "$P"
        std=$(apt-cache depends libstd-rust-web-dev | awk '/Depends: libstd-rust-web-[0-9]/ {print $2; exit}')
        llvm=$(apt-cache depends "$std" | awk '/Depends: libllvm[0-9]/ {print $2; exit}')
        [ -n "$std" ] && [ -n "$llvm" ] || { echo "toolchain.sh: Debian's rustc-web packages not found (apt-get update?)" >&2; exit 1; }
        lld="lld-${llvm#libllvm}"
        (cd "$WASM_TOOLCHAIN_DIR/debs" && apt-get download rustc-web rust-web-src libstd-rust-web-dev "$std" "$llvm" "$lld")
        for d in "$WASM_TOOLCHAIN_DIR"/debs/*.deb; do dpkg -x "$d" "$P"; done
    fi
    LLVM_BIN=$(ls -d "$P"/usr/lib/llvm-*/bin | head -1)
    echo "wasm toolchain: Debian's $("$P/usr/bin/rustc" --version 2>/dev/null || echo rustc-web) with -Zbuild-std" >&2
    WASM_ENV=(
        "LD_LIBRARY_PATH=$P/usr/lib/x86_64-linux-gnu:$LLVM_BIN/../lib"
        "PATH=$LLVM_BIN:$PATH"
        "RUSTC=$P/usr/bin/rustc"
        "RUSTC_BOOTSTRAP=1"
        "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld"
    )
    WASM_CARGO_FLAGS=(-Zbuild-std=std,panic_abort)
fi
