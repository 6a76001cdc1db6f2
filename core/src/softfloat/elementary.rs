//! The 128-bit kernels of the x87 transcendental instructions (`f80_transcendental.rs`):
//! (2^x − 1)/x, log2, sine and cosine after the x87's argument reduction, and arctangent, in
//! integer arithmetic only (no host floating point), each in a bounded number of steps.
//!
//! Values are [`Wide`]s used as a small binary floating point with a 128-bit significand:
//! `sig × 2^(exp − 127)`, normalized (bit 127 set) unless zero. Every operation truncates and
//! ORs whatever it dropped into bit 0 ("jamming"), so bit 0 doubles as the sticky bit that
//! [`super::round::round_pack`] expects, and a result just below or above a representable
//! value stays on its side (cos of a tiny argument is below 1, its sine below the argument).
//! Each operation is accurate to a few units of 2^-127 relative; the longest chain (a Horner
//! loop of at most 32 steps) stays below 2^-118, far more than the 64 bits the results are
//! rounded to.
//!
//! Methods (all series are Taylor series of the functions named, evaluated in Horner form with
//! a fixed number of terms chosen so that the first omitted term is below 2^-128):
//! - (2^x − 1)/x = (e^t − 1)/x with t = x·ln 2, for |x| ≤ 1;
//! - log2 v = e + 2·atanh(s)/ln 2 with v = m·2^e, m ∈ [√2/2, √2), s = (m − 1)/(m + 1), so
//!   |s| ≤ 0.172; log2(1 + x) for small x uses s = x/(2 + x) directly (no rounding of 1 + x);
//! - sin, cos: the argument is reduced exactly modulo p/2, where p is the x87's 66-bit
//!   approximation of π (SDM vol. 1, 8.3.8 "Pi": 0.C90FDAA2_2168C234_C × 2^2), as FPREM
//!   would, and the functions are evaluated at the exact remainder r in the quadrant k:
//!   sin(x) is computed as sin(r + kπ/2). (Intel's white paper on the x87 trigonometric
//!   instructions describes FSIN(x) as approximating sin(x·π/p); scaling r by π/p as well
//!   agrees less often with the host.) The series give sin(u)/u − 1 and 1 − cos(u) with
//!   full relative precision;
//! - atan t for 0 ≤ t ≤ 1: t = c + δ with c = j/16 the nearest sixteenth and
//!   atan t = atan c + atan((t − c)/(1 + t·c)), a 17-entry table and a series in a tiny argument.
//!
//! The constants are the exact values rounded to 128 bits, checked by the tests against
//! identities computed with these very kernels.

use super::round::{shift_right_jam, Wide};

/// A working value (see the module header).
pub(crate) type X = Wide;

/// The positive value `sig × 2^(exp − 127)`.
const fn x(sig: u128, exp: i32) -> X {
    Wide {
        sign: false,
        exp,
        sig,
    }
}

/// 1.
pub(crate) const ONE: X = x(1 << 127, 0);
/// ln 2.
const LN2: X = x(0xB17217F7D1CF79ABC9E3B39803F2F6AF, -1);
/// log2 e = 1/ln 2.
const LOG2E: X = x(0xB8AA3B295C17F0BBBE87FED0691D3E89, 0);
/// √2 (significand only: the threshold of the log2 normalization).
const SQRT2_SIG: u128 = 0xB504F333F9DE6484597D89B3754ABE9F;
/// π.
pub(crate) const PI: X = x(0xC90FDAA22168C234C4C6628B80DC1CD1, 1);
/// π/2.
pub(crate) const PI_2: X = x(PI.sig, 0);
/// π/4.
pub(crate) const PI_4: X = x(PI.sig, -1);
/// The x87's 66-bit π as an integer in units of 2^-66 (so p/2 in units of 2^-67).
const P66: u128 = 0xC90FDAA22168C234C;
/// atan(j/16) for j = 1..=16, as (significand, exponent).
const ATAN_SIXTEENTHS: [(u128, i32); 16] = [
    (0xFFAADDB967EF4E36CB2792DC0E2E0D51, -5),
    (0xFEADD4D5617B6E32C897989F3E888EF8, -4),
    (0xBDCBDA5E72D811347B0B4F881C9C7488, -3),
    (0xFADBAFC96406EB156DC79EF5F7A217E6, -3),
    (0x9B13B9B83F5E5E69C5ABB498D27AF328, -2),
    (0xB7B0CA0F26F784738AA32122DCFE4483, -2),
    (0xD327761E611FE5B6427C95E9001E7136, -2),
    (0xED63382B0DDA7B456FE445ECBC3A8D03, -2),
    (0x832BF4A6D9867E2A4B6A09CB61A515C1, -1),
    (0x8F005D5EF7F59F9B5C835E1665C43748, -1),
    (0x9A2F80E671BDDA204226F8E2204FF3BD, -1),
    (0xA4BC7D1934F7092419A87F2A457DAC9F, -1),
    (0xAEAC4C38B4D8C08014725E2F3E52070A, -1),
    (0xB8053E2BC2319E73CB2DA55210A4443D, -1),
    (0xC0CE85B8AC52664089DD62C46E92FA25, -1),
    (0xC90FDAA22168C234C4C6628B80DC1CD1, -1),
];

