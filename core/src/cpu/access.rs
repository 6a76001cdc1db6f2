//! Memory access through segments (SDM vol. 3A, 3.4 and 5.3 "Limit checking"): effective
//! address computation, the per-segment bounds check, operand loads/stores, stack pushes and
//! pops.
//!
//! Real mode uses the cached base and limit of each segment register (so "unreal" limits set
//! up elsewhere keep working). In protected mode the bounds also encode the segment type
//! (read-only data, execute-only code, expand-down, null). A reference outside them raises
//! #GP(0), or #SS(0) through SS. The linear address then goes through the MMU (`linear.rs`).

use super::exception::Exception;
use super::regs::mask;
use super::state::{reg, SegReg};
use super::uop::{MemRef, Opnd, Uop, K_ANY, K_IMM, K_MEM, K_REG, NO_REG};
use super::{segment, Cpu};
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

    /// Checks an `n`-byte read (or write) at `off` in segment `seg` and returns its linear
    /// address.
    #[inline(always)]
    pub(crate) fn linear(&self, seg: u8, off: u32, n: u32, write: bool) -> Result<u32, Exception> {
        let b = &self.bounds[seg as usize % segment::BOUNDS_SLOTS];
        let (lo, hi) = if write { b.write } else { b.read };
        if off < lo || off > hi || hi - off < n - 1 {
            return Err(if seg == SegReg::Ss as u8 {
                Exception::StackFault(0)
            } else {
                Exception::GeneralProtection(0)
            });
        }
        Ok(b.base.wrapping_add(off))
    }

    /// The rarely armed per-access checks: alignment (#AC) and data breakpoints.
    #[cold]
    fn check_access(&mut self, lin: u32, n: u32, write: bool) -> Result<(), Exception> {
        if self.ac_check && lin & (n - 1) != 0 {
            return Err(Exception::AlignmentCheck);
        }
        if self.dr_data {
            self.data_breakpoint(lin, n, write);
        }
        Ok(())
    }

    /// Checks that an `n`-byte write at `seg:off` would succeed (segment and page), without
    /// writing.
    pub(crate) fn check_write(
        &mut self,
        bus: &mut Bus,
        seg: u8,
        off: u32,
        n: u32,
    ) -> Result<(), Exception> {
        let lin = self.linear(seg, off, n, true)?;
        self.probe_write(bus, lin, n, self.cpl == 3)
    }

    /// Reads `S` bytes at `seg:off`.
    #[inline(always)]
    pub(crate) fn read_mem<const S: usize>(
        &mut self,
        bus: &mut Bus,
        seg: u8,
        off: u32,
    ) -> Result<u32, Exception> {
        let lin = self.linear(seg, off, S as u32, false)?;
        if self.access_checks {
            self.check_access(lin, S as u32, false)?;
        }
        self.read_lin::<S>(bus, lin, self.cpl == 3)
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
        let lin = self.linear(seg, off, S as u32, true)?;
        if self.access_checks {
            self.check_access(lin, S as u32, true)?;
        }
        self.write_lin::<S>(bus, lin, v, self.cpl == 3)
    }

    /// Reads an operand of width `S` (register, memory or immediate; absent reads as 0).
    #[inline(always)]
    pub(crate) fn load<const S: usize>(
        &mut self,
        bus: &mut Bus,
        u: &Uop,
        o: Opnd,
    ) -> Result<u32, Exception> {
        self.load_k::<S, K_ANY>(bus, u, o)
    }

    /// Writes an operand of width `S` (register or memory; anything else is ignored).
    #[inline(always)]
    pub(crate) fn store<const S: usize>(
        &mut self,
        bus: &mut Bus,
        u: &Uop,
        o: Opnd,
        v: u32,
    ) -> Result<(), Exception> {
        self.store_k::<S, K_ANY>(bus, u, o, v)
    }

    /// [`Cpu::load`] for an operand whose kind (`K_*`) the decoder fixed, so no run-time match
    /// on it remains; with `K_ANY` the kind is taken from `o` at run time.
    #[inline(always)]
    pub(crate) fn load_k<const S: usize, const K: u8>(
        &mut self,
        bus: &mut Bus,
        u: &Uop,
        o: Opnd,
    ) -> Result<u32, Exception> {
        let kind = if K == K_ANY { o.kind() } else { K };
        match kind {
            K_REG => Ok(self.reg::<S>(o.reg_index())),
            K_MEM => {
                let off = self.ea(&u.mem);
                self.read_mem::<S>(bus, u.mem.seg, off)
            }
            K_IMM => Ok(u.imm & mask::<S>()),
            _ => Ok(0),
        }
    }

    /// [`Cpu::store`] for an operand whose kind (`K_REG`, `K_MEM`, or `K_ANY`: taken from `o`
    /// at run time) the decoder fixed.
    #[inline(always)]
    pub(crate) fn store_k<const S: usize, const K: u8>(
        &mut self,
        bus: &mut Bus,
        u: &Uop,
        o: Opnd,
        v: u32,
    ) -> Result<(), Exception> {
        let kind = if K == K_ANY { o.kind() } else { K };
        match kind {
            K_REG => {
                self.set_reg::<S>(o.reg_index(), v);
                Ok(())
            }
            K_MEM => {
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

    /// Reads `buf.len()` bytes at `seg:off` (for multi-part operands: 80-bit floats, FPU
    /// environments, the FXSAVE area). The whole range is checked first.
    pub(crate) fn read_bytes(
        &mut self,
        bus: &mut Bus,
        seg: u8,
        off: u32,
        buf: &mut [u8],
    ) -> Result<(), Exception> {
        let n = buf.len() as u32;
        let lin = self.linear(seg, off, 1, false)?;
        self.linear(seg, off.wrapping_add(n.saturating_sub(1)), 1, false)?;
        for (i, b) in buf.iter_mut().enumerate() {
            *b = self.read_lin::<1>(bus, lin.wrapping_add(i as u32), self.cpl == 3)? as u8;
        }
        Ok(())
    }

    /// Writes `data` at `seg:off` after checking that every byte can be written, so a fault
    /// leaves memory unchanged.
    pub(crate) fn write_bytes(
        &mut self,
        bus: &mut Bus,
        seg: u8,
        off: u32,
        data: &[u8],
    ) -> Result<(), Exception> {
        let n = data.len() as u32;
        let lin = self.linear(seg, off, 1, true)?;
        self.linear(seg, off.wrapping_add(n.saturating_sub(1)), 1, true)?;
        let user = self.cpl == 3;
        let mut page = lin & !0xFFF;
        self.probe_write(bus, lin, 1, user)?;
        for i in 0..n {
            let a = lin.wrapping_add(i);
            if a & !0xFFF != page {
                page = a & !0xFFF;
                self.probe_write(bus, a, 1, user)?;
            }
        }
        for (i, &b) in data.iter().enumerate() {
            self.write_lin::<1>(bus, lin.wrapping_add(i as u32), b as u32, user)?;
        }
        Ok(())
    }
}
