//! x87 arithmetic, comparisons and conversions through the software-float library (SDM vol. 2
//! pages FADD/FADDP/FIADD, FSUB(R)(P), FISUB(R), FMUL(P), FIMUL, FDIV(R)(P), FIDIV(R),
//! FCOM/FCOMP/FCOMPP, FUCOM(P)(P), FICOM(P), FCOMI/FCOMIP/FUCOMI/FUCOMIP, FTST, FLD m32/m64,
//! FILD, FBLD, FST/FSTP m32/m64, FIST/FISTP, FISTTP, FBSTP, FSQRT, FRNDINT, FSCALE, FPREM,
//! FPREM1, FXTRACT; vol. 1, 8.5 for the exception responses).
//!
//! Every handler reads its operands, computes into a fresh [`Env`], writes memory (a fault
//! there leaves the FPU untouched), then commits: the exception flags go to the status word,
//! C1 reports "rounded up" (SDM vol. 1, 8.1.3.1), and the destination is written and the
//! stack popped unless an unmasked invalid, denormal or zero-divide exception stopped the
//! instruction. Exception priority (SDM vol. 1, 4.9.2): an instruction ending in IE or ZE
//! reports no DE.
//!
//! The transcendental instructions (F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN, FSIN, FCOS,
//! FSINCOS) are in `fpu_transcendental.rs`, which shares the helpers here.
//!
//! Unmasked overflow/underflow: a register destination gets the exponent-wrapped result
//! (`Env::x87_wrap`, checked against the host x87), a store to memory is suppressed, and the
//! pending exception raises #MF at the next waiting x87 instruction (SDM vol. 1, 8.5.4-8.5.5).

use super::R;
use crate::bus::Bus;
use crate::cpu::exception::Exception;
use crate::cpu::state::flag;
use crate::cpu::uop::Uop;
use crate::cpu::x87::{sw, F80};
use crate::cpu::Cpu;
use crate::softfloat::{Env, Flags, Relation, F32, F64};

/// Memory operand formats, stored in bits 16-19 of `Uop::imm`.
pub(crate) mod fmt {
    /// No memory operand: the source is a register.
    pub const REG: u32 = 0;
    /// binary32.
    pub const F32: u32 = 1;
    /// binary64.
    pub const F64: u32 = 2;
    /// 16-bit integer.
    pub const I16: u32 = 3;
    /// 32-bit integer.
    pub const I32: u32 = 4;
    /// 64-bit integer.
    pub const I64: u32 = 5;
    /// 18-digit packed BCD.
    pub const BCD: u32 = 6;
}

/// Arithmetic operations, bits 0-3 of `Uop::imm` for [`farith`].
pub(crate) mod op {
    /// dst + src.
    pub const ADD: u32 = 0;
    /// dst × src.
    pub const MUL: u32 = 1;
    /// dst − src.
    pub const SUB: u32 = 2;
    /// src − dst.
    pub const SUBR: u32 = 3;
    /// dst ÷ src.
    pub const DIV: u32 = 4;
    /// src ÷ dst.
    pub const DIVR: u32 = 5;
}

/// `Uop::imm` layout shared by the handlers here.
pub(crate) mod bits {
    /// Pop once after the operation.
    pub const POP: u32 = 1 << 4;
    /// Pop twice (FCOMPP, FUCOMPP).
    pub const POP2: u32 = 1 << 5;
    /// Comparison: quiet (FUCOM*), raising IE only for signalling NaNs.
    pub const QUIET: u32 = 1 << 6;
    /// Comparison: result to EFLAGS (FCOMI*) instead of C0/C2/C3.
    pub const EFLAGS: u32 = 1 << 7;
    /// Comparison with +0 (FTST).
    pub const WITH_ZERO: u32 = 1 << 3;
    /// Destination register index shift (3 bits).
    pub const DST_SHIFT: u32 = 8;
    /// Source register index shift (3 bits).
    pub const SRC_SHIFT: u32 = 12;
    /// Memory format shift (4 bits).
    pub const FMT_SHIFT: u32 = 16;
    /// Store with truncation (FISTTP).
    pub const TRUNC: u32 = 1 << 20;
}

