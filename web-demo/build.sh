#!/usr/bin/env bash
# Assembles the web demo in web-demo/dist (git-ignored): the page and worker from src/, the
# wasm package (bindings-wasm/build.sh → pkg-web), xterm.js from npm, and the guest images of
# guests/build.sh. Each step is skipped when its output is up to date.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
[ -f "$ROOT/guests/out/bzImage" ] && [ -f "$ROOT/guests/out/initrd.cpio.gz" ] || bash "$ROOT/guests/build.sh"
bash "$ROOT/bindings-wasm/build.sh"
command -v npm >/dev/null || { echo "web-demo/build.sh: npm (Node.js) is required" >&2; exit 1; }
(cd "$HERE" && npm install --no-audit --no-fund --loglevel=error)
DIST=$HERE/dist
rm -rf "$DIST"
mkdir -p "$DIST/vendor" "$DIST/guest"
cp "$HERE"/src/* "$DIST/"
cp -r "$ROOT/bindings-wasm/pkg-web" "$DIST/pkg"
cp "$HERE/node_modules/@xterm/xterm/lib/xterm.mjs" "$HERE/node_modules/@xterm/xterm/css/xterm.css" "$DIST/vendor/"
cp "$ROOT/guests/out/bzImage" "$ROOT/guests/out/initrd.cpio.gz" "$DIST/guest/"
echo "web-demo/build.sh: $DIST"
