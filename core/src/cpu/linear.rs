//! Linear-address accesses: through the MMU when paging is on (CR0.PG), straight to the bus
//! otherwise. An access that crosses a page boundary translates both pages before touching
//! memory, so a page fault on the second page leaves memory unchanged. "System" accesses
//! (descriptor tables, the TSS, the IDT) are supervisor accesses whatever the CPL.
//!
//! An access within one page first tries the host fast path (`mmu/fast.rs`) and fills it
//! after a slow access to plain RAM.

use super::exception::Exception;
use super::Cpu;
use crate::bus::Bus;
use crate::mmu::Access;

/// Physical address of byte `i` of a page-crossing access at `lin`, given the frames of its
/// first and second page.
fn byte_phys(lin: u32, i: u32, (first, second): (u32, u32)) -> u32 {
    let a = lin.wrapping_add(i);
    let frame = if a & !0xFFF == lin & !0xFFF {
        first
    } else {
        second
    };
    frame + (a & 0xFFF)
}

impl Cpu {
    /// Physical address of `lin` for an access (identity when paging is off).
    #[inline(always)]
    pub(crate) fn phys(
        &mut self,
        bus: &mut Bus,
        lin: u32,
        access: Access,
        user: bool,
    ) -> Result<u32, Exception> {
        if self.mmu.enabled {
            self.mmu.translate(bus, lin, access, user)
        } else {
            Ok(lin)
        }
    }

    /// The RAM offset of an `S`-byte access at `lin` (a write with `WRITE`) when it fits in
    /// its page and the host fast path holds that page.
    #[inline(always)]
    fn fast_ram<const S: usize, const WRITE: bool>(
        &self,
        bus: &Bus,
        lin: u32,
        user: bool,
    ) -> Option<u32> {
        if (lin & 0xFFF) as usize > 0x1000 - S {
            return None;
        }
        let (epoch, a20) = (bus.mem.epoch(), bus.a20_mask);
        self.mmu.fast.lookup::<WRITE>(lin, user, epoch, a20)
    }

    /// Reads `S` bytes at a linear address.
    #[inline(always)]
    pub(crate) fn read_lin<const S: usize>(
        &mut self,
        bus: &mut Bus,
        lin: u32,
        user: bool,
    ) -> Result<u32, Exception> {
        if let Some(a) = self.fast_ram::<S, false>(bus, lin, user) {
            return Ok(bus.mem.read_ram::<S>(a));
        }
        self.read_lin_slow::<S>(bus, lin, user)
    }

    /// [`Cpu::read_lin`] when the fast path misses: kept out of line, so the handlers that
    /// inline the fast path stay small.
    #[cold]
    #[inline(never)]
    fn read_lin_slow<const S: usize>(
        &mut self,
        bus: &mut Bus,
        lin: u32,
        user: bool,
    ) -> Result<u32, Exception> {
        if (lin & 0xFFF) as usize <= 0x1000 - S {
            let (epoch, a20) = (bus.mem.epoch(), bus.a20_mask);
            let p = self.phys(bus, lin, Access::Read, user)?;
            let a = p & a20;
            if bus.mem.fast_readable(a) {
                self.mmu.fast.fill(lin, a & !0xFFF, user, false, epoch, a20);
            }
            return Ok(bus.read::<S>(p));
        }
        if !self.mmu.enabled {
            return Ok(bus.read::<S>(lin));
        }
        let frames = self.split(bus, lin, S, Access::Read, user)?;
        let mut v = 0;
        for i in 0..S as u32 {
            v |= (bus.read_u8(byte_phys(lin, i, frames)) as u32) << (8 * i);
        }
        Ok(v)
    }

    /// Writes `S` bytes at a linear address.
    #[inline(always)]
    pub(crate) fn write_lin<const S: usize>(
        &mut self,
        bus: &mut Bus,
        lin: u32,
        v: u32,
        user: bool,
    ) -> Result<(), Exception> {
        if let Some(a) = self.fast_ram::<S, true>(bus, lin, user) {
            bus.mem.write_ram::<S>(a, v);
            return Ok(());
        }
        self.write_lin_slow::<S>(bus, lin, v, user)
    }

    /// [`Cpu::write_lin`] when the fast path misses (out of line, like
    /// [`Cpu::read_lin_slow`]).
    #[cold]
    #[inline(never)]
    fn write_lin_slow<const S: usize>(
        &mut self,
        bus: &mut Bus,
        lin: u32,
        v: u32,
        user: bool,
    ) -> Result<(), Exception> {
        if (lin & 0xFFF) as usize <= 0x1000 - S {
            let (epoch, a20) = (bus.mem.epoch(), bus.a20_mask);
            let p = self.phys(bus, lin, Access::Write, user)?;
            bus.write::<S>(p, v);
            // after the write: a page that held code no longer does (its blocks are stale)
            let a = p & a20;
            if bus.mem.fast_writable(a) && bus.mem.epoch() == epoch {
                self.mmu.fast.fill(lin, a & !0xFFF, user, true, epoch, a20);
            }
        } else if !self.mmu.enabled {
            bus.write::<S>(lin, v);
        } else {
            let frames = self.split(bus, lin, S, Access::Write, user)?;
            for i in 0..S as u32 {
                bus.write_u8(byte_phys(lin, i, frames), (v >> (8 * i)) as u8);
            }
        }
        if bus.mem.take_code_written() {
            self.stop_block = true;
        }
        Ok(())
    }

    /// Translates both pages of a page-crossing access; returns their frames.
    #[cold]
    fn split(
        &mut self,
        bus: &mut Bus,
        lin: u32,
        n: usize,
        access: Access,
        user: bool,
    ) -> Result<(u32, u32), Exception> {
        let p0 = self.mmu.translate(bus, lin, access, user)? & !0xFFF;
        let last = lin.wrapping_add(n as u32 - 1);
        let p1 = self.mmu.translate(bus, last, access, user)? & !0xFFF;
        Ok((p0, p1))
    }

    /// Checks that `n` bytes at `lin` can be written, without writing (for instructions that
    /// must not fault halfway through their stores).
    pub(crate) fn probe_write(
        &mut self,
        bus: &mut Bus,
        lin: u32,
        n: u32,
        user: bool,
    ) -> Result<(), Exception> {
        if self.mmu.enabled {
            self.mmu.translate(bus, lin, Access::Write, user)?;
            self.mmu
                .translate(bus, lin.wrapping_add(n - 1), Access::Write, user)?;
        }
        Ok(())
    }

    /// Supervisor read of a system structure.
    #[inline]
    pub(crate) fn read_sys<const S: usize>(
        &mut self,
        bus: &mut Bus,
        lin: u32,
    ) -> Result<u32, Exception> {
        self.read_lin::<S>(bus, lin, false)
    }

    /// Supervisor write of a system structure.
    #[inline]
    pub(crate) fn write_sys<const S: usize>(
        &mut self,
        bus: &mut Bus,
        lin: u32,
        v: u32,
    ) -> Result<(), Exception> {
        self.write_lin::<S>(bus, lin, v, false)
    }
}