/// The flags an operation reports (an instruction ending in IE or ZE reports no DE, SDM vol. 1,
/// 4.9.2) and whether it completes: no unmasked IE, DE or ZE and, for stores to memory
/// (`store`), no unmasked OE or UE either (SDM vol. 1, 8.5).
fn reported(env: &Env, fcw: u16, store: bool) -> (u16, bool) {
    let mut f = env.flags.bits() as u16;
    if f & (sw::IE | sw::ZE) != 0 {
        f &= !sw::DE;
    }
    let stops = if store {
        sw::IE | sw::DE | sw::ZE | sw::OE | sw::UE
    } else {
        sw::IE | sw::DE | sw::ZE
    };
    (f, f & !fcw & stops == 0)
}

fn field(u: &Uop, shift: u32, mask: u32) -> u32 {
    (u.imm >> shift) & mask
}

/// Packed-BCD integer indefinite (SDM vol. 1, table 4-3 and FBSTP).
const BCD_INDEFINITE: [u8; 10] = [0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF];

impl Cpu {
    /// The rounding environment of the current control word.
    pub(super) fn fpu_env(&self) -> Env {
        Env::from_x87_control(self.s.fpu.fcw)
    }

    /// Reads the memory operand of `u` in format `f` as an extended value; conversion flags
    /// (an SNaN or a denormal binary32/64) land in `env`. `operand`: for an arithmetic or
    /// compare instruction, which keeps a signalling NaN signalling (see
    /// [`F80::from_f32_operand`]); else (FLD) the NaN is quietened.
    fn fpu_read_mem(
        &mut self,
        bus: &mut Bus,
        u: &Uop,
        f: u32,
        operand: bool,
        env: &mut Env,
    ) -> Result<F80, Exception> {
        let off = self.ea(&u.mem);
        let seg = u.mem.seg;
        Ok(match f {
            fmt::F32 => {
                let v = F32(self.read_mem::<4>(bus, seg, off)?);
                if operand {
                    F80::from_f32_operand(v, env)
                } else {
                    F80::from_f32(v, env)
                }
            }
            fmt::I16 => F80::from_i16(self.read_mem::<2>(bus, seg, off)? as i16),
            fmt::I32 => F80::from_i32(self.read_mem::<4>(bus, seg, off)? as i32),
            fmt::F64 | fmt::I64 => {
                let mut b = [0u8; 8];
                self.read_bytes(bus, seg, off, &mut b)?;
                let v = u64::from_le_bytes(b);
                if f == fmt::F64 && operand {
                    F80::from_f64_operand(F64(v), env)
                } else if f == fmt::F64 {
                    F80::from_f64(F64(v), env)
                } else {
                    F80::from_i64(v as i64)
                }
            }
            _ => {
                let mut b = [0u8; 10];
                self.read_bytes(bus, seg, off, &mut b)?;
                if f == fmt::BCD {
                    // the sign byte applies to zero too: −0 loads as −0
                    let v = F80::from_i64(bcd_to_i64(b).abs());
                    if b[9] & 0x80 != 0 {
                        v.negate()
                    } else {
                        v
                    }
                } else {
                    F80::from_bytes(b)
                }
            }
        })
    }

    /// Moves the flags of `env` into the status word and says whether the instruction may
    /// complete (see [`reported`]).
    pub(super) fn fpu_commit(&mut self, env: &Env, store: bool) -> bool {
        let (f, completes) = reported(env, self.s.fpu.fcw, store);
        let fpu = &mut self.s.fpu;
        fpu.fsw &= !sw::C1;
        if env.rounded_up {
            fpu.fsw |= sw::C1;
        }
        fpu.raise(f);
        completes
    }

