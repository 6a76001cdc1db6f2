//! Multiboot v1 kernels (the Multiboot Specification 0.6.96, sections 3.1-3.3): the header in
//! the first 8 KiB, an ELF32 image loaded by its program headers (or the a.out "kludge"
//! addresses of header flag 16), the multiboot information structure, and the machine state
//! at entry: 32-bit protected mode with flat segments, paging off, EAX = 0x2BADB002,
//! EBX = the information structure.
//!
//! Left out: modules, video mode requests (header flag 2 is refused), boot device, symbols.
//! Everything in the image is checked against RAM before anything is written.

use super::u32_at;
use crate::cpu::{cr0, flag, CpuState, Segment, TableReg};
use crate::VmError;

/// Header magic.
pub const HEADER_MAGIC: u32 = 0x1BAD_B002;
/// Value of EAX at entry.
pub const BOOT_MAGIC: u32 = 0x2BAD_B002;

/// Where the loader puts its structures (below the usual 1 MiB kernel load address).
const GDT_ADDR: u32 = 0x500;
const INFO_ADDR: u32 = 0x9000;
const CMDLINE_ADDR: u32 = 0x9100;
const MMAP_ADDR: u32 = 0x9800;

/// A region to copy into guest memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Physical address.
    pub addr: u32,
    /// Bytes to copy (the rest up to `len` is zero).
    pub data: Vec<u8>,
    /// Total length in memory.
    pub len: u32,
}

/// A parsed, validated multiboot kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// What to write where.
    pub chunks: Vec<Chunk>,
    /// Entry point (physical).
    pub entry: u32,
}

fn bad(msg: impl Into<String>) -> VmError {
    VmError::Image(format!("multiboot: {}", msg.into()))
}

/// Parses a multiboot kernel for a machine with `ram` bytes of RAM.
pub fn parse(file: &[u8], ram: u64) -> Result<Image, VmError> {
    let search = file.len().min(8192);
    let hdr = (0..search.saturating_sub(11))
        .step_by(4)
        .find(|&o| u32_at(file, o) == Some(HEADER_MAGIC))
        .ok_or_else(|| bad("no multiboot header (magic 0x1BADB002) in the first 8 KiB"))?;
    let flags = u32_at(file, hdr + 4).ok_or_else(|| bad("truncated header"))?;
    let checksum = u32_at(file, hdr + 8).ok_or_else(|| bad("truncated header"))?;
    if HEADER_MAGIC.wrapping_add(flags).wrapping_add(checksum) != 0 {
        return Err(bad("header checksum does not add up to 0"));
    }
    if flags & 0x4 != 0 {
        return Err(bad("video mode requests (header flag 2) are not supported"));
    }
    // Bits 0-15 are requirements: a loader must refuse any it does not know (spec 3.1.2).
    if flags & 0xFFF8 != 0 {
        return Err(bad(format!("unknown required header flags {flags:#x}")));
    }
    let img = if flags & 0x1_0000 != 0 {
        parse_aout_kludge(file, hdr)?
    } else {
        parse_elf(file)?
    };
    for c in &img.chunks {
        if c.addr as u64 + c.len as u64 > ram || c.data.len() as u64 > c.len as u64 {
            return Err(VmError::Image(format!(
                "multiboot: segment at {:#x}+{:#x} does not fit in {ram:#x} bytes of RAM",
                c.addr, c.len
            )));
        }
        if (c.addr as u64) < 0x10_0000
            && c.addr as u64 + c.len as u64 > GDT_ADDR as u64
            && c.addr < 0xA000
        {
            return Err(bad(format!(
                "segment at {:#x} overlaps the loader's area 0x500-0xA000",
                c.addr
            )));
        }
    }
    if img.entry as u64 >= ram {
        return Err(bad(format!("entry point {:#x} is outside RAM", img.entry)));
    }
    Ok(img)
}

