# Commands run by /init when the kernel command line has AUTOTEST=1 (between the BOOT-OK and
# AUTOTEST-DONE lines). guests/build.sh copies this file into the initramfs as /autotest.sh.
echo $((6*7))
uname -m
