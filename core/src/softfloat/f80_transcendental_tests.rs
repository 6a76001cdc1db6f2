//! Hand-checked values and the SDM special-case tables of the transcendental instructions
//! (`f80_transcendental.rs`), on any host. The expected significands come from the exact
//! values (given to 80 bits in the comments: the 64 kept bits, then the fraction of an ulp
//! that decides the rounding); the comparison with a real x87 is in
//! `x87_host_transcendental_tests.rs`.

use super::{Env, Flags, Precision, RoundingMode, F80};

fn f(se: u16, s: u64) -> F80 {
    F80::new(se, s)
}

fn int(v: i64) -> F80 {
    F80::from_i64(v)
}

const PE: Flags = Flags::INEXACT;
const IE: Flags = Flags::INVALID;
const ZE: Flags = Flags::DIV_BY_ZERO;
const DE: Flags = Flags::DENORMAL;
const UE: Flags = Flags::UNDERFLOW;
const OE: Flags = Flags::OVERFLOW;

const HALF: F80 = F80::new(0x3FFE, 1 << 63);
const MAX: F80 = F80::new(0x7FFE, u64::MAX);
const DENORMAL: F80 = F80::new(0, 1);
const QNAN: F80 = F80::new(0x7FFF, 0xC000_0000_0000_0001);
const SNAN: F80 = F80::new(0x7FFF, 0x8000_0000_0000_0001);
const UNNORMAL: F80 = F80::new(0x3FFF, 0x4000_0000_0000_0000);

/// Runs `op` in `mode` (extended precision) and returns the result, the flags and C1.
fn go<T>(mode: RoundingMode, op: impl FnOnce(&mut Env) -> T) -> (T, Flags, bool) {
    let mut e = Env::new(mode);
    let r = op(&mut e);
    (r, e.flags, e.rounded_up)
}

fn near<T>(op: impl FnOnce(&mut Env) -> T) -> (T, Flags, bool) {
    go(RoundingMode::NearestEven, op)
}

#[test]
fn trigonometric_values() {
    // sin 1 = D76AA478 48677020|.777 × 2^-64: rounds up (C1); toward zero it is …020
    assert_eq!(
        near(|e| F80::ONE.fsin(e)),
        (Some(f(0x3FFE, 0xD76A_A478_4867_7021)), PE, true)
    );
    assert_eq!(
        go(RoundingMode::TowardZero, |e| F80::ONE.fsin(e)).0,
        Some(f(0x3FFE, 0xD76A_A478_4867_7020))
    );
    // cos 1 = 8A51407D A8345C91|.759, tan 1 = C75922E5 F71D2DC5|.399 (× 2^-63)
    assert_eq!(
        near(|e| F80::ONE.fcos(e)),
        (Some(f(0x3FFE, 0x8A51_407D_A834_5C92)), PE, true)
    );
    assert_eq!(
        near(|e| F80::ONE.fptan(e)),
        (Some(f(0x3FFF, 0xC759_22E5_F71D_2DC5)), PE, false)
    );
    // FSINCOS gives both; C1 is the cosine's
    assert_eq!(
        go(RoundingMode::NearestEven, |e| F80::ONE.negate().fsincos(e)),
        (
            Some((
                f(0xBFFE, 0xD76A_A478_4867_7021),
                f(0x3FFE, 0x8A51_407D_A834_5C92)
            )),
            PE,
            true
        )
    );
    // π rounded to 64 bits (…C235) is 2^-64 above Intel's 66-bit p (…C234.C): sin gives
    // −sin(2^-64), which rounds to −2^-64 (magnitude rounded up: C1)
    let pi64 = f(0x4000, 0xC90F_DAA2_2168_C235);
    assert_eq!(near(|e| pi64.fsin(e)), (Some(f(0xBFBF, 1 << 63)), PE, true));
    // cos = −cos(2^-64) rounds to −1; tan = tan(2^-64) to +2^-64
    assert_eq!(near(|e| pi64.fcos(e)).0, Some(int(-1)));
    assert_eq!(near(|e| pi64.fptan(e)).0, Some(f(0x3FBF, 1 << 63)));
}

