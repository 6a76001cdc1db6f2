//! Differential tests of [`F80`] against the host's x87 on chosen operands: every pair of
//! a list of special encodings (NaNs that tie or differ only in sign or quietness,
//! unsupported encodings, denormals, pseudo-denormals, the limits) for the binary
//! operations, and random results right at the overflow and underflow thresholds, where
//! tininess after rounding and precision control's denormal rounding show.

use super::testutil::{Tally, XorShift};
use super::x87_host::*;
use super::{Env, Precision, Relation, RoundingMode, F80};

/// Operands worth trying against each other exhaustively: NaNs that tie or differ only in
/// sign or quietness, unsupported encodings, denormals and pseudo-denormals, the limits.
fn interesting_f80() -> Vec<F80> {
    let mut v = Vec::new();
    let mags = [
        F80::new(0, 0),
        F80::INFINITY,
        F80::new(0x7FFF, 0xC000_0000_0000_0000), // QNaN, indefinite payload
        F80::new(0x7FFF, 0xC000_0000_0000_0001),
        F80::new(0x7FFF, 0xC000_0000_0000_0002),
        F80::new(0x7FFF, 0x8000_0000_0000_0001), // SNaN
        F80::new(0x7FFF, 0x8000_0000_0000_0002),
        F80::new(0x7FFF, 0xBFFF_FFFF_FFFF_FFFF),
        F80::new(0x7FFF, 0x4000_0000_0000_0000), // pseudo-NaN
        F80::new(0x7FFF, 0),                     // pseudo-infinity
        F80::new(0x3FFF, 0x4000_0000_0000_0000), // unnormal
        F80::new(0, 1),                          // denormals
        F80::new(0, 0x7FFF_FFFF_FFFF_FFFF),
        F80::new(0, 0x4000_0000_0000_0001),
        F80::new(0, 0x8000_0000_0000_0000), // pseudo-denormals
        F80::new(0, 0xFFFF_FFFF_FFFF_FFFF),
        F80::new(1, 0x8000_0000_0000_0000), // smallest normal
        F80::new(1, 0xFFFF_FFFF_FFFF_FFFF),
        F80::new(2, 0x8000_0000_0000_0001),
        F80::new(0x3FFE, 0xFFFF_FFFF_FFFF_FFFF),
        F80::new(0x3FFF, 0x8000_0000_0000_0000),
        F80::new(0x3FFF, 0x8000_0000_0000_0001),
        F80::new(0x3FFF, 0x8000_0080_0000_0000), // a binary32 halfway pattern
        F80::new(0x3FFF, 0x8000_0000_0000_0400), // a binary64 halfway pattern
        F80::new(0x4000, 0xC000_0000_0000_0000),
        F80::new(0x403E, 0xFFFF_FFFF_FFFF_FFFF),
        F80::new(0x7FFE, 0x8000_0000_0000_0000),
        F80::new(0x7FFE, 0xFFFF_FFFF_FFFF_FFFF), // largest finite
        F80::new(0x7FFE, 0xFFFF_FF80_0000_0000),
    ];
    for m in mags {
        v.push(m);
        v.push(m.negate());
    }
    v
}