    /// Operands ST(i) and ST(j); on an empty register the stack-underflow response: `Err(true)`
    /// when masked (the result is the indefinite), `Err(false)` when unmasked (stop).
    pub(super) fn fpu_pair(&mut self, i: usize, j: usize) -> Result<(F80, F80), bool> {
        if self.s.fpu.is_empty(i) || self.s.fpu.is_empty(j) {
            return Err(self.s.fpu.underflow());
        }
        Ok((self.s.fpu.st(i), self.s.fpu.st(j)))
    }

    fn fpu_pop_n(&mut self, n: u32) {
        for _ in 0..n {
            self.s.fpu.pop();
        }
    }
}

/// Decodes an 18-digit packed-BCD value (byte 9 bit 7 = sign). Invalid digits give an
/// undefined result on hardware; here they weigh their binary value.
fn bcd_to_i64(b: [u8; 10]) -> i64 {
    let mut v: i64 = 0;
    for &byte in b[..9].iter().rev() {
        v = v * 100 + (byte >> 4) as i64 * 10 + (byte & 0xF) as i64;
    }
    if b[9] & 0x80 != 0 {
        -v
    } else {
        v
    }
}

/// Encodes |v| < 10^18 as packed BCD with the sign in byte 9.
fn i64_to_bcd(v: i64, negative: bool) -> [u8; 10] {
    let mut out = [0u8; 10];
    let mut m = v.unsigned_abs();
    for byte in out[..9].iter_mut() {
        let lo = (m % 10) as u8;
        m /= 10;
        let hi = (m % 10) as u8;
        m /= 10;
        *byte = hi << 4 | lo;
    }
    if negative {
        out[9] = 0x80;
    }
    out
}

/// FADD/FSUB/FSUBR/FMUL/FDIV/FDIVR and their P and I forms.
pub(crate) fn farith(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    let dst = field(u, bits::DST_SHIFT, 7) as usize;
    let f = field(u, bits::FMT_SHIFT, 15);
    let mut env = cpu.fpu_env();
    let mut load = env;
    let (a, b) = if f == fmt::REG {
        match cpu.fpu_pair(dst, field(u, bits::SRC_SHIFT, 7) as usize) {
            Ok(p) => p,
            Err(masked) => return finish_underflow(cpu, dst, masked, u.imm & bits::POP != 0),
        }
    } else {
        let m = cpu.fpu_read_mem(bus, u, f, true, &mut load)?;
        match cpu.fpu_pair(0, 0) {
            Ok((a, _)) => (a, m),
            Err(masked) => return finish_underflow(cpu, 0, masked, false),
        }
    };
    let r = match u.imm & 15 {
        op::ADD => a.add(b, &mut env),
        op::MUL => a.mul(b, &mut env),
        op::SUB => a.sub(b, &mut env),
        op::SUBR => b.sub(a, &mut env),
        op::DIV => a.div(b, &mut env),
        _ => b.div(a, &mut env),
    };
    merge_load_flags(&mut env, &load, a);
    if cpu.fpu_commit(&env, false) {
        cpu.s.fpu.set_st(dst, r);
        cpu.fpu_pop_n((u.imm & bits::POP != 0) as u32);
    }
    Ok(())
}

/// Folds the flags of converting a memory operand (`load`) into the operation's (`env`): IE
/// (a signalling NaN) always; DE (a denormal binary32/64) only when the register operand
/// `reg` is not a NaN, as measured on hardware (tests/x87_host_diff.rs). An operation ending
/// in IE or ZE drops it later anyway ([`reported`]).
fn merge_load_flags(env: &mut Env, load: &Env, reg: F80) {
    env.flags |= load.flags & Flags::INVALID;
    if !reg.is_nan() {
        env.flags |= load.flags & Flags::DENORMAL;
    }
}

