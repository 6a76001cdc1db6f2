//! Differential tests of [`F32`]/[`F64`] against the host's SSE unit (x86-64 hosts only).
//! Each case loads MXCSR (all exceptions masked; rounding, DAZ and FTZ varied), runs the
//! scalar instruction and reads MXCSR back: the result bits (NaNs included, since SSE's NaN
//! rules fix them) and the six flags must match exactly. This covers what the portable
//! property tests in `sse_props.rs` cannot: directed rounding, flags, DAZ and FTZ.

use super::testutil::{partner_binary, rand_f32, rand_f64, Tally, XorShift};
use super::{Env, Relation, RoundingMode, SseFloat, F32, F64};
use core::arch::asm;

const CASES: usize = 3000;

/// MXCSR with everything masked and the given rounding, DAZ and FTZ.
fn mxcsr(mode: RoundingMode, daz: bool, ftz: bool) -> u32 {
    0x1F80 | mode.rc() << 13 | (daz as u32) << 6 | (ftz as u32) << 15
}

/// The 16 MXCSR settings tried: 4 rounding modes × DAZ × FTZ.
fn settings() -> Vec<u32> {
    let mut v = Vec::new();
    for rc in 0..4 {
        for daz in [false, true] {
            for ftz in [false, true] {
                v.push(mxcsr(RoundingMode::from_rc(rc), daz, ftz));
            }
        }
    }
    v
}

/// Run `$body` (with xmm0/xmm1 loaded from `a`/`b` via `$mov`) under MXCSR `csr`; returns
/// xmm0 and the MXCSR flags.
macro_rules! sse_binary {
    ($name:ident, $ty:ty, $mov:literal, $reg:literal, $insn:literal) => {
        fn $name(a: $ty, b: $ty, csr: u32) -> ($ty, u32) {
            let (mut c, mut save) = (csr, 0u32);
            let r: $ty;
            // SAFETY: SSE-only code; MXCSR is saved and restored around the instruction.
            unsafe {
                asm!(
                    "stmxcsr dword ptr [{save}]",
                    "ldmxcsr dword ptr [{c}]",
                    concat!($mov, " xmm0, {a", $reg, "}"),
                    concat!($mov, " xmm1, {b", $reg, "}"),
                    $insn,
                    concat!($mov, " {r", $reg, "}, xmm0"),
                    "stmxcsr dword ptr [{c}]",
                    "ldmxcsr dword ptr [{save}]",
                    save = in(reg) &mut save as *mut u32,
                    c = in(reg) &mut c as *mut u32,
                    a = in(reg) a,
                    b = in(reg) b,
                    r = out(reg) r,
                    out("xmm0") _,
                    out("xmm1") _,
                    options(nostack),
                );
            }
            (r, c & 0x3F)
        }
    };
}

sse_binary!(h_addss, u32, "movd", ":e", "addss xmm0, xmm1");
sse_binary!(h_subss, u32, "movd", ":e", "subss xmm0, xmm1");
sse_binary!(h_mulss, u32, "movd", ":e", "mulss xmm0, xmm1");
sse_binary!(h_divss, u32, "movd", ":e", "divss xmm0, xmm1");
sse_binary!(h_minss, u32, "movd", ":e", "minss xmm0, xmm1");
sse_binary!(h_maxss, u32, "movd", ":e", "maxss xmm0, xmm1");
sse_binary!(h_sqrtss, u32, "movd", ":e", "sqrtss xmm0, xmm0");
sse_binary!(h_cmpltss, u32, "movd", ":e", "cmpltss xmm0, xmm1");
sse_binary!(h_cmpeqss, u32, "movd", ":e", "cmpeqss xmm0, xmm1");
sse_binary!(h_addsd, u64, "movq", "", "addsd xmm0, xmm1");
sse_binary!(h_subsd, u64, "movq", "", "subsd xmm0, xmm1");
sse_binary!(h_mulsd, u64, "movq", "", "mulsd xmm0, xmm1");
sse_binary!(h_divsd, u64, "movq", "", "divsd xmm0, xmm1");
sse_binary!(h_minsd, u64, "movq", "", "minsd xmm0, xmm1");
sse_binary!(h_maxsd, u64, "movq", "", "maxsd xmm0, xmm1");
sse_binary!(h_sqrtsd, u64, "movq", "", "sqrtsd xmm0, xmm0");
sse_binary!(h_cmpltsd, u64, "movq", "", "cmpltsd xmm0, xmm1");
sse_binary!(h_cmpeqsd, u64, "movq", "", "cmpeqsd xmm0, xmm1");

