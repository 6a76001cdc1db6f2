//! The MMU: linear → physical translation with paging (SDM vol. 3A, chapter 4), through a
//! software TLB that caches, per 4 KiB linear page, the physical frame and which accesses are
//! allowed (read/write/execute × supervisor/user). This is the "shadow page table" of
//! DESIGN.md: filled by a page walk on a miss (which sets Accessed/Dirty like hardware) and
//! invalidated exactly as the architecture requires (CR3 loads keep global entries, INVLPG,
//! CR0/CR4 paging changes flush everything).
//!
//! A write is only allowed from the TLB when the leaf's Dirty bit is already set, so the first
//! write to a clean page takes the walk and sets D. Left out: PCID, SMEP/SMAP, protection keys.

pub(crate) mod fast;
pub mod walk;

pub use walk::{PagingMode, Translation, Walk, WalkFault, WalkStep};

use crate::bus::Bus;
use crate::cpu::Exception;
use walk::pte;

/// The kind of a memory access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Data read.
    Read,
    /// Data write.
    Write,
    /// Instruction fetch.
    Execute,
}

/// Page-fault error-code bits (SDM vol. 3A, 4.7).
pub mod pf {
    /// The fault was a protection violation (else: not present).
    pub const P: u16 = 1 << 0;
    /// The access was a write.
    pub const W: u16 = 1 << 1;
    /// The access was made in user mode (CPL 3).
    pub const U: u16 = 1 << 2;
    /// A reserved bit was set in a paging entry.
    pub const RSVD: u16 = 1 << 3;
    /// The access was an instruction fetch (reported with EFER.NXE).
    pub const ID: u16 = 1 << 4;
}

/// TLB permission bits.
const R_SUP: u8 = 1 << 0;
const W_SUP: u8 = 1 << 1;
const X_SUP: u8 = 1 << 2;
const R_USR: u8 = 1 << 3;
const W_USR: u8 = 1 << 4;
const X_USR: u8 = 1 << 5;
/// The entry came from a global page.
const GLOBAL: u8 = 1 << 6;
/// The entry came from a 2/4 MiB page.
const LARGE: u8 = 1 << 7;

/// TLB entries (direct-mapped by linear page number; a power of two).
const TLB_SIZE: usize = 4096;
// the fast path drops slot i when TLB slot i changes: both must index alike
const _: () = assert!(fast::FAST_SIZE == TLB_SIZE);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub(crate) struct TlbEntry {
    /// Linear page address | 1 when valid; 0 when empty.
    tag: u32,
    /// Physical page address.
    frame: u32,
    /// Allowed accesses (R_SUP..X_USR) and GLOBAL/LARGE.
    bits: u8,
    /// log2 of the page size the entry came from (12, 21 or 22).
    size_log2: u8,
}

/// MMU counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MmuStats {
    /// Translations served by the TLB (data accesses served by the host fast path,
    /// `mmu/fast.rs`, are not counted).
    pub hits: u64,
    /// Translations that needed a page walk.
    pub misses: u64,
    /// Whole-TLB flushes (CR3 loads, paging mode changes).
    pub flushes: u64,
    /// Single-page invalidations (INVLPG).
    pub invlpg: u64,
}

/// Paging state and the software TLB.
#[derive(Debug, Clone)]
pub struct Mmu {
    /// CR0.PG.
    pub(crate) enabled: bool,
    /// CR0.WP: supervisor writes honour read-only pages.
    pub(crate) wp: bool,
    /// CR4.PGE: global pages survive CR3 loads.
    pub(crate) pge: bool,
    /// What the walker needs.
    pub(crate) mode: PagingMode,
    tlb: Vec<TlbEntry>,
    has_large: bool,
    stats: MmuStats,
    /// The host fast path for data accesses (kept a subset of `tlb`).
    pub(crate) fast: fast::FastTlb,
}

impl Default for Mmu {
    fn default() -> Self {
        Self {
            enabled: false,
            wp: false,
            pge: false,
            mode: PagingMode::default(),
            tlb: vec![TlbEntry::default(); TLB_SIZE],
            has_large: false,
            stats: MmuStats::default(),
            fast: fast::FastTlb::default(),
        }
    }
}

#[inline(always)]
fn needed(access: Access, user: bool) -> u8 {
    match (access, user) {
        (Access::Read, false) => R_SUP,
        (Access::Write, false) => W_SUP,
        (Access::Execute, false) => X_SUP,
        (Access::Read, true) => R_USR,
        (Access::Write, true) => W_USR,
        (Access::Execute, true) => X_USR,
    }
}

impl Mmu {
    /// Counters.
    pub fn stats(&self) -> MmuStats {
        self.stats
    }

    /// Translates `lin` for an access of one kind, made at user privilege or not. Paging must
    /// be enabled (callers skip the MMU otherwise).
    #[inline(always)]
    pub(crate) fn translate(
        &mut self,
        bus: &mut Bus,
        lin: u32,
        access: Access,
        user: bool,
    ) -> Result<u32, Exception> {
        let e = &self.tlb[(lin >> 12) as usize & (TLB_SIZE - 1)];
        if e.tag == (lin & !0xFFF) | 1 && e.bits & needed(access, user) != 0 {
            self.stats.hits += 1;
            return Ok(e.frame | (lin & 0xFFF));
        }
        self.miss(bus, lin, access, user)
    }

    /// The physical address of `lin` if the TLB holds its page (no walk, no side effects):
    /// for diagnostics such as showing the bytes of an unsupported instruction.
    pub(crate) fn peek(&self, lin: u32) -> Option<u32> {
        if !self.enabled {
            return Some(lin);
        }
        let e = &self.tlb[(lin >> 12) as usize & (TLB_SIZE - 1)];
        (e.tag == (lin & !0xFFF) | 1).then_some(e.frame | (lin & 0xFFF))
    }

