//! Hardware task switches (SDM vol. 3A, 7.3 "Task switching"), 32-bit TSS only: through JMP,
//! CALL, INT/exceptions (task gates) and IRET with NT set. The outgoing task's dynamic state is
//! saved into its TSS, the busy bits and the back link are maintained, CR0.TS is set, and the
//! incoming state (CR3, EIP, EFLAGS, general registers, LDTR, segment registers) is loaded with
//! the segment checks of 7.3 step 13 (#TS with the failing selector).
//! Left out: 16-bit TSSes (an unsupported-instruction error) and the T (debug trap) bit.

use super::descriptor::{sys, Descriptor};
use super::exception::Exception;
use super::state::{cr0, flag, SegReg, Segment};
use super::Cpu;
use crate::bus::Bus;

/// Why a task switch happens (it decides busy bits, the back link and NT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskSwitch {
    /// JMP to a TSS or task gate.
    Jump,
    /// CALL, INT n or an exception through a task gate: nested (back link, NT).
    Call,
    /// IRET with NT set: back to the linked task.
    Return,
}

/// Offsets in a 32-bit TSS.
mod off {
    pub const LINK: u32 = 0;
    pub const CR3: u32 = 28;
    pub const EIP: u32 = 32;
    pub const EFLAGS: u32 = 36;
    pub const REGS: u32 = 40;
    pub const SEGS: u32 = 72;
    pub const LDT: u32 = 96;
}

/// Minimum limit of a 32-bit TSS.
const TSS32_MIN_LIMIT: u32 = 0x67;

impl Cpu {
    /// Switches to the task whose TSS descriptor `selector` names. The caller has checked the
    /// gate (if any) and its privilege.
    pub(crate) fn task_switch(
        &mut self,
        bus: &mut Bus,
        selector: u16,
        how: TaskSwitch,
    ) -> Result<(), Exception> {
        self.atomically(|cpu| cpu.task_switch_inner(bus, selector, how))
    }

    pub(crate) fn task_switch_inner(
        &mut self,
        bus: &mut Bus,
        selector: u16,
        how: TaskSwitch,
    ) -> Result<(), Exception> {
        let err = selector & !3;
        if selector & 4 != 0 {
            return Err(Exception::GeneralProtection(err)); // a TSS lives in the GDT
        }
        let (d, daddr) = self.read_descriptor(bus, selector)?;
        let typ = d.typ();
        let want_busy = how == TaskSwitch::Return;
        let ok_type = if want_busy {
            typ == sys::TSS32_BUSY || typ == sys::TSS16_BUSY
        } else {
            typ == sys::TSS32_AVAILABLE || typ == sys::TSS16_AVAILABLE
        };
        if d.is_code_or_data() || !ok_type {
            return Err(if want_busy {
                Exception::InvalidTss(err)
            } else {
                Exception::GeneralProtection(err)
            });
        }
        if !d.present() {
            return Err(Exception::SegmentNotPresent(err));
        }
        if typ == sys::TSS16_AVAILABLE || typ == sys::TSS16_BUSY {
            return Err(self.unsupported(bus, "task switches to 16-bit TSSes are not implemented"));
        }
        if d.limit() < TSS32_MIN_LIMIT {
            return Err(Exception::InvalidTss(err));
        }
        let new_base = d.base();
        let old = self.s.tr;
        if old.attr & 0xF != sys::TSS32_BUSY as u16 {
            return Err(
                self.unsupported(bus, "task switches from a 16-bit TSS are not implemented")
            );
        }
        // Save the outgoing task's dynamic state.
        let mut flags = self.flags();
        if how == TaskSwitch::Return {
            flags &= !flag::NT;
        }
        let b = old.base;
        self.write_sys::<4>(bus, b + off::EIP, self.s.eip)?;
        self.write_sys::<4>(bus, b + off::EFLAGS, flags)?;
        for i in 0..8 {
            self.write_sys::<4>(bus, b + off::REGS + 4 * i, self.s.regs[i as usize])?;
        }
        for (i, seg) in SegReg::ALL.iter().enumerate() {
            self.write_sys::<4>(
                bus,
                b + off::SEGS + 4 * i as u32,
                self.s.segs[*seg as usize].selector as u32,
            )?;
        }
        // Busy bits: the old task stays busy when nesting (CALL), the new one becomes busy.
        if how != TaskSwitch::Call {
            self.set_tss_busy(bus, old.selector, false)?;
        }
        if how != TaskSwitch::Return {
            self.write_sys::<4>(bus, daddr + 4, ((d.0 >> 32) as u32) | 2 << 8)?;
        }
        if how == TaskSwitch::Call {
            self.write_sys::<2>(bus, new_base + off::LINK, old.selector as u32)?;
        }
        // Read the incoming task's state.
        let nb = new_base;
        let cr3 = self.read_sys::<4>(bus, nb + off::CR3)?;
        let eip = self.read_sys::<4>(bus, nb + off::EIP)?;
        let mut eflags = self.read_sys::<4>(bus, nb + off::EFLAGS)?;
        let mut regs = [0u32; 8];
        for (i, r) in regs.iter_mut().enumerate() {
            *r = self.read_sys::<4>(bus, nb + off::REGS + 4 * i as u32)?;
        }
        let mut sels = [0u16; 6];
        for (i, s) in sels.iter_mut().enumerate() {
            *s = self.read_sys::<2>(bus, nb + off::SEGS + 4 * i as u32)? as u16;
        }
        let ldt = self.read_sys::<2>(bus, nb + off::LDT)? as u16;
        if how == TaskSwitch::Call {
            eflags |= flag::NT;
        }
        // Commit: TR, CR0.TS, CR3, registers; then the segments with their checks.
        let busy = if how == TaskSwitch::Return {
            d
        } else {
            Descriptor(d.0 | 2 << 40)
        };
        self.s.tr = busy.to_segment(selector);
        self.s.cr0 |= cr0::TS;
        if self.s.cr0 & cr0::PG != 0 {
            self.write_cr3(bus, cr3)?;
        }
        self.s.eip = eip;
        self.lazy.kind = super::flags::LazyKind::None;
        self.s.eflags = (eflags & 0x003F_7FD5) | flag::FIXED1;
        self.s.regs = regs;
        // Selectors first (so a fault below reports against the new task), caches cleared.
        for (i, seg) in SegReg::ALL.iter().enumerate() {
            self.s.segs[*seg as usize] = Segment {
                selector: sels[i],
                ..Segment::NULL
            };
        }
        self.s.ldtr = Segment {
            selector: ldt,
            ..Segment::NULL
        };
        // the access bounds follow the cleared caches until the loads below fill them
        self.refresh_bounds();
        self.load_task_segments(bus, ldt, &sels)?;
        self.stop_block = true;
        Ok(())
    }