#[test]
fn trigonometric_special_cases() {
    for z in [F80::ZERO, F80::ZERO.negate()] {
        // zeros are exact: no flag
        assert_eq!(near(|e| z.fsin(e)), (Some(z), Flags::NONE, false));
        assert_eq!(near(|e| z.fcos(e)), (Some(F80::ONE), Flags::NONE, false));
        assert_eq!(near(|e| z.fptan(e)), (Some(z), Flags::NONE, false));
        assert_eq!(near(|e| z.fsincos(e)).0, Some((z, F80::ONE)));
    }
    for inf in [F80::INFINITY, F80::INFINITY.negate()] {
        assert_eq!(near(|e| inf.fsin(e)), (Some(F80::INDEFINITE), IE, false));
        assert_eq!(near(|e| inf.fcos(e)).1, IE);
        assert_eq!(
            near(|e| inf.fsincos(e)).0,
            Some((F80::INDEFINITE, F80::INDEFINITE))
        );
    }
    // NaNs: propagated (quietened), IE for a signalling one or an unsupported encoding
    assert_eq!(near(|e| QNAN.fptan(e)), (Some(QNAN), Flags::NONE, false));
    assert_eq!(near(|e| SNAN.fcos(e)), (Some(SNAN.quieted()), IE, false));
    assert_eq!(
        near(|e| UNNORMAL.fsin(e)),
        (Some(F80::INDEFINITE), IE, false)
    );
    // |x| ≥ 2^63 is out of range: None and no flag; just below is computed
    for x in [
        f(0x403E, 1 << 63),
        f(0xC03E, 1 << 63),
        MAX,
        f(0x403F, 1 << 63),
    ] {
        assert_eq!(near(|e| x.fsin(e)), (None, Flags::NONE, false));
        assert_eq!(near(|e| x.fptan(e)).0, None);
        assert_eq!(near(|e| x.fsincos(e)).0, None);
    }
    assert!(near(|e| f(0x403D, u64::MAX).fcos(e)).0.is_some());
    // a denormal: DE; sin x = x and tan x = x (tiny and inexact: UE), cos x = 1
    assert_eq!(
        near(|e| DENORMAL.fsin(e)),
        (Some(DENORMAL), DE | UE | PE, false)
    );
    assert_eq!(
        near(|e| DENORMAL.fptan(e)),
        (Some(DENORMAL), DE | UE | PE, false)
    );
    assert_eq!(near(|e| DENORMAL.fcos(e)), (Some(F80::ONE), DE | PE, false));
    // below 2^-68 the host returns x and 1 whatever the rounding direction
    let tiny = f(0x3FFF - 100, 1 << 63);
    assert_eq!(
        go(RoundingMode::TowardZero, |e| tiny.fsin(e)),
        (Some(tiny), PE, false)
    );
    assert_eq!(go(RoundingMode::Down, |e| tiny.fcos(e)).0, Some(F80::ONE));
    // at 2^-40 the x³/6 is honoured: toward zero, sin x is just below x
    let small = f(0x3FFF - 40, 1 << 63);
    assert_eq!(
        go(RoundingMode::TowardZero, |e| small.fsin(e)).0,
        Some(f(0x3FFF - 41, u64::MAX))
    );
}

#[test]
fn f2xm1_values_and_table() {
    // 2^0.5 − 1 = D413CCCF E7799211|.398 × 2^-65
    assert_eq!(
        near(|e| HALF.f2xm1(e)),
        (f(0x3FFD, 0xD413_CCCF_E779_9211), PE, false)
    );
    // ±1: exact results (1, −1/2) but PE as on the host
    assert_eq!(near(|e| F80::ONE.f2xm1(e)), (F80::ONE, PE, false));
    assert_eq!(
        near(|e| F80::ONE.negate().f2xm1(e)),
        (HALF.negate(), PE, false)
    );
    // table 3-16: ±0 → ±0; outside [−1, 1] x itself with PE; −∞ → −1, +∞ → +∞
    for z in [F80::ZERO, F80::ZERO.negate()] {
        assert_eq!(near(|e| z.f2xm1(e)), (z, Flags::NONE, false));
    }
    let x = f(0x3FFF, 0xC000_0000_0000_0000);
    assert_eq!(near(|e| x.f2xm1(e)), (x, PE, false));
    assert_eq!(near(|e| MAX.negate().f2xm1(e)), (MAX.negate(), PE, false));
    assert_eq!(
        near(|e| F80::INFINITY.negate().f2xm1(e)),
        (int(-1), Flags::NONE, false)
    );
    assert_eq!(
        near(|e| F80::INFINITY.f2xm1(e)),
        (F80::INFINITY, Flags::NONE, false)
    );
    // a pseudo-denormal (worth 2^-16382): x·ln 2, denormal
    assert_eq!(
        near(|e| f(0, 1 << 63).f2xm1(e)),
        (f(0, 0x58B9_0BFB_E8E7_BCD6), DE | UE | PE, true)
    );
    assert_eq!(near(|e| SNAN.f2xm1(e)), (SNAN.quieted(), IE, false));
}

