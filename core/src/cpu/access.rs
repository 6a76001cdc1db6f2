//! Memory access through segments (SDM vol. 3A, 3.4 and 5.3 "Limit checking"): effective
//! address computation, limit checks, stack pushes and pops, and segment-register loads.
//!
//! Real mode uses the cached base and limit of each segment register (so "unreal" limits set
//! up elsewhere keep working); a reference past the limit raises #GP(0), or #SS(0) through SS.
//! Protected-mode type/privilege checks and paging come with the protected-mode issue: the
//! linear address is the physical address (before the A20 mask) today.

use super::exception::Exception;
use super::regs::mask;
use super::state::{reg, SegReg, Segment};
use super::uop::{MemRef, Opnd, Uop, NO_REG};
use super::Cpu;
use crate::bus::Bus;

impl Cpu {
    /// Effective address (offset in the segment) of a memory operand.
    #[inline(always)]
    pub(crate) fn ea(&self, m: &MemRef) -> u32 {
        let mut a = m.disp;
        if m.base != NO_REG {
            a = a.wrapping_add(self.s.regs[m.base as usize & 7]);
        }
        if m.index != NO_REG {
            a = a.wrapping_add(self.s.regs[m.index as usize & 7] << m.scale);
        }
        if m.addr32 {
            a
        } else {
            a & 0xFFFF
        }
    }

    /// Checks an `n`-byte access at `off` in segment `seg` and returns its linear address.
    #[inline(always)]
    pub(crate) fn linear(&self, seg: u8, off: u32, n: u32) -> Result<u32, Exception> {
        let s = &self.s.segs[seg as usize % 6];
        if off > s.limit || s.limit - off < n - 1 {
            return Err(if seg == SegReg::Ss as u8 {
                Exception::StackFault(0)
            } else {
                Exception::GeneralProtection(0)
            });
        }
        Ok(s.base.wrapping_add(off))
    }

    /// Reads `S` bytes at `seg:off`.
    #[inline(always)]
    pub(crate) fn read_mem<const S: usize>(
        &mut self,
        bus: &mut Bus,
        seg: u8,
        off: u32,
    ) -> Result<u32, Exception> {
        let lin = self.linear(seg, off, S as u32)?;
        Ok(bus.read::<S>(lin))
    }

    /// Writes `S` bytes at `seg:off`.
    #[inline(always)]
    pub(crate) fn write_mem<const S: usize>(
        &mut self,
        bus: &mut Bus,
        seg: u8,
        off: u32,
        v: u32,
    ) -> Result<(), Exception> {
        let lin = self.linear(seg, off, S as u32)?;
        bus.write::<S>(lin, v);
        if bus.mem.take_code_written() {
            self.stop_block = true;
        }
        Ok(())
    }

    /// Reads an operand of width `S` (register, memory or immediate).
    #[inline(always)]
    pub(crate) fn load<const S: usize>(
        &mut self,
        bus: &mut Bus,
        u: &Uop,
        o: Opnd,
    ) -> Result<u32, Exception> {
        match o {
            Opnd::Reg(r) => Ok(self.reg::<S>(r)),
            Opnd::Mem => {
                let off = self.ea(&u.mem);
                self.read_mem::<S>(bus, u.mem.seg, off)
            }
            Opnd::Imm => Ok(u.imm & mask::<S>()),
            Opnd::None => Ok(0),
        }
    }

    /// Writes an operand of width `S` (register or memory).
    #[inline(always)]
    pub(crate) fn store<const S: usize>(
        &mut self,
        bus: &mut Bus,
        u: &Uop,
        o: Opnd,
        v: u32,
    ) -> Result<(), Exception> {
        match o {
            Opnd::Reg(r) => {
                self.set_reg::<S>(r, v);
                Ok(())
            }
            Opnd::Mem => {
                let off = self.ea(&u.mem);
                self.write_mem::<S>(bus, u.mem.seg, off, v)
            }
            _ => Ok(()),
        }
    }

