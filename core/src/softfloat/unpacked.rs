//! Normalized finite nonzero values and the exact kernels of IEEE 754-2008 5.3.1/5.4.1
//! (add, multiply, divide, square root, remainder) and 5.8 (conversion to integer) on them.
//!
//! A kernel returns the exact result, or a [`Wide`] whose sticky bit 0 stands for the lost
//! low-order bits, for [`super::round::round_pack`] to round. Signs of zero results from
//! exact cancellation follow IEEE 754-2008 6.3. Special operands (zeros, infinities, NaNs)
//! are the callers' business: the rules differ between the x87 and SSE.

use super::round::{round_shift, shift_right_jam, Format, Wide};
use super::RoundingMode;

/// A finite nonzero value `sig × 2^(exp − 63)` with bit 63 of `sig` set, so `exp` is the
/// exponent of its leading bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Num {
    pub sign: bool,
    pub exp: i32,
    pub sig: u64,
}

impl Num {
    /// From the fields of a finite nonzero number of `fmt`: `exp_field` is the biased
    /// exponent (0 for denormals), `sig` the significand with its leading bit explicit at
    /// position `sig_bits − 1` for normals (binary32/64 callers add the hidden bit).
    pub fn from_fields(fmt: Format, sign: bool, exp_field: u32, sig: u64) -> Num {
        debug_assert!(sig != 0);
        let lz = sig.leading_zeros() as i32;
        let e = exp_field.max(1) as i32 - fmt.bias - (fmt.sig_bits as i32 - 1);
        Num {
            sign,
            exp: e + 63 - lz,
            sig: sig << lz,
        }
    }

    /// The exact value as a [`Wide`].
    pub fn wide(self) -> Wide {
        Wide {
            sign: self.sign,
            exp: self.exp,
            sig: (self.sig as u128) << 64,
        }
    }

    /// Whether |self| < |other|.
    fn mag_lt(self, other: Num) -> bool {
        (self.exp, self.sig) < (other.exp, other.sig)
    }
}

/// `a + b`. An exact zero sum is +0, or −0 when rounding down (IEEE 754-2008 6.3).
pub(crate) fn add(a: Num, b: Num, mode: RoundingMode) -> Wide {
    let (big, small) = if a.mag_lt(b) { (b, a) } else { (a, b) };
    let d = (big.exp - small.exp) as u32;
    // Leading bit at 125: two bits of headroom for the carry, 62 guard bits below.
    let bs = (big.sig as u128) << 62;
    let ss = shift_right_jam((small.sig as u128) << 62, d);
    let sig = if big.sign == small.sign {
        bs + ss
    } else {
        bs - ss
    };
    if sig == 0 {
        return Wide {
            sign: mode == RoundingMode::Down,
            exp: 0,
            sig: 0,
        };
    }
    Wide {
        sign: big.sign,
        exp: big.exp + 2,
        sig,
    }
}

/// `a × b`, exact.
pub(crate) fn mul(a: Num, b: Num) -> Wide {
    Wide {
        sign: a.sign ^ b.sign,
        exp: a.exp + b.exp + 1,
        sig: a.sig as u128 * b.sig as u128,
    }
}

/// `a ÷ b` with 126 quotient bits and a sticky bit.
pub(crate) fn div(a: Num, b: Num) -> Wide {
    let d = b.sig as u128;
    let num = (a.sig as u128) << 64;
    let (q1, r1) = (num / d, num % d);
    let num2 = r1 << 62;
    let (q2, r2) = (num2 / d, num2 % d);
    Wide {
        sign: a.sign ^ b.sign,
        exp: a.exp - b.exp + 1,
        sig: (q1 << 62) | q2 | (r2 != 0) as u128,
    }
}

/// `√a` for positive `a`, with 66 root bits and a sticky bit.
pub(crate) fn sqrt(a: Num) -> Wide {
    debug_assert!(!a.sign);
    // a = n × 2^t with t even and n = sig << (63 or 64), so n ≥ 2^126.
    let sh = if (a.exp - 63 - 64).rem_euclid(2) == 0 {
        64
    } else {
        63
    };
    let n = (a.sig as u128) << sh;
    let t = a.exp - 63 - sh;
    // Digit-by-digit square root of n × 4 (two extra root bits), base 2.
    let (mut root, mut rem) = (0u128, 0u128);
    for i in 0..66 {
        let pair = if i < 64 { (n >> (126 - 2 * i)) & 3 } else { 0 };
        rem = (rem << 2) | pair;
        let trial = (root << 2) | 1;
        root <<= 1;
        if rem >= trial {
            rem -= trial;
            root |= 1;
        }
    }
    // √a = root × 2^(t/2 − 2) (+ the remainder), 2^65 ≤ root < 2^66. With a sticky bit
    // appended, sig = 2·root + s weighs 2^(t/2 − 3) = 2^(exp − 127).
    Wide {
        sign: false,
        exp: t / 2 + 124,
        sig: (root << 1) | (rem != 0) as u128,
    }
}

