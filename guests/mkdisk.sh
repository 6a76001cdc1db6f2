#!/usr/bin/env bash
# Creates a raw ext2 disk image for the virtio-blk tests (VX86_TEST=disk), without root:
#
#   guests/mkdisk.sh OUT.img [SIZE_MB]     # default 16 MiB; holds /hello.txt
#
# /hello.txt contains "hello from the host disk". mke2fs -d fills the file system from a
# folder (e2fsprogs is installed with apt-get if missing). Read a file back out of the image,
# also without root (e.g. what the guest wrote):
#
#   guests/diskcat.sh OUT.img /written.txt       # = debugfs -R 'cat /written.txt' OUT.img
#
# Deterministic: the same SIZE_MB gives a byte-identical image on any host with e2fsprogs
# 1.47.x. Fixed UUID and directory hash seed; every timestamp (superblock, inodes) is
# 1000000000 (2001-09-09): E2FSPROGS_FAKE_TIME covers the superblock and the inodes mke2fs
# makes itself, and the times mke2fs -d copies from the host file (ctime cannot be set there)
# are then overwritten with debugfs. MKE2FS_CONFIG=/dev/null plus explicit options, so the host's
# /etc/mke2fs.conf does not change the layout. (Another e2fsprogs version may lay out the
# file system differently.)
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin

die() { echo "guests/mkdisk.sh: error: $*" >&2; exit 1; }
[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: guests/mkdisk.sh OUT.img [SIZE_MB]"
out=$1 size=${2:-16}
[[ $size =~ ^[0-9]+$ ]] && [ "$size" -ge 1 ] || die "SIZE_MB must be a positive integer, not '$size'"

if ! command -v mke2fs >/dev/null || ! command -v debugfs >/dev/null; then
    echo "guests/mkdisk.sh: installing e2fsprogs" >&2
    apt-get install -y e2fsprogs >&2 || die "apt-get install e2fsprogs failed (needs root)"
fi

T=1000000000
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
echo "hello from the host disk" >"$src/hello.txt"
rm -f "$out"
MKE2FS_CONFIG=/dev/null E2FSPROGS_FAKE_TIME=$T mke2fs -q -F -t ext2 -T default -b 4096 -I 256 -m 0 \
    -O ext_attr,resize_inode,dir_index,filetype,sparse_super,large_file \
    -U 6f78386f-6469-4b73-8000-000000000001 -E hash_seed=6f78386f-6469-4b73-8000-000000000002 \
    -L vx86-test -d "$src" "$out" "${size}M" >/dev/null ||
    die "mke2fs failed"
printf "sif /hello.txt %s $T\n" atime mtime ctime |
    E2FSPROGS_FAKE_TIME=$T debugfs -w -f - "$out" >/dev/null 2>&1 || die "debugfs (times) failed"
[ "$(debugfs -R 'cat /hello.txt' "$out" 2>/dev/null)" = "hello from the host disk" ] ||
    die "/hello.txt is not in $out"
printf '%s %d bytes  sha256 %s\n' "$out" "$(stat -c %s "$out")" "$(sha256sum "$out" | cut -d' ' -f1)"
