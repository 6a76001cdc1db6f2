//! The x87 double-extended format and its arithmetic (SDM vol. 1: 4.2.2 and table 4-3, 8.2.2
//! and table 8-3 for the encodings, 4.8.3.5 and table 4-7 for NaN operands, 8.1.5.2 for
//! precision control, 8.5 for exception conditions and masked responses; vol. 2: FADD, FSUB,
//! FMUL, FDIV, FSQRT).
//!
//! An [`F80`] is stored as in memory and in the registers: a 64-bit significand with an
//! explicit integer bit and a sign+15-bit-exponent word. Operations behave as a 387 or later
//! with all exceptions masked: unsupported encodings (pseudo-NaN, pseudo-infinity, unnormal)
//! are invalid operands giving the real indefinite, pseudo-denormals are accepted as
//! denormals, denormal operands raise DE unless the operation ends in IE or ZE (8.7: those
//! take precedence; measured), a NaN result takes the QNaN operand or the NaN with the larger
//! significand (the positive one on a tie; measured), quietened. Results are rounded by
//! [`Env::rounding`], and those of FADD/FSUB/FMUL/FDIV/FSQRT also to [`Env::precision`]
//! (a precision-reduced denormal result is rounded on the reduced format's denormal grid;
//! measured). Finite results are always re-encoded, so a pseudo-denormal operand that passes
//! through (x + 0, x × 2^0, x rem ∞) comes back as the equal normal, as on hardware.
//!
//! Left out: the x87's exponent-wrapped results for unmasked overflow/underflow.
//!
//! The remaining x87 operations are in `f80_ops.rs` (remainder, round to integer, compare,
//! FSCALE, FXTRACT) and `f80_convert.rs` (integers, binary32/64).

use super::round::{round_pack, Packed, Wide, EXTENDED};
use super::unpacked::{self, Num};
use super::{Env, Flags, RoundingMode};

/// An x87 double-extended value, bit for bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, bincode::Encode, bincode::Decode)]
pub struct F80 {
    /// Bit 15 sign, bits 0-14 biased exponent (bias 16383).
    pub sign_exp: u16,
    /// Significand; bit 63 is the explicit integer bit.
    pub signif: u64,
}

/// The classes of double-extended encodings (SDM vol. 1, table 8-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum F80Class {
    /// ±0.
    Zero,
    /// Integer bit set, exponent 1..=0x7FFE.
    Normal,
    /// Exponent 0 with a nonzero significand: a denormal, or a pseudo-denormal (integer
    /// bit set), which the 387 and later accept as operands.
    Denormal,
    /// ±∞ (exponent 0x7FFF, significand 0x8000_0000_0000_0000).
    Infinity,
    /// Quiet NaN (exponent 0x7FFF, bits 63 and 62 set).
    QuietNan,
    /// Signalling NaN (exponent 0x7FFF, bit 63 set, bit 62 clear, nonzero fraction).
    SignalingNan,
    /// Pseudo-NaN, pseudo-infinity or unnormal (integer bit clear with a nonzero
    /// exponent): invalid operands since the 387.
    Unsupported,
}

impl F80 {
    /// +0.
    pub const ZERO: F80 = F80::new(0, 0);
    /// +1.
    pub const ONE: F80 = F80::new(0x3FFF, 1 << 63);
    /// +∞.
    pub const INFINITY: F80 = F80::new(0x7FFF, 1 << 63);
    /// The real indefinite QNaN 0xFFFF_C000000000000000, the default NaN of masked invalid
    /// operations.
    pub const INDEFINITE: F80 = F80::new(0xFFFF, 0xC000_0000_0000_0000);

    /// From the sign+exponent word and the significand.
    pub const fn new(sign_exp: u16, signif: u64) -> F80 {
        F80 { sign_exp, signif }
    }

    /// From the 10-byte memory format (significand first, little-endian).
    pub fn from_bytes(b: [u8; 10]) -> F80 {
        let mut s = [0u8; 8];
        s.copy_from_slice(&b[..8]);
        F80::new(u16::from_le_bytes([b[8], b[9]]), u64::from_le_bytes(s))
    }

    /// The 10-byte memory format.
    pub fn to_bytes(self) -> [u8; 10] {
        let mut b = [0u8; 10];
        b[..8].copy_from_slice(&self.signif.to_le_bytes());
        b[8..].copy_from_slice(&self.sign_exp.to_le_bytes());
        b
    }

    /// The sign bit.
    pub fn sign(self) -> bool {
        self.sign_exp >> 15 != 0
    }

    /// The biased exponent field.
    pub fn exp_field(self) -> u16 {
        self.sign_exp & 0x7FFF
    }

