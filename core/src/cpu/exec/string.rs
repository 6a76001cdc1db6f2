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
/// `bulk(cpu, bus, a32, max)` may carry out up to `max` iterations at once and return how many
/// it did (0: it cannot here; `body` runs one).
#[inline(always)]
fn repeat(
    cpu: &mut Cpu,
    bus: &mut Bus,
    u: &Uop,
    until: Until,
    mut bulk: impl FnMut(&mut Cpu, &mut Bus, bool, u64) -> u64,
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
        let allowed = limit.saturating_sub(cpu.icount).max(1);
        if done == allowed || (done > 0 && interrupt) {
            // Out of budget: resume this instruction later.
            cpu.s.eip = cpu.insn_eip;
            cpu.stop_block = true;
            break Ok(());
        }
        if !interrupt {
            let n = bulk(cpu, bus, a32, (allowed - done).min(count as u64));
            if n > 0 {
                cpu.advance(ECX as u8, (n as u32).wrapping_neg(), a32);
                done += n;
                continue;
            }
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

/// No bulk form: one iteration at a time.
fn one_by_one(_: &mut Cpu, _: &mut Bus, _: bool, _: u64) -> u64 {
    0
}

/// Where up to `max` forward iterations of `S`-byte elements at `seg:off` can go at once: the
/// physical address and the element count, staying inside one page and the segment (and the
/// 64 KiB offset space with 16-bit addresses), in plain RAM (for a write: not ROM, nor a page
/// holding decoded code). `None` when fewer than two elements qualify or anything needs the
/// one-at-a-time path (alignment or data-breakpoint checks, a fault to raise, MMIO).
fn bulk_span<const S: usize>(
    cpu: &mut Cpu,
    bus: &mut Bus,
    seg: u8,
    off: u32,
    a32: bool,
    max: u64,
    write: bool,
) -> Option<(u64, u64)> {
    if cpu.access_checks || cpu.s.eflags & crate::cpu::state::flag::DF != 0 {
        return None;
    }
    let lin = cpu.linear(seg, off, S as u32, write).ok()?;
    let mut n = max.min(((0x1000 - (lin & 0xFFF)) / S as u32) as u64);
    if !a32 {
        n = n.min(((0x1_0000 - off) / S as u32) as u64);
    }
    if n < 2 {
        return None;
    }
    let len = (n * S as u64) as u32;
    cpu.linear(seg, off, len, write).ok()?;
    let access = if write {
        crate::mmu::Access::Write
    } else {
        crate::mmu::Access::Read
    };
    let phys = cpu.phys(bus, lin, access, cpu.cpl == 3).ok()? & bus.a20_mask;
    let plain = bus.mem.dma_ok(phys as u64, len as usize, write)
        && !(write && bus.mem.page_attr(phys) & crate::memory::PAGE_CODE != 0);
    plain.then_some((phys as u64, n))
}

/// REP MOVS in whole-page pieces (see [`bulk_span`]); overlapping copies whose element-wise
/// result differs from a move go one at a time.
fn movs_bulk<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop, a32: bool, max: u64) -> u64 {
    let (si, di) = (cpu.index(ESI as u8, a32), cpu.index(EDI as u8, a32));
    let Some((src, n)) = bulk_span::<S>(cpu, bus, u.mem.seg, si, a32, max, false) else {
        return 0;
    };
    let Some((dst, n)) = bulk_span::<S>(cpu, bus, ES, di, a32, n, true) else {
        return 0;
    };
    let len = n * S as u64;
    if n < 2 || (dst > src && dst < src + len) {
        return 0;
    }
    bus.mem.copy_within(src, dst, len as usize);
    cpu.advance(ESI as u8, len as u32, a32);
    cpu.advance(EDI as u8, len as u32, a32);
    n
}

/// REP STOS in whole-page pieces (see [`bulk_span`]).
fn stos_bulk<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, a32: bool, max: u64) -> u64 {
    let di = cpu.index(EDI as u8, a32);
    let Some((dst, n)) = bulk_span::<S>(cpu, bus, ES, di, a32, max, true) else {
        return 0;
    };
    let len = n * S as u64;
    let pattern = cpu.reg::<S>(EAX).to_le_bytes();
    bus.mem.fill(dst, len as usize, &pattern[..S]);
    cpu.advance(EDI as u8, len as u32, a32);
    n
}

