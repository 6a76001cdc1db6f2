#!/usr/bin/env bash
# The main job in one command: build the guest images (guests/build.sh, first time only) and
# vx86, then boot Debian's i386 kernel with the busybox initramfs, its serial console attached to
# this terminal (Ctrl-A x quits; `exit` at the shell powers the guest off).
#
# Usage: guests/boot.sh [extra `vx86 run` options]
#   APPEND="console=ttyS0 panic=-1 AUTOTEST=1" guests/boot.sh   # run guests/autotest.sh, power off
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f guests/out/bzImage ] && [ -f guests/out/initrd.cpio.gz ] || bash guests/build.sh
cargo build -q --release -p vx86-cli
exec ./target/release/vx86 run --kernel guests/out/bzImage --initrd guests/out/initrd.cpio.gz \
    --append "${APPEND:-console=ttyS0 panic=-1}" "$@"