/// Zero of a sign.
fn zero(sign: bool) -> X {
    Wide {
        sign,
        exp: 0,
        sig: 0,
    }
}

/// The value with its sign flipped.
pub(crate) fn neg(a: X) -> X {
    Wide { sign: !a.sign, ..a }
}

/// The value scaled by 2^n (exact).
pub(crate) fn scale(a: X, n: i32) -> X {
    Wide {
        exp: a.exp + n,
        ..a
    }
}

/// An integer, exactly.
pub(crate) fn int(v: i64) -> X {
    Wide {
        sign: v < 0,
        ..uint(v.unsigned_abs() as u128)
    }
}

/// A nonnegative integer, exactly.
fn uint(m: u128) -> X {
    if m == 0 {
        return zero(false);
    }
    let lz = m.leading_zeros();
    Wide {
        sign: false,
        exp: 127 - lz as i32,
        sig: m << lz,
    }
}

/// The 256-bit product of two 128-bit integers as (high, low).
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    let (a1, a0) = (a >> 64, a as u64 as u128);
    let (b1, b0) = (b >> 64, b as u64 as u128);
    let (p00, p01, p10, p11) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
    let mid = (p00 >> 64) + (p01 as u64 as u128) + (p10 as u64 as u128);
    let lo = (p00 as u64 as u128) | (mid << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    (hi, lo)
}

/// `a × b`.
pub(crate) fn mul(a: X, b: X) -> X {
    let sign = a.sign ^ b.sign;
    if a.sig == 0 || b.sig == 0 {
        return zero(sign);
    }
    let (mut hi, mut lo) = mul_wide(a.sig, b.sig);
    let mut exp = a.exp + b.exp + 1;
    if hi >> 127 == 0 {
        hi = (hi << 1) | (lo >> 127);
        lo <<= 1;
        exp -= 1;
    }
    Wide {
        sign,
        exp,
        sig: hi | (lo != 0) as u128,
    }
}

/// `a + b`; an exact zero sum is +0.
pub(crate) fn add(a: X, b: X) -> X {
    if a.sig == 0 {
        return b;
    }
    if b.sig == 0 {
        return a;
    }
    let (big, small) = if (a.exp, a.sig) >= (b.exp, b.sig) {
        (a, b)
    } else {
        (b, a)
    };
    let d = (big.exp - small.exp).min(200) as u32;
    let s = shift_right_jam(small.sig, d);
    let sticky = (big.sig | s) & 1;
    if big.sign == small.sign {
        let (sum, carry) = big.sig.overflowing_add(s);
        if carry {
            Wide {
                sign: big.sign,
                exp: big.exp + 1,
                sig: (sum >> 1) | 1 << 127 | (sum & 1) | sticky,
            }
        } else {
            Wide {
                sign: big.sign,
                exp: big.exp,
                sig: sum | sticky,
            }
        }
    } else {
        let diff = big.sig - s;
        if diff == 0 {
            return zero(false);
        }
        let lz = diff.leading_zeros();
        Wide {
            sign: big.sign,
            exp: big.exp - lz as i32,
            sig: (diff << lz) | sticky,
        }
    }
}

/// `a − b`.
pub(crate) fn sub(a: X, b: X) -> X {
    add(a, neg(b))
}

