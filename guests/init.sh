#!/bin/sh
# /init (PID 1) of the vx86 test initramfs; guests/build.sh copies this file there.
# Sets up busybox and the pseudo file systems, then runs /autotest.sh when the kernel command
# line has AUTOTEST=1, else gives an interactive shell on the console. Powers off afterwards:
# if PID 1 exited instead, the kernel would panic.

# Only /bin/busybox and /bin/sh are in the archive; the applet links are made here, so building
# the image never has to run the i386 busybox on the host.
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev   # replaces the two nodes from the archive with the full set

# KEY=value words of the kernel command line arrive as environment variables of init;
# /proc/cmdline is checked too in case a boot loader passes them differently.
if [ "${AUTOTEST:-}" = 1 ] || grep -qw 'AUTOTEST=1' /proc/cmdline; then
    echo BOOT-OK
    sh /autotest.sh   # a child shell, so an `exit` in the script cannot end PID 1
    echo AUTOTEST-DONE
else
    echo BOOT-OK
    echo "vx86 test initramfs: busybox sh; leave the shell to power off"
    # cttyhack opens the real console device (ttyS0) as the controlling terminal, so Ctrl-C works
    setsid cttyhack sh
fi
poweroff -f
