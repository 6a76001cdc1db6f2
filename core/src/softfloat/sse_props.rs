//! Property tests of [`F32`]/[`F64`] against the host's IEEE arithmetic, on any host: Rust's
//! `+ - * /`, `sqrt`, `as` conversions and `partial_cmp` on `f32`/`f64` are correctly
//! rounded to nearest-even, so for random operands (fixed-seed xorshift, biased toward
//! zeros, denormals, infinities, NaNs and the overflow/underflow thresholds) our bit pattern
//! must equal the host's. NaN bits are host-specific (x86 keeps payloads, other hosts may
//! not), so a NaN result is checked against the SSE rule stated independently here: the
//! first NaN operand, quietened, or else the default NaN.

use super::testutil::{partner_binary, rand_f32, rand_f64, XorShift};
use super::{Env, Flags, Relation, SseFloat, F32, F64};

const CASES: usize = 20_000;

/// The SSE NaN rule, written out independently of the implementation.
fn expected_nan_bits(
    a: u64,
    b: u64,
    a_nan: bool,
    b_nan: bool,
    quiet_bit: u64,
    default: u64,
) -> u64 {
    if a_nan {
        a | quiet_bit
    } else if b_nan {
        b | quiet_bit
    } else {
        default
    }
}

macro_rules! host_props {
    ($test:ident, $ty:ident, $host:ty, $raw:ty, $rand:ident, $eb:literal, $fb:literal, $quiet:expr) => {
        #[test]
        fn $test() {
            let mut rng = XorShift::new(0x5EED ^ $fb);
            let mut compared = 0usize;
            let ops: [(
                &str,
                fn($ty, $ty, &mut Env) -> $ty,
                fn($host, $host) -> $host,
                Option<bool>,
            ); 4] = [
                ("add", |a, b, e| a.add(b, e), |a, b| a + b, None),
                ("sub", |a, b, e| a.sub(b, e), |a, b| a - b, None),
                ("mul", |a, b, e| a.mul(b, e), |a, b| a * b, Some(true)),
                ("div", |a, b, e| a.div(b, e), |a, b| a / b, Some(false)),
            ];
            for _ in 0..CASES {
                let a = $rand(&mut rng);
                for (name, ours, host, hint) in ops {
                    let other = $rand(&mut rng).0 as u64;
                    let b =
                        $ty(partner_binary(&mut rng, a.0 as u64, other, $eb, $fb, hint) as $raw);
                    let r = ours(a, b, &mut Env::default());
                    let h = host(<$host>::from_bits(a.0), <$host>::from_bits(b.0));
                    if h.is_nan() {
                        let want = expected_nan_bits(
                            a.0 as u64,
                            b.0 as u64,
                            a.is_nan(),
                            b.is_nan(),
                            $quiet,
                            $ty::DEFAULT_NAN.0 as u64,
                        );
                        assert_eq!(r.0 as u64, want, "{name}({a:x?}, {b:x?}): NaN rule");
                    } else {
                        assert_eq!(r.0, h.to_bits(), "{name}({a:x?}, {b:x?}) host {h:e}");
                    }
                    compared += 1;
                }
                let r = a.sqrt(&mut Env::default());
                let h = <$host>::from_bits(a.0).sqrt();
                if h.is_nan() {
                    let want = expected_nan_bits(
                        a.0 as u64,
                        0,
                        a.is_nan(),
                        false,
                        $quiet,
                        $ty::DEFAULT_NAN.0 as u64,
                    );
                    assert_eq!(r.0 as u64, want, "sqrt({a:x?}): NaN rule");
                } else {
                    assert_eq!(r.0, h.to_bits(), "sqrt({a:x?})");
                }
                // comparison
                let b = $rand(&mut rng);
                let rel = a.compare_quiet(b, &mut Env::default());
                let want = match <$host>::from_bits(a.0).partial_cmp(&<$host>::from_bits(b.0)) {
                    None => Relation::Unordered,
                    Some(core::cmp::Ordering::Less) => Relation::Less,
                    Some(core::cmp::Ordering::Equal) => Relation::Equal,
                    Some(core::cmp::Ordering::Greater) => Relation::Greater,
                };
                assert_eq!(rel, want, "compare({a:x?}, {b:x?})");
                // integer conversions: Rust's `as` truncates (in range) and rounds to nearest
                let x = <$host>::from_bits(a.0);
                if x.is_finite() && x.abs() < 9.2e18 {
                    assert_eq!(
                        a.to_i64_trunc(&mut Env::default()),
                        x as i64,
                        "to_i64_trunc({a:x?})"
                    );
                }
                let v = (rng.pattern() as i64) >> rng.below(64);
                assert_eq!(
                    $ty::from_i64(v, &mut Env::default()).0,
                    (v as $host).to_bits(),
                    "from_i64({v})"
                );
                compared += 4;
            }
            println!(
                "{}: {compared} cases compared against host IEEE arithmetic",
                stringify!($test)
            );
        }
    };
}