/// An instruction from xmm0 (loaded with `$movin`) to a general register or xmm0 (read
/// back with `$movout`).
macro_rules! sse_convert {
    ($name:ident, $in:ty, $out:ty, $movin:literal, $rin:literal, $insn:literal, $movout:literal, $rout:literal) => {
        fn $name(a: $in, csr: u32) -> ($out, u32) {
            let (mut c, mut save) = (csr, 0u32);
            let r: $out;
            // SAFETY: as in `sse_binary`.
            unsafe {
                asm!(
                    "stmxcsr dword ptr [{save}]",
                    "ldmxcsr dword ptr [{c}]",
                    concat!($movin, " xmm0, {a", $rin, "}"),
                    $insn,
                    concat!($movout, " {r", $rout, "}, xmm0"),
                    "stmxcsr dword ptr [{c}]",
                    "ldmxcsr dword ptr [{save}]",
                    save = in(reg) &mut save as *mut u32,
                    c = in(reg) &mut c as *mut u32,
                    a = in(reg) a,
                    r = out(reg) r,
                    out("rax") _,
                    out("xmm0") _,
                    options(nostack),
                );
            }
            (r, c & 0x3F)
        }
    };
}

sse_convert!(
    h_cvtss2sd,
    u32,
    u64,
    "movd",
    ":e",
    "cvtss2sd xmm0, xmm0",
    "movq",
    ""
);
sse_convert!(
    h_cvtsd2ss,
    u64,
    u32,
    "movq",
    "",
    "cvtsd2ss xmm0, xmm0",
    "movd",
    ":e"
);
sse_convert!(
    h_cvtsi2ss32,
    u32,
    u32,
    "movd",
    ":e",
    "movd eax, xmm0\ncvtsi2ss xmm0, eax",
    "movd",
    ":e"
);
sse_convert!(
    h_cvtsi2ss64,
    u64,
    u32,
    "movq",
    "",
    "movq rax, xmm0\ncvtsi2ss xmm0, rax",
    "movd",
    ":e"
);
sse_convert!(
    h_cvtsi2sd64,
    u64,
    u64,
    "movq",
    "",
    "movq rax, xmm0\ncvtsi2sd xmm0, rax",
    "movq",
    ""
);
sse_convert!(
    h_cvtss2si32,
    u32,
    u32,
    "movd",
    ":e",
    "cvtss2si eax, xmm0\nmovd xmm0, eax",
    "movd",
    ":e"
);
sse_convert!(
    h_cvttss2si32,
    u32,
    u32,
    "movd",
    ":e",
    "cvttss2si eax, xmm0\nmovd xmm0, eax",
    "movd",
    ":e"
);
sse_convert!(
    h_cvtss2si64,
    u32,
    u64,
    "movd",
    ":e",
    "cvtss2si rax, xmm0\nmovq xmm0, rax",
    "movq",
    ""
);
sse_convert!(
    h_cvtsd2si32,
    u64,
    u32,
    "movq",
    "",
    "cvtsd2si eax, xmm0\nmovd xmm0, eax",
    "movd",
    ":e"
);
sse_convert!(
    h_cvttsd2si64,
    u64,
    u64,
    "movq",
    "",
    "cvttsd2si rax, xmm0\nmovq xmm0, rax",
    "movq",
    ""
);
sse_convert!(
    h_cvtsd2si64,
    u64,
    u64,
    "movq",
    "",
    "cvtsd2si rax, xmm0\nmovq xmm0, rax",
    "movq",
    ""
);

/// COMISS/UCOMISS and their SD forms: (ZF, PF, CF) packed as bits 2, 1, 0, and the flags.
macro_rules! sse_comi {
    ($name:ident, $ty:ty, $mov:literal, $reg:literal, $insn:literal) => {
        fn $name(a: $ty, b: $ty, csr: u32) -> (u8, u32) {
            let (mut c, mut save) = (csr, 0u32);
            let (z, p, cf): (u8, u8, u8);
            // SAFETY: as in `sse_binary`.
            unsafe {
                asm!(
                    "stmxcsr dword ptr [{save}]",
                    "ldmxcsr dword ptr [{c}]",
                    concat!($mov, " xmm0, {a", $reg, "}"),
                    concat!($mov, " xmm1, {b", $reg, "}"),
                    $insn,
                    "setz {z}",
                    "setp {p}",
                    "setc {cf}",
                    "stmxcsr dword ptr [{c}]",
                    "ldmxcsr dword ptr [{save}]",
                    save = in(reg) &mut save as *mut u32,
                    c = in(reg) &mut c as *mut u32,
                    a = in(reg) a,
                    b = in(reg) b,
                    z = out(reg_byte) z,
                    p = out(reg_byte) p,
                    cf = out(reg_byte) cf,
                    out("xmm0") _,
                    out("xmm1") _,
                    options(nostack),
                );
            }
            (z << 2 | p << 1 | cf, c & 0x3F)
        }
    };
}

