#!/usr/bin/env bash
# Sequential virtio-blk read throughput, vx86 vs QEMU TCG side by side (bench/virtio-blk.py):
# the guest of guests/build.sh boots with VX86_TEST=blkread and reads a whole raw disk image
# with dd bs=1M; the host's wall time between the DD-START and DD-END console lines gives MB/s.
#
#   bench/virtio-blk.sh                 # both; builds vx86 (cargo --release) and the guest if needed
#   bench/virtio-blk.sh --only qemu     # one side only (also --only vx86)
#   SIZE_MB=256 bench/virtio-blk.sh     # disk size (default 128 MiB)
#   NO_BUILD=1 bench/virtio-blk.sh      # use ./target/release/vx86 as it is
#   DIRECT=1 bench/virtio-blk.sh        # dd iflag=direct: the device path without the page cache
#   RUNS=5 bench/virtio-blk.sh          # boots per emulator, in turns; medians (default 3)
#
# The image (.cache/bench/virtio-blk-<SIZE>M.img, git-ignored) is pseudo-random bytes from a
# fixed seed, made once; vx86 opens it copy-on-write (--disk IMG,cow), QEMU read-only.
# Needs qemu-system-x86 (installed with apt-get if missing).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SIZE_MB=${SIZE_MB:-128}
only=
case "${1:-}" in
    --only) only=${2:?--only needs vx86 or qemu} ;;
    "") ;;
    *) echo "usage: bench/virtio-blk.sh [--only vx86|qemu]" >&2; exit 2 ;;
esac

[ -f guests/out/bzImage ] && [ -f guests/out/initrd.cpio.gz ] || bash guests/build.sh
if [ "$only" != vx86 ] && ! command -v qemu-system-i386 >/dev/null; then
    apt-get install -y qemu-system-x86
fi
if [ "$only" != qemu ] && [ "${NO_BUILD:-0}" != 1 ]; then
    cargo build -q --release -p vx86-cli
fi

img=.cache/bench/virtio-blk-${SIZE_MB}M.img
if [ "$(stat -c %s "$img" 2>/dev/null || echo 0)" != $((SIZE_MB << 20)) ]; then
    mkdir -p .cache/bench
    echo "bench/virtio-blk.sh: writing $img ($SIZE_MB MiB of pseudo-random bytes)" >&2
    python3 - "$img.tmp" "$SIZE_MB" <<'PY'
import random, sys
rng = random.Random(20240601)
with open(sys.argv[1], "wb") as f:
    for _ in range(int(sys.argv[2])):
        f.write(rng.randbytes(1 << 20))
PY
    mv "$img.tmp" "$img"
fi

exec python3 bench/virtio-blk.py --image "$img" --kernel guests/out/bzImage \
    --initrd guests/out/initrd.cpio.gz ${only:+--only "$only"} --runs "${RUNS:-3}" \
    $([ "${DIRECT:-0}" = 1 ] && echo --direct)