/// `a ÷ b` (`b` nonzero): 128 quotient bits by restoring division, and a sticky bit.
pub(crate) fn div(a: X, b: X) -> X {
    let sign = a.sign ^ b.sign;
    if a.sig == 0 {
        return zero(sign);
    }
    let d = b.sig;
    let (mut r, mut carry) = (a.sig, false);
    let mut exp = a.exp - b.exp;
    if r < d {
        carry = r >> 127 != 0;
        r <<= 1;
        exp -= 1;
    }
    let mut q = 0u128;
    for _ in 0..128 {
        q <<= 1;
        if carry || r >= d {
            r = r.wrapping_sub(d);
            q |= 1;
        }
        carry = r >> 127 != 0;
        r <<= 1;
    }
    Wide {
        sign,
        exp,
        sig: q | (r != 0 || carry) as u128,
    }
}

/// `a ÷ n` for a small positive integer `n` (< 2^32).
fn div_int(a: X, n: u32) -> X {
    if a.sig == 0 {
        return a;
    }
    let n = n as u128;
    let (q, rem) = (a.sig / n, a.sig % n);
    let lz = q.leading_zeros();
    let low = rem << lz; // < 2^64: rem < 2^32 and lz ≤ 32
    Wide {
        sign: a.sign,
        exp: a.exp - lz as i32,
        sig: (q << lz) | (low / n) | (low % n != 0) as u128 | (a.sig & 1),
    }
}

/// Whether |a| < |b| (both nonzero and normalized).
pub(crate) fn mag_lt(a: X, b: X) -> bool {
    (a.exp, a.sig) < (b.exp, b.sig)
}

/// `a` truncated (toward zero) to its leading `bits` bits, the sticky bit dropped.
pub(crate) fn truncate(a: X, bits: u32) -> X {
    Wide {
        sig: a.sig & !(u128::MAX >> bits),
        ..a
    }
}

/// (2^x − 1)/x for 0 < |x| ≤ 1: (e^t − 1)/x = ln 2·(1 + t/2·(1 + t/3·(1 + … t/32))) with
/// t = x·ln 2. The first omitted term, t^33/33! < 2^-140.
pub(crate) fn exp2m1_ratio(xv: X) -> X {
    let t = mul(xv, LN2);
    let mut acc = ONE;
    for n in (2..=32).rev() {
        acc = add(ONE, div_int(mul(t, acc), n));
    }
    mul(LN2, acc)
}

/// ln((1 + s)/(1 − s)) = 2·atanh(s) = 2s·(1 + s²/3 + s⁴/5 + …) for |s| ≤ 0.172 (s² < 2^-5:
/// 26 terms leave less than 2^-130).
fn ln_ratio(s: X) -> X {
    let z = mul(s, s);
    let mut acc = div_int(ONE, 2 * 26 + 1);
    for k in (1..26).rev() {
        acc = add(div_int(ONE, 2 * k + 1), mul(z, acc));
    }
    scale(mul(s, add(ONE, mul(z, acc))), 1)
}

/// log2 v for v > 0, and whether that is exact (an integer: v is a power of two).
pub(crate) fn log2(v: X) -> (X, bool) {
    let mut e = v.exp;
    let mut m = Wide {
        sign: false,
        exp: 0,
        ..v
    };
    if m.sig == 1 << 127 {
        return (int(e as i64), true);
    }
    if m.sig > SQRT2_SIG {
        m.exp = -1;
        e += 1;
    }
    let s = div(sub(m, ONE), add(m, ONE));
    (add(int(e as i64), mul(ln_ratio(s), LOG2E)), false)
}

/// log2(1 + x) for x > −1 (and whether it is exact). For |x| < 1/4, through s = x/(2 + x),
/// which keeps every bit of a tiny x; otherwise log2 of the sum 1 + x (exact unless
/// x ≥ 2^64, where the sticky bit keeps it from looking like a power of two).
pub(crate) fn log2_1p(xv: X) -> (X, bool) {
    if xv.exp <= -3 {
        let s = div(xv, add(xv, int(2)));
        (mul(ln_ratio(s), LOG2E), false)
    } else {
        log2(add(ONE, xv))
    }
}

