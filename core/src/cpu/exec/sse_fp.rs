//! SSE/SSE2 floating-point instructions through the software-float library (SDM vol. 2 pages
//! ADDPS..SQRTSD, MINPS..MAXSD, CMPPS/CMPSS/CMPPD/CMPSD, COMISS/UCOMISS/COMISD/UCOMISD, the
//! CVT* conversions, RCPPS/RCPSS/RSQRTPS/RSQRTSS; vol. 1, 11.5 "SSE, SSE2 and SSE3 exceptions").
//!
//! Every lane is computed into one [`Env`] built from MXCSR (rounding, DAZ, FTZ). Afterwards
//! the raised flags are ORed into MXCSR; if any of them is unmasked the destination is left
//! unchanged and the instruction raises #XM (CR4.OSXMMEXCPT = 1) or #UD (SDM vol. 1, 11.5.1).
//! Scalar forms change lane 0 and keep the rest of the destination.
//!
//! RCP*/RSQRT* are approximations whose exact bits are model-specific; vx86 returns the
//! correctly rounded value truncated to 12 fraction bits (relative error below 2^-12, within
//! the architectural 1.5 * 2^-12), with denormal inputs read as zero and tiny results
//! flushed to zero, and raises no flags, as the SDM specifies for these instructions.

use super::R;
use crate::bus::Bus;
use crate::cpu::exception::Exception;
use crate::cpu::state::{cr4, flag};
use crate::cpu::uop::{Opnd, Uop};
use crate::cpu::Cpu;
use crate::softfloat::sse::sealed::Sealed;
use crate::softfloat::{Env, Relation, RoundingMode, SseFloat, F32, F64};

/// Binary/unary operations for [`arith`].
pub(crate) mod op {
    /// a + b.
    pub const ADD: u8 = 0;
    /// a − b.
    pub const SUB: u8 = 1;
    /// a × b.
    pub const MUL: u8 = 2;
    /// a ÷ b.
    pub const DIV: u8 = 3;
    /// MIN (the second operand on NaN or equal zeros).
    pub const MIN: u8 = 4;
    /// MAX.
    pub const MAX: u8 = 5;
    /// √b.
    pub const SQRT: u8 = 6;
}

/// Lane width in bytes of a format.
fn width<T: Sealed>() -> usize {
    ((T::SIG_BITS + T::EXP_BITS) / 8) as usize
}

fn get<T: Sealed>(v: u128, i: usize) -> T {
    let w = width::<T>();
    T::from_u64((v >> (8 * w * i)) as u64 & (u64::MAX >> (64 - 8 * w)))
}

fn put<T: Sealed>(v: u128, i: usize, x: T) -> u128 {
    let w = width::<T>();
    let m = super::simd::mask(w) << (8 * w * i);
    (v & !m) | ((x.to_u64() as u128) << (8 * w * i)) & m
}

impl Cpu {
    fn sse_env(&self) -> Env {
        Env::from_mxcsr(self.s.mxcsr)
    }

    /// ORs the flags of `env` into MXCSR; an unmasked one stops the instruction with #XM, or
    /// #UD when CR4.OSXMMEXCPT is clear.
    fn sse_commit(&mut self, env: &Env) -> Result<(), Exception> {
        let f = env.flags.bits();
        self.s.mxcsr |= f;
        if f & !(self.s.mxcsr >> 7) & 0x3F != 0 {
            return Err(if self.s.cr4 & cr4::OSXMMEXCPT != 0 {
                Exception::SimdFloatingPoint
            } else {
                Exception::InvalidOpcode
            });
        }
        Ok(())
    }

    fn xmm_dst(u: &Uop) -> u8 {
        match u.dst {
            Opnd::Reg(r) => r,
            _ => 0,
        }
    }
}

/// ADD/SUB/MUL/DIV/MIN/MAX/SQRT, PS/PD (`PACKED`) and SS/SD.
pub(crate) fn arith<T: SseFloat, const PACKED: bool, const OP: u8>(
    cpu: &mut Cpu,
    bus: &mut Bus,
    u: &Uop,
) -> R {
    cpu.simd_enter::<16>()?;
    let w = width::<T>();
    let n = if PACKED { 16 } else { w };
    let b = cpu.vload::<16>(bus, u, u.src, n)?;
    let a = cpu.vreg::<16>(Cpu::xmm_dst(u));
    let mut env = cpu.sse_env();
    let mut r = a;
    for i in 0..n / w {
        let (x, y) = (get::<T>(a, i), get::<T>(b, i));
        let z = match OP {
            op::ADD => x.add(y, &mut env),
            op::SUB => x.sub(y, &mut env),
            op::MUL => x.mul(y, &mut env),
            op::DIV => x.div(y, &mut env),
            op::MIN => x.min(y, &mut env),
            op::MAX => x.max(y, &mut env),
            _ => y.sqrt(&mut env),
        };
        r = put(r, i, z);
    }
    cpu.sse_commit(&env)?;
    cpu.set_vreg::<16>(Cpu::xmm_dst(u), r);
    Ok(())
}