#[test]
fn fyl2x_values() {
    // log2 3 = CAE00D1C FDEB43CF|.813 × 2^-63
    let three = int(3);
    assert_eq!(
        near(|e| three.fyl2x(F80::ONE, e)),
        (f(0x3FFF, 0xCAE0_0D1C_FDEB_43D0), PE, true)
    );
    assert_eq!(
        go(RoundingMode::TowardZero, |e| three.fyl2x(F80::ONE, e)).0,
        f(0x3FFF, 0xCAE0_0D1C_FDEB_43CF)
    );
    // powers of two: exact but PE; below 1 the host's logarithm is a hair short of −|e|
    assert_eq!(near(|e| int(8).fyl2x(F80::ONE, e)), (int(3), PE, false));
    assert_eq!(near(|e| HALF.fyl2x(F80::ONE, e)), (int(-1), PE, true));
    assert_eq!(
        go(RoundingMode::Up, |e| HALF.fyl2x(F80::ONE, e)),
        (f(0xBFFE, u64::MAX), PE, false)
    );
    // the smallest denormal: −16445 exactly, DE
    assert_eq!(
        near(|e| DENORMAL.fyl2x(F80::ONE, e)),
        (int(-16445), DE | PE, true)
    );
    // y·log2 x beyond the range: OE
    assert_eq!(
        near(|e| int(4).fyl2x(f(0x7FFE, 1 << 63), e)),
        (F80::INFINITY, OE | PE, true)
    );
}

#[test]
fn fyl2x_table() {
    // SDM table 3-48, rows y, columns x: −∞, −F, ±0, 0<F<1, +1, F>1, +∞
    let (ninf, inf, nzero, zero) = (
        F80::INFINITY.negate(),
        F80::INFINITY,
        F80::ZERO.negate(),
        F80::ZERO,
    );
    let xs = [ninf, int(-2), zero, HALF, F80::ONE, int(2), inf];
    let i = F80::INDEFINITE;
    #[rustfmt::skip]
    let table: [(F80, [F80; 7]); 6] = [
        (ninf,         [i, i, inf,  inf,      i,     ninf,     ninf]),
        (int(-1),      [i, i, inf,  int(1),   nzero, int(-1),  ninf]),
        (nzero,        [i, i, i,    zero,     nzero, nzero,    i]),
        (zero,         [i, i, i,    nzero,    zero,  zero,     i]),
        (F80::ONE,     [i, i, ninf, int(-1),  zero,  F80::ONE, inf]),
        (inf,          [i, i, ninf, ninf,     i,     inf,      inf]),
    ];
    for (y, row) in table {
        for (x, want) in xs.into_iter().zip(row) {
            let (r, fl, _) = near(|e| x.fyl2x(y, e));
            assert_eq!(r, want, "fyl2x(x={x:x?}, y={y:x?})");
            // ZE for ±0 with a finite nonzero y, IE for the indefinite
            let ze = x.exp_field() == 0 && y.exp_field() != 0 && y.exp_field() != 0x7FFF;
            assert_eq!(fl.contains(ZE), ze, "ZE fyl2x(x={x:x?}, y={y:x?})");
            assert_eq!(fl.contains(IE), want == i, "IE fyl2x(x={x:x?}, y={y:x?})");
        }
    }
    // −0 behaves as +0; a NaN anywhere gives the NaN
    assert_eq!(near(|e| nzero.fyl2x(int(3), e)), (ninf, ZE, false));
    assert_eq!(near(|e| int(-2).fyl2x(QNAN, e)), (QNAN, Flags::NONE, false));
}

