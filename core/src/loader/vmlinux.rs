//! The kernel proper inside a bzImage, extracted on the host: what the bzImage's own
//! decompressor (arch/x86/boot/compressed) does in the guest, done once outside it.
//!
//! Boot protocol 2.08+ (Documentation/arch/x86/boot.rst) describes the compressed payload with
//! `payload_offset`/`payload_length` (relative to the protected-mode code); for an xz payload
//! (the .xz format with the x86 BCJ filter, as the kernel's `xz_wrap.sh` makes it) the last four
//! bytes are the decompressed size. The result is the uncompressed `vmlinux`, an ELF32 i386
//! executable (loaded by [`super::elf`]): each `PT_LOAD` segment goes to its physical
//! address `p_paddr` (file bytes, then zeros up to `p_memsz`) and the kernel starts at
//! `e_entry` (startup_32, a physical address), exactly where the decompressor puts it when it
//! does not move the kernel.
//!
//! Left out: gzip, bzip2, lzma, lzo, lz4 and zstd payloads (refused with the format's name; the
//! in-guest decompressor handles them), relocation and KASLR (the kernel runs at its link
//! address, as with `nokaslr`), 64-bit kernels.

use super::multiboot::Chunk;
use super::u32_at;
use crate::VmError;

/// The magic bytes of an .xz stream (the .xz file format, 2.1.1.1).
const XZ_MAGIC: [u8; 6] = [0xFD, b'7', b'z', b'X', b'Z', 0x00];
/// Largest dictionary the decoder allocates (the kernel's xz_wrap.sh uses up to 32 MiB).
const MAX_XZ_DICT: usize = 64 << 20;
/// ELF type of an executable file.
const ET_EXEC: u16 = 2;

fn bad(msg: impl Into<String>) -> VmError {
    VmError::Image(format!("linux (direct kernel entry): {}", msg.into()))
}

/// The kernel proper, ready to be written to guest memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vmlinux {
    /// The loadable segments at their physical addresses.
    pub chunks: Vec<Chunk>,
    /// Physical address of the 32-bit entry (startup_32).
    pub entry: u32,
    /// First byte after the highest segment.
    pub end: u64,
}

/// What compression a payload uses, named after its magic bytes (the kernel's
/// lib/decompress.c table); for error messages.
fn payload_format(p: &[u8]) -> &'static str {
    const FORMATS: [(&[u8], &str); 8] = [
        (&XZ_MAGIC, "xz"),
        (&[0x1F, 0x8B], "gzip"),
        (&[0x1F, 0x9E], "gzip"),
        (b"BZh", "bzip2"),
        (&[0x5D, 0x00], "lzma"),
        (&[0x89, b'L', b'Z', b'O'], "lzo"),
        (&[0x02, 0x21, 0x4C, 0x18], "lz4"),
        (&[0x28, 0xB5, 0x2F, 0xFD], "zstd"),
    ];
    FORMATS
        .iter()
        .find(|(magic, _)| p.starts_with(magic))
        .map_or("unknown", |&(_, name)| name)
}

/// Decompresses the xz payload `p` whose last four bytes give the decompressed size, which
/// must not exceed `limit`.
fn decompress_xz(p: &[u8], limit: u64) -> Result<Vec<u8>, VmError> {
    let size = p.len().checked_sub(4).and_then(|at| u32_at(p, at));
    let Some(size) = size.filter(|&s| s > 0 && s as u64 <= limit) else {
        return Err(bad(format!(
            "the payload's decompressed size is missing, zero or over {limit:#x} bytes"
        )));
    };
    let mut out = vec![0u8; size as usize];
    let mut decoder = xz4rust::XzDecoder::in_heap_with_alloc_dict_size(4096, MAX_XZ_DICT);
    let (mut read, mut written) = (0, 0);
    loop {
        let step = decoder
            .decode(&p[read..], &mut out[written..])
            .map_err(|e| bad(format!("the xz payload does not decode: {e:?}")))?;
        read += step.input_consumed();
        written += step.output_produced();
        if step.is_end_of_stream() {
            break;
        }
        if !step.made_progress() {
            return Err(bad(format!(
                "the xz payload ends early or decodes to more than the {size} bytes it declares"
            )));
        }
    }
    if written != out.len() {
        return Err(bad(format!(
            "the xz payload decodes to {written} bytes, not the {size} it declares"
        )));
    }
    Ok(out)
}

/// The loadable segments and entry of an ELF32 i386 executable whose segments must lie
/// between 1 MiB and `ram`.
fn parse_elf(elf: &[u8], ram: u64) -> Result<Vmlinux, VmError> {
    let elf = super::elf::load_segments(elf)
        .map_err(|why| bad(format!("the decompressed kernel: {why}")))?;
    if elf.kind != ET_EXEC {
        return Err(bad(format!(
            "the decompressed kernel is ELF type {}, not an i386 executable",
            elf.kind
        )));
    }
    let mut end = 0u64;
    for (i, c) in elf.chunks.iter().enumerate() {
        let top = c.addr as u64 + c.len as u64;
        if c.addr < 0x10_0000 || top > ram {
            return Err(bad(format!(
                "segment {i} at {:#x}..{top:#x} is not between 1 MiB and the end of RAM ({ram:#x})",
                c.addr
            )));
        }
        end = end.max(top);
    }
    let entry = elf.entry;
    let inside = (elf.chunks.iter())
        .any(|c| (c.addr as u64..c.addr as u64 + c.len as u64).contains(&(entry as u64)));
    if !inside {
        return Err(bad(format!(
            "the entry point {entry:#x} is not inside a loadable segment"
        )));
    }
    Ok(Vmlinux {
        chunks: elf.chunks,
        entry,
        end,
    })
}

