//! Page walkers (SDM vol. 3A, 4.3 "32-bit paging" and 4.4 "PAE paging"): from a linear address
//! and the paging registers to a physical address, with every entry read along the way.
//!
//! The walker only reads. Setting Accessed/Dirty bits and checking the access against the
//! permissions are the caller's job ([`super::Mmu`]), so the same walk serves both the TLB-miss
//! path and the side-effect-free `translate()` introspection call.
//! Left out: PSE-36 (physical addresses above 4 GiB) and protection keys.

use crate::bus::Bus;

/// Paging-structure entry bits (both formats).
pub mod pte {
    /// Present.
    pub const P: u64 = 1 << 0;
    /// Read/write.
    pub const RW: u64 = 1 << 1;
    /// User/supervisor.
    pub const US: u64 = 1 << 2;
    /// Accessed.
    pub const A: u64 = 1 << 5;
    /// Dirty (leaf entries).
    pub const D: u64 = 1 << 6;
    /// Page size (PDE: maps a large page).
    pub const PS: u64 = 1 << 7;
    /// Global (leaf entries, with CR4.PGE).
    pub const G: u64 = 1 << 8;
    /// Execute-disable (PAE entries, with EFER.NXE).
    pub const XD: u64 = 1 << 63;
}

/// The paging registers a walk depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PagingMode {
    /// CR3.
    pub cr3: u32,
    /// CR4.PAE: 64-bit entries, three levels.
    pub pae: bool,
    /// CR4.PSE: 4 MiB pages in 32-bit paging (PAE always allows 2 MiB pages).
    pub pse: bool,
    /// EFER.NXE: bit 63 of PAE entries is execute-disable (else reserved).
    pub nxe: bool,
    /// The four PAE page-directory-pointer entries, loaded when CR3 is written in PAE mode.
    pub pdpte: [u64; 4],
}

/// Physical address width (CPUID leaf 0x8000_0008 reports it): guest RAM and devices live
/// below 4 GiB, so PAE entry bits 32 and up are reserved.
pub const MAX_PHYS_BITS: u32 = 32;

/// Address bits of a PAE entry (bits 12..MAX_PHYS_BITS).
const PAE_ADDR: u64 = ((1u64 << MAX_PHYS_BITS) - 1) & !0xFFF;

/// One entry read by a walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WalkStep {
    /// 3 = PDPTE, 2 = PDE, 1 = PTE (32-bit paging: 2 = PDE, 1 = PTE).
    pub level: u8,
    /// Physical address of the entry.
    pub entry_addr: u64,
    /// The entry's value.
    pub entry: u64,
}

/// A successful translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Translation {
    /// Physical address of the byte.
    pub phys: u64,
    /// Size of the page: 4 KiB, 2 MiB or 4 MiB.
    pub page_size: u32,
    /// Writable at every level.
    pub writable: bool,
    /// User-accessible at every level.
    pub user: bool,
    /// Execute-disabled at some level (only with EFER.NXE).
    pub no_exec: bool,
    /// The leaf is global (G bit; honoured only with CR4.PGE).
    pub global: bool,
    /// The leaf's Dirty bit is already set.
    pub dirty: bool,
}

/// Why a walk did not find a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkFault {
    /// An entry on the way is not present.
    NotPresent,
    /// An entry has a reserved bit set.
    Reserved,
}

/// The entries read and the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Walk {
    /// Entries read, outermost first (`len` of them are valid).
    pub steps: [WalkStep; 3],
    /// Number of valid `steps`.
    pub len: u8,
    /// The translation or the fault.
    pub outcome: Result<Translation, WalkFault>,
}

impl Walk {
    /// The entries that were read.
    pub fn entries(&self) -> &[WalkStep] {
        &self.steps[..self.len as usize]
    }

    fn push(&mut self, level: u8, entry_addr: u64, entry: u64) {
        self.steps[self.len as usize] = WalkStep {
            level,
            entry_addr,
            entry,
        };
        self.len += 1;
    }
}

fn read_entry(bus: &mut Bus, addr: u64, wide: bool) -> u64 {
    let lo = bus.read::<4>(addr as u32) as u64;
    if wide {
        lo | (bus.read::<4>((addr + 4) as u32) as u64) << 32
    } else {
        lo
    }
}

/// Walks the paging structures for `lin` without changing anything.
pub fn walk(bus: &mut Bus, mode: &PagingMode, lin: u32) -> Walk {
    let mut w = Walk {
        steps: [WalkStep::default(); 3],
        len: 0,
        outcome: Err(WalkFault::NotPresent),
    };
    w.outcome = if mode.pae {
        walk_pae(bus, mode, lin, &mut w)
    } else {
        walk_legacy(bus, mode, lin, &mut w)
    };
    w
}