sse_comi!(h_comiss, u32, "movd", ":e", "comiss xmm0, xmm1");
sse_comi!(h_ucomiss, u32, "movd", ":e", "ucomiss xmm0, xmm1");
sse_comi!(h_comisd, u64, "movq", "", "comisd xmm0, xmm1");
sse_comi!(h_ucomisd, u64, "movq", "", "ucomisd xmm0, xmm1");

/// The EFLAGS COMISS sets for a relation, as (ZF, PF, CF) in bits 2, 1, 0.
fn comi_code(r: Relation) -> u8 {
    match r {
        Relation::Unordered => 0b111,
        Relation::Less => 0b001,
        Relation::Equal => 0b100,
        Relation::Greater => 0b000,
    }
}

/// Our result and flags for an operation run in the environment MXCSR `csr` selects.
fn ours<R>(csr: u32, op: impl FnOnce(&mut Env) -> R) -> (R, u32) {
    let mut e = Env::from_mxcsr(csr);
    let r = op(&mut e);
    (r, e.flags.bits())
}

type HostBin<T> = fn(T, T, u32) -> (T, u32);

/// The binary arithmetic, min/max, sqrt and compares of one format.
macro_rules! arithmetic_test {
    ($test:ident, $name:literal, $seed:literal, $ty:ident, $raw:ty, $rand:ident, $eb:literal, $fb:literal,
     [$add:ident, $sub:ident, $mul:ident, $div:ident, $min:ident, $max:ident, $sqrt:ident,
      $cmplt:ident, $cmpeq:ident, $comi:ident, $ucomi:ident]) => {
        #[test]
        fn $test() {
            let mut rng = XorShift::new($seed);
            let mut t = Tally::new("the host SSE unit", $name);
            let ops: [(
                &str,
                fn($ty, $ty, &mut Env) -> $ty,
                HostBin<$raw>,
                Option<bool>,
            ); 6] = [
                ("add", |a, b, e| a.add(b, e), $add, None),
                ("sub", |a, b, e| a.sub(b, e), $sub, None),
                ("mul", |a, b, e| a.mul(b, e), $mul, Some(true)),
                ("div", |a, b, e| a.div(b, e), $div, Some(false)),
                ("min", |a, b, e| a.min(b, e), $min, None),
                ("max", |a, b, e| a.max(b, e), $max, None),
            ];
            let all_ones: $raw = !0;
            for _ in 0..CASES {
                let a = $rand(&mut rng);
                for &(name, op, host, hint) in &ops {
                    let other = $rand(&mut rng).0 as u64;
                    let b =
                        $ty(partner_binary(&mut rng, a.0 as u64, other, $eb, $fb, hint) as $raw);
                    for csr in settings() {
                        let what = || format!("{name}({a:x?}, {b:x?}) mxcsr {csr:#x}");
                        t.check(what, ours(csr, |e| op(a, b, e)), {
                            let (r, f) = host(a.0, b.0, csr);
                            ($ty(r), f)
                        });
                    }
                }
                let other = $rand(&mut rng).0 as u64;
                let b = $ty(partner_binary(&mut rng, a.0 as u64, other, $eb, $fb, None) as $raw);
                for csr in settings() {
                    let (r, f) = $sqrt(a.0, a.0, csr);
                    t.check(
                        || format!("sqrt({a:x?}) mxcsr {csr:#x}"),
                        ours(csr, |e| a.sqrt(e)),
                        ($ty(r), f),
                    );
                    // compares: the relation as COMISS reports it, and the flags of the
                    // signalling and quiet forms (COMISS/CMPLTSS, UCOMISS/CMPEQSS)
                    let (rs, fs) = ours(csr, |e| a.compare_signaling(b, e));
                    let (rq, fq) = ours(csr, |e| a.compare_quiet(b, e));
                    t.check(
                        || format!("comis({a:x?}, {b:x?}) mxcsr {csr:#x}"),
                        (comi_code(rs), fs),
                        $comi(a.0, b.0, csr),
                    );
                    t.check(
                        || format!("ucomis({a:x?}, {b:x?}) mxcsr {csr:#x}"),
                        (comi_code(rq), fq),
                        $ucomi(a.0, b.0, csr),
                    );
                    let lt = if rs == Relation::Less { all_ones } else { 0 };
                    t.check(
                        || format!("cmplt({a:x?}, {b:x?}) mxcsr {csr:#x}"),
                        (lt, fs),
                        $cmplt(a.0, b.0, csr),
                    );
                    let eq = if rq == Relation::Equal { all_ones } else { 0 };
                    t.check(
                        || format!("cmpeq({a:x?}, {b:x?}) mxcsr {csr:#x}"),
                        (eq, fq),
                        $cmpeq(a.0, b.0, csr),
                    );
                }
            }
            t.finish();
        }
    };
}