    /// The same value with the sign flipped (FCHS; no exception, NaNs included).
    pub fn negate(self) -> F80 {
        F80::new(self.sign_exp ^ 0x8000, self.signif)
    }

    /// The same value with the sign cleared (FABS).
    pub fn abs(self) -> F80 {
        F80::new(self.sign_exp & 0x7FFF, self.signif)
    }

    /// The encoding class.
    pub fn class(self) -> F80Class {
        let int_bit = self.signif >> 63 != 0;
        match self.exp_field() {
            0 if self.signif == 0 => F80Class::Zero,
            0 => F80Class::Denormal,
            0x7FFF if !int_bit => F80Class::Unsupported,
            0x7FFF if self.signif << 1 == 0 => F80Class::Infinity,
            0x7FFF if self.signif >> 62 & 1 != 0 => F80Class::QuietNan,
            0x7FFF => F80Class::SignalingNan,
            _ if !int_bit => F80Class::Unsupported,
            _ => F80Class::Normal,
        }
    }

    /// Whether this is a quiet or signalling NaN.
    pub fn is_nan(self) -> bool {
        matches!(self.class(), F80Class::QuietNan | F80Class::SignalingNan)
    }

    /// Whether this is a signalling NaN.
    pub fn is_signaling_nan(self) -> bool {
        self.class() == F80Class::SignalingNan
    }

    /// The value of a finite nonzero operand, normalized (pseudo-denormals included).
    pub(crate) fn num(self) -> Num {
        Num::from_fields(EXTENDED, self.sign(), self.exp_field() as u32, self.signif)
    }

    pub(crate) fn from_packed(p: Packed) -> F80 {
        F80::new((p.sign as u16) << 15 | p.exp as u16, p.sig)
    }

    /// Zero of a sign.
    pub(crate) fn zero(sign: bool) -> F80 {
        F80::new((sign as u16) << 15, 0)
    }

    /// Infinity of a sign.
    pub(crate) fn inf(sign: bool) -> F80 {
        F80::new((sign as u16) << 15 | 0x7FFF, 1 << 63)
    }

    /// The NaN with its quiet bit set.
    pub(crate) fn quieted(self) -> F80 {
        F80::new(self.sign_exp, self.signif | 1 << 62)
    }

    /// The operand checks every arithmetic instruction starts with: an unsupported operand
    /// gives the indefinite (IE), a NaN operand the propagated NaN (IE for a signalling
    /// one). Otherwise `Ok(denormal)` tells whether an operand is a denormal: the operation
    /// raises DE unless it ends in an invalid-operation or divide-by-zero exception, which
    /// take precedence (SDM vol. 1, 8.7 "exception priority"; a real x87 reports only IE or
    /// ZE then).
    pub(crate) fn check_operands(ops: &[F80], env: &mut Env) -> Result<bool, F80> {
        if ops.iter().any(|x| x.class() == F80Class::Unsupported) {
            env.raise(Flags::INVALID);
            return Err(F80::INDEFINITE);
        }
        if ops.iter().any(|x| x.is_signaling_nan()) {
            env.raise(Flags::INVALID);
        }
        let mut nan: Option<F80> = None;
        for &x in ops.iter().filter(|x| x.is_nan()) {
            nan = Some(match nan {
                None => x,
                Some(y) => pick_nan(y, x),
            });
        }
        if let Some(n) = nan {
            return Err(n.quieted());
        }
        Ok(ops.iter().any(|x| x.class() == F80Class::Denormal))
    }

    /// Round an intermediate to the double-extended format with `prec` significand bits.
    pub(crate) fn round(env: &mut Env, w: Wide, prec: u32) -> F80 {
        F80::from_packed(round_pack(env, EXTENDED, prec, w, false))
    }

    /// `self + b` (FADD).
    pub fn add(self, b: F80, env: &mut Env) -> F80 {
        match F80::check_operands(&[self, b], env) {
            Err(r) => r,
            Ok(den) => add_signed(self, b, b.sign(), den, env),
        }
    }

    /// `self − b` (FSUB; FSUBR is `b.sub(self)`).
    pub fn sub(self, b: F80, env: &mut Env) -> F80 {
        match F80::check_operands(&[self, b], env) {
            Err(r) => r,
            Ok(den) => add_signed(self, b, !b.sign(), den, env),
        }
    }

    /// `self × b` (FMUL).
    pub fn mul(self, b: F80, env: &mut Env) -> F80 {
        let den = match F80::check_operands(&[self, b], env) {
            Err(r) => return r,
            Ok(den) => den,
        };
        use F80Class::*;
        let sign = self.sign() ^ b.sign();
        match (self.class(), b.class()) {
            (Zero, Infinity) | (Infinity, Zero) => return invalid(env),
            _ => denormal(env, den),
        }
        match (self.class(), b.class()) {
            (Infinity, _) | (_, Infinity) => F80::inf(sign),
            (Zero, _) | (_, Zero) => F80::zero(sign),
            _ => F80::round(
                env,
                unpacked::mul(self.num(), b.num()),
                env.precision.bits(),
            ),
        }
    }

