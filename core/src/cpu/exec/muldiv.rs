//! Multiplication and division: MUL, IMUL (one, two and three operands), DIV, IDIV (SDM vol. 2
//! pages of the same names). MUL/IMUL set CF = OF = "the upper half is significant"; SF, ZF and
//! PF (undefined) follow the low half of the result and AF is cleared. DIV/IDIV leave the flags
//! unchanged (undefined) and raise #DE on a zero divisor or a quotient that does not fit.

use super::R;
use crate::bus::Bus;
use crate::cpu::exception::Exception;
use crate::cpu::regs::{mask, sext};
use crate::cpu::state::reg::{EAX, EDX};
use crate::cpu::uop::Uop;
use crate::cpu::Cpu;

/// Writes the double-width product `p` to AX, DX:AX or EDX:EAX.
fn store_product<const S: usize>(cpu: &mut Cpu, p: u64) {
    match S {
        1 => cpu.set_reg::<2>(EAX, p as u32),
        _ => {
            let bits = S * 8;
            cpu.set_reg::<S>(EAX, p as u32);
            cpu.set_reg::<S>(EDX, (p >> bits) as u32);
        }
    }
}

/// Reads the double-width dividend AX, DX:AX or EDX:EAX.
fn dividend<const S: usize>(cpu: &Cpu) -> u64 {
    match S {
        1 => cpu.reg::<2>(EAX) as u64,
        _ => ((cpu.reg::<S>(EDX) as u64) << (S * 8)) | cpu.reg::<S>(EAX) as u64,
    }
}

/// MUL r/m: unsigned `acc * src`.
pub(crate) fn mul<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let b = cpu.load::<S>(bus, u, u.dst)? as u64;
    let p = cpu.reg::<S>(EAX) as u64 * b;
    store_product::<S>(cpu, p);
    let high = p >> (S * 8) != 0;
    cpu.set_shift_flags::<S>(p as u32 & mask::<S>(), high, high);
    Ok(())
}

/// IMUL r/m: signed `acc * src`.
pub(crate) fn imul1<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let b = sext::<S>(cpu.load::<S>(bus, u, u.dst)?) as i32 as i64;
    let a = sext::<S>(cpu.reg::<S>(EAX)) as i32 as i64;
    let p = a * b;
    store_product::<S>(cpu, p as u64);
    let low = p as u32 & mask::<S>();
    let fits = sext::<S>(low) as i32 as i64 == p;
    cpu.set_shift_flags::<S>(low, !fits, !fits);
    Ok(())
}

/// Signed `a * b` truncated to `S` bytes, with CF/OF on overflow.
fn imul_trunc<const S: usize>(cpu: &mut Cpu, a: u32, b: u32) -> u32 {
    let p = sext::<S>(a) as i32 as i64 * sext::<S>(b) as i32 as i64;
    let low = p as u32 & mask::<S>();
    let fits = sext::<S>(low) as i32 as i64 == p;
    cpu.set_shift_flags::<S>(low, !fits, !fits);
    low
}

/// IMUL r, r/m: `dst = dst * src`.
pub(crate) fn imul2<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let b = cpu.load::<S>(bus, u, u.src)?;
    let a = cpu.load::<S>(bus, u, u.dst)?;
    let r = imul_trunc::<S>(cpu, a, b);
    cpu.store::<S>(bus, u, u.dst, r)
}

/// IMUL r, r/m, imm: `dst = src * imm`.
pub(crate) fn imul3<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let a = cpu.load::<S>(bus, u, u.src)?;
    let r = imul_trunc::<S>(cpu, a, u.imm & mask::<S>());
    cpu.store::<S>(bus, u, u.dst, r)
}

/// DIV r/m: unsigned.
pub(crate) fn div<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let d = cpu.load::<S>(bus, u, u.dst)? as u64;
    if d == 0 {
        return Err(Exception::DivideError);
    }
    let n = dividend::<S>(cpu);
    let q = n / d;
    if q > mask::<S>() as u64 {
        return Err(Exception::DivideError);
    }
    let r = n % d;
    store_quotient::<S>(cpu, q as u32, r as u32);
    Ok(())
}

/// IDIV r/m: signed, quotient truncated toward zero, remainder has the dividend's sign.
pub(crate) fn idiv<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let d = sext::<S>(cpu.load::<S>(bus, u, u.dst)?) as i32 as i64;
    if d == 0 {
        return Err(Exception::DivideError);
    }
    let raw = dividend::<S>(cpu);
    let n = match S {
        1 => raw as u16 as i16 as i64,
        2 => raw as u32 as i32 as i64,
        _ => raw as i64,
    };
    // i64::MIN / -1 overflows: it is also out of range for every operand size.
    let Some(q) = n.checked_div(d) else {
        return Err(Exception::DivideError);
    };
    let bits = S * 8;
    let (lo, hi) = (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1);
    if q < lo || q > hi {
        return Err(Exception::DivideError);
    }
    let r = n - q * d;
    store_quotient::<S>(cpu, q as u32, r as u32);
    Ok(())
}

/// Writes quotient and remainder: AL/AH, AX/DX or EAX/EDX.
fn store_quotient<const S: usize>(cpu: &mut Cpu, q: u32, r: u32) {
    match S {
        1 => cpu.set_reg::<2>(EAX, (q & 0xFF) | ((r & 0xFF) << 8)),
        _ => {
            cpu.set_reg::<S>(EAX, q);
            cpu.set_reg::<S>(EDX, r);
        }
    }
}
