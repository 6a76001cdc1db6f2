//! x87 operations beyond the basic arithmetic (SDM vol. 2: FPREM, FPREM1, FRNDINT,
//! FCOM/FUCOM, FSCALE with its table of special cases, FXTRACT; IEEE 754-2008 5.3.1
//! remainder and roundToIntegral, 5.11 comparisons).
//!
//! FPREM/FPREM1 follow the instruction pages' pseudocode: with exponents fewer than 64 apart
//! the remainder is complete (C2 = 0, quotient bits in C0/C3/C1); otherwise a partial
//! remainder reduces the exponent difference, truncating `(ST(0)/ST(1)) / 2^(D−N)`, with the
//! "implementation-dependent" N = 32 + (D mod 32) that Intel processors use (measured: the
//! partial result is below ST(1)·2^(32·⌊(D−32)/32⌋)), C2 = 1 and the quotient bits 0.
//! [`F80::rem_ieee`]/[`F80::rem_trunc`] give the complete remainder in one step.

use super::f80::{denormal, invalid, F80Class};
use super::unpacked::{self, Num};
use super::{Env, Flags, Relation, RoundingMode, F80};

/// The outcome of FPREM or FPREM1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartialRemainder {
    /// The new ST(0).
    pub value: F80,
    /// Whether the reduction is complete (C2 = 0); when not, the guest repeats it.
    pub complete: bool,
    /// Bits 0-2 of the quotient of a complete reduction (C1 = bit 0, C3 = bit 1, C0 = bit 2);
    /// 0 otherwise.
    pub quotient_bits: u8,
}

impl F80 {
    /// The IEEE remainder `self − q·b` with `q` the quotient rounded to nearest-even (what
    /// repeated FPREM1 reaches), and the low 64 bits of `|q|`.
    pub fn rem_ieee(self, b: F80, env: &mut Env) -> (F80, u64) {
        self.remainder(b, true, None, env)
    }

    /// The truncating remainder `self − q·b` with `q` the quotient rounded toward zero (what
    /// repeated FPREM reaches; C's `fmodl`), and the low 64 bits of `|q|`.
    pub fn rem_trunc(self, b: F80, env: &mut Env) -> (F80, u64) {
        self.remainder(b, false, None, env)
    }

    /// FPREM: one step of the truncating partial remainder of ST(0) = `self` by ST(1) = `b`.
    pub fn fprem(self, b: F80, env: &mut Env) -> PartialRemainder {
        self.partial_remainder(b, false, env)
    }

    /// FPREM1: one step of the IEEE partial remainder (the last step rounds the quotient to
    /// nearest-even; a partial step truncates, as for FPREM).
    pub fn fprem1(self, b: F80, env: &mut Env) -> PartialRemainder {
        self.partial_remainder(b, true, env)
    }

    fn partial_remainder(self, b: F80, nearest: bool, env: &mut Env) -> PartialRemainder {
        let finite = |x: F80| matches!(x.class(), F80Class::Normal | F80Class::Denormal);
        let d = if finite(self) && finite(b) {
            self.num().exp - b.num().exp
        } else {
            0
        };
        if d < 64 {
            let (value, q) = self.remainder(b, nearest, None, env);
            return PartialRemainder {
                value,
                complete: true,
                quotient_bits: (q & 7) as u8,
            };
        }
        let shift = 32 * ((d - 32) / 32); // D − N with N = 32 + D mod 32
        let (value, _) = self.remainder(b, false, Some(shift), env);
        PartialRemainder {
            value,
            complete: false,
            quotient_bits: 0,
        }
    }