/// The x87 reduction of a trigonometric argument: for `|x| = sig × 2^(exp − 63)` below 2^63,
/// the integer k nearest to |x|/(p/2) modulo 4 and the reduced argument u = |x| − k·p/2,
/// |u| ≤ p/4. The remainder is exact: |x| and p/2 are integers in units of 2^-67, reduced
/// by shift-and-subtract (at most 66 steps).
pub(crate) fn reduce(exp: i32, sig: u64) -> (u32, X) {
    let (k, r) = if exp < -1 {
        (
            0,
            Wide {
                sign: false,
                exp,
                sig: (sig as u128) << 64,
            },
        )
    } else {
        // |x| = sig × 2^(exp + 4) units of 2^-67; sig < 2^64 < P66 to start with.
        let (mut rem, mut k) = (sig as u128, 0u64);
        for _ in 0..exp + 4 {
            rem <<= 1;
            k <<= 1;
            if rem >= P66 {
                rem -= P66;
                k |= 1;
            }
        }
        let (neg_r, mag) = if 2 * rem > P66 {
            k = k.wrapping_add(1);
            (true, P66 - rem)
        } else {
            (false, rem)
        };
        let r = Wide {
            sign: neg_r,
            ..uint(mag)
        };
        ((k & 3) as u32, scale(r, -67))
    };
    (k, r)
}

/// Sine and cosine of a reduced argument u (|u| ≤ π/4 + ε, nonzero), kept as
/// `sm1` = sin(u)/u − 1 and `c` = 1 − cos u, each with full relative precision.
pub(crate) struct Trig {
    u: X,
    sm1: X,
    c: X,
}

impl Trig {
    /// sin(u)/u = 1 − z/(2·3)·(1 − z/(4·5)·(…)), cos u = 1 − z/(1·2)·(1 − z/(3·4)·(…)) with
    /// z = u² ≤ 0.62: 17 levels leave less than 2^-134.
    pub fn new(u: X) -> Trig {
        let z = mul(u, u);
        let (mut hs, mut hc) = (ONE, ONE);
        for k in (2..=17u32).rev() {
            hs = sub(ONE, div_int(mul(z, hs), (2 * k) * (2 * k + 1)));
            hc = sub(ONE, div_int(mul(z, hc), (2 * k - 1) * (2 * k)));
        }
        Trig {
            u,
            sm1: neg(div_int(mul(z, hs), 6)),
            c: scale(mul(z, hc), -1),
        }
    }

    /// The reduced argument u.
    pub fn arg(&self) -> X {
        self.u
    }

    /// sin u.
    pub fn sin(&self) -> X {
        mul(self.u, add(ONE, self.sm1))
    }

    /// cos u.
    pub fn cos(&self) -> X {
        sub(ONE, self.c)
    }
}

