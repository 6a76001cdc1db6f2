//! Test helpers: a fixed-seed xorshift generator and operand generators biased toward the
//! encodings and magnitudes where floating-point code goes wrong (special values, denormals,
//! the overflow and underflow thresholds, cancellation, exact and halfway cases).

use super::{F32, F64, F80};

/// xorshift64 (Marsaglia), seeded; never zero.
pub(crate) struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// In 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// True once in `n` on average.
    pub fn chance(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
    /// A significand pattern (no particular top bit): random, with long runs of zeros or
    /// ones at either end (exact results, halfway cases, carries), or a single bit.
    pub fn pattern(&mut self) -> u64 {
        let r = self.next();
        match self.below(8) {
            0 => r & (u64::MAX << self.below(64)),
            1 => r | (u64::MAX >> self.below(64)),
            2 => !(1u64 << self.below(64)),
            3 => (1u64 << self.below(64)) | (r & 0xF),
            4 => r & (u64::MAX >> self.below(64)),
            5 => r | (u64::MAX << self.below(64)),
            _ => r,
        }
    }
}

/// A random double-extended value. `range` is the span of biased exponents around 0x3FFF used
/// for ordinary values; the rest of the time: specials, denormals, pseudo-denormals,
/// unsupported encodings, and exponents near both ends of the range.
pub(crate) fn rand_f80(rng: &mut XorShift) -> F80 {
    let sign = (rng.next() & 1) << 15;
    let sig = rng.pattern();
    let se = |e: u64| (sign | e) as u16;
    match rng.below(32) {
        0 => {
            let specials = [
                F80::new(0, 0),
                F80::INFINITY,
                F80::INDEFINITE,
                F80::new(0x7FFE, u64::MAX),
                F80::new(1, 1 << 63),
                F80::ONE,
                F80::new(0x403E, u64::MAX),
            ];
            let v = specials[rng.below(specials.len() as u64) as usize];
            F80::new(v.sign_exp | sign as u16, v.signif)
        }
        1 => F80::new(se(0x7FFF), 0xC000_0000_0000_0000 | sig), // QNaN
        2 => {
            let s = (sig & 0x3FFF_FFFF_FFFF_FFFF).max(1);
            F80::new(se(0x7FFF), 1 << 63 | s) // SNaN
        }
        3 | 4 | 5 => F80::new(se(0), sig >> (1 + rng.below(63))), // denormal (maybe zero)
        6 => F80::new(se(0), sig | 1 << 63),                      // pseudo-denormal
        7 => {
            if rng.chance(2) {
                F80::new(se(0x7FFF), sig & !(1 << 63)) // pseudo-NaN / pseudo-infinity
            } else {
                F80::new(se(1 + rng.below(0x7FFE)), sig & !(1 << 63)) // unnormal
            }
        }
        8..=11 => F80::new(se(1 + rng.below(70)), sig | 1 << 63),
        12..=14 => F80::new(se(0x7FFE - rng.below(70)), sig | 1 << 63),
        15 | 16 => F80::new(se(1 + rng.below(0x7FFE)), sig | 1 << 63),
        _ => F80::new(se(0x3FFF + rng.below(161) - 80), sig | 1 << 63),
    }
}

/// A second operand related to `a` for a binary operation: often of a nearby exponent (for
/// cancellation and rounding), or of one that puts a product or quotient right at the
/// overflow or underflow threshold.
pub(crate) fn rand_f80_partner(rng: &mut XorShift, a: F80, mul_like: Option<bool>) -> F80 {
    let b = rand_f80(rng);
    let ea = (a.sign_exp & 0x7FFF) as i64;
    if b.signif >> 63 == 0 || ea == 0 || ea == 0x7FFF {
        return b;
    }
    let sign = b.sign_exp & 0x8000;
    let eb = match (rng.below(4), mul_like) {
        (0, _) => ea + rng.below(5) as i64 - 2,
        (1, _) => ea + rng.below(141) as i64 - 70,
        // a·b near 2^-16382 or 2^16384: ea + eb − 16383 ≈ target
        (2, Some(true)) => target(rng) - ea + 16383,
        // a/b: ea − eb + 16383 ≈ target
        (2, Some(false)) => ea + 16383 - target(rng),
        _ => return b,
    };
    if !(1..=0x7FFE).contains(&eb) {
        return b;
    }
    F80::new(sign | eb as u16, b.signif)
}

