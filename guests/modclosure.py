#!/usr/bin/env python3
"""Print the modules needed to load some kernel modules, in a working insmod order.

Usage: modclosure.py KMODDIR NAME...
  KMODDIR  the lib/modules/<version>/kernel folder of an unpacked linux-image .deb
  NAME     module names (ext4, virtio_blk, ...; '-' and '_' are the same)

Prints one path per line, relative to KMODDIR, every module after the ones it needs.

Why not modules.dep? The .deb has none (depmod writes it when the package is installed) and the
host may have no kmod tools, so the dependencies are read from each module's own .modinfo section
(an ELF32/ELF64 section of NUL-separated key=value strings):
  depends=a,b          hard dependencies (unresolved symbols), loaded first;
  softdep=pre: x y     modules modprobe loads first; ext4 and jbd2 ask for "crypto-crc32c",
                       which the kernel would otherwise request_module() at mount time (there
                       is no modprobe + modules.dep in the initramfs). These names may be aliases:
                       they are looked up in every module's alias= lines. When several modules
                       provide one alias (crypto-crc32c: crc32c_generic and crc32c-intel) the
                       portable *_generic one is taken (crc32c-intel needs SSE4.2, which vx86's
                       CPU does not have), else the first by path.
The output depends only on the package's files (deps are visited sorted by name).
"""
import fnmatch
import os
import struct
import sys


def norm(name):
    return name.replace("-", "_")


def modinfo(path):
    """The key=value strings of a module's .modinfo section, reading only the needed parts."""
    with open(path, "rb") as f:
        ident = f.read(16)
        if ident[:4] != b"\x7fELF":
            sys.exit(f"modclosure.py: not an ELF file: {path}")
        is64, end = ident[4] == 2, "<" if ident[5] == 1 else ">"
        if is64:
            f.seek(0x28); shoff, = struct.unpack(end + "Q", f.read(8))
            f.seek(0x3A); shentsize, shnum, shstrndx = struct.unpack(end + "HHH", f.read(6))
            fmt = end + "IIQQQQIIQQ"
        else:
            f.seek(0x20); shoff, = struct.unpack(end + "I", f.read(4))
            f.seek(0x2E); shentsize, shnum, shstrndx = struct.unpack(end + "HHH", f.read(6))
            fmt = end + "IIIIIIIIII"
        f.seek(shoff)
        raw = f.read(shentsize * shnum)
        secs = [struct.unpack_from(fmt, raw, i * shentsize) for i in range(shnum)]
        # (name, type, flags, addr, offset, size, ...)
        f.seek(secs[shstrndx][4]); names = f.read(secs[shstrndx][5])
        for s in secs:
            if names[s[0]:names.index(b"\0", s[0])] == b".modinfo":
                f.seek(s[4])
                return [x.decode("utf-8", "replace") for x in f.read(s[5]).split(b"\0") if x]
    return []


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    root, wanted = argv[0], argv[1:]
    paths = {}                                   # normalised module name -> relative path
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            if fn.endswith(".ko"):
                rel = os.path.relpath(os.path.join(dirpath, fn), root).replace(os.sep, "/")
                paths.setdefault(norm(fn[:-3]), rel)
    info_cache, alias_table = {}, None

    def info(name):
        if name not in info_cache:
            info_cache[name] = modinfo(os.path.join(root, paths[name]))
        return info_cache[name]

    def field(name, key):
        return [kv.split("=", 1)[1] for kv in info(name) if kv.split("=", 1)[0] == key]

    def resolve(name):
        """A module name or an alias -> a module name (None if nothing provides it)."""
        nonlocal alias_table
        if norm(name) in paths:
            return norm(name)
        if alias_table is None:                  # read every module's aliases once, if needed
            alias_table = [(a, m) for m in sorted(paths, key=paths.get) for a in field(m, "alias")]
        hits = [m for a, m in alias_table if fnmatch.fnmatchcase(name, a)]
        generic = [m for m in hits if m.endswith("_generic")]
        return (generic or hits or [None])[0]

    order, state = [], {}                        # state: 1 visiting, 2 done

    def visit(name, chain):
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            sys.exit(f"modclosure.py: dependency cycle: {' -> '.join(chain + [name])}")
        state[name] = 1
        deps = []
        for sd in field(name, "softdep"):        # "pre: a b post: c" -> only the pre: part
            part = None
            for word in sd.split():
                if word.endswith(":"):
                    part = word[:-1]
                elif part == "pre":
                    m = resolve(word)
                    if m is None:
                        sys.exit(f"modclosure.py: {name}: softdep {word} not found")
                    deps.append(m)
        for d in field(name, "depends"):
            deps += [norm(x) for x in d.split(",") if x]
        for d in sorted(set(deps)):
            if d not in paths:
                sys.exit(f"modclosure.py: {name} needs {d}, which is not in {root}")
            visit(d, chain + [name])
        state[name] = 2
        order.append(name)

    for w in wanted:
        m = resolve(w)
        if m is None:
            sys.exit(f"modclosure.py: no module {w} in {root}")
        visit(m, [])
    for m in order:
        print(paths[m])


if __name__ == "__main__":
    main(sys.argv[1:])
