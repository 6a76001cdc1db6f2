//! Stack instructions: PUSH, POP (registers, memory, immediates, segment registers), PUSHA/POPA,
//! PUSHF/POPF, ENTER, LEAVE (SDM vol. 2 pages of the same names). A push or pop that faults
//! leaves SP unchanged.

use super::R;
use crate::bus::Bus;
use crate::cpu::exception::Exception;
use crate::cpu::state::reg::{EBP, ESP};
use crate::cpu::state::{flag, SegReg};
use crate::cpu::uop::Uop;
use crate::cpu::Cpu;

/// PUSH r/m/imm of kind `K` (`K_*`; the value is read before SP moves: PUSH SP pushes the
/// old SP).
pub(crate) fn push<const S: usize, const K: u8>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let v = cpu.load_k::<S, K>(bus, u, u.dst)?;
    cpu.push::<S>(bus, v)
}

/// POP r/m of kind `K` (`K_*`). A memory destination addressed through ESP uses the
/// incremented ESP.
pub(crate) fn pop<const S: usize, const K: u8>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let v = cpu.stack_peek::<S>(bus, 0)?;
    let old = cpu.s.regs[ESP as usize];
    cpu.set_sp(cpu.sp_offset(S as u32));
    cpu.store_k::<S, K>(bus, u, u.dst, v)
        .inspect_err(|_| cpu.s.regs[ESP as usize] = old)
}

/// PUSH Sreg (`imm2` = segment); a 32-bit push writes the selector zero-extended.
pub(crate) fn push_seg<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let v = cpu.s.segs[u.imm2 as usize % 6].selector as u32;
    cpu.push::<S>(bus, v)
}

/// POP Sreg (`imm2` = segment).
pub(crate) fn pop_seg<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let v = cpu.stack_peek::<S>(bus, 0)?;
    cpu.load_seg(bus, SegReg::ALL[u.imm2 as usize % 6], v as u16)?;
    cpu.set_sp(cpu.sp_offset(S as u32));
    Ok(())
}

/// PUSHA/PUSHAD: AX, CX, DX, BX, original SP, BP, SI, DI.
pub(crate) fn pusha<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, _: &Uop) -> R {
    let regs = cpu.s.regs;
    let old_sp = cpu.s.regs[ESP as usize];
    for (i, &v) in regs.iter().enumerate() {
        let off = cpu.sp_offset(((i as u32 + 1) * S as u32).wrapping_neg());
        cpu.write_mem::<S>(bus, SegReg::Ss as u8, off, v)
            .inspect_err(|_| cpu.s.regs[ESP as usize] = old_sp)?;
    }
    cpu.set_sp(cpu.sp_offset((8 * S as u32).wrapping_neg()));
    Ok(())
}

/// POPA/POPAD: DI, SI, BP, (skip SP), BX, DX, CX, AX.
pub(crate) fn popa<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, _: &Uop) -> R {
    let mut vals = [0u32; 8];
    for (i, v) in vals.iter_mut().enumerate() {
        *v = cpu.stack_peek::<S>(bus, (i * S) as u32)?;
    }
    for (i, &v) in vals.iter().enumerate() {
        let r = 7 - i as u8;
        if r != ESP {
            cpu.set_reg::<S>(r, v);
        }
    }
    cpu.set_sp(cpu.sp_offset(8 * S as u32));
    Ok(())
}

impl Cpu {
    /// Loads EFLAGS from a popped image: only the bits the current privilege may change
    /// (SDM "POPF": IOPL at CPL 0, IF at CPL <= IOPL; VM and RF never).
    pub(crate) fn load_flags<const S: usize>(&mut self, v: u32) {
        let m = self.writable_flags::<S>();
        self.commit_flags();
        self.s.eflags = (self.s.eflags & !m & !flag::RF) | (v & m) | flag::FIXED1;
        self.refresh_alignment_check();
        self.stop_block = true; // TF/IF may have changed
    }

    /// #GP(0) in virtual-8086 mode unless IOPL is 3 (PUSHF, POPF, CLI, STI, INT n, IRET).
    pub(crate) fn v86_iopl_check(&self) -> Result<(), Exception> {
        if self.s.eflags & flag::VM != 0 && self.s.eflags & flag::IOPL != flag::IOPL {
            Err(Exception::GeneralProtection(0))
        } else {
            Ok(())
        }
    }
}

/// PUSHF/PUSHFD (VM and RF read as 0 in the pushed image).
pub(crate) fn pushf<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, _: &Uop) -> R {
    cpu.v86_iopl_check()?;
    let f = cpu.flags() & !(flag::VM | flag::RF);
    cpu.push::<S>(bus, f)
}

/// POPF/POPFD.
pub(crate) fn popf<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, _: &Uop) -> R {
    cpu.v86_iopl_check()?;
    let v = cpu.pop::<S>(bus)?;
    cpu.load_flags::<S>(v);
    Ok(())
}

/// ENTER imm16, imm8 (`imm` = frame size, `imm2` = nesting level).
pub(crate) fn enter<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let saved = cpu.s.regs;
    let r = enter_inner::<S>(cpu, bus, u);
    if r.is_err() {
        cpu.s.regs = saved;
    }
    r
}

fn enter_inner<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let level = u.imm2 % 32;
    let bp = cpu.reg::<S>(EBP);
    cpu.push::<S>(bus, bp)?;
    let frame = cpu.sp();
    if level > 0 {
        let mut bp = if cpu.stack32() {
            cpu.s.regs[EBP as usize]
        } else {
            cpu.s.regs[EBP as usize] & 0xFFFF
        };
        for _ in 1..level {
            bp = bp.wrapping_sub(S as u32);
            if !cpu.stack32() {
                bp &= 0xFFFF;
            }
            let v = cpu.read_mem::<S>(bus, SegReg::Ss as u8, bp)?;
            cpu.push::<S>(bus, v)?;
        }
        cpu.push::<S>(bus, frame)?;
    }
    let new_sp = cpu.sp().wrapping_sub(u.imm & 0xFFFF);
    // The frame must be addressable: touch its lowest byte like the processor's check.
    if u.imm & 0xFFFF != 0 {
        let off = if cpu.stack32() {
            new_sp
        } else {
            new_sp & 0xFFFF
        };
        cpu.check_write(bus, SegReg::Ss as u8, off, 1)?;
    }
    cpu.set_reg::<S>(EBP, frame);
    cpu.set_sp(new_sp);
    Ok(())
}

/// LEAVE: SP = BP, then pop BP.
pub(crate) fn leave<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, _: &Uop) -> R {
    let bp = if cpu.stack32() {
        cpu.s.regs[EBP as usize]
    } else {
        cpu.s.regs[EBP as usize] & 0xFFFF
    };
    let v = cpu.read_mem::<S>(bus, SegReg::Ss as u8, bp)?;
    cpu.set_sp(bp);
    cpu.set_sp(cpu.sp_offset(S as u32));
    cpu.set_reg::<S>(EBP, v);
    Ok(())
}
