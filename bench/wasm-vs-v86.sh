#!/usr/bin/env bash
# Boot time to BOOT-OK in Node, vx86 (wasm) and v86 side by side (bench/wasm-vs-v86.mjs).
# Fetches what it needs: the guest (guests/build.sh), pkg-node (bindings-wasm/build.sh), v86
# from npm (bench/node_modules) and Debian's seabios package for v86's BIOS (.cache/seabios).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
[ -f guests/out/bzImage ] && [ -f guests/out/initrd.cpio.gz ] || bash guests/build.sh
[ -f bindings-wasm/pkg-node/vx86_wasm.js ] || bash bindings-wasm/build.sh
(cd bench && npm install --no-audit --no-fund --loglevel=error)
if [ ! -f .cache/seabios/root/usr/share/seabios/bios.bin ]; then
    mkdir -p .cache/seabios
    (cd .cache/seabios && apt-get download seabios && dpkg -x seabios_*.deb root)
fi
node bench/wasm-vs-v86.mjs
