//! x87 instructions that move and classify values (no arithmetic yet), in real mode. Expected
//! values come from the SDM (vol. 1 chapter 8, vol. 2 instruction pages) and are commented.

use iced_x86::code_asm::*;
use vx86_core::{ExitReason, Machine, MachineConfig};

fn run(body: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Machine {
    let mut a = CodeAssembler::new(16).unwrap();
    // CR0: clear EM (x87 present), set NE (native error reporting)
    a.mov(eax, cr0).unwrap();
    a.and(eax, !4u32).unwrap();
    a.or(eax, 0x20u32).unwrap();
    a.mov(cr0, eax).unwrap();
    a.fninit().unwrap();
    body(&mut a).unwrap();
    a.hlt().unwrap();
    let code = a.assemble(0x7C00).unwrap();
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_flat(&code, 0x7C00, 0x7C00).unwrap();
    assert_eq!(m.run(10_000).unwrap(), ExitReason::Halted);
    m
}

fn bytes(m: &Machine, addr: u64, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    m.read_phys(addr, &mut b).unwrap();
    b
}

#[test]
fn fninit_state_and_constants() {
    let m = run(|a| {
        a.fnstcw(word_ptr(0x500))?;
        a.fnstsw(word_ptr(0x502))?;
        a.fld1()?;
        a.fldpi()?;
        a.fstp(tword_ptr(0x510))?; // π, rounded to nearest
        a.fstp(tword_ptr(0x520))?; // 1.0
        a.mov(ax, 0x077Fu32)?; // RC = 01 (down)
        a.mov(word_ptr(0x504), ax)?;
        a.fldcw(word_ptr(0x504))?;
        a.fldpi()?;
        a.fstp(tword_ptr(0x530))?; // π rounded down
        a.fldl2e()?;
        a.fstp(tword_ptr(0x540))?; // log2(e) rounded down
        Ok(())
    });
    // FNINIT: control word 0x037F (all masked, 64-bit precision, nearest); status 0
    assert_eq!(bytes(&m, 0x500, 4), [0x7F, 0x03, 0x00, 0x00]);
    // π = 1.1001001000011111101101010100010001000010110100011000010001101001... × 2^1:
    // significand C90FDAA2 2168C234 followed by C4C6…, above half → rounds up to …C235;
    // exponent 0x4000
    assert_eq!(
        bytes(&m, 0x510, 10),
        [0x35, 0xC2, 0x68, 0x21, 0xA2, 0xDA, 0x0F, 0xC9, 0x00, 0x40]
    );
    // 1.0 = significand 8000000000000000, exponent 0x3FFF
    assert_eq!(
        bytes(&m, 0x520, 10),
        [0, 0, 0, 0, 0, 0, 0, 0x80, 0xFF, 0x3F]
    );
    // rounding down keeps …C234
    assert_eq!(
        bytes(&m, 0x530, 10),
        [0x34, 0xC2, 0x68, 0x21, 0xA2, 0xDA, 0x0F, 0xC9, 0x00, 0x40]
    );
    // log2(e) = B8AA3B29 5C17F0BB|BE87…: rounded down → …F0BB, exponent 0x3FFF
    assert_eq!(
        bytes(&m, 0x540, 10),
        [0xBB, 0xF0, 0x17, 0x5C, 0x29, 0x3B, 0xAA, 0xB8, 0xFF, 0x3F]
    );
}

#[test]
fn stack_top_tags_and_fxam() {
    let m = run(|a| {
        a.fld1()?;
        a.fldz()?;
        a.fxch(st0, st1)?; // ST0 = 1, ST1 = 0
        a.fnstsw(ax)?;
        a.mov(word_ptr(0x500), ax)?;
        a.fxam()?; // 1.0: normal, positive
        a.fnstsw(word_ptr(0x502))?;
        a.fchs()?;
        a.fxam()?; // −1.0: normal, negative
        a.fnstsw(word_ptr(0x504))?;
        a.fstp(st0)?; // pop
        a.fxam()?; // +0
        a.fnstsw(word_ptr(0x506))?;
        a.fstp(st0)?;
        a.fxam()?; // empty
        a.fnstsw(word_ptr(0x508))?;
        a.fnstenv(dword_ptr(0x600))?; // 16-bit real-mode environment, 14 bytes
        Ok(())
    });
    let w = |a: u64| u16::from_le_bytes(bytes(&m, a, 2).try_into().unwrap());
    // two pushes from TOP 0: TOP = 6 → status 6 << 11 = 0x3000
    assert_eq!(w(0x500), 0x3000);
    // FXAM normal: C3 C2 C0 = 010 → C2 (0x0400); sign + → C1 = 0
    assert_eq!(w(0x502), 0x3400);
    // negative normal: C2 and C1 (0x0200)
    assert_eq!(w(0x504), 0x3600);
    // zero: C3 (0x4000); TOP = 7 after one pop
    assert_eq!(w(0x506), 0x3800 | 0x4000);
    // empty: C3 and C0 (0x4100); TOP = 0
    assert_eq!(w(0x508), 0x4100);
    // the environment: FCW 0x037F, FSW, and the tag word all empty again (0xFFFF)
    assert_eq!(w(0x600), 0x037F);
    assert_eq!(w(0x602), 0x4100);
    assert_eq!(w(0x604), 0xFFFF);
}

#[test]
fn x87_with_cr0_em_raises_nm() {
    // With CR0.EM set (vx86's reset state), FLD1 raises #NM (vector 7); the handler at
    // 0000:0x7E00 halts.
    let mut a = CodeAssembler::new(16).unwrap();
    a.fld1().unwrap();
    a.hlt().unwrap();
    let code = a.assemble(0x7C00).unwrap();
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_flat(&code, 0x7C00, 0x7C00).unwrap();
    m.write_phys(7 * 4, &[0x00, 0x7E, 0, 0]).unwrap();
    m.write_phys(0x7E00, &[0xF4]).unwrap();
    assert_eq!(m.run(100).unwrap(), ExitReason::Halted);
    assert_eq!(m.cpu_state().eip, 0x7E01);
}

#[test]
fn legacy_8087_and_287_control_instructions_are_ignored() {
    // FNENI (DB E0), FNDISI (DB E1), FNSETPM (DB E4): no-ops since the 387; the control and
    // status words and the last-instruction pointer (set by FLD1) stay as they were
    let m = run(|a| {
        a.fld1()?;
        a.db(&[0xDB, 0xE0, 0xDB, 0xE1, 0xDB, 0xE4])?;
        a.fnstenv(word_ptr(0x600))?;
        Ok(())
    });
    let env = bytes(&m, 0x600, 14);
    assert_eq!(env[0..2], [0x7F, 0x03], "control word");
    // status word: TOP = 7 after one push, nothing else
    assert_eq!(env[2..4], [0x00, 0x38]);
    assert_eq!(
        m.cpu_state().fpu.fop,
        0x1E8,
        "FLD1 (D9 E8) is the last instruction"
    );
}