/// The stack-underflow ending of an instruction writing ST(`dst`): masked, the indefinite is
/// written (and the stack popped when asked); unmasked, nothing changes.
fn finish_underflow(cpu: &mut Cpu, dst: usize, masked: bool, pop: bool) -> R {
    if masked {
        cpu.s.fpu.set_st(dst, F80::INDEFINITE);
        cpu.fpu_pop_n(pop as u32);
    }
    Ok(())
}

/// FCOM/FCOMP/FCOMPP, FUCOM/FUCOMP/FUCOMPP, FICOM/FICOMP, FCOMI/FCOMIP/FUCOMI/FUCOMIP, FTST.
pub(crate) fn fcompare(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    let f = field(u, bits::FMT_SHIFT, 15);
    let mut env = cpu.fpu_env();
    let mut load = env;
    let pops = (u.imm & bits::POP != 0) as u32 + 2 * (u.imm & bits::POP2 != 0) as u32;
    let mem = if f == fmt::REG {
        None
    } else {
        Some(cpu.fpu_read_mem(bus, u, f, true, &mut load)?)
    };
    let j = field(u, bits::SRC_SHIFT, 7) as usize;
    let operands = match (mem, u.imm & bits::WITH_ZERO != 0) {
        (Some(m), _) => cpu.fpu_pair(0, 0).map(|(a, _)| (a, m)),
        (None, true) => cpu.fpu_pair(0, 0).map(|(a, _)| (a, F80::ZERO)),
        (None, false) => cpu.fpu_pair(0, j),
    };
    let rel = match operands {
        Ok((a, b)) => {
            let rel = if u.imm & bits::QUIET != 0 {
                a.compare_quiet(b, &mut env)
            } else {
                a.compare_signaling(b, &mut env)
            };
            merge_load_flags(&mut env, &load, a);
            rel
        }
        Err(false) => return Ok(()),
        Err(true) => Relation::Unordered,
    };
    // FCOMI and FUCOMI leave C1 alone (measured; the SDM says they clear it)
    let c1 = cpu.s.fpu.fsw & sw::C1;
    if !cpu.fpu_commit(&env, false) {
        return Ok(());
    }
    if u.imm & bits::EFLAGS != 0 && operands.is_ok() {
        cpu.s.fpu.fsw = (cpu.s.fpu.fsw & !sw::C1) | c1;
    }
    // (C3/ZF, C2/PF, C0/CF) per relation
    let (z, p, c) = match rel {
        Relation::Greater => (false, false, false),
        Relation::Less => (false, false, true),
        Relation::Equal => (true, false, false),
        Relation::Unordered => (true, true, true),
    };
    if u.imm & bits::EFLAGS != 0 {
        let v = (z as u32 * flag::ZF) | (p as u32 * flag::PF) | (c as u32 * flag::CF);
        let all = flag::ZF | flag::PF | flag::CF | flag::OF | flag::SF | flag::AF;
        cpu.set_arith_flags(all, v);
    } else {
        let fsw = &mut cpu.s.fpu.fsw;
        *fsw &= !(sw::C0 | sw::C2 | sw::C3);
        *fsw |= (z as u16 * sw::C3) | (p as u16 * sw::C2) | (c as u16 * sw::C0);
    }
    cpu.fpu_pop_n(pops);
    Ok(())
}

/// FLD m32fp/m64fp, FILD m16/m32/m64, FBLD.
pub(crate) fn fload(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    let mut env = cpu.fpu_env();
    let v = cpu.fpu_read_mem(bus, u, field(u, bits::FMT_SHIFT, 15), false, &mut env)?;
    if !cpu.s.fpu.is_empty(7) {
        // stack overflow: the value is not loaded, so it raises nothing (measured)
        cpu.s.fpu.push(v);
        return Ok(());
    }
    if cpu.fpu_commit(&env, false) {
        cpu.s.fpu.fsw &= !sw::C1;
        cpu.s.fpu.push(v);
    }
    Ok(())
}

