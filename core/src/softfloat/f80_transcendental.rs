//! The x87 transcendental instructions on [`F80`]: SDM vol. 2, the pages and result tables
//! of F2XM1 (table 3-16), FYL2X (3-48), FYL2XP1 (3-49), FPTAN, FPATAN, FSIN, FCOS and
//! FSINCOS; SDM vol. 1, 8.3.8 ("Pi": the 66-bit π of the argument reduction) and 8.3.10
//! ("Transcendental Instruction Accuracy"), 4.9 and 8.5 for the exception flags.
//!
//! Values come from the integer kernels of `elementary.rs` (about 118 correct bits) and are
//! rounded once by [`Env::rounding`] with the one rounding routine of `round.rs` (OE, UE, PE,
//! and [`Env::rounded_up`] for C1). Precision control does not apply: SDM vol. 1, 8.1.5.2
//! lists the instructions it affects and these are not among them (measured too).
//!
//! Intel documents these instructions as accurate to within one ulp, not correctly rounded,
//! and its microcode is not: correctly rounded values agree with an Intel host in the last
//! bit for 93-99% of the operands, depending on the instruction. Where a simple model of
//! the host's internal precision was found to agree better, it is used (the constants below
//! give the measured thresholds), so that the emulated results match the host's in 96-99%
//! of the cases and are within one ulp of them (and of the exact value) otherwise:
//! - FSIN, FCOS, FSINCOS: the correctly rounded sine and cosine of the argument reduced as
//!   Intel does (below); x and 1 for |x| < 2^-68;
//! - FPTAN: sine over cosine, each first truncated to 67 bits (the cotangent of the odd
//!   quadrants is correctly rounded), the cosine taken as 1 for a reduced argument below
//!   2^-33;
//! - F2XM1: x times (2^x − 1)/x truncated to 67 bits, rounded once;
//! - FYL2X, FYL2XP1: y times log2 x (log2(1 + x)) truncated to 67 bits, rounded once;
//! - FPATAN: the arctangent of min(|x|, |y|)/max(|x|, |y|) truncated to 67 bits, moved to
//!   the quadrant of (x, y); the ratio itself when it is below 2^-40.
//!
//! Trigonometric arguments are reduced exactly modulo p/2, where p is the x87's 66-bit
//! approximation of π (0.C90FDAA2_2168C234_C × 2^2), so large arguments give the host's, not
//! the mathematically exact, values; |x| ≥ 2^63 is out of range (`None`: the caller sets C2
//! and leaves the operand alone).
//!
//! Special operands follow the SDM tables; where the SDM calls a result undefined, the
//! behaviour implemented is the one measured on an Intel host
//! (`x87_host_transcendental_tests.rs`):
//! - F2XM1 of |x| > 1 returns x unchanged with PE; of −∞ returns −1, of +∞ returns +∞;
//! - FYL2XP1 of x ≤ −1 returns x unchanged with PE (unless y is a zero or an infinity, which
//!   give the tabulated zero or infinity); between −1 and the SDM bound −(1 − √2/2), and
//!   above +(1 − √2/2), the function is computed as defined;
//! - exact results still raise PE where the host does: F2XM1(±1), and FYL2X of a power of
//!   two, whose logarithm, for x < 1, acts as if a hair smaller in magnitude (log2(1/2) is −1
//!   rounding to nearest or down, with C1 = 1, but −(1 − 2^-64) up or toward zero);
//! - FSINCOS's C1 tells whether the cosine (pushed last) was rounded up.
//!
//! Left out: agreement with the host in the last bit (and in C1 and, for results that are
//! exact, PE) for the remaining 1-4% of the operands, whose host results carry the
//! microcode's own approximation errors; and, as for the other operations, the
//! exponent-wrapped results of unmasked overflow/underflow.

use super::elementary::{self as el, Trig, X};
use super::f80::{denormal, invalid, F80Class};
use super::round::Wide;
use super::unpacked::Num;
use super::{Env, Flags, F80};

