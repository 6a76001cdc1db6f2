//! Integer arithmetic and logic: ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST, INC, DEC, NEG,
//! NOT (SDM vol. 2, instruction pages of the same names). Flags are left lazy.

use super::R;
use crate::bus::Bus;
use crate::cpu::flags::LazyKind;
use crate::cpu::regs::mask;
use crate::cpu::uop::{Opnd, Uop, K_MEM, K_REG};
use crate::cpu::Cpu;

/// ALU operation numbers (the ModRM `reg` field of opcodes 80..83, plus TEST).
pub const ADD: u8 = 0;
/// OR
pub const OR: u8 = 1;
/// ADC
pub const ADC: u8 = 2;
/// SBB
pub const SBB: u8 = 3;
/// AND
pub const AND: u8 = 4;
/// SUB
pub const SUB: u8 = 5;
/// XOR
pub const XOR: u8 = 6;
/// CMP
pub const CMP: u8 = 7;
/// TEST
pub const TEST: u8 = 8;

/// Computes `a OP b` at width `S`, setting the lazy flags; returns the result.
#[inline(always)]
pub(crate) fn compute<const S: usize, const OP: u8>(cpu: &mut Cpu, a: u32, b: u32) -> u32 {
    let (kind, r) = match OP {
        ADD => (LazyKind::Add, a.wrapping_add(b)),
        ADC => (
            LazyKind::Add,
            a.wrapping_add(b).wrapping_add(cpu.cf() as u32),
        ),
        SUB | CMP => (LazyKind::Sub, a.wrapping_sub(b)),
        SBB => (
            LazyKind::Sub,
            a.wrapping_sub(b).wrapping_sub(cpu.cf() as u32),
        ),
        OR => (LazyKind::Logic, a | b),
        AND | TEST => (LazyKind::Logic, a & b),
        _ => (LazyKind::Logic, a ^ b),
    };
    let r = r & mask::<S>();
    cpu.set_lazy::<S>(kind, a, b, r);
    r
}

/// `dst = dst OP src` (CMP and TEST only set flags); `D`, `SRC`: the operand kinds the
/// decoder fixed (`K_*`).
pub(crate) fn alu<const S: usize, const OP: u8, const D: u8, const SRC: u8>(
    cpu: &mut Cpu,
    bus: &mut Bus,
    u: &Uop,
) -> R {
    let b = cpu.load_k::<S, SRC>(bus, u, u.src)?;
    let dst = match D {
        K_REG => Opnd::Reg(u.dst.reg_index()),
        K_MEM => Opnd::Mem,
        _ => u.dst,
    };
    match dst {
        Opnd::Reg(d) => {
            let a = cpu.reg::<S>(d);
            let r = compute::<S, OP>(cpu, a, b);
            if OP != CMP && OP != TEST {
                cpu.set_reg::<S>(d, r);
            }
            Ok(())
        }
        _ => {
            let off = cpu.ea(&u.mem);
            let a = cpu.read_mem::<S>(bus, u.mem.seg, off)?;
            let r = compute::<S, OP>(cpu, a, b);
            if OP != CMP && OP != TEST {
                cpu.write_mem::<S>(bus, u.mem.seg, off, r)?;
            }
            Ok(())
        }
    }
}

/// Applies `f` to the destination operand in place (read-modify-write).
#[inline(always)]
pub(crate) fn rmw<const S: usize>(
    cpu: &mut Cpu,
    bus: &mut Bus,
    u: &Uop,
    f: impl FnOnce(&mut Cpu, u32) -> u32,
) -> R {
    match u.dst {
        Opnd::Reg(d) => {
            let a = cpu.reg::<S>(d);
            let r = f(cpu, a);
            cpu.set_reg::<S>(d, r);
            Ok(())
        }
        _ => {
            let off = cpu.ea(&u.mem);
            let a = cpu.read_mem::<S>(bus, u.mem.seg, off)?;
            let r = f(cpu, a);
            cpu.write_mem::<S>(bus, u.mem.seg, off, r)
        }
    }
}

/// INC: CF unchanged.
pub(crate) fn inc<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    rmw::<S>(cpu, bus, u, |cpu, a| {
        let r = a.wrapping_add(1) & mask::<S>();
        cpu.set_lazy::<S>(LazyKind::Inc, a, 1, r);
        r
    })
}

/// DEC: CF unchanged.
pub(crate) fn dec<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    rmw::<S>(cpu, bus, u, |cpu, a| {
        let r = a.wrapping_sub(1) & mask::<S>();
        cpu.set_lazy::<S>(LazyKind::Dec, a, 1, r);
        r
    })
}

/// NEG: `0 - dst`, CF = (dst != 0).
pub(crate) fn neg<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    rmw::<S>(cpu, bus, u, |cpu, a| {
        let r = 0u32.wrapping_sub(a) & mask::<S>();
        cpu.set_lazy::<S>(LazyKind::Sub, 0, a, r);
        r
    })
}

/// NOT: no flags.
pub(crate) fn not<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    rmw::<S>(cpu, bus, u, |_, a| !a & mask::<S>())
}
