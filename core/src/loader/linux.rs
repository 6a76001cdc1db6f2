//! The Linux/x86 boot protocol, 32-bit entry (the kernel's Documentation/arch/x86/boot.rst,
//! protocol 2.06 and later): the bzImage setup header, the protected-mode kernel loaded at
//! `code32_start`, the initrd placed as high as `initrd_addr_max` and RAM allow, the command
//! line, and the "zero page" (`struct boot_params`) with the setup header and an e820 memory
//! map. The CPU enters the kernel in flat 32-bit protected mode with paging off,
//! CS = 0x10, DS = ES = SS = 0x18 and ESI = the zero page.
//!
//! Two entries ([`KernelEntry`]): the bzImage's own, at `code32_start`, where its decompressor
//! runs in the guest as on hardware; or the kernel proper's, which [`super::vmlinux`] extracts
//! on the host, skipping the decompressor (the same register and segment state; the zero page
//! is the same too).
//!
//! Left out: the 16-bit real-mode entry (the setup code is not run), EFI handover, setup_data
//! chains, relocation (the kernel is loaded at its preferred 1 MiB address).

use super::multiboot::Chunk;
use crate::cpu::{cr0, flag, CpuState, Segment, TableReg};
use crate::VmError;

/// Where the loader puts its own structures.
const GDT_ADDR: u32 = 0x1000;
const ZERO_PAGE: u32 = 0x7000;
const CMDLINE_ADDR: u32 = 0x2_0000;
/// Largest command line the loader accepts (the zero page field is 32-bit, kernels take
/// `cmdline_size` bytes).
const MAX_CMDLINE: usize = 0xFFFF;

fn bad(msg: impl Into<String>) -> VmError {
    VmError::Image(format!("linux: {}", msg.into()))
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// Where the CPU enters the kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KernelEntry {
    /// The bzImage's 32-bit entry: its decompressor runs in the guest, as on a PC.
    #[default]
    Decompressor,
    /// The kernel proper's 32-bit entry (startup_32), after vx86 decompressed the bzImage's xz
    /// payload on the host and loaded it where the decompressor would without KASLR: the guest
    /// skips the decompression (≈2.3 G instructions for Debian's i386 kernel).
    Direct,
}

impl KernelEntry {
    /// `Direct` when `direct` is true (the bindings' and the CLI's flag), else `Decompressor`.
    pub fn from_direct_flag(direct: bool) -> Self {
        match direct {
            true => Self::Direct,
            false => Self::Decompressor,
        }
    }
}

/// The boot-time memory image and CPU state of a Linux kernel.
pub struct Boot {
    /// Memory writes.
    pub chunks: Vec<Chunk>,
    /// CPU state at the 32-bit entry.
    pub state: CpuState,
}

/// The e820 map for `ram` bytes: low memory below the EBDA, the BIOS area reserved, and RAM
/// from 1 MiB.
fn e820(ram: u64) -> Vec<(u64, u64, u32)> {
    vec![
        (0, 0x9_FC00, 1),
        (0x9_FC00, 0x400, 2),
        (0xF_0000, 0x1_0000, 2),
        (0x10_0000, ram.saturating_sub(0x10_0000), 1),
    ]
}

