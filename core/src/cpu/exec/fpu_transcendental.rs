//! x87 transcendental instructions through the software-float library (SDM vol. 2 pages
//! F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN, FSIN, FCOS, FSINCOS; vol. 1, 8.5 for the exception
//! responses, 8.1.3.1 for C1). The values and their flags come from
//! `softfloat/f80_transcendental.rs`; this file does the stack and the condition codes.
//!
//! Stack effects: F2XM1, FSIN and FCOS replace ST(0); FYL2X, FYL2XP1 and FPATAN store their
//! result in ST(1) and pop; FPTAN replaces ST(0) with the tangent and pushes 1.0 (or the NaN
//! result again for a NaN or invalid operand), FSINCOS replaces ST(0) with the sine and
//! pushes the cosine. Like the other handlers, the flags go to the status word and the
//! results are written only when no unmasked IE, DE or ZE stops the instruction; C1 reports
//! "rounded up" (for FSINCOS, of the cosine).
//!
//! Condition codes and stack faults (measured on an Intel host where the SDM is silent):
//! - FSIN/FCOS/FPTAN/FSINCOS of |x| ≥ 2^63: C2 = 1 and C1 = 0, nothing else changes (no
//!   flag, no push); in range, C2 = 0;
//! - an empty operand register (stack underflow, IE + SF, C1 = 0): masked, the destination
//!   gets the indefinite (FPTAN/FSINCOS: ST(0) and the pushed value both); the trigonometric
//!   instructions clear C2 (C0, C3, and C2 of the others, are undefined and left alone);
//! - FPTAN/FSINCOS with ST(7) in use (stack overflow, IE + SF, C1 = 1), checked before the
//!   range: masked, ST(0) becomes the indefinite and the indefinite is pushed.
//!
//! Left out (as for the other x87 instructions): the exponent-wrapped results of unmasked
//! overflow/underflow.

use super::R;
use crate::bus::Bus;
use crate::cpu::uop::Uop;
use crate::cpu::x87::{sw, F80};
use crate::cpu::Cpu;

/// Operations, in `Uop::imm`.
pub(crate) mod op {
    /// F2XM1 (`unary`).
    pub const F2XM1: u32 = 0;
    /// FSIN (`unary`).
    pub const FSIN: u32 = 1;
    /// FCOS (`unary`).
    pub const FCOS: u32 = 2;
    /// FYL2X (`binary`).
    pub const FYL2X: u32 = 3;
    /// FYL2XP1 (`binary`).
    pub const FYL2XP1: u32 = 4;
    /// FPATAN (`binary`).
    pub const FPATAN: u32 = 5;
    /// FPTAN (`pushing`).
    pub const FPTAN: u32 = 6;
    /// FSINCOS (`pushing`).
    pub const FSINCOS: u32 = 7;
}

impl Cpu {
    /// The out-of-range ending of FSIN/FCOS/FPTAN/FSINCOS: C2 = 1, C1 = 0.
    fn fpu_out_of_range(&mut self) {
        self.s.fpu.fsw = (self.s.fpu.fsw & !sw::C1) | sw::C2;
    }
}

/// F2XM1, FSIN, FCOS: ST(0) = f(ST(0)).
pub(crate) fn unary(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    let trig = u.imm != op::F2XM1;
    let a = match cpu.fpu_pair(0, 0) {
        Ok((a, _)) => a,
        Err(masked) => {
            if trig {
                cpu.s.fpu.fsw &= !sw::C2;
            }
            if masked {
                cpu.s.fpu.set_st(0, F80::INDEFINITE);
            }
            return Ok(());
        }
    };
    let mut env = cpu.fpu_env();
    let r = match u.imm {
        op::F2XM1 => Some(a.f2xm1(&mut env)),
        op::FSIN => a.fsin(&mut env),
        _ => a.fcos(&mut env),
    };
    let Some(r) = r else {
        cpu.fpu_out_of_range();
        return Ok(());
    };
    if trig {
        cpu.s.fpu.fsw &= !sw::C2;
    }
    if cpu.fpu_commit(&env, false) {
        cpu.s.fpu.set_st(0, r);
    }
    Ok(())
}

/// FYL2X, FYL2XP1, FPATAN: ST(1) = f(x = ST(0), y = ST(1)), then pop.
pub(crate) fn binary(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    let (x, y) = match cpu.fpu_pair(0, 1) {
        Ok(p) => p,
        Err(masked) => {
            if masked {
                cpu.s.fpu.set_st(1, F80::INDEFINITE);
                cpu.s.fpu.pop();
            }
            return Ok(());
        }
    };
    let mut env = cpu.fpu_env();
    let r = match u.imm {
        op::FYL2X => x.fyl2x(y, &mut env),
        op::FYL2XP1 => x.fyl2xp1(y, &mut env),
        _ => x.fpatan(y, &mut env),
    };
    if cpu.fpu_commit(&env, false) {
        cpu.s.fpu.set_st(1, r);
        cpu.s.fpu.pop();
    }
    Ok(())
}