/// CMPPS/CMPSS/CMPPD/CMPSD with the predicate in `imm` bits 0-2: EQ, LT, LE, UNORD, NEQ, NLT,
/// NLE, ORD. LT/LE/NLT/NLE signal on any NaN; the others only on signalling NaNs.
pub(crate) fn compare<T: SseFloat, const PACKED: bool>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.simd_enter::<16>()?;
    let w = width::<T>();
    let n = if PACKED { 16 } else { w };
    let b = cpu.vload::<16>(bus, u, u.src, n)?;
    let a = cpu.vreg::<16>(Cpu::xmm_dst(u));
    let pred = u.imm & 7;
    let signaling = matches!(pred, 1 | 2 | 5 | 6);
    let mut env = cpu.sse_env();
    let mut r = a;
    for i in 0..n / w {
        let (x, y) = (get::<T>(a, i), get::<T>(b, i));
        let rel = if signaling {
            x.compare_signaling(y, &mut env)
        } else {
            x.compare_quiet(y, &mut env)
        };
        use Relation::*;
        let t = match pred {
            0 => rel == Equal,
            1 => rel == Less,
            2 => matches!(rel, Less | Equal),
            3 => rel == Unordered,
            4 => rel != Equal,
            5 => rel != Less,
            6 => !matches!(rel, Less | Equal),
            _ => rel != Unordered,
        };
        r = put(r, i, T::from_u64(if t { u64::MAX } else { 0 }));
    }
    cpu.sse_commit(&env)?;
    cpu.set_vreg::<16>(Cpu::xmm_dst(u), r);
    Ok(())
}

/// COMISS/COMISD (`SIGNALING`) and UCOMISS/UCOMISD: ZF, PF, CF from the comparison of the low
/// lanes (unordered 111, less 001, equal 100, greater 000); OF, SF, AF cleared.
pub(crate) fn comis<T: SseFloat, const SIGNALING: bool>(
    cpu: &mut Cpu,
    bus: &mut Bus,
    u: &Uop,
) -> R {
    cpu.simd_enter::<16>()?;
    let w = width::<T>();
    let b = cpu.vload::<16>(bus, u, u.src, w)?;
    let a = cpu.vreg::<16>(Cpu::xmm_dst(u));
    let mut env = cpu.sse_env();
    let (x, y) = (get::<T>(a, 0), get::<T>(b, 0));
    let rel = if SIGNALING {
        x.compare_signaling(y, &mut env)
    } else {
        x.compare_quiet(y, &mut env)
    };
    cpu.sse_commit(&env)?;
    let v = match rel {
        Relation::Unordered => flag::ZF | flag::PF | flag::CF,
        Relation::Less => flag::CF,
        Relation::Equal => flag::ZF,
        Relation::Greater => 0,
    };
    let all = flag::ZF | flag::PF | flag::CF | flag::OF | flag::SF | flag::AF;
    cpu.set_arith_flags(all, v);
    Ok(())
}

/// Lane types of the packed conversions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ty {
    I32,
    F32,
    F64,
}

impl Ty {
    fn bytes(self) -> usize {
        if self == Ty::F64 {
            8
        } else {
            4
        }
    }
}

/// One conversion instruction: lane types, lane count, truncation, whether source or
/// destination is an MMX register, and whether the destination's bytes above the result
/// are kept (else zeroed).
#[derive(Clone, Copy)]
struct Conversion {
    from: Ty,
    to: Ty,
    lanes: usize,
    trunc: bool,
    src_mmx: bool,
    dst_mmx: bool,
    keep_upper: bool,
}

const fn cv(from: Ty, to: Ty, lanes: usize, trunc: bool, mmx: u8, keep: bool) -> Conversion {
    Conversion {
        from,
        to,
        lanes,
        trunc,
        src_mmx: mmx == 1,
        dst_mmx: mmx == 2,
        keep_upper: keep,
    }
}