/// `(a · b) mod m` for `m ≥ 1`.
fn mul_mod(a: u64, b: u64, m: u64) -> u64 {
    (a as u128 * b as u128 % m as u128) as u64
}

/// `2^e mod m` for `m ≥ 1`, by square and multiply (at most 32 steps for our exponents).
fn pow2_mod(mut e: u32, m: u64) -> u64 {
    let mut result = 1 % m;
    let mut base = 2 % m;
    while e != 0 {
        if e & 1 != 0 {
            result = mul_mod(result, base, m);
        }
        base = mul_mod(base, base, m);
        e >>= 1;
    }
    result
}

/// The inverse of an odd `m` modulo 2^64 (Newton iteration, each step doubles the bits).
fn inverse_mod_2_64(m: u64) -> u64 {
    let mut x = m; // m·m ≡ 1 (mod 8): three correct bits
    for _ in 0..5 {
        x = x.wrapping_mul(2u64.wrapping_sub(m.wrapping_mul(x)));
    }
    x
}

/// The exact remainder `a − q·b`, with the integer quotient `q` rounded to nearest-even
/// (`nearest`, IEEE remainder, FPREM1) or truncated (C fmod, FPREM), and the low 64 bits of
/// `|q|`. A zero remainder has the sign of `a`. Computed without the quotient: the dividend
/// significand times `2^d` is reduced modulo the (odd part of the) divisor significand by
/// modular exponentiation, and the quotient's low bits come from one modular inverse.
pub(crate) fn rem(a: Num, b: Num, nearest: bool) -> (Wide, u64) {
    let mx = a.sig;
    let t = b.sig.trailing_zeros();
    let my = b.sig >> t; // odd
    let ex = a.exp - 63; // a = mx · 2^ex
    let ey = b.exp - 63 + t as i32; // b = my · 2^ey
                                    // r, q (low bits), divisor, all in units of 2^unit; `divisor` is None when it is
                                    // beyond 2^128 (then q = 0 and 2r < divisor).
    let (mut r, mut q, divisor, unit): (u128, u64, Option<u128>, i32) = if ex >= ey {
        let d = (ex - ey) as u32;
        let r = mul_mod(mx % my, pow2_mod(d, my), my);
        let x_low = if d >= 64 { 0 } else { mx << d };
        let q = x_low.wrapping_sub(r).wrapping_mul(inverse_mod_2_64(my));
        (r as u128, q, Some(my as u128), ey)
    } else {
        let d = (ey - ex) as u32;
        if d <= 64 {
            let y = (my as u128) << d;
            ((mx as u128) % y, ((mx as u128) / y) as u64, Some(y), ex)
        } else {
            (mx as u128, 0, None, ex)
        }
    };
    let mut sign = a.sign;
    if nearest {
        if let Some(y) = divisor {
            // r < y ≤ 2^128 and r < 2^64 here, so 2r does not overflow
            if 2 * r > y || (2 * r == y && q & 1 != 0) {
                r = y - r;
                sign = !sign;
                q = q.wrapping_add(1);
            }
        }
    }
    let w = Wide {
        sign: if r == 0 { a.sign } else { sign },
        exp: unit + 127,
        sig: r,
    };
    (w, q)
}

/// `a` rounded to an integer by `mode`: its magnitude, whether that was inexact and whether
/// the magnitude was rounded up; `None` when |a| ≥ 2^64 (an integer, but too large for any
/// of our integer types).
pub(crate) fn to_integer(a: Num, mode: RoundingMode) -> Option<(u64, bool, bool)> {
    if a.exp >= 64 {
        return None;
    }
    if a.exp >= 63 {
        return Some((a.sig, false, false));
    }
    let (k, inexact, up) = round_shift((a.sig as u128) << 64, (127 - a.exp) as u32, a.sign, mode);
    Some((k as u64, inexact, up))
}