fn parse_aout_kludge(file: &[u8], hdr: usize) -> Result<Image, VmError> {
    let f =
        |i: usize| u32_at(file, hdr + 12 + 4 * i).ok_or_else(|| bad("truncated address fields"));
    let (header_addr, load_addr, load_end, bss_end, entry) = (f(0)?, f(1)?, f(2)?, f(3)?, f(4)?);
    if load_addr > header_addr || (header_addr - load_addr) as usize > hdr {
        return Err(bad("load_addr is after the header"));
    }
    let start = hdr - (header_addr - load_addr) as usize;
    let file_len = if load_end == 0 {
        file.len() - start
    } else {
        load_end
            .checked_sub(load_addr)
            .ok_or_else(|| bad("load_end_addr < load_addr"))? as usize
    };
    let data = file
        .get(start..start + file_len)
        .ok_or_else(|| bad("load range beyond the file"))?
        .to_vec();
    let end = if bss_end == 0 {
        load_addr as u64 + file_len as u64
    } else {
        bss_end as u64
    };
    let len = end
        .checked_sub(load_addr as u64)
        .filter(|&l| l >= file_len as u64 && l < 1 << 32)
        .ok_or_else(|| bad("bss_end_addr before the loaded data"))?;
    Ok(Image {
        chunks: vec![Chunk {
            addr: load_addr,
            data,
            len: len as u32,
        }],
        entry,
    })
}

fn parse_elf(file: &[u8]) -> Result<Image, VmError> {
    if file.get(0..4) != Some(b"\x7fELF".as_slice()) {
        return Err(bad(
            "not an ELF file and header flag 16 (load addresses) is not set",
        ));
    }
    let elf = super::elf::load_segments(file).map_err(bad)?;
    Ok(Image {
        chunks: elf.chunks,
        entry: elf.entry,
    })
}

