//! x87 instructions that move, classify and manage values without arithmetic (SDM vol. 2
//! pages of the same names; vol. 1, 8.3 and 8.6): FLD/FST/FSTP (80-bit and registers), FXCH,
//! FFREE, FINCSTP, FDECSTP, FCHS, FABS, the constants FLD1/FLDZ/FLDPI/FLDL2E/FLDL2T/FLDLG2/
//! FLDLN2, FXAM, FCMOVcc, FNOP, FNINIT, FLDCW, FNSTCW, FNSTSW, FNCLEX, FNSTENV/FLDENV,
//! FNSAVE/FRSTOR, FXSAVE/FXRSTOR, and FWAIT's pending-exception check.
//!
//! Every x87 instruction first checks CR0.EM/CR0.TS (#NM); the non-control ones then deliver
//! a pending unmasked exception (#MF with CR0.NE) and record the last instruction/operand
//! pointers. Arithmetic arrives with the software-float library.

use super::R;
use crate::bus::Bus;
use crate::cpu::exception::Exception;
use crate::cpu::state::{cr0, cr4, flag, SegReg};
use crate::cpu::uop::{Opnd, Uop, P_OP32};
use crate::cpu::x87::env;
use crate::cpu::x87::{sw, F80};
use crate::cpu::Cpu;

impl Cpu {
    /// The checks every x87 instruction starts with. `control` instructions (FNINIT, FNCLEX,
    /// FLDCW, FNSTCW, FNSTSW, FNSTENV, FLDENV, FNSAVE, FRSTOR) skip the pending-exception check
    /// and leave the last-instruction pointers alone.
    pub(crate) fn fpu_enter(&mut self, u: &Uop, control: bool) -> Result<(), Exception> {
        if self.s.cr0 & (cr0::EM | cr0::TS) != 0 {
            return Err(Exception::DeviceNotAvailable);
        }
        if control {
            return Ok(());
        }
        if self.s.fpu.fsw & sw::ES != 0 && self.s.cr0 & cr0::NE != 0 {
            return Err(Exception::FpuError);
        }
        let (ip, cs) = (self.insn_eip, self.s.segs[SegReg::Cs as usize].selector);
        self.s.fpu.fip = ip;
        self.s.fpu.fcs = cs;
        self.s.fpu.fop = (u.imm2 & 0x7FF) as u16;
        if u.dst == Opnd::Mem || u.src == Opnd::Mem {
            self.s.fpu.fdp = self.ea(&u.mem);
            self.s.fpu.fds = self.s.segs[u.mem.seg as usize % 6].selector;
        }
        Ok(())
    }

    /// ST(i), or the masked-underflow result (indefinite) when it is empty; `None` when the
    /// underflow is unmasked (the instruction must stop without changing anything).
    pub(crate) fn fpu_read(&mut self, i: usize) -> Option<F80> {
        if self.s.fpu.is_empty(i) {
            if self.s.fpu.underflow() {
                Some(F80::INDEFINITE)
            } else {
                None
            }
        } else {
            Some(self.s.fpu.st(i))
        }
    }
}

fn st_index(u: &Uop) -> usize {
    (u.imm2 >> 16) as usize & 7
}