fn target(rng: &mut XorShift) -> i64 {
    if rng.chance(2) {
        rng.below(80) as i64 - 70
    } else {
        0x7FFE - 3 + rng.below(6) as i64
    }
}

/// A random binary32 value, biased like [`rand_f80`].
pub(crate) fn rand_f32(rng: &mut XorShift) -> F32 {
    F32(rand_binary(rng, 8, 23) as u32)
}

/// A random binary64 value, biased like [`rand_f80`].
pub(crate) fn rand_f64(rng: &mut XorShift) -> F64 {
    F64(rand_binary(rng, 11, 52))
}

fn rand_binary(rng: &mut XorShift, exp_bits: u32, frac_bits: u32) -> u64 {
    let sign = (rng.next() & 1) << (exp_bits + frac_bits);
    let emax = (1u64 << exp_bits) - 1;
    let bias = emax / 2;
    let frac = rng.pattern() >> (64 - frac_bits);
    let e = match rng.below(24) {
        0 => 0,                                                                 // zero or denormal
        1 => emax,                                                              // infinity or NaN
        2 | 3 => 0,                                                             // denormal
        4..=6 => 1 + rng.below(frac_bits as u64 + 4), // near the underflow threshold
        7..=9 => emax - 1 - rng.below(4),             // near the overflow threshold
        10 | 11 => 1 + rng.below(emax - 1),           // anywhere
        _ => bias + rng.below(2 * frac_bits as u64 + 9) - frac_bits as u64 - 4, // around 1
    };
    let frac = if (e == 0 || e == emax) && rng.chance(3) {
        0
    } else {
        frac
    };
    sign | e << frac_bits | frac
}

/// A second binary operand related to `a` (raw bits with `frac_bits`): a nearby exponent,
/// or one putting a product (`Some(true)`) or quotient (`Some(false)`) near the limits.
pub(crate) fn partner_binary(
    rng: &mut XorShift,
    a: u64,
    b: u64,
    exp_bits: u32,
    frac_bits: u32,
    mul_like: Option<bool>,
) -> u64 {
    let emax = (1i64 << exp_bits) - 1;
    let bias = emax / 2;
    let ea = ((a >> frac_bits) as i64) & emax;
    let e_b = ((b >> frac_bits) as i64) & emax;
    if ea == 0 || ea == emax || e_b == 0 || e_b == emax {
        return b;
    }
    let t = if rng.chance(2) {
        rng.below(frac_bits as u64 + 6) as i64 - frac_bits as i64 - 3
    } else {
        emax - 3 + rng.below(5) as i64
    };
    let eb = match (rng.below(3), mul_like) {
        (0, _) => ea + rng.below(5) as i64 - 2,
        (1, Some(true)) => t - ea + bias,
        (1, Some(false)) => ea + bias - t,
        _ => return b,
    };
    if !(1..emax).contains(&eb) {
        return b;
    }
    let mask = (emax as u64) << frac_bits;
    (b & !mask) | (eb as u64) << frac_bits
}

/// Counts the cases a differential test compared against a reference and keeps the first
/// few differences; `finish` prints the count and fails on any difference.
pub(crate) struct Tally {
    reference: &'static str,
    name: &'static str,
    compared: usize,
    failed: usize,
    failures: Vec<String>,
}

impl Tally {
    /// A tally for test `name` against `reference` (e.g. "the host x87").
    pub fn new(reference: &'static str, name: &'static str) -> Tally {
        Tally {
            reference,
            name,
            compared: 0,
            failed: 0,
            failures: Vec::new(),
        }
    }

    /// Compare one case; `what` describes it for the failure report.
    pub fn check<T: PartialEq + core::fmt::Debug>(
        &mut self,
        what: impl FnOnce() -> String,
        ours: T,
        reference: T,
    ) {
        self.compared += 1;
        if ours != reference {
            self.failed += 1;
            if self.failures.len() < 12 {
                self.failures.push(format!(
                    "{}: ours {:x?} reference {:x?}",
                    what(),
                    ours,
                    reference
                ));
            }
        }
    }

    /// Print the count and fail on any difference (or on suspiciously few cases).
    pub fn finish(self) {
        println!(
            "{}: {} cases compared against {}",
            self.name, self.compared, self.reference
        );
        assert!(
            self.compared >= 1000,
            "{}: too few cases ({})",
            self.name,
            self.compared
        );
        assert!(
            self.failed == 0,
            "{}: {} of {} cases differ from {}:\n{}",
            self.name,
            self.failed,
            self.compared,
            self.reference,
            self.failures.join("\n")
        );
    }
}
