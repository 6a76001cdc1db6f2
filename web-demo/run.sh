#!/usr/bin/env bash
# The web demo in one command: builds everything (web-demo/build.sh) and serves the page on
# localhost, printing the URL (PORT=N picks the port, default 8086).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
bash "$HERE/build.sh"
exec node "$HERE/serve.mjs"
