//! Differential tests of [`F80`] against the host's own x87 unit (x86-64 hosts only): the
//! reference that is not vx86. For random operands (see `testutil.rs`) the result bits and
//! the IE/DE/ZE/OE/UE/PE flags, plus C1 (or the C0/C2/C3 condition codes where the
//! instruction defines them) must match exactly, in all four rounding modes and, for the
//! instructions precision control affects, all three precisions. The harness is in
//! `x87_host.rs`; exhaustive special pairs and threshold cases in `x87_host_edge_tests.rs`.

use super::testutil::{rand_f32, rand_f64, rand_f80, rand_f80_partner, Tally, XorShift};
use super::x87_host::*;
use super::{Env, Precision, Relation, RoundingMode, F32, F64, F80};

fn binary_differential(
    name: &'static str,
    seed: u64,
    ours: Ours,
    host: Host,
    mul_like: Option<bool>,
    pc: bool,
) {
    let mut rng = XorShift::new(seed);
    let mut t = Tally::new(HOST_X87, name);
    let precs: &[Precision] = if pc {
        &PRECISIONS
    } else {
        &[Precision::Extended]
    };
    for _ in 0..CASES {
        let a = rand_f80(&mut rng);
        let b = rand_f80_partner(&mut rng, a, mul_like);
        for &(x, y) in &[(a, b), (b, a)] {
            for mode in MODES {
                for &prec in precs {
                    let mut e = env(mode, prec);
                    let r = ours(x, y, &mut e);
                    let (hr, hsw) = host(x, y, control_word(mode, prec));
                    let what = || format!("{name}({x:x?}, {y:x?}) {mode:?} {prec:?}");
                    t.check(what, (r, status(&e)), (hr, hsw & (FLAGS | C1)));
                }
            }
        }
    }
    t.finish();
}

#[test]
fn x87_add_matches_host() {
    binary_differential("fadd", 1, |a, b, e| a.add(b, e), host_add, None, true);
}

#[test]
fn x87_sub_matches_host() {
    binary_differential("fsub", 2, |a, b, e| a.sub(b, e), host_sub, None, true);
}

#[test]
fn x87_mul_matches_host() {
    binary_differential("fmul", 3, |a, b, e| a.mul(b, e), host_mul, Some(true), true);
}

#[test]
fn x87_div_matches_host() {
    binary_differential(
        "fdiv",
        4,
        |a, b, e| a.div(b, e),
        host_div,
        Some(false),
        true,
    );
}

#[test]
fn x87_scale_matches_host() {
    // FSCALE: b is a (usually small) scale factor
    let mut rng = XorShift::new(5);
    let mut t = Tally::new(HOST_X87, "fscale");
    for _ in 0..CASES {
        let a = rand_f80(&mut rng);
        let b = if rng.chance(3) {
            rand_f80(&mut rng)
        } else {
            let n = rng.below(70000) as i64 - 35000;
            let n = if rng.chance(2) { n } else { n % 100 };
            let fracpart = if rng.chance(2) { 0 } else { rng.next() >> 50 };
            let f = F80::from_i64(n);
            if fracpart != 0 {
                f.add(F80::new(0x3FFE, 1 << 63 | fracpart), &mut Env::default())
            } else {
                f
            }
        };
        for mode in MODES {
            let mut e = env(mode, Precision::Extended);
            let r = a.scale(b, &mut e);
            let (hr, hsw) = host_scale(a, b, control_word(mode, Precision::Extended));
            t.check(
                || format!("fscale({a:x?}, {b:x?}) {mode:?}"),
                (r, status(&e)),
                (hr, hsw & (FLAGS | C1)),
            );
        }
    }
    t.finish();
}