fn walk_legacy(
    bus: &mut Bus,
    mode: &PagingMode,
    lin: u32,
    w: &mut Walk,
) -> Result<Translation, WalkFault> {
    let pde_addr = (mode.cr3 & 0xFFFF_F000) as u64 + ((lin >> 22) as u64) * 4;
    let pde = read_entry(bus, pde_addr, false);
    w.push(2, pde_addr, pde);
    if pde & pte::P == 0 {
        return Err(WalkFault::NotPresent);
    }
    if pde & pte::PS != 0 && mode.pse {
        // 4 MiB page; bits 13..21 (PSE-36 address bits) must be 0 without PSE-36.
        if pde & 0x003F_E000 != 0 {
            return Err(WalkFault::Reserved);
        }
        return Ok(Translation {
            phys: (pde & 0xFFC0_0000) | (lin & 0x003F_FFFF) as u64,
            page_size: 4 << 20,
            writable: pde & pte::RW != 0,
            user: pde & pte::US != 0,
            no_exec: false,
            global: pde & pte::G != 0,
            dirty: pde & pte::D != 0,
        });
    }
    let pte_addr = (pde & 0xFFFF_F000) + (((lin >> 12) & 0x3FF) as u64) * 4;
    let e = read_entry(bus, pte_addr, false);
    w.push(1, pte_addr, e);
    if e & pte::P == 0 {
        return Err(WalkFault::NotPresent);
    }
    Ok(Translation {
        phys: (e & 0xFFFF_F000) | (lin & 0xFFF) as u64,
        page_size: 4096,
        writable: pde & e & pte::RW != 0,
        user: pde & e & pte::US != 0,
        no_exec: false,
        global: e & pte::G != 0,
        dirty: e & pte::D != 0,
    })
}

/// Reserved bits of a PAE PDE/PTE: above MAXPHYADDR, and bit 63 without EFER.NXE.
fn pae_reserved(e: u64, nxe: bool) -> bool {
    let high = 0x7FFF_FFFF_FFFF_F000 & !PAE_ADDR;
    e & high != 0 || (!nxe && e & pte::XD != 0)
}

fn walk_pae(
    bus: &mut Bus,
    mode: &PagingMode,
    lin: u32,
    w: &mut Walk,
) -> Result<Translation, WalkFault> {
    let idx = (lin >> 30) as usize;
    let pdpte = mode.pdpte[idx];
    w.push(3, (mode.cr3 & 0xFFFF_FFE0) as u64 + idx as u64 * 8, pdpte);
    if pdpte & pte::P == 0 {
        return Err(WalkFault::NotPresent);
    }
    let pde_addr = (pdpte & PAE_ADDR) + (((lin >> 21) & 0x1FF) as u64) * 8;
    let pde = read_entry(bus, pde_addr, true);
    w.push(2, pde_addr, pde);
    if pde & pte::P == 0 {
        return Err(WalkFault::NotPresent);
    }
    if pae_reserved(pde, mode.nxe) {
        return Err(WalkFault::Reserved);
    }
    let nx = |e: u64| mode.nxe && e & pte::XD != 0;
    if pde & pte::PS != 0 {
        // 2 MiB page: bits 13..20 are reserved.
        if pde & 0x001F_E000 != 0 {
            return Err(WalkFault::Reserved);
        }
        return Ok(Translation {
            phys: (pde & PAE_ADDR & !0x1F_FFFF) | (lin & 0x1F_FFFF) as u64,
            page_size: 2 << 20,
            writable: pde & pte::RW != 0,
            user: pde & pte::US != 0,
            no_exec: nx(pde),
            global: pde & pte::G != 0,
            dirty: pde & pte::D != 0,
        });
    }
    let pte_addr = (pde & PAE_ADDR) + (((lin >> 12) & 0x1FF) as u64) * 8;
    let e = read_entry(bus, pte_addr, true);
    w.push(1, pte_addr, e);
    if e & pte::P == 0 {
        return Err(WalkFault::NotPresent);
    }
    if pae_reserved(e, mode.nxe) {
        return Err(WalkFault::Reserved);
    }
    Ok(Translation {
        phys: (e & PAE_ADDR) | (lin & 0xFFF) as u64,
        page_size: 4096,
        writable: pde & e & pte::RW != 0,
        user: pde & e & pte::US != 0,
        no_exec: nx(pde) || nx(e),
        global: e & pte::G != 0,
        dirty: e & pte::D != 0,
    })
}

/// Whether a PDPTE has reserved bits set (checked when CR3 is loaded in PAE mode: #GP).
pub fn pdpte_reserved(e: u64) -> bool {
    // bits 1-2, 5-8 and above MAXPHYADDR are reserved in PDPTEs
    e & pte::P != 0 && (e & 0x1E6 != 0 || e & !(PAE_ADDR | 0xFFF) != 0)
}