#[test]
fn x87_arithmetic_on_interesting_pairs_matches_host() {
    let ops: [(&str, Ours, Host); 4] = [
        ("fadd", |a, b, e| a.add(b, e), host_add),
        ("fsub", |a, b, e| a.sub(b, e), host_sub),
        ("fmul", |a, b, e| a.mul(b, e), host_mul),
        ("fdiv", |a, b, e| a.div(b, e), host_div),
    ];
    let vals = interesting_f80();
    let mut t = Tally::new(
        HOST_X87,
        "interesting pairs (fadd/fsub/fmul/fdiv/fscale/fprem1/fcom)",
    );
    for &a in &vals {
        for &b in &vals {
            for (name, ours, host) in ops {
                for mode in MODES {
                    for prec in PRECISIONS {
                        let mut e = env(mode, prec);
                        let r = ours(a, b, &mut e);
                        let (hr, hsw) = host(a, b, control_word(mode, prec));
                        let what = || format!("{name}({a:x?}, {b:x?}) {mode:?} {prec:?}");
                        t.check(what, (r, status(&e)), (hr, hsw & (FLAGS | C1)));
                    }
                }
            }
            let cw = control_word(RoundingMode::NearestEven, Precision::Extended);
            let mut e = Env::default();
            let r = a.scale(b, &mut e);
            let (hr, hsw) = host_scale(a, b, cw);
            t.check(
                || format!("fscale({a:x?}, {b:x?})"),
                (r, status(&e)),
                (hr, hsw & (FLAGS | C1)),
            );
            let mut e = Env::default();
            let (r, _) = a.rem_ieee(b, &mut e);
            let (hr, hsw) = host_prem1(a, b, cw);
            if hsw & C2 == 0 {
                t.check(
                    || format!("fprem1({a:x?}, {b:x?})"),
                    (r, e.flags.bits() as u16),
                    (hr, hsw & FLAGS),
                );
            }
            let mut e = Env::default();
            let rel = a.compare_signaling(b, &mut e);
            let (_, hsw) = host_fcom(a, b, cw);
            let code = match rel {
                Relation::Greater => 0,
                Relation::Less => C0,
                Relation::Equal => C3,
                Relation::Unordered => C0 | C2 | C3,
            };
            t.check(
                || format!("fcom({a:x?}, {b:x?})"),
                e.flags.bits() as u16 | code,
                hsw & (FLAGS | C0 | C2 | C3),
            );
        }
    }
    t.finish();
}

#[test]
fn x87_results_at_the_overflow_and_underflow_thresholds_match_host() {
    // Significands close to all ones or to a power of two, exponents putting the exact result
    // within a factor of 4 of 2^-16382 (tininess before/after rounding, denormal rounding
    // under each precision control) or of 2^16384 (overflow after rounding).
    let mut rng = XorShift::new(12);
    let mut t = Tally::new(HOST_X87, "thresholds (fmul/fdiv/fadd)");
    let sig = |rng: &mut XorShift| {
        let small = 1 << rng.below(40);
        match rng.below(4) {
            0 => u64::MAX - rng.below(small),
            1 => (1 << 63) + rng.below(small),
            2 => u64::MAX << rng.below(64),
            _ => rng.next() | 1 << 63,
        }
    };
    for _ in 0..CASES {
        let sign = |rng: &mut XorShift| ((rng.next() & 1) as u16) << 15;
        let ea = 0x3FFF - 40 + rng.below(80) as i64;
        let a = F80::new(sign(&mut rng) | ea as u16, sig(&mut rng));
        let low = rng.chance(2);
        // product: ea + eb − 16383 ∈ {target − 1, target}
        let target = if low { 1 } else { 0x7FFE };
        let eb_mul = target + 0x3FFF - ea - rng.below(3) as i64 + 1;
        let b_mul = F80::new(sign(&mut rng) | eb_mul as u16, sig(&mut rng));
        // quotient: ea − eb + 16383 ∈ {target − 1, target}
        let eb_div = ea + 0x3FFF - target + rng.below(3) as i64 - 1;
        let b_div = F80::new(sign(&mut rng) | eb_div as u16, sig(&mut rng));
        // sum: a tiny normal and a denormal (or another tiny normal) of either sign
        let sa = F80::new(sign(&mut rng) | (1 + rng.below(2)) as u16, sig(&mut rng));
        let sb = F80::new(
            sign(&mut rng) | rng.below(2) as u16,
            sig(&mut rng) >> rng.below(3),
        );
        for mode in MODES {
            for prec in PRECISIONS {
                let cw = control_word(mode, prec);
                let cases: [(&str, F80, F80, Ours, Host); 3] = [
                    ("fmul", a, b_mul, |a, b, e| a.mul(b, e), host_mul),
                    ("fdiv", a, b_div, |a, b, e| a.div(b, e), host_div),
                    ("fadd", sa, sb, |a, b, e| a.add(b, e), host_add),
                ];
                for (name, x, y, ours, host) in cases {
                    let mut e = env(mode, prec);
                    let r = ours(x, y, &mut e);
                    let (hr, hsw) = host(x, y, cw);
                    let what = || format!("{name}({x:x?}, {y:x?}) {mode:?} {prec:?}");
                    t.check(what, (r, status(&e)), (hr, hsw & (FLAGS | C1)));
                }
            }
        }
    }
    t.finish();
}