#[test]
fn x87_sqrt_and_frndint_match_host() {
    let mut rng = XorShift::new(6);
    let mut ts = Tally::new(HOST_X87, "fsqrt");
    let mut tr = Tally::new(HOST_X87, "frndint");
    for _ in 0..CASES {
        let mut a = rand_f80(&mut rng);
        if rng.chance(3) {
            a = a.abs();
        }
        // for FRNDINT, exponents where the integer part is being formed
        let r_in = if rng.chance(2) {
            F80::new(
                a.sign_exp & 0x8000 | (0x3FFD + rng.below(68) as u16),
                a.signif | 1 << 63,
            )
        } else {
            a
        };
        for mode in MODES {
            for prec in PRECISIONS {
                let cw = control_word(mode, prec);
                let mut e = env(mode, prec);
                let r = a.sqrt(&mut e);
                let (hr, hsw) = host_sqrt(a, cw);
                ts.check(
                    || format!("fsqrt({a:x?}) {mode:?} {prec:?}"),
                    (r, status(&e)),
                    (hr, hsw & (FLAGS | C1)),
                );
                let mut e = env(mode, prec);
                let r = r_in.round_to_int(&mut e);
                let (hr, hsw) = host_rndint(r_in, cw);
                tr.check(
                    || format!("frndint({r_in:x?}) {mode:?} {prec:?}"),
                    (r, status(&e)),
                    (hr, hsw & (FLAGS | C1)),
                );
            }
        }
    }
    ts.finish();
    tr.finish();
}

#[test]
fn x87_remainders_match_host() {
    // FPREM/FPREM1 one step at a time, partial steps included, with all four condition
    // codes; then the complete remainders against the host iterating until C2 = 0.
    let mut rng = XorShift::new(7);
    let mut t = Tally::new(HOST_X87, "fprem/fprem1");
    let mut partial = 0;
    let cw = control_word(RoundingMode::NearestEven, Precision::Extended);
    let codes = |r: super::PartialRemainder| {
        let q = r.quotient_bits;
        (if r.complete { 0 } else { C2 })
            | if q & 4 != 0 { C0 } else { 0 }
            | if q & 2 != 0 { C3 } else { 0 }
            | if q & 1 != 0 { C1 } else { 0 }
    };
    for i in 0..CASES {
        let a = rand_f80(&mut rng);
        let mut b = rand_f80_partner(&mut rng, a, None);
        if i % 4 == 0 && b.exp_field() != 0 && b.exp_field() != 0x7FFF {
            // exponent differences far beyond 64: several partial steps
            let e = (b.exp_field() as i64 - rng.below(3000) as i64).max(1);
            b = F80::new(b.sign_exp & 0x8000 | e as u16, b.signif);
        }
        for nearest in [false, true] {
            let name = if nearest { "fprem1" } else { "fprem" };
            let (mut x, mut hx) = (a, a);
            for step in 0.. {
                let mut e = Env::default();
                let r = if nearest {
                    x.fprem1(b, &mut e)
                } else {
                    x.fprem(b, &mut e)
                };
                let (hr, hsw) = if nearest {
                    host_prem1(hx, b, cw)
                } else {
                    host_prem(hx, b, cw)
                };
                let what = || format!("{name} step {step} ({x:x?}, {b:x?})");
                t.check(
                    what,
                    (r.value, e.flags.bits() as u16 | codes(r)),
                    (hr, hsw & (FLAGS | C0 | C1 | C2 | C3)),
                );
                if hsw & C2 == 0 || step > 1100 {
                    break;
                }
                partial += 1;
                x = r.value;
                hx = hr;
            }
            // the complete remainder in one call equals where the host's loop ended
            let mut e = Env::default();
            let (r, q) = if nearest {
                a.rem_ieee(b, &mut e)
            } else {
                a.rem_trunc(b, &mut e)
            };
            let mut f = Env::default();
            let last = if nearest {
                x.fprem1(b, &mut f)
            } else {
                x.fprem(b, &mut f)
            };
            t.check(
                || format!("{name} complete ({a:x?}, {b:x?})"),
                r,
                last.value,
            );
            if last.complete && last.value.class() != super::F80Class::QuietNan {
                t.check(
                    || format!("{name} quotient bits ({a:x?}, {b:x?})"),
                    (q & 7) as u8,
                    last.quotient_bits,
                );
            }
        }
    }
    println!("fprem/fprem1: {partial} partial steps among them");
    t.finish();
}

