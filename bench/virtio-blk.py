#!/usr/bin/env python3
"""Times the guest's sequential disk read (VX86_TEST=blkread) under vx86 and QEMU side by side.

Usage: virtio-blk.py --image IMG --kernel K --initrd I [--only vx86|qemu] [--vx86 BIN] [--timeout S]
       [--direct] [--runs N]

Each emulator boots the same guest with the same raw image as a virtio-blk disk (vx86:
`--disk IMG,cow`; QEMU: a modern-only virtio-blk-pci, read-only). The guest prints DD-START,
reads the whole disk with `dd bs=1M`, prints DD-END and dd's summary. The console is read line by
line and each marker is stamped with time.monotonic() as it arrives, so the figure is the host's
wall time for the read (the guest's own figure, from /proc/uptime, is printed too: under vx86
the guest clock is virtual time). MB/s is 10^6 bytes per second.

With --runs N (default 3) the two emulators take turns N times, so a slow spell of the host hits
both alike; each side's figure is the median of its runs (all runs are printed), and the ratio
is the ratio of the medians.
"""
import argparse
import os
import shlex
import statistics
import subprocess
import sys
import threading
import time

APPEND = "console=ttyS0 panic=-1 cryptomgr.notests VX86_TEST=blkread"


def commands(a):
    append = APPEND + (" VX86_DD=direct" if a.direct else "")
    return {
        "vx86": [a.vx86, "run", "--kernel", a.kernel, "--initrd", a.initrd, "--mem", "256M",
                 "--append", append, "--disk", f"{a.image},cow"],
        "qemu": ["qemu-system-i386", "-M", "pc", "-accel", "tcg", "-m", "256", "-nographic",
                 "-no-reboot", "-nic", "none", "-kernel", a.kernel, "-initrd", a.initrd,
                 "-append", append,
                 "-drive", f"file={a.image},format=raw,if=none,id=d0,readonly=on",
                 "-device", "virtio-blk-pci,drive=d0,disable-legacy=on"],
    }


def run(name, cmd, size, timeout):
    """Boots one emulator; returns a dict of figures or raises RuntimeError."""
    print(f"[{name}] $ {shlex.join(cmd)}", flush=True)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    marks, tail, dd_line = {}, [], None
    killer = threading.Timer(timeout, p.kill)   # also when the guest hangs without output
    killer.start()
    try:
        for raw in iter(p.stdout.readline, b""):
            now = time.monotonic()
            line = raw.decode("latin-1").rstrip("\r\n").replace("\r", "")
            tail = (tail + [line])[-15:]
            for m in ("BOOT-OK", "DD-START", "DD-END", "TEST-DONE blkread"):
                if line.strip() == m and m not in marks:
                    marks[m] = now
            if "DD-FAIL" in line or "vx86-init: insmod" in line:
                print(f"[{name}] {line}", flush=True)
            if line.startswith("blkread: ") and "guest time" in line:
                dd_line = line.strip()
            if line.startswith("vx86: exit=") or "Power down" in line:
                print(f"[{name}] {line.strip()}", flush=True)
        p.wait(timeout=30)
    finally:
        killer.cancel()
        if p.poll() is None:
            p.kill()
            p.wait()
    if time.monotonic() - t0 >= timeout:
        tail.append(f"(killed after the {timeout:.0f} s timeout)")
    if "DD-START" not in marks or "DD-END" not in marks:
        raise RuntimeError("no DD-START/DD-END on the console; last lines:\n    "
                           + "\n    ".join(tail))
    secs = marks["DD-END"] - marks["DD-START"]
    r = {"secs": secs, "mbps": size / secs / 1e6, "boot": marks.get("BOOT-OK", t0) - t0,
         "total": time.monotonic() - t0, "guest": dd_line}
    print(f"[{name}] BOOT-OK after {r['boot']:.2f} s; read {size} bytes in {secs:.3f} s wall"
          f" = {r['mbps']:.1f} MB/s; whole run {r['total']:.2f} s", flush=True)
    if dd_line:
        print(f"[{name}] guest: {dd_line}", flush=True)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--image", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--vx86", default="./target/release/vx86")
    ap.add_argument("--only", choices=["vx86", "qemu"])
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--direct", action="store_true",
                    help="dd with iflag=direct (O_DIRECT: no page cache in the guest)")
    ap.add_argument("--runs", type=int, default=3,
                    help="boots per emulator, taken in turns (the median is reported)")
    a = ap.parse_args()
    if a.runs < 1:
        ap.error("--runs must be at least 1")
    size = os.path.getsize(a.image)
    cmds = commands(a)
    names = [n for n in ("vx86", "qemu") if not a.only or a.only == n]
    runs = {n: [] for n in names}
    failed = set()
    for i in range(a.runs):
        for name in names:
            if name in failed:
                continue
            print(f"[{name}] run {i + 1} of {a.runs}", flush=True)
            try:
                runs[name].append(run(name, cmds[name], size, a.timeout))
            except RuntimeError as e:
                print(f"[{name}] FAILED: {e}", flush=True)
                failed.add(name)
    print()
    print(f"sequential read of a {size >> 20} MiB virtio-blk disk (dd bs=1M), host wall time,"
          f" median of {a.runs} run(s):")
    median = {}
    for name in names:
        if name in failed or not runs[name]:
            continue
        secs = [r["secs"] for r in runs[name]]
        median[name] = size / statistics.median(secs) / 1e6
        each = ", ".join(f"{size / t / 1e6:.1f}" for t in secs)
        print(f"  {name:5} {median[name]:8.1f} MB/s  ({statistics.median(secs):.3f} s;"
              f" runs: {each} MB/s)")
    if "vx86" in median and "qemu" in median:
        print(f"  ratio vx86/QEMU: {median['vx86'] / median['qemu']:.3f}")
    sys.exit(0 if all(n in median for n in names) else 1)


if __name__ == "__main__":
    main()
