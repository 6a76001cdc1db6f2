//! String instructions: MOVS, CMPS, SCAS, LODS, STOS, INS, OUTS with REP/REPE/REPNE (SDM vol. 2
//! pages of the same names and "REP/REPE/REPZ/REPNE/REPNZ"). The source segment may be
//! overridden; the destination is always ES. SI/DI/CX or ESI/EDI/ECX are used by address size.
//!
//! Every REP iteration retires as one instruction, so a run budget can end (and an interrupt
//! could later be taken) between iterations; EIP then stays on the instruction and the registers
//! hold the progress, exactly as after an interrupted REP on hardware.

use super::alu::{compute, SUB};
use super::R;
use crate::bus::Bus;
use crate::cpu::state::reg::{EAX, ECX, EDI, EDX, ESI};
use crate::cpu::state::SegReg;
use crate::cpu::uop::{Uop, P_ADDR32, P_REP, P_REPNE};
use crate::cpu::Cpu;

const ES: u8 = SegReg::Es as u8;

impl Cpu {
    /// An index register (SI/DI or ESI/EDI) as an offset.
    #[inline(always)]
    fn index(&self, r: u8, a32: bool) -> u32 {
        if a32 {
            self.s.regs[r as usize]
        } else {
            self.s.regs[r as usize] & 0xFFFF
        }
    }

    /// Advances an index register by `step` at the address size.
    #[inline(always)]
    fn advance(&mut self, r: u8, step: u32, a32: bool) {
        let v = self.s.regs[r as usize];
        self.s.regs[r as usize] = if a32 {
            v.wrapping_add(step)
        } else {
            (v & !0xFFFF) | (v.wrapping_add(step) & 0xFFFF)
        };
    }
}

/// How a repeated string instruction stops early.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Until {
    /// Only when the count reaches zero.
    Count,
    /// Also on the ZF condition of REPE/REPNE (CMPS, SCAS).
    Zf,
}

/// Runs `body` once, or under a REP prefix while the count is non-zero, within the run budget.
#[inline(always)]
fn repeat(
    cpu: &mut Cpu,
    bus: &mut Bus,
    u: &Uop,
    until: Until,
    mut body: impl FnMut(&mut Cpu, &mut Bus, bool) -> R,
) -> R {
    let a32 = u.prefix & P_ADDR32 != 0;
    if u.prefix & (P_REP | P_REPNE) == 0 {
        return body(cpu, bus, a32);
    }
    let mut done: u64 = 0;
    let result = loop {
        let count = cpu.index(ECX as u8, a32);
        if count == 0 {
            break Ok(());
        }
        // the run slice ends at `run_end`, and a due timer or a deliverable interrupt stops
        // the repetition between iterations too (so slicing never changes when they happen);
        // this instruction itself retires at least once
        let limit = cpu.run_end.min(bus.timer_icount);
        let interrupt = bus.intr && cpu.s.eflags & crate::cpu::state::flag::IF != 0;
        if done == limit.saturating_sub(cpu.icount).max(1) || (done > 0 && interrupt) {
            // Out of budget: resume this instruction later.
            cpu.s.eip = cpu.insn_eip;
            cpu.stop_block = true;
            break Ok(());
        }
        if let Err(e) = body(cpu, bus, a32) {
            break Err(e);
        }
        cpu.advance(ECX as u8, u32::MAX, a32);
        done += 1;
        if until == Until::Zf {
            let zf = cpu.zf();
            if (u.prefix & P_REPNE != 0 && zf) || (u.prefix & P_REP != 0 && !zf) {
                break Ok(());
            }
        }
        if cpu.stop_block {
            // A write hit decoded code (or similar): finish this iteration and re-enter.
            if cpu.index(ECX as u8, a32) != 0 {
                cpu.s.eip = cpu.insn_eip;
            }
            break Ok(());
        }
    };
    // the executor retires the instruction once; the other iterations retire here
    cpu.icount += done.saturating_sub(1);
    result
}