/// Reads an 80-bit memory operand.
fn read_m80(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> Result<F80, Exception> {
    let mut b = [0u8; 10];
    let off = cpu.ea(&u.mem);
    cpu.read_bytes(bus, u.mem.seg, off, &mut b)?;
    Ok(F80::from_bytes(b))
}

/// FLD m80fp / FLD ST(i).
pub(crate) fn fld(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    let (v, underflow) = if u.src == Opnd::Mem || u.dst == Opnd::Mem {
        (read_m80(cpu, bus, u)?, false)
    } else {
        let underflow = cpu.s.fpu.is_empty(st_index(u));
        match cpu.fpu_read(st_index(u)) {
            Some(v) => (v, underflow),
            None => return Ok(()),
        }
    };
    cpu.s.fpu.fsw &= !sw::C1;
    cpu.s.fpu.push(v);
    if underflow {
        // an empty source and a full stack: C1 = 0, the underflow's (measured)
        cpu.s.fpu.fsw &= !sw::C1;
    }
    Ok(())
}

/// FSTP m80fp (`imm` = 1 pops; FST m80 does not exist).
pub(crate) fn fstp_m80(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    let Some(v) = cpu.fpu_read(0) else {
        return Ok(());
    };
    let off = cpu.ea(&u.mem);
    cpu.write_bytes(bus, u.mem.seg, off, &v.to_bytes())?;
    cpu.s.fpu.fsw &= !sw::C1;
    cpu.s.fpu.pop();
    Ok(())
}

/// FST/FSTP ST(i) (`imm` = 1 pops).
pub(crate) fn fst_reg(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    let Some(v) = cpu.fpu_read(0) else {
        return Ok(());
    };
    cpu.s.fpu.set_st(st_index(u), v);
    cpu.s.fpu.fsw &= !sw::C1;
    if u.imm == 1 {
        cpu.s.fpu.pop();
    }
    Ok(())
}

/// FXCH ST(i).
pub(crate) fn fxch(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    let i = st_index(u);
    let empty = cpu.s.fpu.is_empty(0) || cpu.s.fpu.is_empty(i);
    if empty && !cpu.s.fpu.underflow() {
        return Ok(());
    }
    let a = if cpu.s.fpu.is_empty(0) {
        F80::INDEFINITE
    } else {
        cpu.s.fpu.st(0)
    };
    let b = if cpu.s.fpu.is_empty(i) {
        F80::INDEFINITE
    } else {
        cpu.s.fpu.st(i)
    };
    cpu.s.fpu.set_st(0, b);
    cpu.s.fpu.set_st(i, a);
    cpu.s.fpu.fsw &= !sw::C1;
    Ok(())
}

/// FFREE ST(i) / FFREEP (`imm` = 1 also pops).
pub(crate) fn ffree(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    cpu.s.fpu.free(st_index(u));
    cpu.s.fpu.fsw &= !sw::C1; // undefined in the SDM; measured cleared
    if u.imm == 1 {
        cpu.s.fpu.pop();
    }
    Ok(())
}

/// FINCSTP (`imm` = 1) / FDECSTP (0).
pub(crate) fn fstp_rotate(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    cpu.s.fpu.rotate(u.imm == 1);
    cpu.s.fpu.fsw &= !sw::C1;
    Ok(())
}

/// FCHS (`imm` = 0) / FABS (1): sign changes need no rounding.
pub(crate) fn fsign(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    if cpu.s.fpu.is_empty(0) {
        // stack underflow: the masked response is the indefinite, not its negation
        if cpu.s.fpu.underflow() {
            cpu.s.fpu.set_st(0, F80::INDEFINITE);
        }
        return Ok(());
    }
    let mut v = cpu.s.fpu.st(0);
    if u.imm == 0 {
        v.sign_exp ^= 0x8000;
    } else {
        v.sign_exp &= 0x7FFF;
    }
    cpu.s.fpu.set_st(0, v);
    cpu.s.fpu.fsw &= !sw::C1;
    Ok(())
}

/// The constants, with the last significand bit chosen by the rounding control (SDM vol. 1,
/// 8.3.8: the 66-bit internal constants are rounded to 64 bits by RC). Values (hex
/// significands): π C90FDAA22168C234|C4C6…, log2(e) B8AA3B295C17F0BB|BE87…, log2(10)
/// D49A784BCD1B8AFE|492B…, log10(2) 9A209A84FBCFF798|8F89…, ln 2 B17217F7D1CF79AB|C9E3….
const CONSTANTS: [(u64, u16, bool); 7] = [
    (0x8000_0000_0000_0000, 0x3FFF, false), // 1
    (0, 0, false),                          // +0
    (0xC90F_DAA2_2168_C234, 0x4000, true),  // π, next bits above half
    (0xB8AA_3B29_5C17_F0BB, 0x3FFF, true),  // log2(e)
    (0xD49A_784B_CD1B_8AFE, 0x4000, false), // log2(10), next bits below half
    (0x9A20_9A84_FBCF_F798, 0x3FFD, true),  // log10(2)
    (0xB172_17F7_D1CF_79AB, 0x3FFE, true),  // ln 2
];

/// FLD1/FLDZ/FLDPI/FLDL2E/FLDL2T/FLDLG2/FLDLN2 (`imm` = index into the table above).
pub(crate) fn fld_const(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    let (signif, exp, above_half) = CONSTANTS[u.imm as usize % CONSTANTS.len()];
    let rc = (cpu.s.fpu.fcw >> 10) & 3;
    // round up when nearest (and the dropped bits exceed half) or toward +inf (and any
    // dropped bit is set: all constants except 1 and 0 have more bits)
    let inexact = signif != 0 && !(signif == 1 << 63 && exp == 0x3FFF);
    let up = match rc {
        0 => above_half,
        2 => inexact,
        _ => false,
    };
    let signif = if up { signif + 1 } else { signif };
    cpu.s.fpu.fsw &= !sw::C1;
    cpu.s.fpu.push(F80 {
        signif,
        sign_exp: exp,
    });
    Ok(())
}

/// FXAM: classify ST(0) into C3, C2, C0; C1 = sign.
pub(crate) fn fxam(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    let v = cpu.s.fpu.st(0);
    let exp = v.sign_exp & 0x7FFF;
    let int_bit = v.signif >> 63 != 0;
    let frac = v.signif << 1;
    // C3 C2 C0 as a 3-bit number (SDM vol. 2, FXAM table)
    let class = if cpu.s.fpu.is_empty(0) {
        0b101
    } else if exp == 0 {
        if v.signif == 0 {
            0b100
        } else {
            0b110
        }
    } else if exp == 0x7FFF {
        if !int_bit {
            0b000
        } else if frac == 0 {
            0b011
        } else {
            0b001
        }
    } else if int_bit {
        0b010
    } else {
        0b000
    };
    let f = &mut cpu.s.fpu;
    f.fsw &= !(sw::C0 | sw::C1 | sw::C2 | sw::C3);
    if class & 0b100 != 0 {
        f.fsw |= sw::C3;
    }
    if class & 0b010 != 0 {
        f.fsw |= sw::C2;
    }
    if class & 0b001 != 0 {
        f.fsw |= sw::C0;
    }
    if v.sign_exp & 0x8000 != 0 {
        f.fsw |= sw::C1;
    }
    Ok(())
}

/// FCMOVcc ST(0), ST(i) (`imm` = condition: 0 B, 1 E, 2 BE, 3 U, +4 negated).
pub(crate) fn fcmov(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)?;
    let c = match u.imm & 3 {
        0 => cpu.cf(),
        1 => cpu.zf(),
        2 => cpu.cf() || cpu.zf(),
        _ => cpu.pf(),
    } ^ (u.imm & 4 != 0);
    let i = st_index(u);
    if cpu.s.fpu.is_empty(0) || cpu.s.fpu.is_empty(i) {
        // masked stack underflow: ST(0) becomes the indefinite whatever the condition
        // (measured on hardware by tests/x87_host_diff.rs)
        if cpu.s.fpu.underflow() {
            cpu.s.fpu.set_st(0, F80::INDEFINITE);
        }
        return Ok(());
    }
    if c {
        let v = cpu.s.fpu.st(i);
        cpu.s.fpu.set_st(0, v);
    }
    // C1 is left alone (the SDM says undefined; measured unchanged)
    Ok(())
}

