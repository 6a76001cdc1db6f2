#!/usr/bin/env bash
# CPU correctness at system level: QEMU's own instruction test program, tests/tcg/i386/test-i386.c
# from Debian's qemu source package (plus the x87 test programs next to it: FPREM over 186 623
# cases, FSCALE, FBSTP, FXAM, pseudo-denormals, SNaN conversions, x87 exceptions, F2XM1,
# FYL2XP1, the constants), built as static i386 binaries, run
#   1. on this machine's CPU (the reference), and
#   2. inside the Debian guest under vx86 (kernel + initramfs from guests/build.sh, with the
#      binary and a script that runs it appended to the initramfs as a second cpio archive),
# then the two outputs are diffed. Prints the number of differing lines; the diff is kept in
# tests/test-i386/out/diff.txt. Not part of CI (it needs gcc-multilib and a deb-src fetch).
#
# Usage: tests/test-i386/run.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$HERE/out
mkdir -p "$OUT"

# 1. the compiler for 32-bit static binaries
if ! echo 'int main(void){return 0;}' | gcc -m32 -static -x c -o /dev/null - 2>/dev/null; then
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get install -y -q gcc-multilib
fi

# 2. the qemu source package (private apt state: the host's lists stay untouched)
SRC=$(ls -d "$OUT"/qemu-*/tests/tcg/i386 2>/dev/null | head -1 || true)
if [ -z "$SRC" ]; then
    APT=$OUT/apt
    mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial"
    echo "deb-src http://deb.debian.org/debian bookworm main" > "$APT/sources.list"
    OPTS=(-o Dir::Etc::SourceList="$APT/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o Dir::State::Lists="$APT/lists" -o Dir::Cache="$APT/cache"
          -o Dir::State::status=/dev/null)
    [ "$(id -u)" = 0 ] && OPTS+=(-o APT::Sandbox::User=root)
    apt-get "${OPTS[@]}" update >"$APT/update.log" 2>&1 || true
    (cd "$OUT" && apt-get "${OPTS[@]}" source --download-only qemu >"$APT/source.log" 2>&1) || {
        echo "test-i386: cannot download the qemu source package (see $APT/source.log)" >&2; exit 1; }
    tar -xJf "$OUT"/qemu_*.orig.tar.xz -C "$OUT" --wildcards '*/tests/tcg/i386/*'
    SRC=$(ls -d "$OUT"/qemu-*/tests/tcg/i386 | head -1)
fi

# 3. the binaries, as QEMU's Makefile.target builds them (plus -static: the guest has no libc)
EXTRA=$OUT/extra
rm -rf "$EXTRA" && mkdir -p "$EXTRA"
gcc -m32 -static -O2 -fno-pie -no-pie -o "$EXTRA/test-i386" \
    "$SRC/test-i386.c" "$SRC/test-i386-code16.S" "$SRC/test-i386-vm86.S" -lm 2>"$OUT/build.log"
X87="fprem fscale fbstp fxam pseudo-denormal snan-convert fp-exceptions f2xm1 fyl2xp1 fldcst"
for t in $X87; do
    gcc -m32 -static -O2 -fno-pie -no-pie -o "$EXTRA/test-i386-$t" "$SRC/test-i386-$t.c" -lm \
        2>>"$OUT/build.log"
done
# The suite, the same on both sides: test-i386's output in full; for the x87 programs (they
# check themselves; FPREM prints 1.7 M lines) the exit status and the digest of the output.
cat > "$EXTRA/suite.sh" <<SUITE
cd "\$(dirname "\$0")"
./test-i386
for t in $X87; do
    ./test-i386-\$t > x87.out 2>&1
    echo "test-i386-\$t rc=\$? \$(md5sum < x87.out | cut -c1-32)"
done
rm -f x87.out
SUITE

# 4. the reference: the host CPU
sh "$EXTRA/suite.sh" > "$OUT/host.txt"

# 5. the guest: the initramfs of guests/build.sh plus an archive that adds the binary and
#    replaces /autotest.sh (the kernel unpacks concatenated archives in order)
[ -f "$ROOT/guests/out/bzImage" ] && [ -f "$ROOT/guests/out/initrd.cpio.gz" ] || bash "$ROOT/guests/build.sh"
printf 'echo TEST-I386-BEGIN\nsh /suite.sh\necho TEST-I386-END\n' > "$EXTRA/autotest.sh"
python3 "$ROOT/guests/mkcpio.py" "$EXTRA" | gzip -n -9 > "$OUT/extra.cpio.gz"
cat "$ROOT/guests/out/initrd.cpio.gz" "$OUT/extra.cpio.gz" > "$OUT/initrd-test-i386.cpio.gz"
(cd "$ROOT" && cargo build -q --release -p vx86-cli)
"$ROOT/target/release/vx86" run --kernel "$ROOT/guests/out/bzImage" \
    --initrd "$OUT/initrd-test-i386.cpio.gz" \
    --append "console=ttyS0 panic=-1 quiet AUTOTEST=1" > "$OUT/console.txt" || true
tr -d '\r' < "$OUT/console.txt" | sed -n '/^TEST-I386-BEGIN$/,/^TEST-I386-END$/p' | sed '1d;$d' > "$OUT/guest.txt"

# 6. the comparison
diff "$OUT/host.txt" "$OUT/guest.txt" > "$OUT/diff.txt" || true
echo "test-i386: host $(wc -l < "$OUT/host.txt") lines, guest $(wc -l < "$OUT/guest.txt") lines," \
     "$(grep -c '^[<>]' "$OUT/diff.txt" || true) differing lines (diff in $OUT/diff.txt)"
