#!/usr/bin/env python3
"""Writes tiny-vmlinux.xz: the payload of a bzImage as the kernel build makes it (an ELF32 i386
executable compressed by liblzma with the x86 BCJ filter and LZMA2, CRC32 check, followed by
the decompressed size as 4 little-endian bytes). The ELF has one PT_LOAD segment at physical
0x1000000 (virtual 0xC1000000): 256 bytes of code full of CALL rel32 (E8) instructions, which
the BCJ filter rewrites, and 0x1000 bytes of BSS. vmlinux.rs's tests decode it."""
import lzma, struct

code = b"".join(bytes([0xE8]) + struct.pack("<i", 0x100 * i - 5 * i) for i in range(40))
code += b"\xF4" * (256 - len(code))
phdr = struct.pack("<8I", 1, 0x54, 0xC1000000, 0x1000000, len(code), len(code) + 0x1000, 7, 0x1000)
ehdr = b"\x7FELF\x01\x01\x01" + bytes(9) + struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, 0x1000000, 0x34, 0, 0, 0x34, 32, 1, 40, 0, 0)
elf = ehdr + phdr + code
xz = lzma.compress(elf, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32,
                   filters=[{"id": lzma.FILTER_X86}, {"id": lzma.FILTER_LZMA2, "preset": 9}])
open("tiny-vmlinux.xz", "wb").write(xz + struct.pack("<I", len(elf)))
open("tiny-vmlinux.elf", "wb").write(elf)