    /// `self` reduced modulo `b · 2^scale` (`scale` only for partial remainders).
    fn remainder(self, b: F80, nearest: bool, scale: Option<i32>, env: &mut Env) -> (F80, u64) {
        let den = match F80::check_operands(&[self, b], env) {
            Err(r) => return (r, 0),
            Ok(den) => den,
        };
        use F80Class::*;
        if self.class() == Infinity || b.class() == Zero {
            return (invalid(env), 0);
        }
        denormal(env, den);
        match (self.class(), b.class()) {
            (Zero, _) => (self, 0),
            // x rem ±∞ = x, re-encoded: a pseudo-denormal comes back normalized
            (_, Infinity) => (F80::round(env, self.num().wide(), 64), 0),
            _ => {
                let mut nb = b.num();
                nb.exp += scale.unwrap_or(0);
                let (w, q) = unpacked::rem(self.num(), nb, nearest);
                // exact: the rounding only normalizes (or keeps a denormal)
                (F80::round(env, w, 64), q)
            }
        }
    }

    /// Round to an integral value by [`Env::rounding`] (FRNDINT). PE when inexact; zeros keep
    /// their sign (−0.25 → −0).
    pub fn round_to_int(self, env: &mut Env) -> F80 {
        let den = match F80::check_operands(&[self], env) {
            Err(r) => return r,
            Ok(den) => den,
        };
        denormal(env, den);
        match self.class() {
            F80Class::Zero | F80Class::Infinity => self,
            _ => {
                let n = self.num();
                if n.exp >= 63 {
                    return self; // already integral
                }
                let (mag, inexact, up) =
                    unpacked::to_integer(n, env.rounding).expect("|x| < 2^63 here");
                if inexact {
                    env.raise(Flags::INEXACT);
                    env.rounded_up |= up;
                }
                F80::from_magnitude(n.sign, mag)
            }
        }
    }

    /// An integer magnitude with a sign, exactly.
    pub(crate) fn from_magnitude(sign: bool, mag: u64) -> F80 {
        if mag == 0 {
            return F80::zero(sign);
        }
        let lz = mag.leading_zeros() as u16;
        F80::new((sign as u16) << 15 | (0x3FFF + 63 - lz), mag << lz)
    }

    /// Compare, raising IE only for signalling NaNs and unsupported encodings (FUCOM).
    pub fn compare_quiet(self, b: F80, env: &mut Env) -> Relation {
        self.compare(b, false, env)
    }

    /// Compare, raising IE for any NaN and unsupported encodings (FCOM; FTST is a compare
    /// with +0).
    pub fn compare_signaling(self, b: F80, env: &mut Env) -> Relation {
        self.compare(b, true, env)
    }

    fn compare(self, b: F80, signaling: bool, env: &mut Env) -> Relation {
        let ops = [self, b];
        if ops.iter().any(|x| x.class() == F80Class::Unsupported) {
            env.raise(Flags::INVALID);
            return Relation::Unordered;
        }
        if ops.iter().any(|x| x.is_nan()) {
            if signaling || ops.iter().any(|x| x.is_signaling_nan()) {
                env.raise(Flags::INVALID);
            }
            return Relation::Unordered;
        }
        denormal(env, ops.iter().any(|x| x.class() == F80Class::Denormal));
        let key = |x: F80| -> (bool, (u8, i32, u64)) {
            match x.class() {
                F80Class::Zero => (false, (0, 0, 0)), // ±0 alike
                F80Class::Infinity => (x.sign(), (2, 0, 0)),
                _ => {
                    let n = x.num();
                    (n.sign, (1, n.exp, n.sig))
                }
            }
        };
        let ((sa, ma), (sb, mb)) = (key(self), key(b));
        let ord = match (sa, sb) {
            (false, true) => core::cmp::Ordering::Greater,
            (true, false) => core::cmp::Ordering::Less,
            (false, false) => ma.cmp(&mb),
            (true, true) => mb.cmp(&ma),
        };
        match ord {
            core::cmp::Ordering::Less => Relation::Less,
            core::cmp::Ordering::Equal => Relation::Equal,
            core::cmp::Ordering::Greater => Relation::Greater,
        }
    }

