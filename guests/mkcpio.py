#!/usr/bin/env python3
"""Write a deterministic newc ("070701") cpio archive of a directory tree to stdout.

Usage: mkcpio.py DIR [--node PATH:c|b:MAJOR:MINOR[:MODE]] ...

Why not cpio(1)? Device nodes (/dev/console, /dev/ttyS0) must be in the archive so the kernel can
open the console before /init runs, and creating them with mknod needs root. Here they are only
archive entries, so the script works for any user.

Determinism: entries are sorted by path (a parent sorts before its children), inode numbers are
assigned in that order, mtime is 0, uid/gid are 0, and modes are normalised (directories 0755,
files 0755 if the owner may execute them else 0644, symlinks 0777), so the output depends only
on names, contents, symlink targets and executable bits -- not on the host's clock, umask or user.
Hard links are stored as independent files. Sockets, FIFOs and device files in DIR are refused.
"""
import os
import stat
import sys

S_IFDIR, S_IFREG, S_IFLNK, S_IFCHR, S_IFBLK = 0o040000, 0o100000, 0o120000, 0o020000, 0o060000


def collect(root):
    """Yield (archive path, mode, data) for every entry under root except root itself."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                yield rel, S_IFLNK | 0o777, os.readlink(full).encode()
            elif stat.S_ISDIR(st.st_mode):
                yield rel, S_IFDIR | 0o755, b""
            elif stat.S_ISREG(st.st_mode):
                perm = 0o755 if st.st_mode & stat.S_IXUSR else 0o644
                with open(full, "rb") as f:
                    yield rel, S_IFREG | perm, f.read()
            else:
                sys.exit(f"mkcpio.py: unsupported file type: {full}")


def parse_node(spec):
    """'dev/console:c:5:1[:600]' -> (path, mode, (major, minor))."""
    parts = spec.split(":")
    if len(parts) not in (4, 5) or parts[1] not in ("c", "b"):
        sys.exit(f"mkcpio.py: bad --node {spec!r} (want PATH:c|b:MAJOR:MINOR[:OCTALMODE])")
    kind = S_IFCHR if parts[1] == "c" else S_IFBLK
    perm = int(parts[4], 8) if len(parts) == 5 else 0o600
    return parts[0].strip("/"), kind | perm, (int(parts[2]), int(parts[3]))


def write_entry(out, ino, name, mode, data=b"", rdev=(0, 0)):
    """One newc header + NUL-terminated name + data, each padded to a multiple of 4 bytes."""
    nameb = name.encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(mode) else 1
    fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(nameb), 0)
    header = b"070701" + "".join(f"{v:08X}" for v in fields).encode()
    out.write(header + nameb + b"\0" * (-(len(header) + len(nameb)) % 4))
    out.write(data + b"\0" * (-len(data) % 4))


def main(argv):
    if not argv or argv[0].startswith("-"):
        sys.exit(__doc__)
    root, nodes, rest = argv[0], [], argv[1:]
    while rest:
        if rest[0] != "--node" or len(rest) < 2:
            sys.exit(f"mkcpio.py: unexpected argument {rest[0]!r}")
        nodes.append(parse_node(rest[1]))
        rest = rest[2:]

    entries = {path: (mode, data, (0, 0)) for path, mode, data in collect(root)}
    for path, mode, rdev in nodes:
        parent = os.path.dirname(path)
        if parent and parent not in entries:
            sys.exit(f"mkcpio.py: --node {path}: directory {parent} is not in {root}")
        entries[path] = (mode, b"", rdev)

    out = sys.stdout.buffer
    for ino, path in enumerate(sorted(entries), start=1):
        mode, data, rdev = entries[path]
        write_entry(out, ino, path, mode, data, rdev)
    write_entry(out, 0, "TRAILER!!!", 0)
    out.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