/// The significant bits the host keeps of log2 x (FYL2X), log2(1 + x) (FYL2XP1),
/// (2^x − 1)/x (F2XM1), the FPATAN ratio and the FPTAN sine and cosine, truncating, before
/// the last operation and the one rounding (measured: with this model the emulation agrees
/// with the host in the last bit for about 99% of FYL2X results, against 94% for the
/// correctly rounded value).
const HOST_BITS: u32 = 67;

/// FPATAN computes the ratio t = min(|x|, |y|)/max(|x|, |y|) truncated to [`HOST_BITS`]
/// bits and returns t itself (rounded, with PE) when t < 2^ATAN_TINY and the angle is not
/// moved by π/2 or π (measured: atan t = t there whatever the rounding direction).
const ATAN_TINY: i32 = -40;

/// Below 2^SIN_TINY, FSIN, FCOS, FSINCOS and FPTAN return x and 1 (with PE, rounded as
/// exact values: the host drops the x³/6 and x²/2 terms there, whatever the rounding
/// direction). In the even quadrants FPTAN divides the sine by the cosine, each truncated to
/// [`HOST_BITS`] bits (−cot in the odd ones is computed exactly), and for a reduced argument
/// below 2^TAN_TINY it takes the cosine as exactly 1 (measured: there the host's tangent is
/// below |x| when rounding toward zero; this model agrees with the host for 96% of the
/// tangents rounded to nearest, against 93% for the correctly rounded tangent).
const SIN_TINY: i32 = -68;
const TAN_TINY: i32 = -33;

/// Rounds an inexact kernel result with sign `sign` to double extended (raises PE).
fn inexact(env: &mut Env, w: X, sign: bool) -> F80 {
    F80::round(
        env,
        Wide {
            sign,
            sig: w.sig | 1,
            ..w
        },
        64,
    )
}

/// Rounds `w`; when it stands for an inexact value (`inexact`), PE is raised whatever the
/// rounding found, and UE too for a tiny (denormal) result, as on the host.
fn round_standing_for(env: &mut Env, w: X, inexact: bool) -> F80 {
    let r = F80::round(env, w, 64);
    if inexact {
        env.raise(Flags::INEXACT);
        if r.exp_field() == 0 {
            env.raise(Flags::UNDERFLOW);
        }
    }
    r
}

/// `a × b` with `b` first truncated to [`HOST_BITS`] bits, rounded once; `inexact`: `b`
/// stood for an inexact value.
fn times_truncated(env: &mut Env, a: X, b: X, inexact: bool) -> F80 {
    round_standing_for(env, el::mul(a, el::truncate(b, HOST_BITS)), inexact)
}

/// The operand itself as the (inexact) result for a tiny argument; a pseudo-denormal comes
/// back normalized.
fn tiny_result(env: &mut Env, x: F80) -> F80 {
    round_standing_for(env, x.num().wide(), true)
}

/// 1 as the (inexact) cosine of a tiny argument.
fn tiny_cosine(env: &mut Env) -> F80 {
    env.raise(Flags::INEXACT);
    F80::ONE
}

/// What a trigonometric instruction does with its operand.
enum TrigArg {
    /// A NaN, an unsupported encoding or an infinity: this result (for every output).
    Special(F80),
    /// |x| ≥ 2^63: C2 = 1, nothing changes.
    OutOfRange,
    /// ±0 (exact results).
    Zero,
    /// A finite nonzero x (DE already raised for a denormal).
    Finite(Num),
}

/// The quadrant k mod 4 and the pieces of the reduced argument of |x|.
fn reduced(n: Num) -> (u32, Trig) {
    let (k, u) = el::reduce(n.exp, n.sig);
    (k, Trig::new(u))
}