#[test]
fn x87_compares_match_host() {
    let mut rng = XorShift::new(8);
    let mut t = Tally::new(HOST_X87, "fcom/fucom");
    let code = |r: Relation| match r {
        Relation::Greater => 0,
        Relation::Less => C0,
        Relation::Equal => C3,
        Relation::Unordered => C0 | C2 | C3,
    };
    for _ in 0..CASES {
        let a = rand_f80(&mut rng);
        let b = if rng.chance(4) {
            a
        } else {
            rand_f80_partner(&mut rng, a, None)
        };
        let cw = control_word(RoundingMode::NearestEven, Precision::Extended);
        let mask = FLAGS | C0 | C2 | C3;
        let mut e = Env::default();
        let r = a.compare_signaling(b, &mut e);
        let (_, hsw) = host_fcom(a, b, cw);
        t.check(
            || format!("fcom({a:x?}, {b:x?})"),
            e.flags.bits() as u16 | code(r),
            hsw & mask,
        );
        let mut e = Env::default();
        let r = a.compare_quiet(b, &mut e);
        let (_, hsw) = host_fucom(a, b, cw);
        t.check(
            || format!("fucom({a:x?}, {b:x?})"),
            e.flags.bits() as u16 | code(r),
            hsw & mask,
        );
    }
    t.finish();
}

#[test]
fn x87_fxtract_matches_host() {
    let mut rng = XorShift::new(9);
    let mut t = Tally::new(HOST_X87, "fxtract");
    for _ in 0..CASES {
        let a = rand_f80(&mut rng);
        let cw = control_word(RoundingMode::NearestEven, Precision::Extended);
        let mut e = Env::default();
        let (ex, sig) = a.extract(&mut e);
        let (hx, hs, hsw) = host_xtract(a, cw);
        t.check(
            || format!("fxtract({a:x?})"),
            (ex, sig, e.flags.bits() as u16),
            (hx, hs, hsw & FLAGS),
        );
    }
    t.finish();
}

#[test]
fn x87_integer_stores_match_host() {
    let mut rng = XorShift::new(10);
    let mut t = Tally::new(HOST_X87, "fist/fisttp");
    for _ in 0..CASES {
        let a = if rng.chance(2) {
            rand_f80(&mut rng)
        } else {
            // magnitudes around the 16/32/64-bit limits and small fractions
            let e = [
                0x3FFD, 0x3FFF, 0x400D, 0x400E, 0x401D, 0x401E, 0x403D, 0x403E, 0x403F,
            ];
            let e = e[rng.below(e.len() as u64) as usize] + rng.below(3) as u16 - 1;
            F80::new(((rng.next() & 1) as u16) << 15 | e, rng.pattern() | 1 << 63)
        };
        for mode in MODES {
            let cw = control_word(mode, Precision::Extended);
            let mask = FLAGS | C1;
            let mut e = env(mode, Precision::Extended);
            let r = a.to_i16(&mut e);
            let (h, hsw) = host_fist16(a, cw);
            t.check(
                || format!("fist16({a:x?}) {mode:?}"),
                (r, status(&e)),
                (i16::from_le_bytes(h), hsw & mask),
            );
            let mut e = env(mode, Precision::Extended);
            let r = a.to_i32(&mut e);
            let (h, hsw) = host_fist32(a, cw);
            t.check(
                || format!("fist32({a:x?}) {mode:?}"),
                (r, status(&e)),
                (i32::from_le_bytes(h), hsw & mask),
            );
            let mut e = env(mode, Precision::Extended);
            let r = a.to_i64(&mut e);
            let (h, hsw) = host_fist64(a, cw);
            t.check(
                || format!("fist64({a:x?}) {mode:?}"),
                (r, status(&e)),
                (i64::from_le_bytes(h), hsw & mask),
            );
            let mut e = env(mode, Precision::Extended);
            let r = a.to_i16_trunc(&mut e);
            let (h, hsw) = host_fisttp16(a, cw);
            t.check(
                || format!("fisttp16({a:x?}) {mode:?}"),
                (r, status(&e)),
                (i16::from_le_bytes(h), hsw & mask),
            );
            let mut e = env(mode, Precision::Extended);
            let r = a.to_i32_trunc(&mut e);
            let (h, hsw) = host_fisttp32(a, cw);
            t.check(
                || format!("fisttp32({a:x?}) {mode:?}"),
                (r, status(&e)),
                (i32::from_le_bytes(h), hsw & mask),
            );
            let mut e = env(mode, Precision::Extended);
            let r = a.to_i64_trunc(&mut e);
            let (h, hsw) = host_fisttp64(a, cw);
            t.check(
                || format!("fisttp64({a:x?}) {mode:?}"),
                (r, status(&e)),
                (i64::from_le_bytes(h), hsw & mask),
            );
        }
        // FILD is exact: compare one random integer per case too
        let v = rng.pattern() as i64 >> rng.below(64);
        let (h, hsw) = host_fild64(
            v.to_le_bytes(),
            control_word(RoundingMode::NearestEven, Precision::Extended),
        );
        t.check(
            || format!("fild64({v})"),
            (F80::from_i64(v), 0),
            (h, hsw & FLAGS),
        );
    }
    t.finish();
}