    /// `self × 2^trunc(b)` (FSCALE: ST(0) scaled by ST(1)), with the special cases of the
    /// FSCALE results table: 0 × 2^+∞ and ∞ × 2^−∞ are invalid, x × 2^−∞ = ±0 and
    /// x × 2^+∞ = ±∞ for finite nonzero x.
    pub fn scale(self, b: F80, env: &mut Env) -> F80 {
        let den = match F80::check_operands(&[self, b], env) {
            Err(r) => return r,
            Ok(den) => den,
        };
        use F80Class::*;
        match (self.class(), b.class()) {
            (Infinity, Infinity) if b.sign() => return invalid(env),
            (Zero, Infinity) if !b.sign() => return invalid(env),
            _ => denormal(env, den),
        }
        match (self.class(), b.class()) {
            (Zero, _) | (Infinity, _) => self,
            (_, Infinity) if b.sign() => F80::zero(self.sign()),
            (_, Infinity) => F80::inf(self.sign()),
            (_, Zero) => F80::round(env, self.num().wide(), 64),
            _ => {
                let nb = b.num();
                let mag = if nb.exp >= 20 {
                    1 << 20 // saturates: any such scale over- or underflows
                } else {
                    let (m, _, _) =
                        unpacked::to_integer(nb, RoundingMode::TowardZero).expect("small");
                    m as i32
                };
                let mut w = self.num().wide();
                w.exp += if nb.sign { -mag } else { mag };
                F80::round(env, w, 64)
            }
        }
    }