arithmetic_test!(
    sse_f32_arithmetic_matches_host,
    "f32 add/sub/mul/div/min/max/sqrt/compares",
    21,
    F32,
    u32,
    rand_f32,
    8,
    23,
    [
        h_addss, h_subss, h_mulss, h_divss, h_minss, h_maxss, h_sqrtss, h_cmpltss, h_cmpeqss,
        h_comiss, h_ucomiss
    ]
);
arithmetic_test!(
    sse_f64_arithmetic_matches_host,
    "f64 add/sub/mul/div/min/max/sqrt/compares",
    22,
    F64,
    u64,
    rand_f64,
    11,
    52,
    [
        h_addsd, h_subsd, h_mulsd, h_divsd, h_minsd, h_maxsd, h_sqrtsd, h_cmpltsd, h_cmpeqsd,
        h_comisd, h_ucomisd
    ]
);

#[test]
fn sse_conversions_match_host() {
    let mut rng = XorShift::new(23);
    let mut t = Tally::new(
        "the host SSE unit",
        "cvtss2sd/cvtsd2ss/cvt(t)s?2si/cvtsi2s?",
    );
    for _ in 0..CASES {
        let x = rand_f32(&mut rng);
        // binary64 values often inside binary32's range, and integers of every size
        let y = if rng.chance(2) {
            rand_f64(&mut rng)
        } else {
            let e = 1023 - 160 + rng.below(330);
            F64((rng.next() & 1) << 63 | e << 52 | rng.pattern() >> 12)
        };
        let fx = if rng.chance(2) {
            x
        } else {
            F32((rng.next() as u32 & 0x8000_0000)
                | (127 + rng.below(66) as u32 - 2) << 23
                | (rng.pattern() >> 41) as u32)
        };
        let v = rng.pattern() as i64 >> rng.below(64);
        for csr in settings() {
            let s = |n: &str| format!("{n} mxcsr {csr:#x}");
            t.check(
                || s(&format!("cvtss2sd {x:x?}")),
                ours(csr, |e| x.to_f64(e)),
                {
                    let (r, f) = h_cvtss2sd(x.0, csr);
                    (F64(r), f)
                },
            );
            t.check(
                || s(&format!("cvtsd2ss {y:x?}")),
                ours(csr, |e| y.to_f32(e)),
                {
                    let (r, f) = h_cvtsd2ss(y.0, csr);
                    (F32(r), f)
                },
            );
            t.check(
                || s(&format!("cvtss2si32 {fx:x?}")),
                ours(csr, |e| fx.to_i32(e) as u32),
                h_cvtss2si32(fx.0, csr),
            );
            t.check(
                || s(&format!("cvttss2si32 {fx:x?}")),
                ours(csr, |e| fx.to_i32_trunc(e) as u32),
                h_cvttss2si32(fx.0, csr),
            );
            t.check(
                || s(&format!("cvtss2si64 {fx:x?}")),
                ours(csr, |e| fx.to_i64(e) as u64),
                h_cvtss2si64(fx.0, csr),
            );
            t.check(
                || s(&format!("cvtsd2si32 {y:x?}")),
                ours(csr, |e| y.to_i32(e) as u32),
                h_cvtsd2si32(y.0, csr),
            );
            t.check(
                || s(&format!("cvtsd2si64 {y:x?}")),
                ours(csr, |e| y.to_i64(e) as u64),
                h_cvtsd2si64(y.0, csr),
            );
            t.check(
                || s(&format!("cvttsd2si64 {y:x?}")),
                ours(csr, |e| y.to_i64_trunc(e) as u64),
                h_cvttsd2si64(y.0, csr),
            );
            t.check(
                || s(&format!("cvtsi2ss32 {v}")),
                ours(csr, |e| F32::from_i32(v as i32, e)),
                {
                    let (r, f) = h_cvtsi2ss32(v as u32, csr);
                    (F32(r), f)
                },
            );
            t.check(
                || s(&format!("cvtsi2ss64 {v}")),
                ours(csr, |e| F32::from_i64(v, e)),
                {
                    let (r, f) = h_cvtsi2ss64(v as u64, csr);
                    (F32(r), f)
                },
            );
            t.check(
                || s(&format!("cvtsi2sd64 {v}")),
                ours(csr, |e| F64::from_i64(v, e)),
                {
                    let (r, f) = h_cvtsi2sd64(v as u64, csr);
                    (F64(r), f)
                },
            );
        }
    }
    t.finish();
}

