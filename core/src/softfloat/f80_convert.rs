//! x87 conversions (SDM vol. 2: FILD, FIST/FISTP, FISTTP, FLD m32/m64, FST/FSTP m32/m64;
//! vol. 1 4.2.2 and table 4-3 for the integer indefinite, 4.8.3.5 for NaN conversions).
//!
//! Integers load exactly. Stores to integers round by [`Env::rounding`] (FIST) or truncate
//! (FISTTP); NaNs, infinities, unsupported encodings and out-of-range values store the
//! integer indefinite (the most negative value) with IE. binary32/64 operands load exactly
//! (an SNaN is quietened with IE, a denormal raises DE); stores round to the destination
//! format with its overflow and underflow rules, keeping the top bits of a NaN's payload.
//! Precision control does not apply to any of these, and neither FIST/FISTTP nor FST/FSTP
//! raise DE for a denormal operand (measured on hardware). Left out: BCD (FBLD/FBSTP).

use super::f80::{F80Class, F80};
use super::sse::raw;
use super::sse::sealed::Sealed;
use super::sse::Kind;
use super::unpacked;
use super::{Env, Flags, RoundingMode, F32, F64};

impl F80 {
    /// FILD m16.
    pub fn from_i16(v: i16) -> F80 {
        F80::from_i64(v as i64)
    }

    /// FILD m32.
    pub fn from_i32(v: i32) -> F80 {
        F80::from_i64(v as i64)
    }

    /// FILD m64 (exact: every 64-bit integer fits the 64-bit significand).
    pub fn from_i64(v: i64) -> F80 {
        F80::from_magnitude(v < 0, v.unsigned_abs())
    }

    /// FIST m16: rounded by [`Env::rounding`]; 0x8000 and IE when not representable.
    pub fn to_i16(self, env: &mut Env) -> i16 {
        let mode = env.rounding;
        self.to_int(16, mode, env) as i16
    }

    /// FIST m32: rounded by [`Env::rounding`]; 0x80000000 and IE when not representable.
    pub fn to_i32(self, env: &mut Env) -> i32 {
        let mode = env.rounding;
        self.to_int(32, mode, env) as i32
    }

    /// FIST m64: rounded by [`Env::rounding`]; 0x8000000000000000 and IE when not
    /// representable.
    pub fn to_i64(self, env: &mut Env) -> i64 {
        let mode = env.rounding;
        self.to_int(64, mode, env)
    }

    /// FISTTP m16: truncated.
    pub fn to_i16_trunc(self, env: &mut Env) -> i16 {
        self.to_int(16, RoundingMode::TowardZero, env) as i16
    }

    /// FISTTP m32: truncated.
    pub fn to_i32_trunc(self, env: &mut Env) -> i32 {
        self.to_int(32, RoundingMode::TowardZero, env) as i32
    }

    /// FISTTP m64: truncated.
    pub fn to_i64_trunc(self, env: &mut Env) -> i64 {
        self.to_int(64, RoundingMode::TowardZero, env)
    }

    fn to_int(self, bits: u32, mode: RoundingMode, env: &mut Env) -> i64 {
        let indefinite = i64::MIN >> (64 - bits);
        match self.class() {
            F80Class::Zero => return 0,
            F80Class::Normal | F80Class::Denormal => {}
            _ => {
                env.raise(Flags::INVALID);
                return indefinite;
            }
        }
        // FIST raises no DE for a denormal operand (checked against hardware)
        let n = self.num();
        match unpacked::to_integer(n, mode) {
            Some((mag, inexact, up)) if mag <= (1u64 << (bits - 1)) - (!n.sign) as u64 => {
                if inexact {
                    env.raise(Flags::INEXACT);
                    env.rounded_up |= up;
                }
                if n.sign {
                    (mag as i64).wrapping_neg()
                } else {
                    mag as i64
                }
            }
            _ => {
                env.raise(Flags::INVALID);
                indefinite
            }
        }
    }

    /// FLD m32: exact; an SNaN is quietened (IE), a denormal raises DE.
    pub fn from_f32(x: F32, env: &mut Env) -> F80 {
        F80::from_binary(x, true, env)
    }