#[cfg(test)]
mod tests {
    use super::super::round::{round_pack, BINARY64};
    use super::super::Env;
    use super::*;

    fn num(v: f64) -> Num {
        // test helper: host doubles are only used to build exact operands
        let b = v.to_bits();
        let e = ((b >> 52) & 0x7FF) as u32;
        let f = b & ((1 << 52) - 1);
        Num::from_fields(
            BINARY64,
            b >> 63 != 0,
            e,
            if e == 0 { f } else { f | 1 << 52 },
        )
    }

    fn pack(w: Wide) -> f64 {
        let mut env = Env::default();
        let p = round_pack(&mut env, BINARY64, 53, w, false);
        f64::from_bits((p.sign as u64) << 63 | (p.exp as u64) << 52 | (p.sig & ((1 << 52) - 1)))
    }

    #[test]
    fn kernels_on_exact_cases() {
        assert_eq!(
            pack(add(num(1.5), num(2.25), RoundingMode::NearestEven)),
            3.75
        );
        assert_eq!(
            pack(add(num(1.5), num(-2.25), RoundingMode::NearestEven)),
            -0.75
        );
        let z = add(num(2.0), num(-2.0), RoundingMode::Down);
        assert_eq!((z.sig, z.sign), (0, true));
        assert_eq!(pack(mul(num(-3.0), num(0.125))), -0.375);
        assert_eq!(pack(div(num(10.0), num(4.0))), 2.5);
        assert_eq!(pack(sqrt(num(0.5625))), 0.75);
        assert_eq!(pack(sqrt(num(2.25))), 1.5);
        assert_eq!(pack(sqrt(num(4.0))), 2.0);
        // denormal input: 2^-1074 is one bit at the bottom
        let d = num(f64::from_bits(1));
        assert_eq!((d.exp, d.sig), (-1074, 1 << 63));
    }

    #[test]
    fn remainder_and_quotient_bits() {
        // 7 rem 2: q = 3.5 → 4 (even), r = −1; fmod: q = 3, r = 1
        let (w, q) = rem(num(7.0), num(2.0), true);
        assert_eq!((pack(w), q), (-1.0, 4));
        let (w, q) = rem(num(7.0), num(2.0), false);
        assert_eq!((pack(w), q), (1.0, 3));
        // 5 rem 2: q = 2.5 → 2, r = 1
        let (w, q) = rem(num(5.0), num(2.0), true);
        assert_eq!((pack(w), q), (1.0, 2));
        // a smaller than b
        let (w, q) = rem(num(-0.75), num(1.0), true);
        assert_eq!((pack(w), q), (0.25, 1));
        let (w, q) = rem(num(-0.25), num(1.0), true);
        assert_eq!((pack(w), q), (-0.25, 0));
        // huge exponent difference: 2^1000 mod 3 = (2^1000 mod 3) = 1
        let (w, q) = rem(num(2f64.powi(1000)), num(3.0), false);
        assert_eq!(pack(w), 1.0);
        // q = (2^1000 − 1)/3 ; its low 64 bits: 2^1000 − 1 ≡ −1 (mod 2^64), times 3⁻¹
        assert_eq!(q.wrapping_mul(3), u64::MAX);
        // zero remainder keeps the dividend's sign
        let (w, _) = rem(num(-6.0), num(3.0), true);
        assert_eq!((w.sig, w.sign), (0, true));
    }

    #[test]
    fn integer_rounding() {
        use RoundingMode::*;
        assert_eq!(to_integer(num(2.5), NearestEven), Some((2, true, false)));
        assert_eq!(to_integer(num(3.5), NearestEven), Some((4, true, true)));
        assert_eq!(to_integer(num(-2.5), Down), Some((3, true, true)));
        assert_eq!(to_integer(num(-2.5), Up), Some((2, true, false)));
        assert_eq!(to_integer(num(0.1), Up), Some((1, true, true)));
        assert_eq!(to_integer(num(0.1), NearestEven), Some((0, true, false)));
        assert_eq!(to_integer(num(42.0), TowardZero), Some((42, false, false)));
        assert_eq!(
            to_integer(num(2f64.powi(63)), TowardZero),
            Some((1 << 63, false, false))
        );
        assert_eq!(to_integer(num(2f64.powi(64)), TowardZero), None);
    }
}