impl F80 {
    /// F2XM1: 2^x − 1 for `self` = x = ST(0), defined for −1 ≤ x ≤ 1; ±0 give ±0.
    /// Outside the range (undefined in the SDM) the result is x itself with PE, as measured;
    /// −∞ gives −1 and +∞ gives +∞ without a flag.
    pub fn f2xm1(self, env: &mut Env) -> F80 {
        let den = match F80::check_operands(&[self], env) {
            Err(r) => return r,
            Ok(den) => den,
        };
        match self.class() {
            F80Class::Zero => return self,
            F80Class::Infinity if self.sign() => return F80::ONE.negate(),
            F80Class::Infinity => return self,
            _ => denormal(env, den),
        }
        let n = self.num();
        if n.exp >= 0 {
            env.raise(Flags::INEXACT);
            if n.exp == 0 && n.sig == 1 << 63 {
                // 2^1 − 1 = 1 and 2^-1 − 1 = −1/2, exact (PE nonetheless, measured)
                return if n.sign {
                    F80::new(0xBFFE, 1 << 63)
                } else {
                    F80::ONE
                };
            }
            return self;
        }
        let x = n.wide();
        times_truncated(env, x, el::exp2m1_ratio(x), true)
    }

    /// FYL2X: y·log2(x) for `self` = x = ST(0) and `y` = ST(1) (the caller stores it in ST(1)
    /// and pops). Table 3-48: x < 0 (not −0) is invalid; x = ±0 gives ∞ of the sign opposite
    /// to y with ZE for finite nonzero y, and is invalid for y = ±0; 0·∞ (y = ±0 with x = +∞,
    /// y = ±∞ with x = 1) is invalid; zeros and infinities of y give the zero or infinity
    /// whose sign is y's, flipped when x < 1.
    pub fn fyl2x(self, y: F80, env: &mut Env) -> F80 {
        let den = match F80::check_operands(&[self, y], env) {
            Err(r) => return r,
            Ok(den) => den,
        };
        use F80Class::*;
        let (xc, yc) = (self.class(), y.class());
        if self.sign() && xc != Zero {
            return invalid(env);
        }
        let is_one = self == F80::ONE;
        match (xc, yc) {
            (Zero | Infinity, Zero) => return invalid(env),
            (Normal, Infinity) if is_one => return invalid(env),
            (Zero, Infinity) => return F80::inf(!y.sign()),
            (Zero, _) => {
                env.raise(Flags::DIV_BY_ZERO);
                return F80::inf(!y.sign());
            }
            _ => denormal(env, den),
        }
        if xc == Infinity {
            return F80::inf(y.sign());
        }
        let n = self.num();
        let sign = y.sign() ^ (n.exp < 0); // log2 x < 0 for x < 1
        match yc {
            Zero => return F80::zero(sign),
            Infinity => return F80::inf(sign),
            _ if is_one => return F80::zero(y.sign()),
            _ => {}
        }
        let l = if n.sig == 1 << 63 {
            // x = 2^e: the host's log2 acts as e plus a hair, so that after the truncation
            // it is e for e > 0 but a little less than |e| in magnitude for e < 0 (measured:
            // log2(1/2) is −1 rounding to nearest or down, with C1 = 1, −(1 − 2^-64) up or
            // toward zero)
            el::add(el::int(n.exp as i64), el::scale(el::ONE, -200))
        } else {
            el::log2(n.wide()).0
        };
        times_truncated(env, y.num().wide(), l, true)
    }

