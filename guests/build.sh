#!/usr/bin/env bash
# Builds a real Linux guest for vx86 from Debian (bookworm) i386 packages:
#   guests/out/bzImage         the kernel of linux-image-686 (current ABI package)
#   guests/out/initrd.cpio.gz  busybox-static + guests/init.sh as /init + guests/autotest.sh
#                              + guests/tests/*.sh in /tests + the virtio modules and the ext4
#                              closure in /lib/modules (loaded by /init when a virtio PCI
#                              device is present)
# Needs: apt-get, dpkg, python3, gzip and the host's Debian package mirror. No root needed.
# Downloads are cached in guests/out (git-ignored); REFRESH=1 forgets them and re-resolves
# the kernel ABI. The initrd is deterministic: same inputs, byte-identical file.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE/out
APTDIR=$OUT/apt        # private apt state: lists, package cache, logs
DEBS=$OUT/debs         # downloaded .deb files (the cache)
PKG=$OUT/pkg           # extracted packages
STAGE=$OUT/initramfs   # the initramfs tree before it is archived

die() { echo "guests/build.sh: error: $*" >&2; exit 1; }
log() { echo "guests/build.sh: $*" >&2; }
# The E:/W: lines of an apt log, indented (an unreachable mirror is only a W: to apt-get update).
apt_problems() { grep -E '^(E|W):' "$1" | sed 's/^/    /' >&2 || true; }

for tool in apt-get apt-cache dpkg python3 gzip sha256sum flock; do
    command -v "$tool" >/dev/null || die "'$tool' not found (this script expects a Debian host)"
done

# One build at a time: tests running in parallel may all start this script; the later ones
# wait here and then find everything cached.
mkdir -p "$OUT"
exec 9>"$OUT/.lock"
flock 9

if [ "${REFRESH:-0}" = 1 ]; then
    log "REFRESH=1: dropping cached package lists and downloads"
    rm -rf "$APTDIR" "$DEBS"
fi
mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$DEBS" "$PKG"

# apt options for i386 with a private state, so the host's own lists, package cache and
# dpkg status are neither read nor written. The sources are the host's (/etc/apt/sources.list
# and sources.list.d/*, apt's defaults): on a fresh Debian machine they point at its mirror.
APT_OPTS=(
    -o APT::Architecture=i386 -o APT::Architectures=i386
    -o Dir::State::Lists="$APTDIR/lists" -o Dir::Cache="$APTDIR/cache"
    -o Dir::State::status=/dev/null
)
# As root, apt fetches as the user _apt, who cannot write into our folders; it then falls back
# to root with a warning. Ask for root directly instead. (As non-root there is no sandbox.)
[ "$(id -u)" = 0 ] && APT_OPTS+=(-o APT::Sandbox::User=root)

# The newest cached .deb matching a pattern, or nothing.
cached() { (cd "$DEBS" && ls -1 $1 2>/dev/null | sort -V | tail -n 1) || true; }

KDEB=$(cached 'linux-image-[0-9]*-686_*_i386.deb')   # the ABI package, not the metapackage
BDEB=$(cached 'busybox-static_*_i386.deb')

if [ -z "$KDEB" ] || [ -z "$BDEB" ]; then
    log "updating private i386 package lists ($APTDIR/update.log)"
    # A failed index (e.g. a mirror in mid-sync) makes apt-get update exit non-zero although the
    # other suites are fine; carry on and fail below only if the packages cannot be resolved.
    if ! apt-get "${APT_OPTS[@]}" update >"$APTDIR/update.log" 2>&1; then
        log "warning: apt-get update reported errors; continuing with the indexes it fetched:"
        apt_problems "$APTDIR/update.log"
    fi
    want=()
    if [ -z "$KDEB" ]; then
        # linux-image-686 is a metapackage; its Depends names the current ABI package
        # (e.g. linux-image-6.1.0-50-686), which holds the kernel and its modules.
        kpkg=$(apt-cache "${APT_OPTS[@]}" depends linux-image-686 2>/dev/null |
               awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }') || true
        [ -n "$kpkg" ] || { apt_problems "$APTDIR/update.log"; die "cannot resolve" \
            "linux-image-686 for i386. Is the Debian mirror in /etc/apt/sources.list(.d)" \
            "reachable? See $APTDIR/update.log"; }
        want+=("$kpkg")
    fi
    [ -z "$BDEB" ] && want+=(busybox-static)
    log "downloading ${want[*]} ($APTDIR/download.log)"
    # Download into a temporary folder first, so an interrupted run leaves no half file in the cache.
    tmp=$(mktemp -d "$DEBS/.download.XXXXXX")
    (cd "$tmp" && apt-get "${APT_OPTS[@]}" download "${want[@]}") >"$APTDIR/download.log" 2>&1 ||
        { rm -rf "$tmp"; apt_problems "$APTDIR/download.log"
          die "apt-get download ${want[*]} failed; see $APTDIR/download.log"; }
    mv "$tmp"/*.deb "$DEBS"/ && rmdir "$tmp"
    KDEB=$(cached 'linux-image-[0-9]*-686_*_i386.deb')
    BDEB=$(cached 'busybox-static_*_i386.deb')
    [ -n "$KDEB" ] && [ -n "$BDEB" ] || die "download finished but the .deb files are missing in $DEBS"
else
    log "using cached $KDEB and $BDEB (REFRESH=1 to re-download)"
fi

# Extract a .deb with dpkg -x (no root, no install); skip when that same .deb was extracted last.
extract() {
    local deb=$1 dir=$2
    if [ "$(cat "$dir/.extracted-from" 2>/dev/null)" != "$deb" ]; then
        rm -rf "$dir" && mkdir -p "$dir"
        dpkg -x "$DEBS/$deb" "$dir" || die "dpkg -x $deb failed"
        echo "$deb" >"$dir/.extracted-from"
    fi
}
extract "$KDEB" "$PKG/linux"
extract "$BDEB" "$PKG/busybox"

# --- kernel ---
shopt -s nullglob
vmlinuz=("$PKG"/linux/boot/vmlinuz-*)
[ ${#vmlinuz[@]} = 1 ] || die "expected one /boot/vmlinuz-* in $KDEB, found ${#vmlinuz[@]}"
cp "${vmlinuz[0]}" "$OUT/bzImage.tmp" && mv "$OUT/bzImage.tmp" "$OUT/bzImage"
KVER=${vmlinuz[0]##*/vmlinuz-}
shopt -u nullglob
KMOD=$PKG/linux/lib/modules/$KVER/kernel                  # bookworm; later releases use /usr/lib
[ -d "$KMOD" ] || KMOD=$PKG/linux/usr/lib/modules/$KVER/kernel
[ -d "$KMOD" ] || die "no lib/modules/$KVER/kernel in $KDEB"

