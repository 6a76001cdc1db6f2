#!/bin/sh
# /init (PID 1) of the vx86 test initramfs; guests/build.sh copies this file there.
# Sets up busybox and the pseudo file systems, loads the virtio drivers when a virtio PCI device
# is present (and opens a second shell on the virtio console /dev/hvc0 if there is one), then
# runs /autotest.sh when the kernel command line has AUTOTEST=1, /tests/NAME.sh when it has
# VX86_TEST=NAME, else gives an interactive shell on the console. Powers off afterwards: if PID 1
# exited instead, the kernel would panic.

# Only /bin/busybox and /bin/sh are in the archive; the applet links are made here, so building
# the image never has to run the i386 busybox on the host.
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev   # replaces the two nodes from the archive with the full set

# --- virtio (only when a PCI function of vendor 0x1af4 exists; otherwise nothing here runs
# and nothing is printed) ---
# PCI device ids: modern (virtio 1.x) 0x1040 + virtio device type (net 1, blk 2, console 3,
# rng 4, balloon 5); transitional 0x1000 net, 0x1001 blk, 0x1002 balloon, 0x1003 console,
# 0x1005 rng. Each insmod that fails prints one line and the boot goes on.
virtio_types=
for d in /sys/bus/pci/devices/*; do
    [ "$(cat "$d/vendor" 2>/dev/null)" = 0x1af4 ] || continue
    case $(cat "$d/device" 2>/dev/null) in
        0x1041|0x1000) virtio_types="$virtio_types net" ;;
        0x1042|0x1001) virtio_types="$virtio_types blk" ;;
        0x1043|0x1003) virtio_types="$virtio_types console" ;;
        0x1044|0x1005) virtio_types="$virtio_types rng" ;;
        0x1045|0x1002) virtio_types="$virtio_types balloon" ;;
        *) virtio_types="$virtio_types other" ;;
    esac
done
if [ -n "$virtio_types" ]; then
    load() {
        for m in "$@"; do
            case " $virtio_loaded " in *" $m "*) continue ;; esac
            if err=$(insmod "/lib/modules/$m.ko" 2>&1); then
                virtio_loaded="$virtio_loaded $m"
            else
                echo "vx86-init: insmod $m failed: $err"
            fi
        done
    }
    virtio_loaded=
    load virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
    case "$virtio_types " in *" blk "*) load virtio_blk $(cat /lib/modules/ext4.deps) ;; esac
    case "$virtio_types " in *" console "*) load virtio_console ;; esac
    case "$virtio_types " in *" rng "*) load virtio-rng ;; esac
    case "$virtio_types " in *" net "*) load failover net_failover virtio_net ;; esac
    case "$virtio_types " in *" balloon "*) load virtio_balloon ;; esac
    echo "vx86-init: virtio devices:$virtio_types; modules:$virtio_loaded"
    unset -f load

    # A second shell on the virtio console, for a host that types commands there. Ports of a
    # multiport device (QEMU's virtio-serial) are announced through its control queue, after
    # insmod returns: give /dev/hvc0 up to 2 s to appear.
    case "$virtio_types " in *" console "*)
        n=0
        while [ ! -c /dev/hvc0 ] && [ $n -lt 20 ]; do sleep 0.1; n=$((n + 1)); done ;;
    esac
    if [ -c /dev/hvc0 ]; then
        # The shell is a session leader that opens hvc0 itself (no O_NOCTTY), so hvc0 becomes
        # its controlling terminal (job control, Ctrl-C); stdin/stdout/stderr are hvc0.
        # Not started with `&`: without job control ash starts background jobs with SIGINT and
        # SIGQUIT ignored, which every command typed on hvc0 would inherit (Ctrl-C would do
        # nothing). Instead the outer setsid makes a new session and execs the inner one, which,
        # now a process group leader, forks: the parent returns at once (init goes on), the
        # child makes its own session and runs the shell in the background.
        setsid setsid sh -c 'exec sh -i </dev/hvc0 >/dev/hvc0 2>&1'
    fi
fi

# KEY=value words of the kernel command line arrive as environment variables of init;
# /proc/cmdline is checked too in case a boot loader passes them differently.
if [ -z "${VX86_TEST:-}" ]; then
    for w in $(cat /proc/cmdline); do
        case $w in VX86_TEST=*) VX86_TEST=${w#VX86_TEST=} ;; esac
    done
fi
if [ "${AUTOTEST:-}" = 1 ] || grep -qw 'AUTOTEST=1' /proc/cmdline; then
    echo BOOT-OK
    sh /autotest.sh   # a child shell, so an `exit` in the script cannot end PID 1
    echo AUTOTEST-DONE
elif [ -n "${VX86_TEST:-}" ]; then
    echo BOOT-OK
    if [ -f "/tests/$VX86_TEST.sh" ]; then
        sh "/tests/$VX86_TEST.sh"
    else
        echo "vx86-init: no /tests/$VX86_TEST.sh (have: $(cd /tests && echo *.sh))"
    fi
    echo "TEST-DONE $VX86_TEST"
else
    echo BOOT-OK
    echo "vx86 test initramfs: busybox sh; leave the shell to power off"
    # cttyhack opens the real console device (ttyS0) as the controlling terminal, so Ctrl-C works
    setsid cttyhack sh
fi
poweroff -f