    /// FYL2XP1: y·log2(x + 1) for `self` = x = ST(0) and `y` = ST(1) (the caller stores it in
    /// ST(1) and pops), defined for |x| < 1 − √2/2 (table 3-49) and computed as defined for
    /// every x > −1. Zeros and infinities give the zero or infinity of sign x XOR y; 0·∞
    /// (x = ±0 with y = ±∞, x = +∞ with y = ±0) and x = −∞ are invalid; otherwise x ≤ −1
    /// (undefined in the SDM) returns x itself with PE, as measured.
    pub fn fyl2xp1(self, y: F80, env: &mut Env) -> F80 {
        let den = match F80::check_operands(&[self, y], env) {
            Err(r) => return r,
            Ok(den) => den,
        };
        use F80Class::*;
        let (xc, yc) = (self.class(), y.class());
        match (xc, yc) {
            (Infinity, _) if self.sign() => return invalid(env),
            (Zero, Infinity) | (Infinity, Zero) => return invalid(env),
            _ => denormal(env, den),
        }
        let sign = self.sign() ^ y.sign();
        match (xc, yc) {
            (Zero, _) | (_, Zero) => F80::zero(sign),
            (Infinity, _) | (_, Infinity) => F80::inf(sign),
            _ if self.sign() && self.exp_field() >= 0x3FFF => {
                env.raise(Flags::INEXACT);
                self
            }
            _ => {
                let (l, exact) = el::log2_1p(self.num().wide());
                times_truncated(env, y.num().wide(), l, !exact)
            }
        }
    }

    /// FPATAN: the angle of the point (x, y) = (`self` = ST(0), `y` = ST(1)), that is
    /// atan(y/x) moved to the quadrant of the point, in [−π, π] (the caller stores it in
    /// ST(1) and pops). The table's values for zeros and infinities: ±0 for y = ±0 and x ≥ +0,
    /// ±π for y = ±0 and x ≤ −0, ±π/2 for x = ±0 or y = ±∞ (with finite x), ±π/4 and ±3π/4
    /// for two infinities, no invalid operation (the ratios 0/0 and ∞/∞ are never formed).
    pub fn fpatan(self, y: F80, env: &mut Env) -> F80 {
        let den = match F80::check_operands(&[self, y], env) {
            Err(r) => return r,
            Ok(den) => den,
        };
        denormal(env, den);
        use F80Class::*;
        let (x_neg, y_neg) = (self.sign(), y.sign());
        let angle = match (y.class(), self.class()) {
            (Infinity, Infinity) if x_neg => el::add(el::PI_2, el::PI_4),
            (Infinity, Infinity) => el::PI_4,
            (Zero, _) | (_, Infinity) if !x_neg => return F80::zero(y_neg),
            (Zero, _) | (_, Infinity) => el::PI,
            (Infinity, _) | (_, Zero) => el::PI_2,
            _ => {
                let (a, b) = (y.abs().num().wide(), self.abs().num().wide());
                let steep = el::mag_lt(b, a);
                let t = el::truncate(if steep { el::div(b, a) } else { el::div(a, b) }, HOST_BITS);
                if !steep && !x_neg && t.exp < ATAN_TINY {
                    let t = Wide { sign: y_neg, ..t };
                    return round_standing_for(env, t, true);
                }
                let mut angle = el::atan(t);
                if steep {
                    angle = el::sub(el::PI_2, angle);
                }
                if x_neg {
                    angle = el::sub(el::PI, angle);
                }
                angle
            }
        };
        inexact(env, angle, y_neg)
    }

    fn trig_arg(self, env: &mut Env) -> TrigArg {
        let den = match F80::check_operands(&[self], env) {
            Err(r) => return TrigArg::Special(r),
            Ok(den) => den,
        };
        match self.class() {
            F80Class::Infinity => TrigArg::Special(invalid(env)),
            F80Class::Zero => TrigArg::Zero,
            _ if self.exp_field() >= 0x3FFF + 63 => TrigArg::OutOfRange,
            _ => {
                denormal(env, den);
                TrigArg::Finite(self.num())
            }
        }
    }

    /// FSIN: the sine of `self` = ST(0) (the argument reduced with Intel's 66-bit π, see the
    /// module header); ±0 give ±0, ±∞ are invalid; `None` when |x| ≥ 2^63 (out of range:
    /// C2 = 1, ST(0) unchanged).
    pub fn fsin(self, env: &mut Env) -> Option<F80> {
        Some(match self.trig_arg(env) {
            TrigArg::Special(r) => r,
            TrigArg::OutOfRange => return None,
            TrigArg::Zero => self,
            TrigArg::Finite(n) if n.exp < SIN_TINY => tiny_result(env, self),
            TrigArg::Finite(n) => {
                let (k, t) = reduced(n);
                let s = sin_of(k, &t);
                inexact(env, s, s.sign ^ n.sign)
            }
        })
    }

