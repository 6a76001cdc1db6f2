# VX86_TEST=blkread: sequential read throughput of the first virtio disk.
# Prints DD-START, reads all of /dev/vda with dd (bs=1M) into /dev/null, prints DD-END, then
# (with VX86_DD=direct on the kernel command line the read bypasses the page cache:
# iflag=direct, the device straight into dd's buffer),
# dd's own summary and a line with the guest-clock figure (after DD-END, so the host's
# DD-START..DD-END wall time covers only the read). Busybox dd reports only the record counts.
if [ ! -b /dev/vda ]; then
    echo "DD-FAIL: no /dev/vda"
    exit 1
fi
bytes=$(( $(cat /sys/block/vda/size) * 512 ))
echo "blkread: /dev/vda has $bytes bytes"
t0=$(cut -d' ' -f1 /proc/uptime)
echo DD-START
flags=
grep -qw VX86_DD=direct /proc/cmdline && flags=iflag=direct
echo "blkread: dd ${flags:-(buffered)}"
dd if=/dev/vda of=/dev/null bs=1M $flags 2>/tmp/dd.log
rc=$?
echo DD-END
t1=$(cut -d' ' -f1 /proc/uptime)
cat /tmp/dd.log
if [ $rc = 0 ]; then
    awk -v b="$bytes" -v t0="$t0" -v t1="$t1" 'BEGIN {
        s = t1 - t0; if (s <= 0) s = 0.01
        printf "blkread: %d bytes in %.2f s of guest time (/proc/uptime), %.1f MB/s\n", b, s, b / s / 1e6 }'
else
    echo "DD-FAIL: dd exit status $rc"
fi