/// Prepares `kernel` (a bzImage), `initrd` and `cmdline` for a machine with `ram` bytes,
/// entering at `entry`.
pub fn load(
    kernel: &[u8],
    initrd: Option<&[u8]>,
    cmdline: &str,
    ram: u64,
    entry: KernelEntry,
) -> Result<Boot, VmError> {
    if kernel.len() < 0x250 {
        return Err(bad(format!(
            "{} bytes is too short for a bzImage",
            kernel.len()
        )));
    }
    if u16_at(kernel, 0x1FE) != 0xAA55 || &kernel[0x202..0x206] != b"HdrS" {
        return Err(bad(
            "not a bzImage (no 0xAA55 boot flag or \"HdrS\" header)",
        ));
    }
    let version = u16_at(kernel, 0x206);
    if version < 0x0206 {
        return Err(bad(format!(
            "boot protocol {}.{:02} is older than 2.06",
            version >> 8,
            version & 0xFF
        )));
    }
    if kernel[0x211] & 1 == 0 {
        return Err(bad("zImage (loaded low) kernels are not supported"));
    }
    let setup_sects = match kernel[0x1F1] {
        0 => 4,
        n => n as usize,
    };
    let setup_len = (setup_sects + 1) * 512;
    if kernel.len() <= setup_len {
        return Err(bad("the file ends inside the setup code"));
    }
    let pm = &kernel[setup_len..];
    let code32 = u32_at(kernel, 0x214);
    let init_size = if version >= 0x020A {
        u32_at(kernel, 0x260) as u64
    } else {
        pm.len() as u64
    };
    let (image, start, kernel_end) = match entry {
        KernelEntry::Decompressor => (
            vec![Chunk {
                addr: code32,
                data: pm.to_vec(),
                len: pm.len() as u32,
            }],
            code32,
            code32 as u64 + init_size.max(pm.len() as u64),
        ),
        KernelEntry::Direct => {
            if version < 0x0208 {
                return Err(bad(
                    "boot protocol before 2.08 does not locate the compressed payload; \
                     boot without the direct entry",
                ));
            }
            let v = super::vmlinux::extract(pm, u32_at(kernel, 0x248), u32_at(kernel, 0x24C), ram)?;
            (v.chunks, v.entry, v.end)
        }
    };
    if kernel_end > ram {
        return Err(bad(format!(
            "the kernel needs memory up to {kernel_end:#x}; RAM is {ram:#x} bytes"
        )));
    }
    let cmdline_max = if version >= 0x0206 {
        u32_at(kernel, 0x238) as usize
    } else {
        255
    };
    if cmdline.len() > cmdline_max.min(MAX_CMDLINE) {
        return Err(bad(format!(
            "command line of {} bytes exceeds the kernel's limit of {cmdline_max}",
            cmdline.len()
        )));
    }
    // zero page: the setup header copied at its own offset, then our fields
    let mut zp = vec![0u8; 4096];
    let header_end = (0x202 + kernel[0x201] as usize).min(kernel.len()).min(4096);
    zp[0x1F1..header_end].copy_from_slice(&kernel[0x1F1..header_end]);
    zp[0x210] = 0xFF; // type_of_loader: undefined loader
    zp[0x211] |= 0x80; // loadflags: CAN_USE_HEAP
    zp[0x224..0x226].copy_from_slice(&0xFE00u16.to_le_bytes()); // heap_end_ptr
    zp[0x228..0x22C].copy_from_slice(&CMDLINE_ADDR.to_le_bytes());
    let mut chunks = image;
    if let Some(rd) = initrd {
        let max = u32_at(kernel, 0x22C) as u64; // initrd_addr_max: last byte allowed
        let top = (max + 1).min(ram);
        let start = top
            .checked_sub(rd.len() as u64)
            .map(|s| s & !0xFFF)
            .filter(|&s| s >= kernel_end.div_ceil(4096) * 4096);
        let Some(start) = start else {
            return Err(bad(format!(
                "initrd of {} bytes does not fit between the kernel (ends {kernel_end:#x}) and {top:#x}",
                rd.len()
            )));
        };
        zp[0x218..0x21C].copy_from_slice(&(start as u32).to_le_bytes());
        zp[0x21C..0x220].copy_from_slice(&(rd.len() as u32).to_le_bytes());
        chunks.push(Chunk {
            addr: start as u32,
            data: rd.to_vec(),
            len: rd.len() as u32,
        });
    }
    let map = e820(ram);
    zp[0x1E8] = map.len() as u8;
    for (i, (base, len, typ)) in map.iter().enumerate() {
        let o = 0x2D0 + 20 * i;
        zp[o..o + 8].copy_from_slice(&base.to_le_bytes());
        zp[o + 8..o + 16].copy_from_slice(&len.to_le_bytes());
        zp[o + 16..o + 20].copy_from_slice(&typ.to_le_bytes());
    }
    // the legacy memory-size field (KiB above 1 MiB)
    let ext_k = (ram.saturating_sub(1 << 20) / 1024).min(u32::MAX as u64) as u32;
    zp[0x1E0..0x1E4].copy_from_slice(&ext_k.to_le_bytes());
    let mut cmd = cmdline.as_bytes().to_vec();
    cmd.push(0);
    chunks.push(Chunk {
        addr: CMDLINE_ADDR,
        len: cmd.len() as u32,
        data: cmd,
    });
    chunks.push(Chunk {
        addr: ZERO_PAGE,
        len: 4096,
        data: zp,
    });
    // GDT with __BOOT_CS = 0x10 and __BOOT_DS = 0x18
    let gdt: [u64; 4] = [0, 0, 0x00CF_9B00_0000_FFFF, 0x00CF_9300_0000_FFFF];
    chunks.push(Chunk {
        addr: GDT_ADDR,
        len: 32,
        data: gdt.iter().flat_map(|d| d.to_le_bytes()).collect(),
    });
    let mut s = CpuState::reset();
    s.cr0 = cr0::PE | cr0::ET | cr0::EM;
    s.segs = [Segment::flat(0x18, false, 0); 6];
    s.segs[crate::SegReg::Cs as usize] = Segment::flat(0x10, true, 0);
    s.gdtr = TableReg {
        base: GDT_ADDR,
        limit: 31,
    };
    s.idtr = TableReg { base: 0, limit: 0 };
    s.eflags = flag::FIXED1;
    s.eip = start;
    s.regs = [0; 8];
    s.regs[6] = ZERO_PAGE; // ESI
    Ok(Boot { chunks, state: s })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic bzImage: 4 setup sectors, protocol `version`, `pm` as the kernel.
    fn bzimage(version: u16, pm: &[u8]) -> Vec<u8> {
        let mut k = vec![0u8; 5 * 512];
        k[0x1F1] = 4;
        k[0x1FE..0x200].copy_from_slice(&0xAA55u16.to_le_bytes());
        k[0x201] = 0x66; // header length after 0x202
        k[0x202..0x206].copy_from_slice(b"HdrS");
        k[0x206..0x208].copy_from_slice(&version.to_le_bytes());
        k[0x211] = 1; // LOADED_HIGH
        k[0x214..0x218].copy_from_slice(&0x10_0000u32.to_le_bytes());
        k[0x22C..0x230].copy_from_slice(&0x37FF_FFFFu32.to_le_bytes());
        k[0x238..0x23C].copy_from_slice(&2048u32.to_le_bytes());
        k.extend_from_slice(pm);
        k
    }

    #[test]
    fn loads_kernel_initrd_and_zero_page() {
        let b = load(
            &bzimage(0x020F, &[0xF4; 100]),
            Some(&[7u8; 5000]),
            "console=ttyS0",
            64 << 20,
            KernelEntry::Decompressor,
        )
        .unwrap();
        let kernel = &b.chunks[0];
        assert_eq!((kernel.addr, kernel.data.len()), (0x10_0000, 100));
        let rd = &b.chunks[1];
        // as high as possible, page aligned: (64 MiB − 5000) & ~0xFFF = 0x3FFE000
        assert_eq!(rd.addr, 0x3FF_E000);
        let zp = &b.chunks.iter().find(|c| c.addr == ZERO_PAGE).unwrap().data;
        assert_eq!(u32_at(zp, 0x218), 0x3FF_E000);
        assert_eq!(u32_at(zp, 0x21C), 5000);
        assert_eq!(u32_at(zp, 0x228), CMDLINE_ADDR);
        assert_eq!(zp[0x1E8], 4, "four e820 entries");
        assert_eq!(&zp[0x202..0x206], b"HdrS");
        assert_eq!(b.state.eip, 0x10_0000);
        assert_eq!(b.state.regs[6], ZERO_PAGE);
        assert_eq!(b.state.segs[crate::SegReg::Cs as usize].selector, 0x10);
    }

    #[test]
    fn direct_entry_loads_the_extracted_kernel_and_enters_it() {
        let payload = include_bytes!("testdata/tiny-vmlinux.xz");
        let mut k = bzimage(0x020F, payload);
        k[0x248..0x24C].copy_from_slice(&0u32.to_le_bytes()); // payload_offset
        k[0x24C..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        let b = load(&k, Some(&[7u8; 5000]), "", 64 << 20, KernelEntry::Direct).unwrap();
        let elf = include_bytes!("testdata/tiny-vmlinux.elf");
        let kernel = &b.chunks[0];
        assert_eq!((kernel.addr, kernel.len), (0x100_0000, 0x1100));
        assert_eq!(kernel.data, elf[0x54..]);
        assert_eq!(b.state.eip, 0x100_0000);
        assert_eq!(b.state.regs[6], ZERO_PAGE);
        // the same zero page as through the decompressor
        let zp = |b: &Boot| {
            b.chunks
                .iter()
                .find(|c| c.addr == ZERO_PAGE)
                .unwrap()
                .data
                .clone()
        };
        let through = load(
            &k,
            Some(&[7u8; 5000]),
            "",
            64 << 20,
            KernelEntry::Decompressor,
        );
        assert_eq!(zp(&b), zp(&through.unwrap()));
        // protocol 2.07 has no payload fields
        k[0x206..0x208].copy_from_slice(&0x0207u16.to_le_bytes());
        let e = load(&k, None, "", 64 << 20, KernelEntry::Direct)
            .err()
            .unwrap();
        assert!(e.to_string().contains("2.08"), "{e}");
        // the kernel must fit in RAM
        k[0x206..0x208].copy_from_slice(&0x020Fu16.to_le_bytes());
        let e = load(&k, None, "", 0x100_0800, KernelEntry::Direct)
            .err()
            .unwrap();
        assert!(e.to_string().contains("RAM"), "{e}");
    }

    #[test]
    fn rejects_bad_kernels_with_reasons() {
        let err = |k: &[u8], ram| {
            load(k, None, "", ram, KernelEntry::Decompressor)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err(&[0u8; 100], 1 << 26).contains("too short"));
        assert!(err(&vec![0u8; 4096], 1 << 26).contains("not a bzImage"));
        assert!(err(&bzimage(0x0204, &[0xF4]), 1 << 26).contains("older than 2.06"));
        assert!(err(&bzimage(0x020F, &[0xF4; 100]), 0x10_0010).contains("needs memory"));
        let long = "x".repeat(3000);
        assert!(load(
            &bzimage(0x020F, &[0xF4]),
            None,
            &long,
            1 << 26,
            KernelEntry::Decompressor
        )
        .err()
        .unwrap()
        .to_string()
        .contains("exceeds"));
        let huge = vec![0u8; 70 << 20];
        assert!(load(
            &bzimage(0x020F, &[0xF4]),
            Some(&huge),
            "",
            64 << 20,
            KernelEntry::Decompressor
        )
        .err()
        .unwrap()
        .to_string()
        .contains("does not fit"));
    }
}