/// MOVS: `ES:[DI] = seg:[SI]`.
pub(crate) fn movs<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let step = cpu.df_step::<S>();
    let bulk = |cpu: &mut Cpu, bus: &mut Bus, a32, max| movs_bulk::<S>(cpu, bus, u, a32, max);
    repeat(cpu, bus, u, Until::Count, bulk, |cpu, bus, a32| {
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
    repeat(
        cpu,
        bus,
        u,
        Until::Count,
        stos_bulk::<S>,
        |cpu, bus, a32| {
            let v = cpu.reg::<S>(EAX);
            cpu.write_mem::<S>(bus, ES, cpu.index(EDI as u8, a32), v)?;
            cpu.advance(EDI as u8, step, a32);
            Ok(())
        },
    )
}

/// LODS: `acc = seg:[SI]`.
pub(crate) fn lods<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let step = cpu.df_step::<S>();
    repeat(cpu, bus, u, Until::Count, one_by_one, |cpu, bus, a32| {
        let v = cpu.read_mem::<S>(bus, u.mem.seg, cpu.index(ESI as u8, a32))?;
        cpu.set_reg::<S>(EAX, v);
        cpu.advance(ESI as u8, step, a32);
        Ok(())
    })
}

/// CMPS: flags of `seg:[SI] - ES:[DI]`.
pub(crate) fn cmps<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let step = cpu.df_step::<S>();
    repeat(cpu, bus, u, Until::Zf, one_by_one, |cpu, bus, a32| {
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
    repeat(cpu, bus, u, Until::Zf, one_by_one, |cpu, bus, a32| {
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
    repeat(cpu, bus, u, Until::Count, one_by_one, |cpu, bus, a32| {
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
    repeat(cpu, bus, u, Until::Count, one_by_one, |cpu, bus, a32| {
        let v = cpu.read_mem::<S>(bus, u.mem.seg, cpu.index(ESI as u8, a32))?;
        let port = cpu.reg::<2>(EDX) as u16;
        cpu.io_allowed(bus, port, S as u32)?;
        bus.io_out(port, S, v, cpu.icount);
        cpu.advance(ESI as u8, step, a32);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use crate::{ExitReason, Machine, MachineConfig};

    /// Runs `code` (real mode, at 0x7C00) over RAM pre-filled with a pattern, either straight
    /// (REP MOVS/STOS go in page-sized pieces) or one instruction at a time (each REP iteration
    /// on its own); returns the state hash at HLT.
    fn run(code: &[u8], stepped: bool) -> [u8; 32] {
        let mut m = Machine::new(MachineConfig::default()).unwrap();
        let pattern: Vec<u8> = (0..0x2_0000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        m.write_phys(0, &pattern).unwrap();
        m.load_flat(code, 0x7C00, 0x7C00).unwrap();
        let exit = if stepped {
            loop {
                let e = m.step().unwrap();
                if e != ExitReason::BudgetReached {
                    break e;
                }
            }
        } else {
            m.run(10_000_000).unwrap()
        };
        assert_eq!(exit, ExitReason::Halted);
        m.state_hash()
    }

    #[test]
    fn bulk_rep_movs_and_stos_equal_one_iteration_at_a_time() {
        #[rustfmt::skip]
        let code = [
            0xFC,                   // cld
            0xBE, 0x00, 0x10,       // mov si, 0x1000
            0xBF, 0x10, 0x18,       // mov di, 0x1810
            0xB9, 0x00, 0x09,       // mov cx, 0x900: across a page boundary, not aligned
            0xF3, 0xA4,             // rep movsb
            0xBE, 0x00, 0x30,       // mov si, 0x3000
            0xBF, 0x01, 0x30,       // mov di, 0x3001: overlapping, destination ahead
            0xB9, 0x00, 0x01,       // mov cx, 0x100
            0xF3, 0xA4,             // rep movsb
            0xBF, 0x02, 0x50,       // mov di, 0x5002
            0xBE, 0x00, 0x50,       // mov si, 0x5000
            0xB9, 0x00, 0x02,       // mov cx, 0x200
            0xF3, 0x66, 0xA5,       // rep movsd (overlapping by 2 of 4 bytes)
            0xB8, 0x34, 0x12,       // mov ax, 0x1234
            0xBF, 0x00, 0xFF,       // mov di, 0xFF00
            0xB9, 0x00, 0x02,       // mov cx, 0x200: DI wraps at 64 KiB
            0xF3, 0xAB,             // rep stosw
            0xFD,                   // std
            0xBF, 0x00, 0x60,       // mov di, 0x6000
            0xB9, 0x00, 0x03,       // mov cx, 0x300: backwards, one at a time
            0xF3, 0xAA,             // rep stosb
            0xFC,                   // cld
            0x66, 0xB9, 0x00, 0x04, 0x00, 0x00, // mov ecx, 0x400
            0x66, 0xBE, 0x00, 0x70, 0x00, 0x00, // mov esi, 0x7000
            0x66, 0xBF, 0x00, 0x90, 0x00, 0x00, // mov edi, 0x9000
            0xF3, 0x67, 0x66, 0xA5, // rep movsd with 32-bit addresses
            0xF4,                   // hlt
        ];
        assert_eq!(run(&code, false), run(&code, true));
    }
}
