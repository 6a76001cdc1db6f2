//! Control registers and EFER (SDM vol. 3A, 2.5 "Control registers", 4.1.1 "Paging modes and
//! control bits", 4.4.1 "PDPTE registers", 4.10.4 "Invalidation of TLBs"): the checks of MOV
//! to CR0/CR3/CR4 and WRMSR EFER, and keeping the MMU in step with them.
//!
//! Supported CR4 bits: TSD, PSE, PAE, PGE, OSFXSR, OSXMMEXCPT. Left out: VME/PVI, DE, MCE,
//! PCE, long mode.

use super::exception::Exception;
use super::state::{cr0, cr4, efer};
use super::Cpu;
use crate::bus::Bus;
use crate::mmu::walk::{pdpte_reserved, PagingMode};

/// CR0 bits a MOV may change (ET is hard-wired to 1).
const CR0_WRITABLE: u32 = cr0::PE
    | cr0::MP
    | cr0::EM
    | cr0::TS
    | cr0::NE
    | cr0::WP
    | cr0::AM
    | cr0::NW
    | cr0::CD
    | cr0::PG;
/// CR4 bits vx86 implements. OSFXSR/OSXMMEXCPT enable the SSE instructions implemented so
/// far; CPUID advertises FXSR/SSE/SSE2 once the floating-point half is complete.
pub(crate) const CR4_SUPPORTED: u32 =
    cr4::TSD | cr4::PSE | cr4::PAE | cr4::PGE | cr4::OSFXSR | cr4::OSXMMEXCPT;
/// EFER bits vx86 implements.
pub(crate) const EFER_SUPPORTED: u64 = efer::NXE;

impl Cpu {
    /// Copies the paging controls from the architectural state into the MMU and flushes it.
    pub(crate) fn sync_paging(&mut self) {
        let s = &self.s;
        self.mmu.enabled = s.cr0 & cr0::PG != 0 && s.cr0 & cr0::PE != 0;
        self.mmu.wp = s.cr0 & cr0::WP != 0;
        self.mmu.pge = s.cr4 & cr4::PGE != 0;
        self.mmu.mode = PagingMode {
            cr3: s.cr3,
            pae: s.cr4 & cr4::PAE != 0,
            pse: s.cr4 & cr4::PSE != 0,
            nxe: s.msr.efer & efer::NXE != 0,
            pdpte: s.pdpte,
        };
        self.mmu.flush(false);
        self.stop_block = true;
    }

    /// Loads the four PDPTEs from CR3 (PAE paging): #GP(0) when one has reserved bits set.
    fn load_pdptes(&mut self, bus: &mut Bus, cr3: u32) -> Result<[u64; 4], Exception> {
        let mut p = [0u64; 4];
        for (i, e) in p.iter_mut().enumerate() {
            let a = (cr3 & !0x1F).wrapping_add(8 * i as u32);
            *e = bus.read::<4>(a) as u64 | (bus.read::<4>(a.wrapping_add(4)) as u64) << 32;
            if pdpte_reserved(*e) {
                return Err(Exception::GeneralProtection(0));
            }
        }
        Ok(p)
    }

    fn pae_paging(cr0v: u32, cr4v: u32) -> bool {
        cr0v & cr0::PG != 0 && cr4v & cr4::PAE != 0
    }

    /// MOV CR0.
    pub(crate) fn write_cr0(&mut self, bus: &mut Bus, v: u32) -> Result<(), Exception> {
        if (v & cr0::PG != 0 && v & cr0::PE == 0) || (v & cr0::NW != 0 && v & cr0::CD == 0) {
            return Err(Exception::GeneralProtection(0));
        }
        let new = (v & CR0_WRITABLE) | cr0::ET;
        let old = self.s.cr0;
        if Self::pae_paging(new, self.s.cr4) && old & cr0::PG == 0 {
            self.s.pdpte = self.load_pdptes(bus, self.s.cr3)?;
        }
        self.s.cr0 = new;
        if (old ^ new) & (cr0::PG | cr0::PE | cr0::WP) != 0 {
            self.sync_paging();
        }
        if (old ^ new) & cr0::PE != 0 {
            self.refresh_mode();
        }
        self.refresh_alignment_check();
        self.stop_block = true;
        Ok(())
    }

    /// MOV CR3: flushes non-global translations (all of them without CR4.PGE).
    pub(crate) fn write_cr3(&mut self, bus: &mut Bus, v: u32) -> Result<(), Exception> {
        if Self::pae_paging(self.s.cr0, self.s.cr4) {
            self.s.pdpte = self.load_pdptes(bus, v)?;
            self.mmu.mode.pdpte = self.s.pdpte;
        }
        let old = self.s.cr3;
        self.s.cr3 = v;
        self.mmu.mode.cr3 = v;
        self.mmu.flush(self.mmu.pge);
        self.stop_block = true;
        if bus.hooks.any_cr3 {
            bus.hooks.cr3(old, v);
            bus.after_hook();
        }
        Ok(())
    }

    /// MOV CR4: reserved or unsupported bits raise #GP(0); paging-mode bits flush the TLB.
    pub(crate) fn write_cr4(&mut self, bus: &mut Bus, v: u32) -> Result<(), Exception> {
        if v & !CR4_SUPPORTED != 0 {
            return Err(Exception::GeneralProtection(0));
        }
        let old = self.s.cr4;
        if Self::pae_paging(self.s.cr0, v) && old & cr4::PAE == 0 {
            self.s.pdpte = self.load_pdptes(bus, self.s.cr3)?;
        }
        self.s.cr4 = v;
        if (old ^ v) & (cr4::PSE | cr4::PAE | cr4::PGE) != 0 {
            self.sync_paging();
        }
        Ok(())
    }

    /// WRMSR IA32_EFER.
    pub(crate) fn write_efer(&mut self, v: u64) -> Result<(), Exception> {
        if v & !EFER_SUPPORTED != 0 {
            return Err(Exception::GeneralProtection(0));
        }
        if v != self.s.msr.efer {
            self.s.msr.efer = v;
            self.sync_paging();
        }
        Ok(())
    }
}