/// The vector conversions, indexed by the `KIND` of [`convert`] (see `cvt` for names).
const CONVERSIONS: [Conversion; 16] = {
    use Ty::*;
    [
        cv(F32, F64, 1, false, 0, true),  // 0 CVTSS2SD
        cv(F64, F32, 1, false, 0, true),  // 1 CVTSD2SS
        cv(F32, F64, 2, false, 0, false), // 2 CVTPS2PD
        cv(F64, F32, 2, false, 0, false), // 3 CVTPD2PS
        cv(I32, F32, 4, false, 0, false), // 4 CVTDQ2PS
        cv(F32, I32, 4, false, 0, false), // 5 CVTPS2DQ
        cv(F32, I32, 4, true, 0, false),  // 6 CVTTPS2DQ
        cv(I32, F64, 2, false, 0, false), // 7 CVTDQ2PD
        cv(F64, I32, 2, false, 0, false), // 8 CVTPD2DQ
        cv(F64, I32, 2, true, 0, false),  // 9 CVTTPD2DQ
        cv(I32, F32, 2, false, 1, true),  // 10 CVTPI2PS
        cv(F32, I32, 2, false, 2, false), // 11 CVTPS2PI
        cv(F32, I32, 2, true, 2, false),  // 12 CVTTPS2PI
        cv(I32, F64, 2, false, 1, false), // 13 CVTPI2PD
        cv(F64, I32, 2, false, 2, false), // 14 CVTPD2PI
        cv(F64, I32, 2, true, 2, false),  // 15 CVTTPD2PI
    ]
};

/// `KIND` numbers of [`convert`].
#[allow(missing_docs)]
pub(crate) mod cvt {
    pub const SS2SD: usize = 0;
    pub const SD2SS: usize = 1;
    pub const PS2PD: usize = 2;
    pub const PD2PS: usize = 3;
    pub const DQ2PS: usize = 4;
    pub const PS2DQ: usize = 5;
    pub const TTPS2DQ: usize = 6;
    pub const DQ2PD: usize = 7;
    pub const PD2DQ: usize = 8;
    pub const TTPD2DQ: usize = 9;
    pub const PI2PS: usize = 10;
    pub const PS2PI: usize = 11;
    pub const TTPS2PI: usize = 12;
    pub const PI2PD: usize = 13;
    pub const PD2PI: usize = 14;
    pub const TTPD2PI: usize = 15;
}

fn convert_lane(x: u64, c: &Conversion, env: &mut Env) -> u64 {
    let (f32v, f64v) = (F32(x as u32), F64(x));
    match (c.from, c.to) {
        (Ty::I32, Ty::F32) => F32::from_i32(x as i32, env).0 as u64,
        (Ty::I32, _) => F64::from_i32(x as i32, env).0,
        (Ty::F32, Ty::F64) => f32v.to_f64(env).0,
        (Ty::F64, Ty::F32) => f64v.to_f32(env).0 as u64,
        (Ty::F32, _) if c.trunc => f32v.to_i32_trunc(env) as u32 as u64,
        (Ty::F32, _) => f32v.to_i32(env) as u32 as u64,
        (_, _) if c.trunc => f64v.to_i32_trunc(env) as u32 as u64,
        (_, _) => f64v.to_i32(env) as u32 as u64,
    }
}

/// The CVT instructions between vector registers (see [`cvt`]).
pub(crate) fn convert<const KIND: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let c = CONVERSIONS[KIND];
    cpu.simd_enter::<16>()?;
    let src_reg_mmx = c.src_mmx && matches!(u.src, Opnd::Reg(_));
    if src_reg_mmx || c.dst_mmx {
        cpu.simd_enter::<8>()?; // x87 → MMX transition
    }
    let n_in = c.lanes * c.from.bytes();
    let src = if src_reg_mmx {
        cpu.vload::<8>(bus, u, u.src, n_in)?
    } else if u.src == Opnd::Mem {
        // memory operands are as wide as the lanes read, except the 128-bit PD forms
        let n = if c.from == Ty::F64 && c.lanes == 2 {
            16
        } else {
            n_in
        };
        cpu.vload::<16>(bus, u, u.src, n)?
    } else {
        cpu.vload::<16>(bus, u, u.src, 16)?
    };
    let dst = Cpu::xmm_dst(u);
    let old = if c.dst_mmx {
        cpu.vreg::<8>(dst)
    } else {
        cpu.vreg::<16>(dst)
    };
    let mut env = cpu.sse_env();
    let (fw, tw) = (c.from.bytes(), c.to.bytes());
    let mut r = 0u128;
    for i in 0..c.lanes {
        let x = (src >> (8 * fw * i)) as u64 & (u64::MAX >> (64 - 8 * fw));
        let y = convert_lane(x, &c, &mut env) & (u64::MAX >> (64 - 8 * tw));
        r |= (y as u128) << (8 * tw * i);
    }
    if c.keep_upper {
        r |= old & !super::simd::mask(c.lanes * tw);
    }
    cpu.sse_commit(&env)?;
    if c.dst_mmx {
        cpu.set_vreg::<8>(dst, r);
    } else {
        cpu.set_vreg::<16>(dst, r);
    }
    Ok(())
}