    /// Split into `(exponent, significand)` (FXTRACT: the exponent goes to ST(1), the
    /// significand, with the sign and exponent 0x3FFF, to ST(0)). Zero: ZE, (−∞, ±0);
    /// infinity: (+∞, ±∞); a NaN gives the (quietened) NaN twice.
    pub fn extract(self, env: &mut Env) -> (F80, F80) {
        let den = match F80::check_operands(&[self], env) {
            Err(r) => return (r, r),
            Ok(den) => den,
        };
        denormal(env, den);
        match self.class() {
            F80Class::Zero => {
                env.raise(Flags::DIV_BY_ZERO);
                (F80::inf(true), self)
            }
            F80Class::Infinity => (F80::INFINITY, self),
            _ => {
                let n: Num = self.num();
                let e = F80::from_i64(n.exp as i64);
                (e, F80::new((n.sign as u16) << 15 | 0x3FFF, n.sig))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(v: i64) -> F80 {
        F80::from_i64(v)
    }

    #[test]
    fn remainders() {
        let mut env = Env::default();
        assert_eq!(int(7).rem_ieee(int(2), &mut env), (int(-1), 4));
        assert_eq!(int(7).rem_trunc(int(2), &mut env), (int(1), 3));
        assert_eq!(int(-7).rem_trunc(int(2), &mut env), (int(-1), 3));
        assert_eq!(env.flags, Flags::NONE);
        let (r, _) = int(-6).rem_ieee(int(3), &mut env);
        assert_eq!(r, F80::zero(true));
        assert_eq!(int(1).rem_ieee(F80::ZERO, &mut env).0, F80::INDEFINITE);
        assert_eq!(env.flags, Flags::INVALID);
    }

    #[test]
    fn partial_remainder_steps() {
        // 2^100 mod 3 by FPREM: D = 100 − 1 = 99 ≥ 64, a partial step with N = 32 + 99 mod 32
        // = 35 reduces modulo 3·2^64, leaving 2^64; then D = 63 and the step completes:
        // 2^64 mod 3 = 1, quotient (2^64 − 1)/3 = 0x5555_5555_5555_5555.
        let mut env = Env::default();
        let mut x = F80::new(0x3FFF + 100, 1 << 63);
        let three = int(3);
        let mut steps = 0;
        loop {
            let r = x.fprem(three, &mut env);
            x = r.value;
            steps += 1;
            if r.complete {
                assert_eq!(r.quotient_bits, 0b101);
                break;
            }
            assert_eq!(r.quotient_bits, 0);
        }
        assert_eq!((x, steps), (int(1), 2));
        assert_eq!(env.flags, Flags::NONE);
    }

    #[test]
    fn frndint() {
        let cases = [
            (
                RoundingMode::NearestEven,
                F80::new(0x4000, 0xA000_0000_0000_0000),
                2,
            ), // 2.5
            (RoundingMode::Up, F80::new(0x3FFD, 1 << 63), 1), // 0.25
            (RoundingMode::Down, F80::new(0xBFFD, 1 << 63), -1),
            (
                RoundingMode::TowardZero,
                F80::new(0xC000, 0xF000_0000_0000_0000),
                -3,
            ), // −3.75
        ];
        for (mode, x, want) in cases {
            let mut env = Env::new(mode);
            assert_eq!(x.round_to_int(&mut env), int(want), "{mode:?} {x:?}");
            assert_eq!(env.flags, Flags::INEXACT);
        }
        let mut env = Env::default();
        assert_eq!(
            F80::new(0xBFFD, 1 << 63).round_to_int(&mut env),
            F80::zero(true)
        );
        let big = F80::new(0x403F, u64::MAX);
        assert_eq!(big.round_to_int(&mut env), big);
    }

    #[test]
    fn comparisons() {
        let mut env = Env::default();
        assert_eq!(
            F80::ZERO.compare_quiet(F80::zero(true), &mut env),
            Relation::Equal
        );
        assert_eq!(int(-3).compare_quiet(int(2), &mut env), Relation::Less);
        assert_eq!(int(-3).compare_quiet(int(-4), &mut env), Relation::Greater);
        assert_eq!(
            F80::INFINITY.compare_quiet(int(4), &mut env),
            Relation::Greater
        );
        assert_eq!(env.flags, Flags::NONE);
        assert_eq!(
            F80::INDEFINITE.compare_quiet(F80::ONE, &mut env),
            Relation::Unordered
        );
        assert_eq!(env.flags, Flags::NONE);
        assert_eq!(
            F80::INDEFINITE.compare_signaling(F80::ONE, &mut env),
            Relation::Unordered
        );
        assert_eq!(env.flags, Flags::INVALID);
    }

    #[test]
    fn fscale_and_fxtract() {
        let mut env = Env::default();
        assert_eq!(int(3).scale(int(4), &mut env), int(48));
        // scale by −3.5 truncates to −3
        assert_eq!(
            int(48).scale(F80::new(0xC000, 0xE000_0000_0000_0000), &mut env),
            int(6)
        );
        assert_eq!(env.flags, Flags::NONE);
        assert_eq!(F80::ZERO.scale(F80::INFINITY, &mut env), F80::INDEFINITE);
        let mut env = Env::default();
        let (e, s) = int(-48).extract(&mut env);
        assert_eq!(e, int(5));
        assert_eq!(s, F80::new(0xBFFF, 0xC000_0000_0000_0000));
        let (e, s) = F80::zero(true).extract(&mut env);
        assert_eq!((e, s), (F80::inf(true), F80::zero(true)));
        assert_eq!(env.flags, Flags::DIV_BY_ZERO);
        // a denormal: exponent below the normal range
        let mut env = Env::default();
        let (e, _) = F80::new(0, 1).extract(&mut env);
        assert_eq!(e, int(-16382 - 63));
        assert_eq!(env.flags, Flags::DENORMAL);
    }

    #[test]
    fn from_magnitude_normalizes() {
        assert_eq!(F80::from_magnitude(false, 1), F80::ONE);
        assert_eq!(F80::from_magnitude(true, 0), F80::zero(true));
        assert_eq!(
            F80::from_magnitude(false, u64::MAX),
            F80::new(0x403E, u64::MAX)
        );
    }
}