/// FNOP.
pub(crate) fn fnop(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, false)
}

/// FNENI, FNDISI, FNSETPM: the 8087/287 control instructions a 387 and later ignore (only the
/// device-not-available check, like any x87 instruction).
pub(crate) fn legacy_nop(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, true)
}

/// FWAIT/WAIT: #NM with CR0.MP and CR0.TS; a pending unmasked x87 exception raises #MF.
pub(crate) fn fwait(cpu: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    if cpu.s.cr0 & (cr0::MP | cr0::TS) == cr0::MP | cr0::TS {
        return Err(Exception::DeviceNotAvailable);
    }
    if cpu.s.fpu.fsw & sw::ES != 0 && cpu.s.cr0 & cr0::NE != 0 {
        return Err(Exception::FpuError);
    }
    Ok(())
}

/// FNINIT.
pub(crate) fn fninit(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, true)?;
    cpu.s.fpu.init();
    Ok(())
}

/// FNCLEX: clears the exception flags, SF, ES and B.
pub(crate) fn fnclex(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, true)?;
    cpu.s.fpu.fsw &= !(sw::EXCEPTIONS | sw::SF | sw::ES | sw::B);
    Ok(())
}

/// FLDCW m16.
pub(crate) fn fldcw(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, true)?;
    let v = cpu.load::<2>(bus, u, u.dst)? as u16;
    cpu.s.fpu.fcw = v | 0x40; // bit 6 reads as 1
    cpu.s.fpu.update_summary();
    Ok(())
}

/// FNSTCW m16.
pub(crate) fn fnstcw(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, true)?;
    let v = cpu.s.fpu.fcw as u32;
    cpu.store::<2>(bus, u, u.dst, v)
}

/// FNSTSW m16 / AX.
pub(crate) fn fnstsw(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, true)?;
    let v = cpu.s.fpu.fsw as u32;
    cpu.store::<2>(bus, u, u.dst, v)
}

fn env_mode(cpu: &Cpu, u: &Uop) -> (bool, bool) {
    (
        cpu.protected_mode() && cpu.s.eflags & flag::VM == 0,
        u.prefix & P_OP32 != 0,
    )
}

