//! Segment registers in protected mode (SDM vol. 3A, 3.4 "Logical and linear addresses", 5.4
//! "Limit checking", 5.5 "Type checking", 5.6 "Privilege levels"): descriptor-table lookups,
//! the checks made when DS/ES/FS/GS/SS are loaded, and the per-register access bounds used on
//! every memory reference (limit, expand-down, read/write permission, null selector).
//!
//! CS is loaded by the far-transfer code (`far.rs`), which applies the code-segment rules.

use super::descriptor::Descriptor;
use super::exception::Exception;
use super::state::{attr, flag, SegReg, Segment};
use super::Cpu;
use crate::bus::Bus;

/// Valid offsets of a segment for reads and for writes (`lo > hi` means none), and its base:
/// everything a data access through the segment register needs, in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bounds {
    pub read: (u32, u32),
    pub write: (u32, u32),
    /// The segment base (a copy of the register's cache).
    pub base: u32,
}

/// Entries of [`Cpu::bounds`]: the six segment registers, padded to a power of two so an
/// access indexes it with a mask; the two spare entries allow no offset.
pub(crate) const BOUNDS_SLOTS: usize = 8;

/// No valid offset.
const NONE: (u32, u32) = (1, 0);

impl Bounds {
    /// Bounds for a segment cache in the current mode.
    fn of(s: &Segment, protected: bool) -> Self {
        let (read, write) = Self::ranges(s, protected);
        Bounds {
            read,
            write,
            base: s.base,
        }
    }

    /// No valid offset (the spare entries of [`Cpu::bounds`]).
    pub(crate) const NO_SEGMENT: Bounds = Bounds {
        read: NONE,
        write: NONE,
        base: 0,
    };

    /// The (read, write) offset ranges.
    fn ranges(s: &Segment, protected: bool) -> ((u32, u32), (u32, u32)) {
        let all = (0, s.limit);
        if !protected {
            return (all, all);
        }
        if s.attr & attr::P == 0 {
            return (NONE, NONE);
        }
        let typ = s.attr & 0xF;
        if s.attr & attr::CODE != 0 {
            let read = if typ & 2 != 0 { all } else { NONE };
            return (read, NONE);
        }
        let range = if typ & 4 != 0 {
            // expand-down: offsets above the limit, up to 64 KiB or 4 GiB by the B bit
            let top = if s.attr & attr::DB != 0 {
                u32::MAX
            } else {
                0xFFFF
            };
            match s.limit.checked_add(1) {
                Some(lo) if lo <= top => (lo, top),
                _ => NONE,
            }
        } else {
            all
        };
        (range, if typ & 2 != 0 { range } else { NONE })
    }
}

impl Cpu {
    /// Recomputes everything derived from the mode: CPL and the bounds of every segment.
    /// Call after CR0.PE, EFLAGS.VM or any segment register changes.
    pub(crate) fn refresh_mode(&mut self) {
        self.cpl = if !self.protected_mode() {
            0
        } else if self.s.eflags & flag::VM != 0 {
            3
        } else {
            (self.s.segs[SegReg::Cs as usize].selector & 3) as u8
        };
        self.refresh_bounds();
        self.refresh_alignment_check();
    }

    /// Recomputes the access bounds of every segment register from its cache.
    pub(crate) fn refresh_bounds(&mut self) {
        let protected = self.protected_mode() && self.s.eflags & flag::VM == 0;
        for i in 0..6 {
            self.bounds[i] = Bounds::of(&self.s.segs[i], protected);
        }
    }

    /// Recomputes whether unaligned accesses raise #AC (SDM vol. 3A, 6.15 interrupt 17).
    pub(crate) fn refresh_alignment_check(&mut self) {
        self.ac_check = self.cpl == 3
            && self.s.cr0 & super::state::cr0::AM != 0
            && self.s.eflags & flag::AC != 0;
        self.access_checks = self.ac_check || self.dr_data;
    }

    /// Sets a segment register's cache and its bounds.
    pub(crate) fn set_segment(&mut self, seg: SegReg, s: Segment) {
        self.s.segs[seg as usize] = s;
        let protected = self.protected_mode() && self.s.eflags & flag::VM == 0;
        self.bounds[seg as usize] = Bounds::of(&s, protected);
    }