    #[cold]
    fn miss(
        &mut self,
        bus: &mut Bus,
        lin: u32,
        access: Access,
        user: bool,
    ) -> Result<u32, Exception> {
        self.stats.misses += 1;
        let w = walk::walk(bus, &self.mode, lin);
        let mut code = match access {
            Access::Write => pf::W,
            _ => 0,
        } | if user { pf::U } else { 0 };
        if access == Access::Execute && self.mode.pae && self.mode.nxe {
            code |= pf::ID;
        }
        let t = match w.outcome {
            Ok(t) => t,
            Err(WalkFault::NotPresent) => return Err(Exception::PageFault { addr: lin, code }),
            Err(WalkFault::Reserved) => {
                return Err(Exception::PageFault {
                    addr: lin,
                    code: code | pf::P | pf::RSVD,
                })
            }
        };
        let denied = (user && !t.user)
            || (access == Access::Write && !t.writable && (user || self.wp))
            || (access == Access::Execute && t.no_exec);
        if denied {
            return Err(Exception::PageFault {
                addr: lin,
                code: code | pf::P,
            });
        }
        // Accessed on every level walked (PAE PDPTEs have no A bit), Dirty on the leaf.
        let leaf = w.len as usize - 1;
        for (i, s) in w.entries().iter().enumerate() {
            let mut v = s.entry;
            if s.level < 3 || !self.mode.pae {
                v |= pte::A;
            }
            if i == leaf && access == Access::Write {
                v |= pte::D;
            }
            if v != s.entry {
                bus.write::<4>(s.entry_addr as u32, v as u32);
            }
        }
        let dirty = t.dirty || access == Access::Write;
        let mut bits = R_SUP | if t.no_exec { 0 } else { X_SUP };
        if t.user {
            bits |= R_USR | if t.no_exec { 0 } else { X_USR };
        }
        if dirty {
            if t.writable || !self.wp {
                bits |= W_SUP;
            }
            if t.writable && t.user {
                bits |= W_USR;
            }
        }
        if t.global && self.pge {
            bits |= GLOBAL;
        }
        if t.page_size > 4096 {
            bits |= LARGE;
            self.has_large = true;
        }
        let frame = (t.phys as u32) & !0xFFF;
        self.fast.drop_slot(lin);
        self.tlb[(lin >> 12) as usize & (TLB_SIZE - 1)] = TlbEntry {
            tag: (lin & !0xFFF) | 1,
            frame,
            bits,
            size_log2: t.page_size.trailing_zeros() as u8,
        };
        Ok(frame | (lin & 0xFFF))
    }

    /// Drops every entry; with `keep_global`, global entries stay (a CR3 load with CR4.PGE).
    pub(crate) fn flush(&mut self, keep_global: bool) {
        self.stats.flushes += 1;
        self.fast.flush();
        for e in &mut self.tlb {
            if !(keep_global && e.bits & GLOBAL != 0) {
                *e = TlbEntry::default();
            }
        }
        if !keep_global {
            self.has_large = false;
        }
    }

    /// The TLB's valid entries with their slots, and whether any came from a large page
    /// (what a snapshot saves: on hardware a guest can observe a stale entry).
    pub(crate) fn tlb_entries(&self) -> (bool, Vec<(u16, TlbEntry)>) {
        let entries = (self.tlb.iter().enumerate())
            .filter(|(_, e)| e.tag != 0)
            .map(|(i, e)| (i as u16, *e))
            .collect();
        (self.has_large, entries)
    }

    /// Replaces the TLB with `entries` (from [`Mmu::tlb_entries`], untrusted): each slot once,
    /// ascending, matching its tag, with a page size the walker produces.
    pub(crate) fn restore_tlb(
        &mut self,
        has_large: bool,
        entries: &[(u16, TlbEntry)],
    ) -> Result<(), String> {
        let mut tlb = vec![TlbEntry::default(); TLB_SIZE];
        let mut last = None;
        for &(slot, e) in entries {
            if last.is_some_and(|l| l >= slot) || slot as usize >= TLB_SIZE {
                return Err(format!("TLB slot {slot} out of order or out of range"));
            }
            last = Some(slot);
            let good_tag =
                e.tag & 0xFFF == 1 && (e.tag >> 12) as usize & (TLB_SIZE - 1) == slot as usize;
            let large = e.bits & LARGE != 0;
            let good_size = if large {
                e.size_log2 == 21 || e.size_log2 == 22
            } else {
                e.size_log2 == 12
            };
            if !good_tag || !good_size || e.frame & 0xFFF != 0 || (large && !has_large) {
                return Err(format!(
                    "TLB slot {slot} holds an entry no walk produces: {e:?}"
                ));
            }
            tlb[slot as usize] = e;
        }
        self.tlb = tlb;
        self.has_large = has_large;
        self.fast.flush();
        Ok(())
    }

    /// INVLPG: drops the translation of the page holding `lin` (all of a large page's pieces,
    /// global or not).
    pub(crate) fn invlpg(&mut self, lin: u32) {
        self.stats.invlpg += 1;
        self.tlb[(lin >> 12) as usize & (TLB_SIZE - 1)] = TlbEntry::default();
        self.fast.drop_slot(lin);
        if self.has_large {
            self.fast.flush();
            for e in &mut self.tlb {
                if e.bits & LARGE != 0 {
                    let mask = !((1u32 << e.size_log2) - 1);
                    if e.tag & mask == lin & mask {
                        *e = TlbEntry::default();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