    /// A binary32 memory operand of an arithmetic or compare instruction (FADD m32, FCOM
    /// m32, ...): exact like [`F80::from_f32`], but a signalling NaN stays signalling (no IE
    /// here) so the operation applies the x87 NaN rules to it, where an SNaN loses to a QNaN
    /// register operand (SDM vol. 1, table 4-7; measured by tests/x87_host_diff.rs).
    pub fn from_f32_operand(x: F32, env: &mut Env) -> F80 {
        F80::from_binary(x, false, env)
    }

    /// The binary64 form of [`F80::from_f32_operand`].
    pub fn from_f64_operand(x: F64, env: &mut Env) -> F80 {
        F80::from_binary(x, false, env)
    }

    /// FLD m64: exact; an SNaN is quietened (IE), a denormal raises DE.
    pub fn from_f64(x: F64, env: &mut Env) -> F80 {
        F80::from_binary(x, true, env)
    }

    /// FST m32: rounded by [`Env::rounding`] to binary32 with its overflow/underflow rules.
    pub fn to_f32(self, env: &mut Env) -> F32 {
        self.to_binary(env)
    }

    /// FST m64: rounded by [`Env::rounding`] to binary64 with its overflow/underflow rules.
    pub fn to_f64(self, env: &mut Env) -> F64 {
        self.to_binary(env)
    }

    fn from_binary<T: Sealed>(x: T, quieten: bool, env: &mut Env) -> F80 {
        let sign = raw::sign(x);
        match raw::kind(x) {
            Kind::Zero => F80::zero(sign),
            Kind::Infinity => F80::inf(sign),
            k @ (Kind::QuietNan | Kind::SignalingNan) => {
                let payload = raw::nan_payload(x) >> 1; // bit 62 = quiet bit
                let nan = F80::new((sign as u16) << 15 | 0x7FFF, 1 << 63 | payload);
                if !quieten {
                    return nan;
                }
                if k == Kind::SignalingNan {
                    env.raise(Flags::INVALID);
                }
                nan.quieted()
            }
            k => {
                if k == Kind::Denormal {
                    env.raise(Flags::DENORMAL);
                }
                let n = raw::num(x);
                F80::new((sign as u16) << 15 | (n.exp + 16383) as u16, n.sig)
            }
        }
    }