#[test]
fn x87_binary_loads_and_stores_match_host() {
    let mut rng = XorShift::new(11);
    let mut t = Tally::new(HOST_X87, "fld/fst m32/m64");
    for _ in 0..CASES {
        let cw = control_word(RoundingMode::NearestEven, Precision::Extended);
        let x = rand_f32(&mut rng);
        let mut e = Env::default();
        let r = F80::from_f32(x, &mut e);
        let (h, hsw) = host_fld32(x.0.to_le_bytes(), cw);
        t.check(
            || format!("fld m32 {x:x?}"),
            (r, status(&e)),
            (h, hsw & (FLAGS | C1)),
        );
        let y = rand_f64(&mut rng);
        let mut e = Env::default();
        let r = F80::from_f64(y, &mut e);
        let (h, hsw) = host_fld64(y.0.to_le_bytes(), cw);
        t.check(
            || format!("fld m64 {y:x?}"),
            (r, status(&e)),
            (h, hsw & (FLAGS | C1)),
        );
        // stores: values spanning binary32/binary64 limits as well as random extended ones
        let a = match rng.below(3) {
            0 => rand_f80(&mut rng),
            1 => F80::new(
                ((rng.next() & 1) as u16) << 15 | (0x3FFF - 160 + rng.below(320) as u16),
                rng.pattern() | 1 << 63,
            ),
            _ => F80::new(
                ((rng.next() & 1) as u16) << 15 | (0x3FFF - 1100 + rng.below(2200) as u16),
                rng.pattern() | 1 << 63,
            ),
        };
        for mode in MODES {
            let cw = control_word(mode, Precision::Extended);
            let mut e = env(mode, Precision::Extended);
            let r = a.to_f32(&mut e);
            let (h, hsw) = host_fst32(a, cw);
            t.check(
                || format!("fst m32 {a:x?} {mode:?}"),
                (r, status(&e)),
                (F32(u32::from_le_bytes(h)), hsw & (FLAGS | C1)),
            );
            let mut e = env(mode, Precision::Extended);
            let r = a.to_f64(&mut e);
            let (h, hsw) = host_fst64(a, cw);
            t.check(
                || format!("fst m64 {a:x?} {mode:?}"),
                (r, status(&e)),
                (F64(u64::from_le_bytes(h)), hsw & (FLAGS | C1)),
            );
        }
    }
    t.finish();
}