/// Extracts the kernel proper from `pm`, the bzImage's protected-mode part, given the setup
/// header's `payload_offset` and `payload_length`, for a machine with `ram` bytes.
pub fn extract(pm: &[u8], offset: u32, length: u32, ram: u64) -> Result<Vmlinux, VmError> {
    let payload = (offset as usize)
        .checked_add(length as usize)
        .and_then(|stop| pm.get(offset as usize..stop))
        .ok_or_else(|| bad("the payload lies outside the bzImage"))?;
    if !payload.starts_with(&XZ_MAGIC) {
        return Err(bad(format!(
            "the payload is {}-compressed; only xz is decompressed on the host (boot without the direct entry)",
            payload_format(payload)
        )));
    }
    parse_elf(&decompress_xz(payload, ram)?, ram)
}

#[cfg(test)]
mod tests {
    use super::super::elf::EM_386;
    use super::*;

    /// An ELF32 i386 executable with one PT_LOAD segment of `code` at `paddr` (+ `bss` zeros).
    fn elf(paddr: u32, code: &[u8], bss: u32) -> Vec<u8> {
        let mut e = vec![0u8; 0x54];
        e[..6].copy_from_slice(&[0x7F, b'E', b'L', b'F', 1, 1]);
        e[16..18].copy_from_slice(&ET_EXEC.to_le_bytes());
        e[18..20].copy_from_slice(&EM_386.to_le_bytes());
        e[24..28].copy_from_slice(&paddr.to_le_bytes()); // entry
        e[28..32].copy_from_slice(&0x34u32.to_le_bytes()); // phoff
        e[42..44].copy_from_slice(&32u16.to_le_bytes());
        e[44..46].copy_from_slice(&1u16.to_le_bytes());
        let ph = [
            1, // PT_LOAD
            0x54,
            paddr | 0xC000_0000,
            paddr,
            code.len() as u32,
            code.len() as u32 + bss,
        ];
        for (i, v) in ph.iter().enumerate() {
            e[0x34 + 4 * i..0x38 + 4 * i].copy_from_slice(&v.to_le_bytes());
        }
        e.extend_from_slice(code);
        e
    }

    #[test]
    fn loads_segments_at_their_physical_addresses() {
        let v = parse_elf(&elf(0x100_0000, &[0xF4, 0x90], 0x1000), 64 << 20).unwrap();
        assert_eq!(v.entry, 0x100_0000);
        assert_eq!(v.chunks.len(), 1);
        assert_eq!((v.chunks[0].addr, v.chunks[0].len), (0x100_0000, 0x1002));
        assert_eq!(v.chunks[0].data, [0xF4, 0x90]);
        assert_eq!(v.end, 0x100_1002);
    }

    #[test]
    fn refuses_bad_elf_files_with_reasons() {
        let err = |e: &[u8], ram| parse_elf(e, ram).unwrap_err().to_string();
        assert!(err(b"not an elf", 1 << 26).contains("not a little-endian ELF32"));
        let mut e = elf(0x100_0000, &[0xF4], 0);
        assert!(err(&e[..0x40], 1 << 26).contains("cut short"));
        assert!(err(&e, 0x100_0000).contains("not between 1 MiB"));
        e[18] = 62; // x86-64
        assert!(err(&e, 1 << 26).contains("not an i386 executable"));
        let mut e = elf(0x100_0000, &[0xF4], 0);
        e[24..28].copy_from_slice(&0x200_0000u32.to_le_bytes());
        assert!(err(&e, 1 << 26).contains("entry point"));
        let mut e = elf(0x100_0000, &[0xF4], 0);
        e[0x34 + 16..0x34 + 20].copy_from_slice(&0x1000u32.to_le_bytes()); // filesz past the end
        assert!(err(&e, 1 << 26).contains("outside the file"));
    }

    #[test]
    fn names_payload_formats_it_does_not_decompress() {
        let pm = [0u8, 0x1F, 0x8B, 8, 0, 0, 0, 0];
        let e = extract(&pm, 1, 7, 1 << 26).unwrap_err().to_string();
        assert!(e.contains("gzip-compressed"), "{e}");
        assert!(extract(&pm, 4, 7, 1 << 26)
            .unwrap_err()
            .to_string()
            .contains("outside"));
    }

    #[test]
    fn decodes_an_xz_payload_made_by_liblzma_with_the_x86_bcj_filter() {
        // made by testdata/make_tiny_vmlinux.py (Python's lzma module, i.e. liblzma)
        let payload = include_bytes!("testdata/tiny-vmlinux.xz");
        let want = include_bytes!("testdata/tiny-vmlinux.elf");
        assert_eq!(decompress_xz(payload, 1 << 26).unwrap(), want);
        let v = extract(payload, 0, payload.len() as u32, 1 << 26).unwrap();
        assert_eq!((v.entry, v.end), (0x100_0000, 0x100_1100));
        assert_eq!(v.chunks[0].data, want[0x54..]);
    }

    #[test]
    fn refuses_a_corrupt_xz_payload() {
        // the magic, then garbage, then a declared size of 16 bytes
        let mut p = XZ_MAGIC.to_vec();
        p.extend_from_slice(&[0x55; 20]);
        p.extend_from_slice(&16u32.to_le_bytes());
        let e = extract(&p, 0, p.len() as u32, 1 << 26)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("does not decode") || e.contains("ends early"),
            "{e}"
        );
        let mut huge = XZ_MAGIC.to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        let e = extract(&huge, 0, huge.len() as u32, 1 << 26)
            .unwrap_err()
            .to_string();
        assert!(e.contains("decompressed size"), "{e}");
    }
}