    fn to_binary<T: Sealed>(self, env: &mut Env) -> T {
        match self.class() {
            F80Class::Zero => raw::zero(self.sign()),
            F80Class::Infinity => raw::inf(self.sign()),
            F80Class::Unsupported => {
                env.raise(Flags::INVALID);
                raw::default_nan()
            }
            F80Class::QuietNan | F80Class::SignalingNan => {
                if self.is_signaling_nan() {
                    env.raise(Flags::INVALID);
                }
                raw::nan_from_payload(self.sign(), self.signif << 1)
            }
            _ => {
                // FST m32/m64 raises no DE for a denormal operand (checked against hardware)
                let fmt = raw::format::<T>();
                raw::pack(super::round::round_pack(
                    env,
                    fmt,
                    T::SIG_BITS,
                    self.num().wide(),
                    false,
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<R>(mode: RoundingMode, op: impl FnOnce(&mut Env) -> R) -> (R, Flags) {
        let mut env = Env::new(mode);
        let r = op(&mut env);
        (r, env.flags)
    }

    #[test]
    fn integer_loads_are_exact() {
        assert_eq!(F80::from_i16(-1), F80::new(0xBFFF, 1 << 63));
        assert_eq!(F80::from_i32(10), F80::new(0x4002, 0xA000_0000_0000_0000));
        assert_eq!(F80::from_i64(i64::MIN), F80::new(0xC03E, 1 << 63));
        assert_eq!(F80::from_i64(i64::MAX), F80::new(0x403D, u64::MAX << 1));
        assert_eq!(F80::from_i64(0), F80::ZERO);
    }

    #[test]
    fn integer_stores() {
        use RoundingMode::*;
        let two_and_half = F80::new(0x4000, 0xA000_0000_0000_0000);
        assert_eq!(
            run(NearestEven, |e| two_and_half.to_i32(e)),
            (2, Flags::INEXACT)
        );
        assert_eq!(run(Up, |e| two_and_half.to_i32(e)), (3, Flags::INEXACT));
        assert_eq!(
            run(Down, |e| two_and_half.negate().to_i16(e)),
            (-3, Flags::INEXACT)
        );
        assert_eq!(
            run(Up, |e| two_and_half.negate().to_i64_trunc(e)),
            (-2, Flags::INEXACT)
        );
        let big = F80::from_i32(40_000);
        assert_eq!(
            run(NearestEven, |e| big.to_i16(e)),
            (i16::MIN, Flags::INVALID)
        );
        assert_eq!(
            run(NearestEven, |e| F80::from_i32(-32768).to_i16(e)),
            (-32768, Flags::NONE)
        );
        assert_eq!(
            run(NearestEven, |e| F80::INDEFINITE.to_i64(e)),
            (i64::MIN, Flags::INVALID)
        );
        assert_eq!(
            run(NearestEven, |e| F80::INFINITY.to_i32(e)),
            (i32::MIN, Flags::INVALID)
        );
        // −2^31 − 0.5 rounds to even −2^31: in range
        let x = F80::new(0xC01E, 0x8000_0000_8000_0000);
        assert_eq!(
            run(NearestEven, |e| x.to_i32(e)),
            (i32::MIN, Flags::INEXACT)
        );
        assert_eq!(run(Down, |e| x.to_i32(e)), (i32::MIN, Flags::INVALID));
    }

    #[test]
    fn binary_loads_and_stores() {
        let mut env = Env::default();
        assert_eq!(F80::from_f32(F32(0x3F80_0000), &mut env), F80::ONE);
        assert_eq!(
            F80::from_f64(F64(0xC000_0000_0000_0000), &mut env),
            F80::new(0xC000, 1 << 63)
        );
        assert_eq!(env.flags, Flags::NONE);
        // binary32 SNaN 0x7F800001 → QNaN with the payload moved up
        assert_eq!(
            run(RoundingMode::NearestEven, |e| F80::from_f32(
                F32(0x7F80_0001),
                e
            )),
            (F80::new(0x7FFF, 0xC000_0100_0000_0000), Flags::INVALID)
        );
        // smallest binary64 denormal: exact, DE
        assert_eq!(
            run(RoundingMode::NearestEven, |e| F80::from_f64(F64(1), e)),
            (F80::new(16383 - 1074, 1 << 63), Flags::DENORMAL)
        );
        // 1/3 to binary32 and back
        let third = F80::new(0x3FFD, 0xAAAA_AAAA_AAAA_AAAB);
        assert_eq!(
            run(RoundingMode::NearestEven, |e| third.to_f32(e)),
            (F32(0x3EAA_AAAB), Flags::INEXACT)
        );
        assert_eq!(
            run(RoundingMode::Down, |e| third.to_f64(e)),
            (F64(0x3FD5_5555_5555_5555), Flags::INEXACT)
        );
        // overflow and underflow on store
        let huge = F80::new(0x4400, 1 << 63);
        assert_eq!(
            run(RoundingMode::NearestEven, |e| huge.to_f32(e)),
            (F32(0x7F80_0000), Flags::OVERFLOW | Flags::INEXACT)
        );
        assert_eq!(
            run(RoundingMode::Up, |e| huge.negate().to_f64(e)),
            (F64(0xFFEF_FFFF_FFFF_FFFF), Flags::OVERFLOW | Flags::INEXACT)
        );
        let tiny = F80::new(0x3F00, 1 << 63);
        assert_eq!(
            run(RoundingMode::Up, |e| tiny.to_f32(e)),
            (F32(1), Flags::UNDERFLOW | Flags::INEXACT)
        );
        // NaN payload truncated, unsupported encodings give the default NaN
        assert_eq!(
            run(RoundingMode::NearestEven, |e| F80::new(
                0xFFFF,
                0x8000_0300_0000_0001
            )
            .to_f32(e)),
            (F32(0xFFC0_0003), Flags::INVALID)
        );
        assert_eq!(
            run(RoundingMode::NearestEven, |e| F80::new(0x3FFF, 1).to_f64(e)),
            (F64(0xFFF8_0000_0000_0000), Flags::INVALID)
        );
    }
}
