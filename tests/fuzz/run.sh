#!/usr/bin/env bash
# Runs each cargo-fuzz target (in tests/fuzz) for a fixed time: the snapshot decoder, the replay-log decoder,
# virtqueue processing and the PCI configuration space with the virtio registers (untrusted input). Usage: tests/fuzz/run.sh [SECONDS_PER_TARGET] (default 60).
# Installs cargo-fuzz when missing; uses the stable toolchain with `-s none` (no sanitizer, so no
# nightly needed: libFuzzer still finds panics, overflows in debug assertions, OOMs and hangs).
# Seeds come from tests/fuzz/make_seeds.rs (a small machine's snapshots and a replay log). A crash
# leaves its input in tests/fuzz/artifacts/<target>/ and makes this script fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --version 0.13.2
fi
cargo run -q --release --manifest-path tests/fuzz/Cargo.toml --bin make_seeds
for target in snapshot replay_log virtqueue pci_config; do
    echo "fuzz: $target for ${seconds}s"
    cargo fuzz run --fuzz-dir tests/fuzz -s none "$target" -- -max_total_time="$seconds" -rss_limit_mb=4096 2>&1 | tail -2
    # cargo fuzz exits non-zero on a crash (set -e + pipefail stop here)
done