    /// `self ÷ b` (FDIV; FDIVR is `b.div(self)`).
    pub fn div(self, b: F80, env: &mut Env) -> F80 {
        let den = match F80::check_operands(&[self, b], env) {
            Err(r) => return r,
            Ok(den) => den,
        };
        use F80Class::*;
        let sign = self.sign() ^ b.sign();
        match (self.class(), b.class()) {
            (Zero, Zero) | (Infinity, Infinity) => return invalid(env),
            (Normal | Denormal, Zero) => {
                env.raise(Flags::DIV_BY_ZERO);
                return F80::inf(sign);
            }
            _ => denormal(env, den),
        }
        match (self.class(), b.class()) {
            (Infinity, _) => F80::inf(sign),
            (_, Infinity) | (Zero, _) => F80::zero(sign),
            _ => F80::round(
                env,
                unpacked::div(self.num(), b.num()),
                env.precision.bits(),
            ),
        }
    }

    /// `√self` (FSQRT); √−0 = −0.
    pub fn sqrt(self, env: &mut Env) -> F80 {
        let den = match F80::check_operands(&[self], env) {
            Err(r) => return r,
            Ok(den) => den,
        };
        match self.class() {
            F80Class::Zero => self,
            _ if self.sign() => invalid(env),
            F80Class::Infinity => self,
            _ => {
                denormal(env, den);
                F80::round(env, unpacked::sqrt(self.num()), env.precision.bits())
            }
        }
    }
}

/// The NaN table 4-7 keeps of two NaN operands: the quiet one, else the larger significand.
fn pick_nan(a: F80, b: F80) -> F80 {
    let (qa, qb) = (
        a.class() == F80Class::QuietNan,
        b.class() == F80Class::QuietNan,
    );
    if qa != qb {
        return if qa { a } else { b };
    }
    if b.signif > a.signif {
        b
    } else if a.signif > b.signif {
        a
    } else if b.sign_exp < a.sign_exp {
        b
    } else {
        a
    }
}

/// Raise DE if `den` (once the operation is known not to end in IE or ZE).
pub(crate) fn denormal(env: &mut Env, den: bool) {
    if den {
        env.raise(Flags::DENORMAL);
    }
}

/// The masked response to an invalid operation: IE and the real indefinite.
pub(crate) fn invalid(env: &mut Env) -> F80 {
    env.raise(Flags::INVALID);
    F80::INDEFINITE
}

