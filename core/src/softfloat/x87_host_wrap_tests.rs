//! The x87's unmasked overflow and underflow responses ([`Env::x87_wrap`]) against the host
//! x87: with OE and UE unmasked (the other exceptions masked), FMUL, FDIV, FADD and FSCALE on
//! operands near the exponent limits. The host runs the instruction and saves its state with
//! FNSAVE, which does not wait, so the pending unmasked exception never traps; ST(0) and the
//! status word's flags and C1 come from the saved image.

use super::{Env, F80};
use core::arch::asm;

/// Control word: rounding `rc`, extended precision, IE/DE/ZE/PE masked, OE and UE unmasked.
fn control_word(rc: u16) -> u16 {
    0x0040 | 0x0300 | rc << 10 | 0x20 | 0x07
}

/// Runs `op` (one of the `OPS`) on the host: `st1 = a`, `st0 = b` before it; returns the new
/// ST(0) and the status word.
fn host(op: usize, a: F80, b: F80, cw: u16) -> (F80, u16) {
    let (ab, bb) = (a.to_bytes(), b.to_bytes());
    let mut image = [0u8; 108];
    // SAFETY: x87-only code on local buffers; FNSAVE leaves the FPU initialised (empty
    // stack, default control word), which is what the surrounding Rust code expects.
    unsafe {
        macro_rules! run {
            ($insn:literal) => {
                asm!(
                    "fninit",
                    "fldcw word ptr [{cw}]",
                    "fld tbyte ptr [{a}]",
                    "fld tbyte ptr [{b}]",
                    $insn,
                    "fnsave [{img}]",
                    cw = in(reg) &cw,
                    a = in(reg) ab.as_ptr(),
                    b = in(reg) bb.as_ptr(),
                    img = in(reg) image.as_mut_ptr(),
                    out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
                    out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
                )
            };
        }
        match op {
            0 => run!("fmulp st(1), st"),
            1 => run!("fdivp st(1), st"), // st1 / st0
            2 => run!("faddp st(1), st"),
            _ => run!("fscale"), // st0 = b × 2^trunc(a)
        }
    }
    let fsw = u16::from_le_bytes([image[4], image[5]]);
    let mut st0 = [0u8; 10];
    st0.copy_from_slice(&image[28..38]);
    (F80::from_bytes(st0), fsw)
}

fn ours(op: usize, a: F80, b: F80, cw: u16) -> (F80, u16) {
    let mut env = Env::from_x87_control(cw);
    let r = match op {
        0 => a.mul(b, &mut env),
        1 => a.div(b, &mut env),
        2 => a.add(b, &mut env),
        _ => b.scale(a, &mut env),
    };
    let c1 = if env.rounded_up { 0x200 } else { 0 };
    (r, env.flags.bits() as u16 | c1)
}

#[test]
fn unmasked_overflow_and_underflow_give_the_wrapped_result() {
    let mut seed = 0x0F10_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut cases, mut wrapped) = (0, 0);
    for i in 0..20_000 {
        let op = i % 4;
        let big = i % 8 < 4; // overflow or underflow
        let sign = |n: u64| ((n & 1) as u16) << 15;
        let exp = |n: u64| -> u16 {
            let k = (n >> 1) % 200;
            if big {
                0x7FFE - k as u16
            } else {
                1 + k as u16
            }
        };
        let (na, nb) = (next(), next());
        let a = if op == 3 {
            // the scale: ±(1000..20000), an integer
            let v = (nb % 19_000 + 1000) as i64;
            F80::from_i64(if big { v } else { -v })
        } else {
            F80::new(sign(na) | exp(na), 1 << 63 | next() >> 1)
        };
        let b = match op {
            // a large quotient needs a small divisor, a tiny one a large divisor
            1 if big => F80::new(
                sign(nb) | (1 + (nb >> 1) % 200) as u16,
                1 << 63 | next() >> 1,
            ),
            1 => F80::new(
                sign(nb) | (0x7FFE - (nb >> 1) % 200) as u16,
                1 << 63 | next() >> 1,
            ),
            _ => F80::new(sign(nb) | exp(nb), 1 << 63 | next() >> 1),
        };
        let cw = control_word((next() % 4) as u16);
        let (hr, hsw) = host(op, a, b, cw);
        let (vr, vsw) = ours(op, a, b, cw);
        let flags = 0x3F | 0x200; // exception flags and C1
        assert_eq!(
            (vr, vsw & flags),
            (hr, hsw & flags),
            "op {op} a={a:?} b={b:?} cw={cw:#06x}"
        );
        cases += 1;
        wrapped += (hsw & 0x18 != 0) as u32;
    }
    println!("{cases} cases against the host x87, {wrapped} with a wrapped result");
    assert!(
        wrapped > 5_000,
        "the generator must mostly produce overflow/underflow"
    );
}