    /// Reads a far pointer (an `S`-byte offset, then a 16-bit selector) from the memory operand:
    /// m16:16 or m16:32. Returns (selector, offset).
    pub(crate) fn read_far_pointer<const S: usize>(
        &mut self,
        bus: &mut Bus,
        u: &Uop,
    ) -> Result<(u16, u32), Exception> {
        let off = self.ea(&u.mem);
        let ptr = self.read_mem::<S>(bus, u.mem.seg, off)?;
        let sel = self.read_mem::<2>(bus, u.mem.seg, u.mem.offset_after(off, S as u32))?;
        Ok((sel as u16, ptr))
    }

    /// Whether the stack is 32-bit (SS.B).
    #[inline(always)]
    pub(crate) fn stack32(&self) -> bool {
        self.s.segs[SegReg::Ss as usize].is_32()
    }

    /// Current stack pointer (SP or ESP by SS.B).
    #[inline(always)]
    pub(crate) fn sp(&self) -> u32 {
        if self.stack32() {
            self.s.regs[reg::ESP as usize]
        } else {
            self.s.regs[reg::ESP as usize] & 0xFFFF
        }
    }

    /// Sets the stack pointer, keeping the high half of ESP on a 16-bit stack.
    #[inline(always)]
    pub(crate) fn set_sp(&mut self, v: u32) {
        if self.stack32() {
            self.s.regs[reg::ESP as usize] = v;
        } else {
            let e = &mut self.s.regs[reg::ESP as usize];
            *e = (*e & !0xFFFF) | (v & 0xFFFF);
        }
    }

    /// Stack offset `delta` bytes from SP, wrapped to the stack size.
    #[inline(always)]
    pub(crate) fn sp_offset(&self, delta: u32) -> u32 {
        let v = self.sp().wrapping_add(delta);
        if self.stack32() {
            v
        } else {
            v & 0xFFFF
        }
    }

    /// Pushes an `S`-byte value. Nothing changes if the write faults.
    #[inline(always)]
    pub(crate) fn push<const S: usize>(&mut self, bus: &mut Bus, v: u32) -> Result<(), Exception> {
        let sp = self.sp_offset((S as u32).wrapping_neg());
        self.write_mem::<S>(bus, SegReg::Ss as u8, sp, v)?;
        self.set_sp(sp);
        Ok(())
    }

    /// Pops an `S`-byte value. Nothing changes if the read faults.
    #[inline(always)]
    pub(crate) fn pop<const S: usize>(&mut self, bus: &mut Bus) -> Result<u32, Exception> {
        let v = self.read_mem::<S>(bus, SegReg::Ss as u8, self.sp())?;
        self.set_sp(self.sp_offset(S as u32));
        Ok(v)
    }

    /// Reads the `S`-byte stack slot `delta` bytes above SP without popping.
    #[inline(always)]
    pub(crate) fn stack_peek<const S: usize>(
        &mut self,
        bus: &mut Bus,
        delta: u32,
    ) -> Result<u32, Exception> {
        let off = self.sp_offset(delta);
        self.read_mem::<S>(bus, SegReg::Ss as u8, off)
    }

    /// Loads a segment register with `selector` (real-mode semantics: base = selector × 16;
    /// limit and attributes other than the code/data type are kept, as on a 386+).
    pub(crate) fn load_seg(
        &mut self,
        bus: &mut Bus,
        seg: SegReg,
        selector: u16,
    ) -> Result<(), Exception> {
        if self.protected_mode() {
            return Err(self.unsupported(
                bus,
                "protected-mode segment loads arrive with the protected-mode issue",
            ));
        }
        let s: &mut Segment = &mut self.s.segs[seg as usize];
        s.selector = selector;
        s.base = (selector as u32) << 4;
        if seg == SegReg::Ss || seg == SegReg::Cs {
            self.stop_block = true;
        }
        Ok(())
    }
}