    /// Reads the descriptor a selector names from the GDT or LDT. `Err` is #GP(selector) when
    /// the index is outside the table (or the LDT is unusable).
    pub(crate) fn read_descriptor(
        &mut self,
        bus: &mut Bus,
        selector: u16,
    ) -> Result<(Descriptor, u32), Exception> {
        let (base, limit) = if selector & 4 != 0 {
            let l = self.s.ldtr;
            if l.attr & attr::P == 0 {
                return Err(Exception::GeneralProtection(selector & !3));
            }
            (l.base, l.limit)
        } else {
            (self.s.gdtr.base, self.s.gdtr.limit as u32)
        };
        let off = (selector & !7) as u32;
        if off + 7 > limit {
            return Err(Exception::GeneralProtection(selector & !3));
        }
        let addr = base.wrapping_add(off);
        let lo = self.read_sys::<4>(bus, addr)? as u64;
        let hi = self.read_sys::<4>(bus, addr.wrapping_add(4))? as u64;
        Ok((Descriptor(lo | hi << 32), addr))
    }

    /// Sets the Accessed bit of a code/data descriptor in its table (as the processor does on
    /// a segment load).
    pub(crate) fn mark_accessed(
        &mut self,
        bus: &mut Bus,
        d: Descriptor,
        addr: u32,
    ) -> Result<(), Exception> {
        if d.is_code_or_data() && d.0 & (1 << 40) == 0 {
            let hi = (d.0 >> 32) as u32 | 1 << 8;
            self.write_sys::<4>(bus, addr.wrapping_add(4), hi)?;
        }
        Ok(())
    }

    /// Loads DS, ES, FS, GS or SS (MOV, POP, LxS): real/V86 semantics or the protected-mode
    /// checks of SDM vol. 2 "MOV" / "POP" (operation, protected mode).
    pub(crate) fn load_seg(
        &mut self,
        bus: &mut Bus,
        seg: SegReg,
        selector: u16,
    ) -> Result<(), Exception> {
        if seg == SegReg::Ss || seg == SegReg::Cs {
            self.stop_block = true;
        }
        if seg == SegReg::Ss {
            // MOV SS / POP SS: no interrupt and no single-step trap before the next
            // instruction (which usually loads ESP), SDM vol. 3A, 6.8.3
            self.irq_shadow = true;
            self.ss_shadow = true;
        }
        if !self.protected_mode() || self.s.eflags & flag::VM != 0 {
            let mut s = self.s.segs[seg as usize];
            s.selector = selector;
            s.base = (selector as u32) << 4;
            if self.s.eflags & flag::VM != 0 {
                // V86: every segment is a 64 KiB writable data segment at DPL 3.
                s.limit = 0xFFFF;
                s.attr = attr::REAL_DATA | 3 << 5 | if seg == SegReg::Cs { attr::CODE } else { 0 };
            }
            self.set_segment(seg, s);
            if seg == SegReg::Cs {
                self.refresh_mode();
            }
            return Ok(());
        }
        debug_assert!(seg != SegReg::Cs, "CS is loaded by far transfers");
        let rpl = (selector & 3) as u8;
        let cpl = self.cpl;
        if selector & !3 == 0 {
            if seg == SegReg::Ss {
                return Err(Exception::GeneralProtection(0));
            }
            // A null selector makes the register unusable: every reference faults.
            self.set_segment(
                seg,
                Segment {
                    selector,
                    ..Segment::NULL
                },
            );
            return Ok(());
        }
        let (d, addr) = self.read_descriptor(bus, selector)?;
        let sel_err = selector & !3;
        if seg == SegReg::Ss {
            if rpl != cpl || !d.is_code_or_data() || d.is_code() || !d.rw() || d.dpl() != cpl {
                return Err(Exception::GeneralProtection(sel_err));
            }
            if !d.present() {
                return Err(Exception::StackFault(sel_err));
            }
        } else {
            let readable = d.is_code_or_data() && (!d.is_code() || d.rw());
            let privileged_ok = d.is_conforming() || d.dpl() >= cpl.max(rpl);
            if !readable || !privileged_ok {
                return Err(Exception::GeneralProtection(sel_err));
            }
            if !d.present() {
                return Err(Exception::SegmentNotPresent(sel_err));
            }
        }
        self.mark_accessed(bus, d, addr)?;
        self.set_segment(seg, Descriptor(d.0 | 1 << 40).to_segment(selector));
        Ok(())
    }
}
