//! The harness for the differential tests against the host's own x87 unit (x86-64 hosts
//! only): each runner starts from FNINIT, sets the rounding and precision control with FLDCW
//! (all exceptions masked), loads the operands with `fld tbyte` (which raises nothing, SNaNs
//! included), runs one instruction, reads the status word with FNSTSW and stores the
//! result, leaving the x87 stack empty and the control word at its FNINIT value.

use super::{Env, Precision, RoundingMode, F80};
use core::arch::asm;

/// Status-word condition codes and exception flags.
pub(crate) const C0: u16 = 1 << 8;
pub(crate) const C1: u16 = 1 << 9;
pub(crate) const C2: u16 = 1 << 10;
pub(crate) const C3: u16 = 1 << 14;
pub(crate) const FLAGS: u16 = 0x3F;

/// Every rounding mode and precision control.
pub(crate) const MODES: [RoundingMode; 4] = [
    RoundingMode::NearestEven,
    RoundingMode::Down,
    RoundingMode::Up,
    RoundingMode::TowardZero,
];
pub(crate) const PRECISIONS: [Precision; 3] =
    [Precision::Single, Precision::Double, Precision::Extended];

/// What the x87 tallies compare against.
pub(crate) const HOST_X87: &str = "the host x87 FPU";

/// Random operand pairs (or single operands) per operation and environment.
pub(crate) const CASES: usize = 3000;

/// The control word for a rounding mode and precision, all exceptions masked.
pub(crate) fn control_word(mode: RoundingMode, prec: Precision) -> u16 {
    let pc = match prec {
        Precision::Single => 0,
        Precision::Double => 2,
        Precision::Extended => 3,
    };
    0x0040 | 0x3F | pc << 8 | (mode.rc() as u16) << 10
}

pub(crate) fn env(mode: RoundingMode, prec: Precision) -> Env {
    Env::from_x87_control(control_word(mode, prec))
}

/// Status-word bits our side predicts: flags and the round-up C1.
pub(crate) fn status(e: &Env) -> u16 {
    e.flags.bits() as u16 | if e.rounded_up { C1 } else { 0 }
}

/// `st0 = op(st0 = a, st1 = b)`: returns the new ST(0) and the status word.
macro_rules! host_binary {
    ($name:ident, $insn:literal) => {
        pub(crate) fn $name(a: F80, b: F80, cw: u16) -> (F80, u16) {
            let (ab, bb) = (a.to_bytes(), b.to_bytes());
            let mut out = [0u8; 10];
            let sw: u16;
            // SAFETY: x87-only code on local buffers; the stack is left empty and the
            // control word is restored by the final FNINIT.
            unsafe {
                asm!(
                    "fninit",
                    "fldcw word ptr [{cw}]",
                    "fld tbyte ptr [{b}]",
                    "fld tbyte ptr [{a}]",
                    $insn,
                    "fnstsw ax",
                    "fstp tbyte ptr [{out}]",
                    "fstp st(0)",
                    "fninit",
                    cw = in(reg) &cw,
                    a = in(reg) ab.as_ptr(),
                    b = in(reg) bb.as_ptr(),
                    out = in(reg) out.as_mut_ptr(),
                    out("ax") sw,
                    out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
                    out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
                    options(nostack),
                );
            }
            (F80::from_bytes(out), sw)
        }
    };
}

host_binary!(host_add, "fadd st(0), st(1)");
host_binary!(host_sub, "fsub st(0), st(1)");
host_binary!(host_mul, "fmul st(0), st(1)");
host_binary!(host_div, "fdiv st(0), st(1)");
host_binary!(host_prem, "fprem");
host_binary!(host_prem1, "fprem1");
host_binary!(host_scale, "fscale");
host_binary!(host_fcom, "fcom st(1)");
host_binary!(host_fucom, "fucom st(1)");

/// `st0 = op(st0 = a)`.
macro_rules! host_unary {
    ($name:ident, $insn:literal) => {
        pub(crate) fn $name(a: F80, cw: u16) -> (F80, u16) {
            let ab = a.to_bytes();
            let mut out = [0u8; 10];
            let sw: u16;
            // SAFETY: as in `host_binary`.
            unsafe {
                asm!(
                    "fninit",
                    "fldcw word ptr [{cw}]",
                    "fld tbyte ptr [{a}]",
                    $insn,
                    "fnstsw ax",
                    "fstp tbyte ptr [{out}]",
                    "fninit",
                    cw = in(reg) &cw,
                    a = in(reg) ab.as_ptr(),
                    out = in(reg) out.as_mut_ptr(),
                    out("ax") sw,
                    out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
                    out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
                    options(nostack),
                );
            }
            (F80::from_bytes(out), sw)
        }
    };
}

