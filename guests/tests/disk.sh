# VX86_TEST=disk: the ext2 disk of guests/mkdisk.sh on /dev/vda. Mounts it on /mnt, prints
# /mnt/hello.txt between READ-START and READ-END, writes /mnt/written.txt ("written by the
# guest"), syncs, unmounts, prints DISK-OK (DISK-FAIL: reason on any error). The host reads the
# file back with: debugfs -R 'cat /written.txt' IMG
fail() { echo "DISK-FAIL: $*"; exit 1; }
[ -b /dev/vda ] || fail "no /dev/vda"
mkdir -p /mnt
mount -t ext2 /dev/vda /mnt || fail "mount -t ext2 /dev/vda /mnt"
echo READ-START
cat /mnt/hello.txt || { umount /mnt; fail "cannot read /mnt/hello.txt"; }
echo READ-END
echo "written by the guest" >/mnt/written.txt || { umount /mnt; fail "cannot write /mnt/written.txt"; }
sync
umount /mnt || fail "umount /mnt"
echo DISK-OK