# --- initramfs tree (rebuilt from scratch each run, so nothing stale survives) ---
rm -rf "$STAGE"
mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,lib/modules}
cp "$PKG/busybox/bin/busybox" "$STAGE/bin/busybox"
ln -s busybox "$STAGE/bin/sh"            # /init is a #!/bin/sh script; it installs the rest
install -m 755 "$HERE/init.sh" "$STAGE/init"
install -m 644 "$HERE/autotest.sh" "$STAGE/autotest.sh"

# The virtio drivers are modules in Debian's kernel. /init loads them with insmod when a virtio
# PCI device is present (order: virtio_ring, virtio, virtio_pci_legacy_dev, virtio_pci_modern_dev,
# virtio_pci, then the device drivers; virtio_net needs failover and net_failover); here they
# are copied, flat, into /lib/modules.
for m in drivers/virtio/*.ko drivers/block/virtio_blk.ko drivers/char/virtio_console.ko \
         drivers/char/hw_random/virtio-rng.ko drivers/net/virtio_net.ko \
         net/core/failover.ko drivers/net/net_failover.ko; do
    found=0
    for f in "$KMOD"/$m; do
        [ -f "$f" ] && cp "$f" "$STAGE/lib/modules/" && found=1
    done
    [ $found = 1 ] || die "module $m not found in $KDEB"
done

# What mounting an ext2 file system on a virtio disk needs: Debian's 686 kernel has
# CONFIG_EXT4_FS=m with EXT4_USE_FOR_EXT2, so it is the ext4 module and its closure (hard
# depends= and softdep pre:, read from the modules themselves by modclosure.py, since the .deb
# carries no modules.dep): crc16, crc32c_generic, jbd2, mbcache, ext4. Copied flat like the
# virtio modules; /lib/modules/ext4.deps lists their names in insmod order for /init. The closure
# is computed once per extracted package (it scans every module's aliases, a few seconds).
closure=$PKG/linux/.closure-ext4
if [ ! -s "$closure" ]; then
    python3 "$HERE/modclosure.py" "$KMOD" ext4 >"$closure.tmp" || die "modclosure.py ext4 failed"
    mv "$closure.tmp" "$closure"
fi
: >"$STAGE/lib/modules/ext4.deps"
while read -r m; do
    cp "$KMOD/$m" "$STAGE/lib/modules/" || die "module $m not found in $KDEB"
    f=${m##*/}; echo "${f%.ko}" >>"$STAGE/lib/modules/ext4.deps"
done <"$closure"

# Guest-side test scripts: VX86_TEST=name on the kernel command line makes /init run
# /tests/name.sh after BOOT-OK (see init.sh and tests/*.sh).
mkdir -p "$STAGE/tests"
for t in "$HERE"/tests/*.sh; do
    install -m 644 "$t" "$STAGE/tests/"
done

# newc archive written by mkcpio.py (device nodes without mknod, fixed mtimes/owners, sorted),
# compressed without a name or timestamp (gzip -n) so identical inputs give identical bytes.
python3 "$HERE/mkcpio.py" "$STAGE" \
        --node dev/console:c:5:1:600 --node dev/ttyS0:c:4:64:660 |
    gzip -n -9 >"$OUT/initrd.cpio.gz.tmp"
mv "$OUT/initrd.cpio.gz.tmp" "$OUT/initrd.cpio.gz"

echo "kernel:  $KDEB"
echo "busybox: $BDEB"
for f in "$OUT/bzImage" "$OUT/initrd.cpio.gz"; do
    printf '%-40s %9d bytes  sha256 %s\n' "$f" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)"
done