host_unary!(host_sqrt, "fsqrt");
host_unary!(host_rndint, "frndint");

/// FXTRACT: (exponent, significand, status word).
pub(crate) fn host_xtract(a: F80, cw: u16) -> (F80, F80, u16) {
    let ab = a.to_bytes();
    let (mut sig, mut exp) = ([0u8; 10], [0u8; 10]);
    let sw: u16;
    // SAFETY: as in `host_binary`.
    unsafe {
        asm!(
            "fninit",
            "fldcw word ptr [{cw}]",
            "fld tbyte ptr [{a}]",
            "fxtract",
            "fnstsw ax",
            "fstp tbyte ptr [{sig}]",
            "fstp tbyte ptr [{exp}]",
            "fninit",
            cw = in(reg) &cw,
            a = in(reg) ab.as_ptr(),
            sig = in(reg) sig.as_mut_ptr(),
            exp = in(reg) exp.as_mut_ptr(),
            out("ax") sw,
            out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
            out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
            options(nostack),
        );
    }
    (F80::from_bytes(exp), F80::from_bytes(sig), sw)
}

/// Store ST(0) = a to memory with `$insn` (which pops), returning the bytes.
macro_rules! host_store {
    ($name:ident, $n:literal, $insn:literal) => {
        pub(crate) fn $name(a: F80, cw: u16) -> ([u8; $n], u16) {
            let ab = a.to_bytes();
            let mut out = [0u8; $n];
            let sw: u16;
            // SAFETY: as in `host_binary`.
            unsafe {
                asm!(
                    "fninit",
                    "fldcw word ptr [{cw}]",
                    "fld tbyte ptr [{a}]",
                    $insn,
                    "fnstsw ax",
                    "fninit",
                    cw = in(reg) &cw,
                    a = in(reg) ab.as_ptr(),
                    out = in(reg) out.as_mut_ptr(),
                    out("ax") sw,
                    out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
                    out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
                    options(nostack),
                );
            }
            (out, sw)
        }
    };
}

host_store!(host_fist16, 2, "fistp word ptr [{out}]");
host_store!(host_fist32, 4, "fistp dword ptr [{out}]");
host_store!(host_fist64, 8, "fistp qword ptr [{out}]");
host_store!(host_fisttp16, 2, "fisttp word ptr [{out}]");
host_store!(host_fisttp32, 4, "fisttp dword ptr [{out}]");
host_store!(host_fisttp64, 8, "fisttp qword ptr [{out}]");
host_store!(host_fst32, 4, "fstp dword ptr [{out}]");
host_store!(host_fst64, 8, "fstp qword ptr [{out}]");

/// Load from memory with `$insn`, returning ST(0).
macro_rules! host_load {
    ($name:ident, $n:literal, $insn:literal) => {
        pub(crate) fn $name(m: [u8; $n], cw: u16) -> (F80, u16) {
            let mut out = [0u8; 10];
            let sw: u16;
            // SAFETY: as in `host_binary`.
            unsafe {
                asm!(
                    "fninit",
                    "fldcw word ptr [{cw}]",
                    $insn,
                    "fnstsw ax",
                    "fstp tbyte ptr [{out}]",
                    "fninit",
                    cw = in(reg) &cw,
                    m = in(reg) m.as_ptr(),
                    out = in(reg) out.as_mut_ptr(),
                    out("ax") sw,
                    out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
                    out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
                    options(nostack),
                );
            }
            (F80::from_bytes(out), sw)
        }
    };
}

host_load!(host_fld32, 4, "fld dword ptr [{m}]");
host_load!(host_fld64, 8, "fld qword ptr [{m}]");
host_load!(host_fild64, 8, "fild qword ptr [{m}]");

/// Our side of a binary operation.
pub(crate) type Ours = fn(F80, F80, &mut Env) -> F80;
/// The host's side: result and status word.
pub(crate) type Host = fn(F80, F80, u16) -> (F80, u16);

#[test]
fn harness_operand_order() {
    // The harness itself: ST(0) = a, ST(1) = b, so fsub gives a − b and fdiv a / b.
    let cw = control_word(RoundingMode::NearestEven, Precision::Extended);
    let (r, sw) = host_sub(F80::ONE, F80::from_i64(3), cw);
    assert_eq!((r, sw & FLAGS), (F80::from_i64(-2), 0));
    let (r, _) = host_div(F80::from_i64(6), F80::from_i64(3), cw);
    assert_eq!(r, F80::from_i64(2));
}