/// The boot-time memory writes (GDT, information structure, command line, memory map) and
/// the CPU state at the kernel's entry, for `ram` bytes of RAM.
pub fn boot_state(entry: u32, ram: u64, cmdline: &str) -> (Vec<Chunk>, CpuState) {
    let mut chunks = Vec::new();
    // GDT: null, 0x08 flat code, 0x10 flat data (the segment registers hold these).
    let gdt: [u64; 3] = [0, 0x00CF_9B00_0000_FFFF, 0x00CF_9300_0000_FFFF];
    chunks.push(Chunk {
        addr: GDT_ADDR,
        data: gdt.iter().flat_map(|d| d.to_le_bytes()).collect(),
        len: 24,
    });
    let mem_upper_kb = (ram.saturating_sub(1 << 20) / 1024).min(u32::MAX as u64) as u32;
    // Memory map: [0, 640K) usable, [1M, ram) usable (entries: size, base, length, type).
    let mut mmap = Vec::new();
    for (base, len) in [
        (0u64, 0xA_0000u64),
        (0x10_0000, ram.saturating_sub(0x10_0000)),
    ] {
        mmap.extend_from_slice(&20u32.to_le_bytes());
        mmap.extend_from_slice(&base.to_le_bytes());
        mmap.extend_from_slice(&len.to_le_bytes());
        mmap.extend_from_slice(&1u32.to_le_bytes());
    }
    let mut cmd = cmdline.as_bytes().to_vec();
    cmd.truncate(0x6FF);
    cmd.push(0);
    // flags: mem_* (bit 0), cmdline (bit 2), mmap (bit 6)
    let mut info = vec![0u8; 52];
    let put =
        |info: &mut Vec<u8>, o: usize, v: u32| info[o..o + 4].copy_from_slice(&v.to_le_bytes());
    put(&mut info, 0, 1 | 4 | 64);
    put(&mut info, 4, 640);
    put(&mut info, 8, mem_upper_kb);
    put(&mut info, 16, CMDLINE_ADDR);
    put(&mut info, 44, mmap.len() as u32);
    put(&mut info, 48, MMAP_ADDR);
    chunks.push(Chunk {
        addr: INFO_ADDR,
        len: info.len() as u32,
        data: info,
    });
    chunks.push(Chunk {
        addr: CMDLINE_ADDR,
        len: cmd.len() as u32,
        data: cmd,
    });
    chunks.push(Chunk {
        addr: MMAP_ADDR,
        len: mmap.len() as u32,
        data: mmap,
    });
    let mut s = CpuState::reset();
    s.cr0 = cr0::PE | cr0::ET | cr0::EM;
    s.segs = [Segment::flat(0x10, false, 0); 6];
    s.segs[crate::SegReg::Cs as usize] = Segment::flat(0x08, true, 0);
    s.gdtr = TableReg {
        base: GDT_ADDR,
        limit: 23,
    };
    s.idtr = TableReg { base: 0, limit: 0 };
    s.eflags = flag::FIXED1;
    s.eip = entry;
    s.regs[0] = BOOT_MAGIC;
    s.regs[3] = INFO_ADDR;
    (chunks, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF32 with one PT_LOAD segment at `paddr` and a multiboot header.
    fn elf(paddr: u32, code: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 0x80];
        f[0..4].copy_from_slice(b"\x7fELF");
        f[4] = 1;
        f[5] = 1;
        f[6] = 1;
        f[16..18].copy_from_slice(&2u16.to_le_bytes());
        f[18..20].copy_from_slice(&3u16.to_le_bytes());
        f[24..28].copy_from_slice(&(paddr + 12).to_le_bytes()); // entry after the header
        f[28..32].copy_from_slice(&52u32.to_le_bytes());
        f[42..44].copy_from_slice(&32u16.to_le_bytes());
        f[44..46].copy_from_slice(&1u16.to_le_bytes());
        let seg_len = 12 + code.len() as u32;
        let ph = [1u32, 0x80, paddr, paddr, seg_len, seg_len + 16, 5, 4];
        for (i, v) in ph.iter().enumerate() {
            f[52 + 4 * i..56 + 4 * i].copy_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(&HEADER_MAGIC.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&(HEADER_MAGIC.wrapping_neg()).to_le_bytes());
        f.extend_from_slice(code);
        f
    }

    #[test]
    fn parses_an_elf_kernel() {
        let img = parse(&elf(0x10_0000, &[0xF4]), 16 << 20).unwrap();
        assert_eq!(img.entry, 0x10_000C);
        assert_eq!(img.chunks.len(), 1);
        assert_eq!(img.chunks[0].addr, 0x10_0000);
        assert_eq!(
            img.chunks[0].len,
            13 + 16,
            "memsz includes the zero-filled tail"
        );
        assert_eq!(*img.chunks[0].data.last().unwrap(), 0xF4);
    }

    #[test]
    fn rejects_bad_images_with_reasons() {
        let mut e = elf(0x10_0000, &[0xF4]);
        let err = |b: &[u8], ram| parse(b, ram).unwrap_err().to_string();
        assert!(err(b"not a kernel", 1 << 24).contains("no multiboot header"));
        assert!(err(&e, 0x10_0008).contains("does not fit"));
        e[0x80 + 8] ^= 1; // break the checksum
        assert!(err(&e, 1 << 24).contains("checksum"));
        let mut trunc = elf(0x10_0000, &[0xF4]);
        trunc[56..60].copy_from_slice(&0xFFFF_0000u32.to_le_bytes()); // p_offset beyond file
        assert!(err(&trunc, 1 << 24).contains("beyond the file"));
    }

    #[test]
    fn entry_state_follows_the_spec() {
        let (chunks, s) = boot_state(0x10_000C, 32 << 20, "console=ttyS0");
        assert_eq!(s.regs[0], BOOT_MAGIC);
        assert_eq!(s.regs[3], INFO_ADDR);
        assert_eq!(s.cr0 & cr0::PE, cr0::PE);
        assert_eq!(s.cr0 & cr0::PG, 0);
        assert_eq!(s.eflags & flag::IF, 0);
        assert!(s.segs[crate::SegReg::Cs as usize].is_32());
        let info = chunks.iter().find(|c| c.addr == INFO_ADDR).unwrap();
        // mem_upper: (32 MiB − 1 MiB) / 1 KiB = 31744
        assert_eq!(u32_at(&info.data, 8), Some(31744));
    }
}