#[test]
fn fyl2xp1_values_and_table() {
    // log2 1.5 = 95C01A39 FBD6879F|.625 × 2^-64
    assert_eq!(
        near(|e| HALF.fyl2xp1(F80::ONE, e)),
        (f(0x3FFE, 0x95C0_1A39_FBD6_87A0), PE, true)
    );
    // SDM table 3-49, rows y, columns x: −(1 − √2/2)..−0, −0, +0, +0..+(1 − √2/2); finite
    // nonzero results are tabulated by their sign only ("+F", "-F"), "*" is invalid
    let (ninf, inf, nzero, zero) = (
        F80::INFINITY.negate(),
        F80::INFINITY,
        F80::ZERO.negate(),
        F80::ZERO,
    );
    let q = f(0x3FFD, 1 << 63); // 1/4
    let xs = [q.negate(), nzero, zero, q];
    let class = |r: F80| match (r.sign(), r.exp_field(), r.signif) {
        _ if r == F80::INDEFINITE => "*",
        (s, 0x7FFF, _) => ["+inf", "-inf"][s as usize],
        (s, 0, 0) => ["+0", "-0"][s as usize],
        (s, _, _) => ["+F", "-F"][s as usize],
    };
    for (y, row) in [
        (ninf, ["+inf", "*", "*", "-inf"]),
        (int(-1), ["+F", "+0", "-0", "-F"]),
        (nzero, ["+0", "+0", "-0", "-0"]),
        (zero, ["-0", "-0", "+0", "+0"]),
        (F80::ONE, ["-F", "-0", "+0", "+F"]),
        (inf, ["-inf", "*", "*", "+inf"]),
    ] {
        for (x, want) in xs.into_iter().zip(row) {
            let (r, fl, _) = near(|e| x.fyl2xp1(y, e));
            assert_eq!(class(r), want, "fyl2xp1(x={x:x?}, y={y:x?})");
            assert_eq!(fl.contains(IE), want == "*");
        }
    }
    // undefined but measured: x ≤ −1 gives x with PE; −∞ is invalid
    assert_eq!(near(|e| int(-1).fyl2xp1(int(3), e)), (int(-1), PE, false));
    assert_eq!(near(|e| ninf.fyl2xp1(F80::ONE, e)).1, IE);
}

#[test]
fn fpatan_values_and_table() {
    // atan2(1, 1) = π/4 = C90FDAA2 2168C234|.769 × 2^-64: rounds up
    let pi_4 = f(0x3FFE, 0xC90F_DAA2_2168_C235);
    assert_eq!(near(|e| F80::ONE.fpatan(F80::ONE, e)), (pi_4, PE, true));
    assert_eq!(
        go(RoundingMode::Down, |e| F80::ONE.fpatan(F80::ONE, e)).0,
        f(0x3FFE, 0xC90F_DAA2_2168_C234)
    );
    // the table's exact and π-multiple results (rows y, columns x), to nearest
    let pi = f(0x4000, 0xC90F_DAA2_2168_C235);
    let pi_2 = f(0x3FFF, 0xC90F_DAA2_2168_C235);
    let three_pi_4 = f(0x4000, 0x96CB_E3F9_990E_91A8); // 96CBE3F9 990E91A7|.576
    let (ninf, inf, nzero, zero) = (
        F80::INFINITY.negate(),
        F80::INFINITY,
        F80::ZERO.negate(),
        F80::ZERO,
    );
    let xs = [ninf, int(-1), nzero, zero, F80::ONE, inf];
    for (y, row) in [
        (inf, [three_pi_4, pi_2, pi_2, pi_2, pi_2, pi_4]),
        (F80::ONE, [pi, three_pi_4, pi_2, pi_2, pi_4, zero]),
        (zero, [pi, pi, pi, zero, zero, zero]),
    ] {
        for (x, want) in xs.into_iter().zip(row) {
            let (r, fl, _) = near(|e| x.fpatan(y, e));
            assert_eq!(r, want, "fpatan(x={x:x?}, y={y:x?})");
            assert!(
                !fl.contains(IE),
                "no invalid operation (0/0, ∞/∞ are never formed)"
            );
            let (r, _, _) = near(|e| x.fpatan(y.negate(), e));
            assert_eq!(r, want.negate(), "fpatan(x={x:x?}, y={:x?})", y.negate());
        }
    }
    // a tiny ratio is returned as is: toward zero, atan(2^-50) is 2^-50 (no −t³/3)
    let t = f(0x3FFF - 50, 1 << 63);
    assert_eq!(
        go(RoundingMode::TowardZero, |e| F80::ONE.fpatan(t, e)),
        (t, PE, false)
    );
    // underflow: y/x below the denormals
    assert_eq!(
        near(|e| MAX.fpatan(DENORMAL, e)),
        (F80::ZERO, DE | UE | PE, false)
    );
}

#[test]
fn precision_control_does_not_apply() {
    // SDM vol. 1, 8.1.5.2: PC affects only FADD..FSQRT; the transcendental results keep
    // 64 bits
    for prec in [Precision::Single, Precision::Double] {
        let mut e = Env::new(RoundingMode::NearestEven);
        e.precision = prec;
        assert_eq!(
            F80::ONE.fsin(&mut e),
            Some(f(0x3FFE, 0xD76A_A478_4867_7021))
        );
        assert_eq!(
            int(3).fyl2x(F80::ONE, &mut e),
            f(0x3FFF, 0xCAE0_0D1C_FDEB_43D0)
        );
    }
}