    fn set_tss_busy(&mut self, bus: &mut Bus, selector: u16, busy: bool) -> Result<(), Exception> {
        let (d, addr) = self.read_descriptor(bus, selector)?;
        let hi = (d.0 >> 32) as u32;
        let hi = if busy { hi | 2 << 8 } else { hi & !(2 << 8) };
        self.write_sys::<4>(bus, addr + 4, hi)
    }

    /// Loads LDTR, CS, SS and the data segments of the incoming task (7.3 step 13).
    fn load_task_segments(
        &mut self,
        bus: &mut Bus,
        ldt: u16,
        sels: &[u16; 6],
    ) -> Result<(), Exception> {
        if self.s.eflags & flag::VM != 0 {
            self.refresh_mode();
            for (i, seg) in SegReg::ALL.iter().enumerate() {
                self.load_seg(bus, *seg, sels[i])?;
            }
            return Ok(());
        }
        let ts = |sel: u16| Exception::InvalidTss(sel & !3);
        if ldt & !3 != 0 {
            if ldt & 4 != 0 {
                return Err(ts(ldt));
            }
            let (d, _) = self.read_descriptor(bus, ldt).map_err(|_| ts(ldt))?;
            if d.is_code_or_data() || d.typ() != sys::LDT {
                return Err(ts(ldt));
            }
            if !d.present() {
                return Err(ts(ldt));
            }
            self.s.ldtr = d.to_segment(ldt);
        }
        // CS: the new CPL is its RPL.
        let cs = sels[SegReg::Cs as usize];
        if cs & !3 == 0 {
            return Err(ts(cs));
        }
        let (d, addr) = self.read_descriptor(bus, cs).map_err(|_| ts(cs))?;
        let rpl = (cs & 3) as u8;
        let ok = d.is_code()
            && if d.is_conforming() {
                d.dpl() <= rpl
            } else {
                d.dpl() == rpl
            };
        if !ok {
            return Err(ts(cs));
        }
        if !d.present() {
            return Err(Exception::SegmentNotPresent(cs & !3));
        }
        self.mark_accessed(bus, d, addr)?;
        self.s.segs[SegReg::Cs as usize] = Descriptor(d.0 | 1 << 40).to_segment(cs);
        self.refresh_mode();
        // SS and the data segments, with #TS instead of #GP for bad selectors.
        for seg in [SegReg::Ss, SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs] {
            let sel = sels[seg as usize];
            match self.load_seg(bus, seg, sel) {
                Ok(()) => {}
                Err(Exception::GeneralProtection(_)) => return Err(ts(sel)),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