    /// FCOS: the cosine of `self` = ST(0); ±0 give +1, ±∞ are invalid; `None` when out of
    /// range (|x| ≥ 2^63).
    pub fn fcos(self, env: &mut Env) -> Option<F80> {
        Some(match self.trig_arg(env) {
            TrigArg::Special(r) => r,
            TrigArg::OutOfRange => return None,
            TrigArg::Zero => F80::ONE,
            TrigArg::Finite(n) if n.exp < SIN_TINY => tiny_cosine(env),
            TrigArg::Finite(n) => {
                let (k, t) = reduced(n);
                let c = cos_of(k, &t);
                inexact(env, c, c.sign)
            }
        })
    }

    /// FPTAN: the tangent of `self` = ST(0), to replace ST(0); the caller then pushes 1.0, or
    /// the result itself when it is a NaN (a NaN or invalid operand: measured). ±0 give ±0,
    /// ±∞ are invalid; `None` when out of range (|x| ≥ 2^63).
    pub fn fptan(self, env: &mut Env) -> Option<F80> {
        Some(match self.trig_arg(env) {
            TrigArg::Special(r) => r,
            TrigArg::OutOfRange => return None,
            TrigArg::Zero => self,
            TrigArg::Finite(n) if n.exp < SIN_TINY => tiny_result(env, self),
            TrigArg::Finite(n) => {
                let (k, t) = reduced(n);
                let tiny = t.arg().exp < TAN_TINY;
                let v = match (k % 2 == 0, tiny) {
                    (true, false) => el::div(
                        el::truncate(t.sin(), HOST_BITS),
                        el::truncate(t.cos(), HOST_BITS),
                    ),
                    (true, true) => el::truncate(t.sin(), HOST_BITS),
                    (false, false) => el::neg(el::div(t.cos(), t.sin())),
                    (false, true) => el::neg(el::div(el::ONE, t.sin())),
                };
                inexact(env, v, v.sign ^ n.sign)
            }
        })
    }

    /// FSINCOS: `(sine, cosine)` of `self` = ST(0) (the caller replaces ST(0) with the sine and
    /// pushes the cosine); ±0 give (±0, +1); a NaN or invalid operand gives that NaN twice;
    /// `None` when out of range (|x| ≥ 2^63). [`Env::rounded_up`] (C1) tells whether the
    /// cosine was rounded up.
    pub fn fsincos(self, env: &mut Env) -> Option<(F80, F80)> {
        Some(match self.trig_arg(env) {
            TrigArg::Special(r) => (r, r),
            TrigArg::OutOfRange => return None,
            TrigArg::Zero => (self, F80::ONE),
            TrigArg::Finite(n) if n.exp < SIN_TINY => (tiny_result(env, self), tiny_cosine(env)),
            TrigArg::Finite(n) => {
                let (k, t) = reduced(n);
                let (s, c) = (sin_of(k, &t), cos_of(k, &t));
                // C1 reports the rounding of the cosine, the value pushed last (measured)
                let mut first = *env;
                let sin = inexact(&mut first, s, s.sign ^ n.sign);
                env.flags |= first.flags;
                (sin, inexact(env, c, c.sign))
            }
        })
    }
}

/// sin(kπ/2 + u) for the quadrant k mod 4.
fn sin_of(k: u32, t: &Trig) -> X {
    match k {
        0 => t.sin(),
        1 => t.cos(),
        2 => el::neg(t.sin()),
        _ => el::neg(t.cos()),
    }
}

/// cos(kπ/2 + u) for the quadrant k mod 4.
fn cos_of(k: u32, t: &Trig) -> X {
    match k {
        0 => t.cos(),
        1 => el::neg(t.sin()),
        2 => el::neg(t.cos()),
        _ => t.sin(),
    }
}