/// MOVS: `ES:[DI] = seg:[SI]`.
pub(crate) fn movs<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let step = cpu.df_step::<S>();
    repeat(cpu, bus, u, Until::Count, |cpu, bus, a32| {
        let v = cpu.read_mem::<S>(bus, u.mem.seg, cpu.index(ESI as u8, a32))?;
        cpu.write_mem::<S>(bus, ES, cpu.index(EDI as u8, a32), v)?;
        cpu.advance(ESI as u8, step, a32);
        cpu.advance(EDI as u8, step, a32);
        Ok(())
    })
}

/// STOS: `ES:[DI] = acc`.
pub(crate) fn stos<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let step = cpu.df_step::<S>();
    repeat(cpu, bus, u, Until::Count, |cpu, bus, a32| {
        let v = cpu.reg::<S>(EAX);
        cpu.write_mem::<S>(bus, ES, cpu.index(EDI as u8, a32), v)?;
        cpu.advance(EDI as u8, step, a32);
        Ok(())
    })
}

/// LODS: `acc = seg:[SI]`.
pub(crate) fn lods<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let step = cpu.df_step::<S>();
    repeat(cpu, bus, u, Until::Count, |cpu, bus, a32| {
        let v = cpu.read_mem::<S>(bus, u.mem.seg, cpu.index(ESI as u8, a32))?;
        cpu.set_reg::<S>(EAX, v);
        cpu.advance(ESI as u8, step, a32);
        Ok(())
    })
}

/// CMPS: flags of `seg:[SI] - ES:[DI]`.
pub(crate) fn cmps<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let step = cpu.df_step::<S>();
    repeat(cpu, bus, u, Until::Zf, |cpu, bus, a32| {
        let a = cpu.read_mem::<S>(bus, u.mem.seg, cpu.index(ESI as u8, a32))?;
        let b = cpu.read_mem::<S>(bus, ES, cpu.index(EDI as u8, a32))?;
        compute::<S, SUB>(cpu, a, b);
        cpu.advance(ESI as u8, step, a32);
        cpu.advance(EDI as u8, step, a32);
        Ok(())
    })
}

/// SCAS: flags of `acc - ES:[DI]`.
pub(crate) fn scas<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let step = cpu.df_step::<S>();
    repeat(cpu, bus, u, Until::Zf, |cpu, bus, a32| {
        let b = cpu.read_mem::<S>(bus, ES, cpu.index(EDI as u8, a32))?;
        let a = cpu.reg::<S>(EAX);
        compute::<S, SUB>(cpu, a, b);
        cpu.advance(EDI as u8, step, a32);
        Ok(())
    })
}

/// INS: `ES:[DI] = in(DX)`. The destination is checked before the port is read.
pub(crate) fn ins<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let step = cpu.df_step::<S>();
    repeat(cpu, bus, u, Until::Count, |cpu, bus, a32| {
        let di = cpu.index(EDI as u8, a32);
        cpu.check_write(bus, ES, di, S as u32)?;
        let port = cpu.reg::<2>(EDX) as u16;
        cpu.io_allowed(bus, port, S as u32)?;
        let v = bus.io_in(port, S, cpu.icount);
        cpu.write_mem::<S>(bus, ES, di, v)?;
        cpu.advance(EDI as u8, step, a32);
        Ok(())
    })
}

/// OUTS: `out(DX, seg:[SI])`.
pub(crate) fn outs<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let step = cpu.df_step::<S>();
    repeat(cpu, bus, u, Until::Count, |cpu, bus, a32| {
        let v = cpu.read_mem::<S>(bus, u.mem.seg, cpu.index(ESI as u8, a32))?;
        let port = cpu.reg::<2>(EDX) as u16;
        cpu.io_allowed(bus, port, S as u32)?;
        bus.io_out(port, S, v, cpu.icount);
        cpu.advance(ESI as u8, step, a32);
        Ok(())
    })
}