/// Significand patterns near all ones or a power of two (`frac_bits` wide).
fn edge_frac(rng: &mut XorShift, frac_bits: u32) -> u64 {
    let mask = (1u64 << frac_bits) - 1;
    let small = 1u64 << rng.below(frac_bits as u64 / 2);
    match rng.below(4) {
        0 => mask - rng.below(small),
        1 => rng.below(small),
        2 => (mask << rng.below(frac_bits as u64)) & mask,
        _ => rng.next() & mask,
    }
}

#[test]
fn sse_results_at_the_underflow_and_overflow_thresholds_match_host() {
    // Products, quotients and sums within a factor of 4 of the smallest normal (tininess
    // after rounding, FTZ, DAZ on the inputs) or of the overflow threshold.
    let mut rng = XorShift::new(24);
    let mut t = Tally::new("the host SSE unit", "f32/f64 thresholds (mul/div/add)");
    for _ in 0..CASES / 2 {
        for (eb, fb) in [(8u32, 23u32), (11, 52)] {
            let bias = (1i64 << (eb - 1)) - 1;
            let emax = (1i64 << eb) - 1;
            let sign = |rng: &mut XorShift| (rng.next() & 1) << (eb + fb);
            // low target: a < 1 keeps b's exponent ≥ 1; high target: a ≥ 4
            let low = rng.chance(2);
            let (target, ea) = if low {
                (1, bias - 1 - rng.below(20) as i64)
            } else {
                (emax - 1, bias + 2 + rng.below(20) as i64)
            };
            let a = sign(&mut rng) | (ea as u64) << fb | edge_frac(&mut rng, fb);
            let e_mul = target + bias - ea - rng.below(3) as i64 + 1;
            let e_div = ea + bias - target + rng.below(3) as i64 - 1;
            assert!((1..emax).contains(&e_mul) && (1..emax).contains(&e_div));
            let mut b_mul = sign(&mut rng) | (e_mul as u64) << fb | edge_frac(&mut rng, fb);
            let mut a_mul = a;
            if rng.chance(3) {
                // significands (2^p − 2u)·(2^(p−1) + u) = 2^(2p−1) − 2u²: just below a power
                // of two, where tininess before and after rounding differ
                let u = 1 + rng.below(1 << ((fb - 2) / 2));
                a_mul = a & !((1u64 << fb) - 1) | ((1u64 << fb) - 2 * u);
                b_mul = b_mul & !((1u64 << fb) - 1) | u;
            }
            let b_div = sign(&mut rng) | (e_div as u64) << fb | edge_frac(&mut rng, fb);
            let s_a = sign(&mut rng) | (1 + rng.below(2)) << fb | edge_frac(&mut rng, fb);
            let s_b = sign(&mut rng) | rng.below(2) << fb | edge_frac(&mut rng, fb);
            for csr in settings() {
                for (name, x, y) in [("mul", a_mul, b_mul), ("div", a, b_div), ("add", s_a, s_b)] {
                    let what = || format!("{name}({x:#x}, {y:#x}) mxcsr {csr:#x}");
                    if eb == 8 {
                        let (x, y) = (F32(x as u32), F32(y as u32));
                        let ours = ours(csr, |e| match name {
                            "mul" => x.mul(y, e),
                            "div" => x.div(y, e),
                            _ => x.add(y, e),
                        });
                        let host = match name {
                            "mul" => h_mulss(x.0, y.0, csr),
                            "div" => h_divss(x.0, y.0, csr),
                            _ => h_addss(x.0, y.0, csr),
                        };
                        t.check(what, ours, (F32(host.0), host.1));
                    } else {
                        let (x, y) = (F64(x), F64(y));
                        let ours = ours(csr, |e| match name {
                            "mul" => x.mul(y, e),
                            "div" => x.div(y, e),
                            _ => x.add(y, e),
                        });
                        let host = match name {
                            "mul" => h_mulsd(x.0, y.0, csr),
                            "div" => h_divsd(x.0, y.0, csr),
                            _ => h_addsd(x.0, y.0, csr),
                        };
                        t.check(what, ours, (F64(host.0), host.1));
                    }
                }
            }
        }
    }
    t.finish();
}