/// `a + b` with `b`'s sign replaced by `b_sign`, for checked non-NaN operands.
fn add_signed(a: F80, b: F80, b_sign: bool, den: bool, env: &mut Env) -> F80 {
    use F80Class::*;
    let prec = env.precision.bits();
    if a.class() == Infinity && b.class() == Infinity && a.sign() != b_sign {
        return invalid(env);
    }
    denormal(env, den);
    match (a.class(), b.class()) {
        (Infinity, _) => a,
        (_, Infinity) => F80::inf(b_sign),
        (Zero, Zero) if a.sign() == b_sign => a,
        (Zero, Zero) => F80::zero(env.rounding == RoundingMode::Down),
        (Zero, _) => {
            let n = Num {
                sign: b_sign,
                ..b.num()
            };
            F80::round(env, n.wide(), prec)
        }
        (_, Zero) => F80::round(env, a.num().wide(), prec),
        _ => {
            let nb = Num {
                sign: b_sign,
                ..b.num()
            };
            F80::round(env, unpacked::add(a.num(), nb, env.rounding), prec)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Precision;
    use super::*;

    fn f(se: u16, s: u64) -> F80 {
        F80::new(se, s)
    }

    #[test]
    fn one_plus_one_is_two() {
        let mut env = Env::default();
        let two = F80::ONE.add(F80::ONE, &mut env);
        assert_eq!(two, f(0x4000, 0x8000_0000_0000_0000));
        assert_eq!(two.to_bytes(), [0, 0, 0, 0, 0, 0, 0, 0x80, 0x00, 0x40]);
        assert_eq!(F80::from_bytes(two.to_bytes()), two);
        assert_eq!(env.flags, Flags::NONE);
    }

    #[test]
    fn one_third() {
        let three = f(0x4000, 0xC000_0000_0000_0000);
        let mut env = Env::default();
        // 1/3 = 0.0101..: significand AAAA..AAAA|1010.. rounds up to ..AB
        assert_eq!(
            F80::ONE.div(three, &mut env),
            f(0x3FFD, 0xAAAA_AAAA_AAAA_AAAB)
        );
        assert_eq!(env.flags, Flags::INEXACT);
        assert!(env.rounded_up);
        let mut env = Env::new(RoundingMode::TowardZero);
        assert_eq!(
            F80::ONE.div(three, &mut env),
            f(0x3FFD, 0xAAAA_AAAA_AAAA_AAAA)
        );
        assert!(!env.rounded_up);
        // precision control: 24 bits, AAAAAA|AA.. rounds up; 53 bits: ..AAA|8.. rounds down
        let mut env = Env::default();
        env.precision = Precision::Single;
        assert_eq!(
            F80::ONE.div(three, &mut env),
            f(0x3FFD, 0xAAAA_AB00_0000_0000)
        );
        env.precision = Precision::Double;
        assert_eq!(
            F80::ONE.div(three, &mut env),
            f(0x3FFD, 0xAAAA_AAAA_AAAA_A800)
        );
    }

    #[test]
    fn special_operands() {
        let mut env = Env::default();
        let inf = F80::INFINITY;
        assert_eq!(inf.sub(inf, &mut env), F80::INDEFINITE);
        assert_eq!(env.flags, Flags::INVALID);
        let mut env = Env::default();
        assert_eq!(F80::ONE.div(F80::ZERO, &mut env), inf);
        assert_eq!(env.flags, Flags::DIV_BY_ZERO);
        let mut env = Env::default();
        assert_eq!(F80::ZERO.mul(inf.negate(), &mut env), F80::INDEFINITE);
        // unnormal (integer bit clear): invalid operand
        let mut env = Env::default();
        assert_eq!(
            F80::ONE.add(f(0x3FFF, 0x4000_0000_0000_0000), &mut env),
            F80::INDEFINITE
        );
        assert_eq!(env.flags, Flags::INVALID);
        // SNaN quietened; the QNaN wins over an SNaN; the larger significand between QNaNs
        let snan = f(0x7FFF, 0x8000_0000_0000_0001);
        let qnan = f(0xFFFF, 0xC000_0000_0000_0002);
        let mut env = Env::default();
        assert_eq!(
            snan.mul(F80::ONE, &mut env),
            f(0x7FFF, 0xC000_0000_0000_0001)
        );
        assert_eq!(env.flags, Flags::INVALID);
        let mut env = Env::default();
        assert_eq!(snan.add(qnan, &mut env), qnan);
        assert_eq!(env.flags, Flags::INVALID);
        let q2 = f(0x7FFF, 0xC000_0000_0000_0001);
        let mut env = Env::default();
        assert_eq!(q2.add(qnan, &mut env), qnan);
        assert_eq!(env.flags, Flags::NONE);
        // sqrt
        let mut env = Env::default();
        assert_eq!(F80::ZERO.negate().sqrt(&mut env), F80::ZERO.negate());
        assert_eq!(F80::ONE.negate().sqrt(&mut env), F80::INDEFINITE);
        let four = f(0x4001, 1 << 63);
        assert_eq!(four.sqrt(&mut env), f(0x4000, 1 << 63));
        // exact cancellation: +0, or −0 rounding down
        let mut env = Env::default();
        assert_eq!(F80::ONE.sub(F80::ONE, &mut env), F80::ZERO);
        let mut env = Env::new(RoundingMode::Down);
        assert_eq!(F80::ONE.sub(F80::ONE, &mut env), F80::ZERO.negate());
    }

    #[test]
    fn denormals_and_limits() {
        // smallest denormal × 0.5 → 0 (nearest even), UE|PE; DE for the denormal operand
        let tiny = f(0, 1);
        let half = f(0x3FFE, 1 << 63);
        let mut env = Env::default();
        assert_eq!(tiny.mul(half, &mut env), F80::ZERO);
        assert_eq!(
            env.flags,
            Flags::DENORMAL | Flags::UNDERFLOW | Flags::INEXACT
        );
        // largest finite × 2 → ∞ (OE|PE), toward zero → largest finite
        let max = f(0x7FFE, u64::MAX);
        let two = f(0x4000, 1 << 63);
        let mut env = Env::default();
        assert_eq!(max.mul(two, &mut env), F80::INFINITY);
        assert_eq!(env.flags, Flags::OVERFLOW | Flags::INEXACT);
        let mut env = Env::new(RoundingMode::TowardZero);
        assert_eq!(max.mul(two, &mut env), max);
        // pseudo-denormal: a denormal operand worth the same as exponent 1
        let pseudo = f(0, 1 << 63);
        let mut env = Env::default();
        assert_eq!(pseudo.add(F80::ZERO, &mut env), f(1, 1 << 63));
        assert_eq!(env.flags, Flags::DENORMAL);
    }
}