/// FST/FSTP m32fp/m64fp, FIST/FISTP m16/m32, FISTP m64, FISTTP, FBSTP.
pub(crate) fn fstore(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    let mut env = cpu.fpu_env();
    let v = if cpu.s.fpu.is_empty(0) {
        if !cpu.s.fpu.underflow() {
            return Ok(());
        }
        F80::INDEFINITE
    } else {
        cpu.s.fpu.st(0)
    };
    let trunc = u.imm & bits::TRUNC != 0;
    let mut buf = [0u8; 10];
    let n = match field(u, bits::FMT_SHIFT, 15) {
        fmt::F32 => {
            buf[..4].copy_from_slice(&v.to_f32(&mut env).0.to_le_bytes());
            4
        }
        fmt::F64 => {
            buf[..8].copy_from_slice(&v.to_f64(&mut env).0.to_le_bytes());
            8
        }
        fmt::I16 => {
            let i = if trunc {
                v.to_i16_trunc(&mut env)
            } else {
                v.to_i16(&mut env)
            };
            buf[..2].copy_from_slice(&i.to_le_bytes());
            2
        }
        fmt::I32 => {
            let i = if trunc {
                v.to_i32_trunc(&mut env)
            } else {
                v.to_i32(&mut env)
            };
            buf[..4].copy_from_slice(&i.to_le_bytes());
            4
        }
        fmt::I64 => {
            let i = if trunc {
                v.to_i64_trunc(&mut env)
            } else {
                v.to_i64(&mut env)
            };
            buf[..8].copy_from_slice(&i.to_le_bytes());
            8
        }
        _ => {
            buf = bcd_of(v, &mut env);
            10
        }
    };
    let (_, completes) = reported(&env, cpu.s.fpu.fcw, true);
    if completes {
        let off = cpu.ea(&u.mem);
        cpu.write_bytes(bus, u.mem.seg, off, &buf[..n])?;
    }
    if cpu.fpu_commit(&env, true) {
        cpu.fpu_pop_n((u.imm & bits::POP != 0) as u32);
    }
    Ok(())
}

/// FBSTP's conversion: round to an integer by RC; NaN, infinity, unsupported or |v| ≥ 10^18
/// give IE and the BCD indefinite.
fn bcd_of(v: F80, env: &mut Env) -> [u8; 10] {
    const LIMIT: i64 = 1_000_000_000_000_000_000;
    let i = v.to_i64(env);
    if env.flags.contains(Flags::INVALID) {
        return BCD_INDEFINITE;
    }
    if i <= -LIMIT || i >= LIMIT {
        env.flags = (env.flags | Flags::INVALID) & !Flags::INEXACT;
        env.rounded_up = false;
        return BCD_INDEFINITE;
    }
    i64_to_bcd(i, v.sign())
}

/// Unary operations on ST(0) (`imm`): 0 FSQRT, 1 FRNDINT.
pub(crate) fn funary(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    let a = match cpu.fpu_pair(0, 0) {
        Ok((a, _)) => a,
        Err(masked) => return finish_underflow(cpu, 0, masked, false),
    };
    let mut env = cpu.fpu_env();
    let r = if u.imm == 0 {
        a.sqrt(&mut env)
    } else {
        a.round_to_int(&mut env)
    };
    if cpu.fpu_commit(&env, false) {
        cpu.s.fpu.set_st(0, r);
    }
    Ok(())
}

/// FSCALE: ST(0) × 2^trunc(ST(1)).
pub(crate) fn fscale(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    let (a, b) = match cpu.fpu_pair(0, 1) {
        Ok(p) => p,
        Err(masked) => return finish_underflow(cpu, 0, masked, false),
    };
    let mut env = cpu.fpu_env();
    let r = a.scale(b, &mut env);
    if cpu.fpu_commit(&env, false) {
        cpu.s.fpu.set_st(0, r);
    }
    Ok(())
}

