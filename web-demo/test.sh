#!/usr/bin/env bash
# The web demo's browser test (part of tests/all.sh): installs Debian's Chromium if missing
# (apt-get; root or sudo), builds the demo (web-demo/build.sh) and runs
# web-demo/tests/browser.mjs with playwright-core, which leaves its screenshot in
# web-demo/test-output/browser.png.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
    echo "web-demo/test.sh: installing chromium" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -q chromium >/dev/null || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium >/dev/null; }
fi
bash web-demo/build.sh
node web-demo/tests/browser.mjs
