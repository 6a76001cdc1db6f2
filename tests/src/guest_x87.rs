//! Guest program "x87": x87 state handling without arithmetic: FNINIT, constants under each
//! rounding mode, FXCH/FSTP/FFREE/FINCSTP/FDECSTP, FXAM classes, the status and tag words,
//! and the FNSTENV/FNSAVE/FXSAVE memory images in 32-bit protected mode.

use crate::guests::{Guest, DATA};
use iced_x86::code_asm::*;

/// Builds the program.
pub fn build() -> Result<Vec<u8>, IcedError> {
    crate::guests::two_pass(program)
}

fn program(g: &mut Guest) -> Result<(), IcedError> {
    let buf = DATA + 0x1000;
    g.a.fninit()?;
    g.a.fnstsw(ax)?;
    g.a.movzx(eax, ax)?;
    g.report("fsw after fninit")?;
    // constants under the four rounding modes: store the low dword of the significand
    for rc in 0..4u32 {
        g.a.mov(word_ptr(buf), 0x037F | rc << 10)?;
        g.a.fldcw(word_ptr(buf))?;
        for (name, op) in [("pi", 0), ("l2e", 1), ("l2t", 2), ("lg2", 3), ("ln2", 4)] {
            match op {
                0 => g.a.fldpi()?,
                1 => g.a.fldl2e()?,
                2 => g.a.fldl2t()?,
                3 => g.a.fldlg2()?,
                _ => g.a.fldln2()?,
            }
            g.a.fstp(tword_ptr(buf + 0x10))?;
            g.a.mov(eax, dword_ptr(buf + 0x10))?;
            g.report(&format!("rc{rc} {name}"))?;
        }
    }
    g.a.fninit()?;
    // stack: 1, 0, pi; exchange, classify
    g.a.fld1()?;
    g.a.fldz()?;
    g.a.fldpi()?;
    g.a.fxch(st0, st2)?; // ST0 = 1, ST2 = pi
    g.a.fnstsw(ax)?;
    g.a.movzx(eax, ax)?;
    g.report("fsw top 5")?;
    for name in ["one", "zero", "pi"] {
        g.a.fxam()?;
        g.a.fnstsw(ax)?;
        g.a.movzx(eax, ax)?;
        g.report(&format!("fxam {name}"))?;
        g.a.fincstp()?;
    }
    g.a.fxam()?; // empty (TOP wrapped to 0)
    g.a.fnstsw(ax)?;
    g.a.movzx(eax, ax)?;
    g.report("fxam empty")?;
    g.a.fdecstp()?;
    g.a.fdecstp()?;
    g.a.fdecstp()?;
    g.a.ffree(st1)?;
    g.a.fchs()?;
    g.a.fnstenv(dword_ptr(buf))?;
    // Compared against QEMU, which writes 0 in the reserved upper halves (Intel processors
    // write 0xFFFF) and does not record the last opcode (FOP): both are masked out here.
    for (i, name) in ["fcw", "fsw", "ftw", "fip", "fcs", "fdp", "fds"]
        .iter()
        .enumerate()
    {
        g.a.mov(eax, dword_ptr(buf + 4 * i as u32))?;
        if *name != "fip" && *name != "fdp" {
            g.a.and(eax, 0xFFFFu32)?;
        }
        if *name == "fsw" {
            // C0, C2, C3 are undefined after FDECSTP/FFREE/FCHS (SDM vol. 2)
            g.a.and(eax, !0x4500u32)?;
        }
        g.report(&format!("env {name}"))?;
    }
    g.a.fldcw(word_ptr(buf))?; // FNSTENV masked everything: restore
    g.a.fnsave(dword_ptr(buf + 0x100))?;
    g.a.mov(eax, dword_ptr(buf + 0x100 + 28))?; // ST0 low dword
    g.report("fsave st0 low")?;
    g.a.mov(eax, dword_ptr(buf + 0x100 + 36))?; // ST0 exponent word and ST1 start
    g.report("fsave st0 high")?;
    g.a.movzx(eax, word_ptr(buf + 0x100 + 8))?; // reserved upper half masked (see above)
    g.report("fsave ftw")?;
    g.a.fnstsw(ax)?;
    g.a.movzx(eax, ax)?;
    g.report("fsw after fnsave")?;
    g.a.frstor(dword_ptr(buf + 0x100))?;
    g.a.fxsave(dword_ptr(buf + 0x200))?;
    g.a.mov(eax, dword_ptr(buf + 0x200))?;
    g.a.and(eax, !0x4500_0000u32)?; // the undefined condition codes again
    g.report("fxsave fcw fsw")?;
    g.a.movzx(eax, byte_ptr(buf + 0x200 + 4))?; // abridged tags (FOP at +6 masked: see above)
    g.report("fxsave ftw")?;
    g.a.mov(eax, dword_ptr(buf + 0x200 + 32))?;
    g.report("fxsave st0 low")?;
    g.a.movzx(eax, word_ptr(buf + 0x200 + 40))?;
    g.report("fxsave st0 exp")?;
    Ok(())
}