/// FPREM (`imm` = 0) / FPREM1 (1): one partial-remainder step; C2 = incomplete, and a
/// complete reduction leaves the low quotient bits in C0 (bit 2), C3 (bit 1), C1 (bit 0).
pub(crate) fn fprem(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    let (a, b) = match cpu.fpu_pair(0, 1) {
        Ok(p) => p,
        Err(masked) => {
            cpu.s.fpu.fsw &= !sw::C2;
            return finish_underflow(cpu, 0, masked, false);
        }
    };
    let mut env = cpu.fpu_env();
    let r = if u.imm == 0 {
        a.fprem(b, &mut env)
    } else {
        a.fprem1(b, &mut env)
    };
    if cpu.fpu_commit(&env, false) {
        cpu.s.fpu.set_st(0, r.value);
        if r.value.is_nan() {
            // a NaN result: C2 = 0, C0/C1/C3 unchanged (measured)
            cpu.s.fpu.fsw &= !sw::C2;
            return Ok(());
        }
        let q = r.quotient_bits as u16;
        let fsw = &mut cpu.s.fpu.fsw;
        *fsw &= !(sw::C0 | sw::C1 | sw::C2 | sw::C3);
        *fsw |= (!r.complete as u16 * sw::C2)
            | ((q >> 2) & 1) * sw::C0
            | ((q >> 1) & 1) * sw::C3
            | (q & 1) * sw::C1;
    }
    Ok(())
}

/// FXTRACT: ST(0) becomes the exponent and the significand is pushed.
pub(crate) fn fxtract(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    let a = match cpu.fpu_pair(0, 0) {
        Ok((a, _)) => a,
        Err(masked) => {
            if masked {
                cpu.s.fpu.set_st(0, F80::INDEFINITE);
                cpu.s.fpu.push(F80::INDEFINITE);
                cpu.s.fpu.fsw &= !sw::C1; // even when the push overflows (measured)
            }
            return Ok(());
        }
    };
    if !cpu.s.fpu.is_empty(7) {
        // stack overflow (IE + SF, C1 = 1): masked, both results are the indefinite
        if !cpu.s.fpu.invalid_unmasked() {
            cpu.s.fpu.set_st(0, F80::INDEFINITE);
        }
        cpu.s.fpu.push(F80::INDEFINITE);
        return Ok(());
    }
    let mut env = cpu.fpu_env();
    let (exp, sig) = a.extract(&mut env);
    if cpu.fpu_commit(&env, false) {
        cpu.s.fpu.set_st(0, exp);
        cpu.s.fpu.push(sig);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcd_round_trip() {
        for v in [
            0i64,
            1,
            9,
            10,
            99,
            123_456_789_012_345_678,
            999_999_999_999_999_999,
        ] {
            let b = i64_to_bcd(v, false);
            assert_eq!(bcd_to_i64(b), v);
            assert_eq!(bcd_to_i64(i64_to_bcd(v, true)), -v);
        }
        // 1234 = bytes 34 12 00 ..
        assert_eq!(&i64_to_bcd(1234, false)[..3], &[0x34, 0x12, 0]);
        assert_eq!(i64_to_bcd(5, true)[9], 0x80);
    }

    #[test]
    fn bcd_store_range_and_indefinite() {
        let mut env = Env::from_x87_control(0x037F);
        let big = F80::from_i64(1_000_000_000_000_000_000);
        assert_eq!(bcd_of(big, &mut env), BCD_INDEFINITE);
        assert!(env.flags.contains(Flags::INVALID));
        let mut env = Env::from_x87_control(0x037F);
        assert_eq!(bcd_of(F80::from_i64(-42), &mut env)[..1], [0x42]);
        assert!(env.flags.is_empty());
    }
}