/// FPTAN, FSINCOS: ST(0) = first result, then push the second.
pub(crate) fn pushing(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    let fpu = &mut cpu.s.fpu;
    if fpu.is_empty(0) || !fpu.is_empty(7) {
        fpu.fsw &= !sw::C2;
        if fpu.is_empty(0) {
            // stack underflow (IE + SF, C1 = 0)
            if fpu.underflow() {
                fpu.set_st(0, F80::INDEFINITE);
                fpu.push(F80::INDEFINITE);
                fpu.fsw &= !sw::C1;
            }
        } else {
            // stack overflow: `push` raises IE + SF with C1 = 1 and, masked, pushes the
            // indefinite; the operand is replaced by the indefinite too
            if !fpu.invalid_unmasked() {
                fpu.set_st(0, F80::INDEFINITE);
            }
            fpu.push(F80::INDEFINITE);
        }
        return Ok(());
    }
    let a = fpu.st(0);
    let mut env = cpu.fpu_env();
    let r = if u.imm == op::FPTAN {
        a.fptan(&mut env)
            .map(|t| (t, if t.is_nan() { t } else { F80::ONE }))
    } else {
        a.fsincos(&mut env)
    };
    let Some((first, pushed)) = r else {
        cpu.fpu_out_of_range();
        return Ok(());
    };
    cpu.s.fpu.fsw &= !sw::C2;
    if cpu.fpu_commit(&env, false) {
        cpu.s.fpu.set_st(0, first);
        cpu.s.fpu.push(pushed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::machine::{ExitReason, Machine, MachineConfig};

    /// Runs `body` (machine code) in real mode at 0x7C00 after clearing CR0.EM, setting CR0.NE
    /// and FNINIT, with `data` at 0x7D00; returns the machine once halted.
    fn run(body: &[u8], data: &[u8]) -> Machine {
        let mut code = vec![
            0x0F, 0x20, 0xC0, // mov eax, cr0
            0x66, 0x83, 0xE0, 0xFB, // and eax, ~4 (EM)
            0x66, 0x83, 0xC8, 0x20, // or eax, 0x20 (NE)
            0x0F, 0x22, 0xC0, // mov cr0, eax
            0xDB, 0xE3, // fninit
        ];
        code.extend_from_slice(body);
        code.push(0xF4); // hlt
        code.resize(0x100, 0x90);
        code.extend_from_slice(data);
        let mut m = Machine::new(MachineConfig::default()).unwrap();
        m.load_flat(&code, 0x7C00, 0x7C00).unwrap();
        assert_eq!(m.run(10_000).unwrap(), ExitReason::Halted);
        m
    }

    fn read<const N: usize>(m: &Machine, addr: u64) -> [u8; N] {
        let mut b = [0u8; N];
        m.read_phys(addr, &mut b).unwrap();
        b
    }

    fn f80(m: &Machine, addr: u64) -> crate::softfloat::F80 {
        crate::softfloat::F80::from_bytes(read(m, addr))
    }

    /// The status word stored at 0x500.
    fn status(m: &Machine) -> u16 {
        u16::from_le_bytes(read(m, 0x500))
    }

    const FNSTSW: [u8; 4] = [0xDD, 0x3E, 0x00, 0x05]; // fnstsw [0x500]
    const FSTP_510: [u8; 4] = [0xDB, 0x3E, 0x10, 0x05]; // fstp tbyte [0x510]
    const FSTP_520: [u8; 4] = [0xDB, 0x3E, 0x20, 0x05]; // fstp tbyte [0x520]
    const FLD_DATA: [u8; 4] = [0xDB, 0x2E, 0x00, 0x7D]; // fld tbyte [0x7D00]
    const TOP: u16 = 7 << 11;
    const C1: u16 = 1 << 9;
    const C2: u16 = 1 << 10;

    #[test]
    fn fptan_pushes_one_and_fsincos_pushes_the_cosine() {
        // fldz; fptan: ST0 = 1.0, ST1 = +0, two registers in use, no flag
        let m = run(
            &[&[0xD9, 0xEE, 0xD9, 0xF2][..], &FNSTSW, &FSTP_510, &FSTP_520].concat(),
            &[],
        );
        assert_eq!(status(&m) & !TOP, 0);
        assert_eq!(status(&m) & TOP, 6 << 11);
        assert_eq!(f80(&m, 0x510), crate::softfloat::F80::ONE);
        assert_eq!(f80(&m, 0x520), crate::softfloat::F80::ZERO);
        // fld1; fsincos: ST0 = cos 1 (rounded up: C1), ST1 = sin 1
        let m = run(
            &[&[0xD9, 0xE8, 0xD9, 0xFB][..], &FNSTSW, &FSTP_510, &FSTP_520].concat(),
            &[],
        );
        assert_eq!(status(&m) & (0x3F | C1 | C2), 0x20 | C1);
        assert_eq!(f80(&m, 0x510).signif, 0x8A51_407D_A834_5C92);
        assert_eq!(f80(&m, 0x520).signif, 0xD76A_A478_4867_7021);
    }

    #[test]
    fn out_of_range_sets_c2_and_changes_nothing() {
        let big = crate::softfloat::F80::new(0x403E, 1 << 63).to_bytes(); // 2^63
        for insn in [[0xD9, 0xFE], [0xD9, 0xFF], [0xD9, 0xF2], [0xD9, 0xFB]] {
            let m = run(&[&FLD_DATA[..], &insn, &FNSTSW, &FSTP_510].concat(), &big);
            assert_eq!(status(&m), 7 << 11 | C2, "{insn:x?}");
            assert_eq!(read::<10>(&m, 0x510), big);
        }
        // in range, C2 is cleared again: fldpi; fsin gives sin(π − p) with Intel's 66-bit p
        let m = run(
            &[
                &FLD_DATA[..],
                &[0xD9, 0xFE, 0xD9, 0xEB, 0xD9, 0xFE],
                &FNSTSW,
                &FSTP_510,
            ]
            .concat(),
            &big,
        );
        assert_eq!(status(&m) & C2, 0);
        assert_eq!(f80(&m, 0x510), crate::softfloat::F80::new(0xBFBF, 1 << 63));
        // −2^-64
    }

    #[test]
    fn two_operand_instructions_store_st1_and_pop() {
        // fld1 (y); fld 8 (x); fyl2x: 1·log2 8 = 3 in the only register left
        let eight = crate::softfloat::F80::new(0x4002, 1 << 63).to_bytes();
        let m = run(
            &[
                &[0xD9, 0xE8][..],
                &FLD_DATA,
                &[0xD9, 0xF1],
                &FNSTSW,
                &FSTP_510,
            ]
            .concat(),
            &eight,
        );
        assert_eq!(status(&m) & TOP, 7 << 11);
        assert_eq!(
            f80(&m, 0x510),
            crate::softfloat::F80::new(0x4000, 0xC000_0000_0000_0000)
        );
        // fld1; fld1; fpatan: atan2(1, 1) = π/4, rounded up
        let m = run(
            &[
                0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xF3, 0xDD, 0x3E, 0x00, 0x05, 0xDB, 0x3E, 0x10, 0x05,
            ],
            &[],
        );
        assert_eq!(status(&m) & (TOP | C1 | 0x3F), 7 << 11 | C1 | 0x20);
        assert_eq!(
            f80(&m, 0x510),
            crate::softfloat::F80::new(0x3FFE, 0xC90F_DAA2_2168_C235)
        );
    }

    #[test]
    fn stack_faults() {
        // fptan on an empty stack: IE + SF, the indefinite in ST0 and pushed
        let m = run(
            &[&[0xD9, 0xF2][..], &FNSTSW, &FSTP_510, &FSTP_520].concat(),
            &[],
        );
        assert_eq!(status(&m) & !TOP, 0x41);
        assert_eq!(f80(&m, 0x510), crate::softfloat::F80::INDEFINITE);
        assert_eq!(f80(&m, 0x520), crate::softfloat::F80::INDEFINITE);
        // eight fld1 then fsincos: stack overflow, IE + SF + C1, ST0 and ST1 indefinite
        let mut body = [0xD9, 0xE8].repeat(8);
        body.extend_from_slice(&[0xD9, 0xFB]);
        let m = run(&[&body[..], &FNSTSW, &FSTP_510, &FSTP_520].concat(), &[]);
        assert_eq!(status(&m) & !TOP, 0x41 | C1);
        assert_eq!(f80(&m, 0x510), crate::softfloat::F80::INDEFINITE);
        assert_eq!(f80(&m, 0x520), crate::softfloat::F80::INDEFINITE);
        // fyl2x with ST1 empty: ST1 = indefinite, popped
        let m = run(
            &[&[0xD9, 0xE8, 0xD9, 0xF1][..], &FNSTSW, &FSTP_510].concat(),
            &[],
        );
        assert_eq!(status(&m) & !TOP, 0x41);
        assert_eq!(status(&m) & TOP, 0);
        assert_eq!(f80(&m, 0x510), crate::softfloat::F80::INDEFINITE);
    }
}