host_props!(
    f32_matches_host_ieee_arithmetic,
    F32,
    f32,
    u32,
    rand_f32,
    8,
    23,
    1 << 22
);
host_props!(
    f64_matches_host_ieee_arithmetic,
    F64,
    f64,
    u64,
    rand_f64,
    11,
    52,
    1 << 51
);

#[test]
fn format_conversions_match_host_casts() {
    let mut rng = XorShift::new(77);
    for _ in 0..CASES {
        let x = rand_f32(&mut rng);
        let r = x.to_f64(&mut Env::default());
        let h = f32::from_bits(x.0) as f64;
        if h.is_nan() {
            // payload moved up 29 bits and quietened
            assert_eq!(
                r.0,
                ((x.0 as u64 & 0x8000_0000) << 32)
                    | 0x7FF8_0000_0000_0000
                    | ((x.0 as u64 & 0x3F_FFFF) << 29)
            );
        } else {
            assert_eq!(r.0, h.to_bits(), "to_f64({x:x?})");
        }
        let y = if rng.chance(2) {
            rand_f64(&mut rng)
        } else {
            F64((rng.next() & 1) << 63 | (1023 - 160 + rng.below(330)) << 52 | rng.pattern() >> 12)
        };
        let r = y.to_f32(&mut Env::default());
        let h = f64::from_bits(y.0) as f32;
        if h.is_nan() {
            assert_eq!(
                r.0,
                ((y.0 >> 32) as u32 & 0x8000_0000) | 0x7FC0_0000 | ((y.0 >> 29) as u32 & 0x3F_FFFF)
            );
        } else {
            assert_eq!(r.0, h.to_bits(), "to_f32({y:x?})");
        }
    }
}

#[test]
fn flags_hand_checked() {
    let run = |f: &dyn Fn(&mut Env) -> u64| {
        let mut e = Env::default();
        let r = f(&mut e);
        (r, e.flags)
    };
    let one = F64(1f64.to_bits());
    let zero = F64(0);
    let inf = F64(f64::INFINITY.to_bits());
    assert_eq!(
        run(&|e| one.div(zero, e).0),
        (f64::INFINITY.to_bits(), Flags::DIV_BY_ZERO)
    );
    assert_eq!(
        run(&|e| inf.sub(inf, e).0),
        (0xFFF8_0000_0000_0000, Flags::INVALID)
    );
    assert_eq!(
        run(&|e| one.div(F64(3f64.to_bits()), e).0),
        ((1.0f64 / 3.0).to_bits(), Flags::INEXACT)
    );
    assert_eq!(
        run(&|e| F64(f64::MAX.to_bits()).mul(F64(2f64.to_bits()), e).0),
        (f64::INFINITY.to_bits(), Flags::OVERFLOW | Flags::INEXACT)
    );
    let tiny = F64(1e-300f64.to_bits());
    assert_eq!(
        run(&|e| tiny.mul(tiny, e).0),
        (0, Flags::UNDERFLOW | Flags::INEXACT)
    );
    // tiny but exact: no UE while masked (DE for the denormal operand)
    let d = F64(2f64.powi(-1030).to_bits());
    assert_eq!(
        run(&|e| d.mul(F64(0.5f64.to_bits()), e).0),
        (2f64.powi(-1031).to_bits(), Flags::DENORMAL)
    );
    let n = F64(2f64.powi(-1020).to_bits());
    assert_eq!(
        run(&|e| n.mul(F64(2f64.powi(-10).to_bits()), e).0),
        (2f64.powi(-1030).to_bits(), Flags::NONE)
    );
    let f = |x: f32| F32(x.to_bits());
    assert_eq!(
        run(&|e| f(1.0).add(f(f32::EPSILON / 4.0), e).0 as u64),
        (1f32.to_bits() as u64, Flags::INEXACT)
    );
    assert_eq!(
        run(&|e| f(f32::MAX).mul(f(2.0), e).0 as u64),
        (
            f32::INFINITY.to_bits() as u64,
            Flags::OVERFLOW | Flags::INEXACT
        )
    );
}
