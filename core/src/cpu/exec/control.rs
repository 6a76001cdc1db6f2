//! Control transfer: JMP, Jcc, CALL, RET, RETF, LOOP/LOOPE/LOOPNE, JCXZ/JECXZ, INT n, INT3,
//! INTO, IRET, BOUND, HLT (SDM vol. 2 pages of the same names), with real-mode far transfers.
//! Relative targets are truncated to the operand size; a target beyond the CS limit raises
//! #GP(0) before anything changes.

use super::R;
use crate::bus::Bus;
use crate::cpu::exception::Exception;
use crate::cpu::far::Transfer;
use crate::cpu::regs::{mask, sext};
use crate::cpu::state::reg::ECX;
use crate::cpu::state::{flag, SegReg};
use crate::cpu::uop::{Opnd, Uop, P_ADDR32};
use crate::cpu::Cpu;

impl Cpu {
    /// Jumps to `target` in the current code segment after a limit check.
    #[inline(always)]
    pub(crate) fn jump_near(&mut self, target: u32) -> R {
        if target > self.s.segs[SegReg::Cs as usize].limit {
            return Err(Exception::GeneralProtection(0));
        }
        self.s.eip = target;
        Ok(())
    }

    /// Whether far transfers follow the protected-mode rules (PE set, not V86).
    #[inline]
    pub(crate) fn pm_rules(&self) -> bool {
        self.protected_mode() && self.s.eflags & flag::VM == 0
    }

    /// Real-mode (or V86) far transfer to `selector:offset`.
    pub(crate) fn jump_far(&mut self, bus: &mut Bus, selector: u16, offset: u32) -> R {
        if offset > self.s.segs[SegReg::Cs as usize].limit {
            return Err(Exception::GeneralProtection(0));
        }
        self.load_seg(bus, SegReg::Cs, selector)?;
        self.s.eip = offset;
        Ok(())
    }
}

/// Relative target of a near branch at operand size `S`.
#[inline(always)]
fn rel_target<const S: usize>(cpu: &Cpu, u: &Uop) -> u32 {
    cpu.s.eip.wrapping_add(u.imm) & mask::<S>()
}

/// JMP rel.
pub(crate) fn jmp_rel<const S: usize>(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.jump_near(rel_target::<S>(cpu, u))
}

/// Jcc rel (`CC` = condition code, also kept in `imm2`).
pub(crate) fn jcc<const S: usize, const CC: u8>(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    if cpu.cond(CC) {
        cpu.jump_near(rel_target::<S>(cpu, u))
    } else {
        Ok(())
    }
}

/// JMP r/m (near, absolute indirect).
pub(crate) fn jmp_near<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let t = cpu.load::<S>(bus, u, u.dst)?;
    cpu.jump_near(t)
}

/// JMP ptr16:16/32 (`imm` = offset, `imm2` = selector).
pub(crate) fn jmp_far<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    if cpu.pm_rules() {
        return cpu.far_transfer::<S>(bus, u.imm2 as u16, u.imm, Transfer::Jump);
    }
    cpu.jump_far(bus, u.imm2 as u16, u.imm & mask::<S>())
}

/// JMP m16:16/32.
pub(crate) fn jmp_far_mem<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let (sel, ip) = cpu.read_far_pointer::<S>(bus, u)?;
    if cpu.pm_rules() {
        return cpu.far_transfer::<S>(bus, sel, ip, Transfer::Jump);
    }
    cpu.jump_far(bus, sel, ip)
}

/// CALL rel.
pub(crate) fn call_rel<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let t = rel_target::<S>(cpu, u);
    call_to::<S>(cpu, bus, t)
}

fn call_to<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, t: u32) -> R {
    if t > cpu.s.segs[SegReg::Cs as usize].limit {
        return Err(Exception::GeneralProtection(0));
    }
    cpu.push::<S>(bus, cpu.s.eip)?;
    cpu.s.eip = t;
    Ok(())
}

/// CALL r/m (near indirect).
pub(crate) fn call_near<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let t = cpu.load::<S>(bus, u, u.dst)?;
    call_to::<S>(cpu, bus, t)
}

fn call_far_to<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, sel: u16, ip: u32) -> R {
    if cpu.pm_rules() {
        return cpu.far_transfer::<S>(bus, sel, ip, Transfer::Call);
    }
    if ip > cpu.s.segs[SegReg::Cs as usize].limit {
        return Err(Exception::GeneralProtection(0));
    }
    let old_sp = cpu.s.regs[crate::cpu::state::reg::ESP as usize];
    let cs = cpu.s.segs[SegReg::Cs as usize].selector as u32;
    cpu.push::<S>(bus, cs)?;
    let eip = cpu.s.eip;
    cpu.push::<S>(bus, eip)
        .inspect_err(|_| cpu.s.regs[crate::cpu::state::reg::ESP as usize] = old_sp)?;
    cpu.load_seg(bus, SegReg::Cs, sel)?;
    cpu.s.eip = ip;
    Ok(())
}

