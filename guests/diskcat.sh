#!/usr/bin/env bash
# Prints a file out of an ext2 image (e.g. from guests/mkdisk.sh), without root or mounting:
#   guests/diskcat.sh IMG /written.txt     # = debugfs -R 'cat /written.txt' IMG
# Exit status 1 if the file is not there.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin
[ $# = 2 ] || { echo "usage: guests/diskcat.sh IMG /PATH" >&2; exit 2; }
debugfs -R "stat $2" "$1" 2>&1 | grep -q '^Inode:' || { echo "guests/diskcat.sh: no $2 in $1" >&2; exit 1; }
debugfs -R "cat $2" "$1" 2>/dev/null