/// CVTSS2SI/CVTSD2SI (rounded by MXCSR.RC) and CVTTSS2SI/CVTTSD2SI (`TRUNC`): r32 from the low
/// lane of an XMM register or memory; the integer indefinite 0x80000000 when out of range.
pub(crate) fn to_int<T: SseFloat, const TRUNC: bool>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.simd_enter::<16>()?;
    let v = cpu.vload::<16>(bus, u, u.src, width::<T>())?;
    let mut env = cpu.sse_env();
    let x = get::<T>(v, 0);
    let i = if TRUNC {
        x.to_i32_trunc(&mut env)
    } else {
        x.to_i32(&mut env)
    };
    cpu.sse_commit(&env)?;
    cpu.store::<4>(bus, u, u.dst, i as u32)
}

/// CVTSI2SS/CVTSI2SD: lane 0 from a 32-bit integer register or memory operand.
pub(crate) fn from_int<T: SseFloat>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.simd_enter::<16>()?;
    let i = cpu.load::<4>(bus, u, u.src)? as i32;
    let mut env = cpu.sse_env();
    let x = T::from_i32(i, &mut env);
    cpu.sse_commit(&env)?;
    let d = Cpu::xmm_dst(u);
    let r = put(cpu.vreg::<16>(d), 0, x);
    cpu.set_vreg::<16>(d, r);
    Ok(())
}

/// The RCP/RSQRT approximation of one binary32 lane (see the module header).
fn approximate(x: F32, rsqrt: bool) -> F32 {
    const QNAN_INDEFINITE: u32 = 0xFFC0_0000;
    let bits = x.0;
    let sign = bits & 0x8000_0000;
    let exp = (bits >> 23) & 0xFF;
    let frac = bits & 0x7F_FFFF;
    if exp == 0xFF && frac != 0 {
        return F32(bits | 0x40_0000); // NaN: quietened
    }
    if exp == 0 {
        // zero or denormal (read as zero): ±∞
        return F32(sign | 0x7F80_0000);
    }
    if exp == 0xFF {
        // ±∞ → ±0 (RSQRT of −∞ is invalid)
        return F32(if rsqrt && sign != 0 {
            QNAN_INDEFINITE
        } else {
            sign
        });
    }
    if rsqrt && sign != 0 {
        return F32(QNAN_INDEFINITE);
    }
    let mut env = Env::new(RoundingMode::NearestEven);
    let one = F32(0x3F80_0000);
    let d = if rsqrt { x.sqrt(&mut env) } else { x };
    let r = one.div(d, &mut env).0;
    if (r >> 23) & 0xFF == 0 {
        return F32(r & 0x8000_0000); // tiny: flushed to zero
    }
    F32(r & !0x7FF)
}

/// RCPPS/RCPSS (`RSQRT` = false) and RSQRTPS/RSQRTSS.
pub(crate) fn approx<const PACKED: bool, const RSQRT: bool>(
    cpu: &mut Cpu,
    bus: &mut Bus,
    u: &Uop,
) -> R {
    cpu.simd_enter::<16>()?;
    let n = if PACKED { 16 } else { 4 };
    let b = cpu.vload::<16>(bus, u, u.src, n)?;
    let d = Cpu::xmm_dst(u);
    let mut r = cpu.vreg::<16>(d);
    for i in 0..n / 4 {
        r = put(r, i, approximate(get::<F32>(b, i), RSQRT));
    }
    cpu.set_vreg::<16>(d, r);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_round_trip() {
        let v = 0x0011_2233_4455_6677_8899_AABB_CCDD_EEFFu128;
        assert_eq!(get::<F32>(v, 1).0, 0x8899_AABB);
        assert_eq!(get::<F64>(v, 1).0, 0x0011_2233_4455_6677);
        let w = put(v, 2, F32(0xDEAD_BEEF));
        assert_eq!(w, 0x0011_2233_DEAD_BEEF_8899_AABB_CCDD_EEFF);
    }

    #[test]
    fn reciprocal_is_within_the_architectural_error() {
        // 1/3 and 1/sqrt(2), compared with correctly rounded references in binary32 bits
        let third = approximate(F32(0x4040_0000), false).0; // 1/3.0
        let exact = 0x3EAA_AAABu32; // 0.33333334
        assert!(third.abs_diff(exact) < 1 << 11, "{third:#x}");
        let r = approximate(F32(0x4000_0000), true).0; // 1/sqrt(2)
        assert!(r.abs_diff(0x3F35_04F3) < 1 << 11, "{r:#x}");
        assert_eq!(approximate(F32(0), false).0, 0x7F80_0000);
        assert_eq!(approximate(F32(0x8000_0001), false).0, 0xFF80_0000);
        assert_eq!(approximate(F32(0xBF80_0000), true).0, 0xFFC0_0000);
        assert_eq!(approximate(F32(0x7F80_0000), false).0, 0);
    }
}