/// atan t for 0 < t ≤ 1.
pub(crate) fn atan(t: X) -> X {
    // j = round(16 t) from floor(32 t)
    let v = if t.exp < -5 {
        0
    } else {
        t.sig >> (122 - t.exp) as u32
    };
    let j = ((v + 1) >> 1) as usize;
    let (base, dv) = if j == 0 {
        (zero(false), t)
    } else {
        let c = scale(int(j as i64), -4);
        let (s, e) = ATAN_SIXTEENTHS[j - 1];
        (x(s, e), div(sub(t, c), add(ONE, mul(t, c))))
    };
    // atan δ = δ·(1 − z/3 + z²/5 − …), z = δ² ≤ 2^-10: 13 terms leave less than 2^-134.
    let z = mul(dv, dv);
    let term = |k: u32| {
        let q = div_int(ONE, 2 * k + 1);
        if k % 2 == 1 {
            neg(q)
        } else {
            q
        }
    };
    let mut acc = term(13);
    for k in (1..13).rev() {
        acc = add(term(k), mul(z, acc));
    }
    add(base, mul(dv, add(ONE, mul(z, acc))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// |a − b| relative to |b|, as a power of two (−∞ for equal values).
    fn rel_err_log2(a: X, b: X) -> i32 {
        let d = sub(a, b);
        if d.sig == 0 {
            return i32::MIN;
        }
        d.exp - b.exp
    }

    fn close(a: X, b: X, bits: i32) -> bool {
        rel_err_log2(a, b) < -bits
    }

    #[test]
    fn arithmetic_is_exact_where_it_can_be() {
        assert_eq!(mul(int(3), int(-7)), int(-21));
        assert_eq!(add(int(5), int(-7)), int(-2));
        assert_eq!(add(int(5), int(-5)).sig, 0);
        assert_eq!(div(int(21), int(-7)), int(-3));
        assert_eq!(scale(int(3), -1), div(int(3), int(2)));
        assert_eq!(truncate(x(u128::MAX, 0), 4).sig, 0xF << 124);
        // 1/3 has a sticky bit; 1 − 2^-200 stays below 1
        let third = div(ONE, int(3));
        assert_eq!(third.sig & 1, 1);
        let below = sub(ONE, scale(ONE, -200));
        assert!(mag_lt(below, ONE) && below.sig & 1 == 1);
        assert_eq!(div_int(int(21), 7), int(3));
    }

    #[test]
    fn constants_agree_with_the_series() {
        // (2^1 − 1)/1 = 1 checks ln 2 through e^(ln 2) − 1
        assert!(close(exp2m1_ratio(ONE), ONE, 120));
        // ln 2 · log2 e = 1, √2² = 2
        assert!(close(mul(LN2, LOG2E), ONE, 124));
        let sqrt2 = x(SQRT2_SIG, 0);
        assert!(close(mul(sqrt2, sqrt2), int(2), 124));
        // Intel's p is π rounded to 68 bits (the last two zero)
        assert_eq!(PI.sig >> 60, P66);
        // sin²(π/4) = 1/2 and cos(π/4) = sin(π/4) check π and the sine/cosine series
        let t = Trig::new(PI_4);
        assert!(close(mul(t.sin(), t.sin()), scale(ONE, -1), 118));
        assert!(close(t.cos(), t.sin(), 118));
        // every atan(j/16) entry: tan of it is j/16
        for j in 1..=16 {
            let (s, e) = ATAN_SIXTEENTHS[j - 1];
            let t = Trig::new(x(s, e));
            let q = scale(int(j as i64), -4);
            assert!(close(div(t.sin(), t.cos()), q, 116), "atan({j}/16)");
        }
        // Machin: π = 16 atan(1/5) − 4 atan(1/239), through the table and the series
        let machin = sub(
            scale(atan(div(ONE, int(5))), 4),
            scale(atan(div(ONE, int(239))), 2),
        );
        assert!(close(machin, PI, 118));
    }

    #[test]
    fn logarithms_and_powers_round_trip() {
        // log2 of powers of two is exact; log2 3 = 1.584962500721156181453738943947816508…
        assert_eq!(log2(int(1024)), (int(10), true));
        assert_eq!(log2(scale(ONE, -3)), (int(-3), true));
        let (l3, exact) = log2(int(3));
        assert!(!exact);
        assert_eq!(l3.sig >> 64, 0xCAE0_0D1C_FDEB_43CF);
        // 2^(log2 1.5) − 1 = 1/2, and log2(1 + x) for tiny x is x·log2 e
        let (l, _) = log2(x(3 << 126, 0));
        assert!(close(mul(l, exp2m1_ratio(l)), scale(ONE, -1), 116));
        let tiny = scale(ONE, -100);
        let (lp, _) = log2_1p(tiny);
        assert!(close(lp, mul(tiny, LOG2E), 98));
        // the two log2(1 + x) paths agree at their border
        let q = scale(ONE, -2);
        let (a, _) = log2_1p(q);
        let (b, _) = log2(add(ONE, q));
        assert!(close(a, b, 118));
    }

    #[test]
    fn reduction_uses_the_66_bit_pi() {
        // x = π rounded to 64 bits, C90FDAA22168C235 × 2^-62: k = 2 and
        // u = x − p = (…C235 − …C234.C) × 2^-62 = 2^-64 exactly
        let (k, u) = reduce(1, 0xC90F_DAA2_2168_C235);
        assert_eq!((k, u), (2, scale(ONE, -64)));
        // below 1/2 nothing is reduced
        let (k, u) = reduce(-2, 0xC000_0000_0000_0000);
        assert_eq!((k, u), (0, x(3 << 126, -2)));
        // 2^62: k·p/2 + u with |u| ≤ p/4, checked by rebuilding 2^62 from k and u
        let (k, u) = reduce(62, 1 << 63);
        let half_p = x(P66 << 60, 0);
        let n = 0x28BE_60DB_9391_054B_u128; // 2^62/(p/2) rounded, in exact rational arithmetic
        let rebuilt = add(mul(uint(n), half_p), u);
        assert!(close(rebuilt, scale(ONE, 62), 120));
        assert_eq!(k as u128, n & 3);
    }
}