/// CALL ptr16:16/32.
pub(crate) fn call_far<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    call_far_to::<S>(cpu, bus, u.imm2 as u16, u.imm & mask::<S>())
}

/// CALL m16:16/32.
pub(crate) fn call_far_mem<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let (sel, ip) = cpu.read_far_pointer::<S>(bus, u)?;
    call_far_to::<S>(cpu, bus, sel, ip)
}

/// RET / RET imm16 (`imm` = bytes to release after popping).
pub(crate) fn ret<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let t = cpu.stack_peek::<S>(bus, 0)?;
    cpu.jump_near(t)?;
    cpu.set_sp(cpu.sp_offset(S as u32 + (u.imm & 0xFFFF)));
    Ok(())
}

/// RETF / RETF imm16 (real mode).
pub(crate) fn retf<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    if cpu.pm_rules() {
        return cpu.far_return::<S>(bus, u.imm & 0xFFFF);
    }
    let ip = cpu.stack_peek::<S>(bus, 0)?;
    let cs = cpu.stack_peek::<S>(bus, S as u32)? as u16;
    cpu.jump_far(bus, cs, ip)?;
    cpu.set_sp(cpu.sp_offset(2 * S as u32 + (u.imm & 0xFFFF)));
    Ok(())
}

/// LOOP (imm2 = 0), LOOPE (1), LOOPNE (2), JCXZ/JECXZ (3). The counter is CX or ECX by the
/// address size; the target is truncated to the operand size `S`.
pub(crate) fn loop_jcxz<const S: usize>(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    let a32 = u.prefix & P_ADDR32 != 0;
    let count = if a32 {
        cpu.reg::<4>(ECX)
    } else {
        cpu.reg::<2>(ECX)
    };
    let take = if u.imm2 == 3 {
        count == 0
    } else {
        let c = count.wrapping_sub(1);
        let c = if a32 { c } else { c & 0xFFFF };
        let cond = match u.imm2 {
            1 => cpu.zf(),
            2 => !cpu.zf(),
            _ => true,
        };
        let t = rel_target::<S>(cpu, u);
        if c != 0 && cond && t > cpu.s.segs[SegReg::Cs as usize].limit {
            return Err(Exception::GeneralProtection(0));
        }
        if a32 {
            cpu.set_reg::<4>(ECX, c);
        } else {
            cpu.set_reg::<2>(ECX, c);
        }
        c != 0 && cond
    };
    if take {
        cpu.jump_near(rel_target::<S>(cpu, u))
    } else {
        Ok(())
    }
}

/// INT imm8.
pub(crate) fn int_n(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.v86_iopl_check()?;
    Err(Exception::SoftwareInt(u.imm as u8))
}

/// INT3.
pub(crate) fn int3(_: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    Err(Exception::Breakpoint)
}

/// INTO: #OF when OF is set.
pub(crate) fn into(cpu: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    if cpu.of() {
        Err(Exception::Overflow)
    } else {
        Ok(())
    }
}

/// IRET/IRETD in real mode: pop IP, CS, FLAGS.
pub(crate) fn iret<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, _: &Uop) -> R {
    if cpu.pm_rules() {
        return cpu.iret_protected::<S>(bus);
    }
    cpu.v86_iopl_check()?;
    let ip = cpu.stack_peek::<S>(bus, 0)?;
    let cs = cpu.stack_peek::<S>(bus, S as u32)? as u16;
    let fl = cpu.stack_peek::<S>(bus, 2 * S as u32)?;
    cpu.jump_far(bus, cs, ip)?;
    cpu.set_sp(cpu.sp_offset(3 * S as u32));
    cpu.load_flags::<S>(fl);
    Ok(())
}

/// BOUND r, m: #BR unless lower <= r <= upper (signed).
pub(crate) fn bound<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let off = cpu.ea(&u.mem);
    let next = u.mem.offset_after(off, S as u32);
    let lo = sext::<S>(cpu.read_mem::<S>(bus, u.mem.seg, off)?) as i32;
    let hi = sext::<S>(cpu.read_mem::<S>(bus, u.mem.seg, next)?) as i32;
    let v = match u.dst {
        Opnd::Reg(r) => sext::<S>(cpu.reg::<S>(r)) as i32,
        _ => 0,
    };
    if v < lo || v > hi {
        Err(Exception::BoundRange)
    } else {
        Ok(())
    }
}

/// HLT: the CPU waits for an interrupt.
pub(crate) fn hlt(cpu: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    cpu.require_cpl0()?;
    cpu.s.halted = true;
    cpu.stop_block = true;
    Ok(())
}
