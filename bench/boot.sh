#!/usr/bin/env bash
# Boot-time benchmark, side by side in one run: the Debian i386 guest of guests/build.sh
# booted with AUTOTEST=1 (init prints BOOT-OK, runs its script, powers off) under
#   1. vx86 (release build), and
#   2. QEMU software emulation (qemu-system-i386 -accel tcg), the peer to compare against.
# Prints the wall time of each to power-off and the ratio. Timing lives here, never in tests.
#
# Usage: bench/boot.sh [RUNS]   (needs qemu-system-i386: apt-get install qemu-system-x86)
#        VX86_OPTS=--direct-kernel bench/boot.sh   # vx86 skips the bzImage's decompressor
#                                                   # (QEMU still runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1}
kernel=guests/out/bzImage
initrd=guests/out/initrd.cpio.gz
[ -f "$kernel" ] && [ -f "$initrd" ] || bash guests/build.sh
command -v qemu-system-i386 >/dev/null || { echo "bench/boot.sh: install qemu-system-x86 first" >&2; exit 1; }
cargo build -q --release -p vx86-cli
append="console=ttyS0 panic=-1 AUTOTEST=1"

seconds() { # command...: wall seconds, output checked for the marker
    local start end out
    start=$(date +%s.%N)
    out=$("$@" 2>&1)
    end=$(date +%s.%N)
    grep -q AUTOTEST-DONE <<<"$out" || { echo "bench/boot.sh: no AUTOTEST-DONE from: $*" >&2; echo "$out" | tail -20 >&2; exit 1; }
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}

for i in $(seq "$runs"); do
    # shellcheck disable=SC2086 # VX86_OPTS: extra `vx86 run` options, split on spaces
    v=$(seconds ./target/release/vx86 run ${VX86_OPTS:-} --kernel "$kernel" --initrd "$initrd" --append "$append")
    q=$(seconds timeout 300 qemu-system-i386 -M pc -accel tcg -m 256 -nographic -no-reboot \
        -kernel "$kernel" -initrd "$initrd" -append "$append")
    awk -v i="$i" -v v="$v" -v q="$q" \
        'BEGIN { printf "run %d: vx86 %.2f s, QEMU TCG %.2f s, vx86/QEMU = %.2f\n", i, v, q, v / q }'
done
