#!/usr/bin/env bash
# Builds the vx86 Python package into a virtual environment under .cache/ (git-ignored) and
# runs its pytest suite; part of tests/all.sh. Needs python3 with venv and pip; maturin and
# pytest come from PyPI, the crates from crates.io. Extra arguments go to pytest.
#
#   bindings-python/test.sh            # the whole suite (boots the Debian guest once)
#   bindings-python/test.sh -k hooks   # some of it
#   BENCH=1 bindings-python/test.sh    # also install Unicorn and run bench/bench_vs_unicorn.py
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.cache/venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
export PATH="$PWD/$VENV/bin:$PATH"  # the build backend runs the maturin binary
PIP=("$VENV/bin/pip" install -q --disable-pip-version-check)
"${PIP[@]}" "maturin>=1.9,<2" "pytest>=7"
# the package exactly as a user installs it (`pip install ./bindings-python`), built with the
# maturin just installed (no download of a second copy per run)
"${PIP[@]}" --no-build-isolation --force-reinstall --no-deps ./bindings-python
(cd bindings-python && "../$VENV/bin/python" -m pytest -q tests "$@")
if [ "${BENCH:-0}" = 1 ]; then
    "${PIP[@]}" unicorn
    "$VENV/bin/python" bindings-python/bench/bench_vs_unicorn.py
fi