/// FNSTENV m14/28: stores the environment, then masks every exception.
pub(crate) fn fnstenv(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, true)?;
    let (pm, op32) = env_mode(cpu, u);
    let b = env::store_env(&cpu.s.fpu, pm, op32);
    let off = cpu.ea(&u.mem);
    cpu.write_bytes(bus, u.mem.seg, off, &b)?;
    cpu.s.fpu.fcw |= sw::EXCEPTIONS;
    cpu.s.fpu.update_summary();
    Ok(())
}

/// FLDENV m14/28.
pub(crate) fn fldenv(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, true)?;
    let (pm, op32) = env_mode(cpu, u);
    let mut b = vec![0u8; env::env_size(op32)];
    let off = cpu.ea(&u.mem);
    cpu.read_bytes(bus, u.mem.seg, off, &mut b)?;
    env::load_env(&mut cpu.s.fpu, &b, pm, op32);
    Ok(())
}

/// FNSAVE m94/108: stores the whole state, then FNINIT.
pub(crate) fn fnsave(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, true)?;
    let (pm, op32) = env_mode(cpu, u);
    let b = env::store_fsave(&cpu.s.fpu, pm, op32);
    let off = cpu.ea(&u.mem);
    cpu.write_bytes(bus, u.mem.seg, off, &b)?;
    cpu.s.fpu.init();
    Ok(())
}

/// FRSTOR m94/108.
pub(crate) fn frstor(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.fpu_enter(u, true)?;
    let (pm, op32) = env_mode(cpu, u);
    let mut b = vec![0u8; env::env_size(op32) + 80];
    let off = cpu.ea(&u.mem);
    cpu.read_bytes(bus, u.mem.seg, off, &mut b)?;
    env::load_fsave(&mut cpu.s.fpu, &b, pm, op32);
    Ok(())
}

/// The checks of FXSAVE/FXRSTOR: #UD with CR0.EM, #NM with CR0.TS, #GP(0) unless the
/// operand is 16-byte aligned.
fn fxsr_checks(cpu: &Cpu, u: &Uop) -> Result<u32, Exception> {
    if cpu.s.cr0 & cr0::EM != 0 {
        return Err(Exception::InvalidOpcode);
    }
    if cpu.s.cr0 & cr0::TS != 0 {
        return Err(Exception::DeviceNotAvailable);
    }
    let off = cpu.ea(&u.mem);
    if cpu.s.segs[u.mem.seg as usize % 6].base.wrapping_add(off) & 15 != 0 {
        return Err(Exception::GeneralProtection(0));
    }
    Ok(off)
}

/// FXSAVE m512 (the SSE part is saved only with CR4.OSFXSR).
pub(crate) fn fxsave(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let off = fxsr_checks(cpu, u)?;
    let mut a = env::store_fxsave(&cpu.s.fpu, cpu.s.mxcsr, &cpu.s.xmm);
    if cpu.s.cr4 & cr4::OSFXSR == 0 {
        a[24..32].fill(0);
        a[160..288].fill(0);
    }
    cpu.write_bytes(bus, u.mem.seg, off, &a)
}

/// FXRSTOR m512: #GP(0) when the image sets reserved MXCSR bits.
pub(crate) fn fxrstor(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let off = fxsr_checks(cpu, u)?;
    let mut a = [0u8; env::FXSAVE_SIZE];
    cpu.read_bytes(bus, u.mem.seg, off, &mut a)?;
    let mxcsr = u32::from_le_bytes([a[24], a[25], a[26], a[27]]);
    let sse = cpu.s.cr4 & cr4::OSFXSR != 0;
    if sse && mxcsr & !env::MXCSR_MASK != 0 {
        return Err(Exception::GeneralProtection(0));
    }
    let mut xmm = cpu.s.xmm;
    env::load_fxsave(&mut cpu.s.fpu, &mut xmm, &a);
    if sse {
        cpu.s.xmm = xmm;
        cpu.s.mxcsr = mxcsr;
    }
    Ok(())
}

/// The waiting forms FINIT, FCLEX, FSTCW, FSTSW, FSTENV, FSAVE (9B + the no-wait opcode): the
/// FWAIT checks, then the no-wait instruction (`imm` selects which).
pub(crate) fn waiting_control(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    fwait(cpu, bus, u)?;
    let h = [fninit, fnclex, fnstcw, fnstsw, fnstenv, fnsave][u.imm as usize % 6];
    h(cpu, bus, u)
}
