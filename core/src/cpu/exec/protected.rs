//! Protected-mode system instructions (SDM vol. 2 pages of the same names): LLDT, LTR, SLDT,
//! STR, LAR, LSL, VERR, VERW, ARPL, SYSENTER, SYSEXIT, INVLPG, MOV to/from debug registers.
//! The descriptor instructions are #UD in real and virtual-8086 mode.
//! Breakpoints themselves are in `cpu/debug.rs`.

use super::R;
use crate::bus::Bus;
use crate::cpu::descriptor::{sys, Descriptor};
use crate::cpu::exception::Exception;
use crate::cpu::state::reg::{ECX, EDX, ESP};
use crate::cpu::state::{flag, SegReg, Segment};
use crate::cpu::uop::{Opnd, Uop};
use crate::cpu::Cpu;

impl Cpu {
    /// #UD outside protected mode (real mode and V86 mode).
    fn require_protected(&self) -> Result<(), Exception> {
        if self.protected_mode() && self.s.eflags & flag::VM == 0 {
            Ok(())
        } else {
            Err(Exception::InvalidOpcode)
        }
    }
}

/// SLDT (`imm2` = 0) / STR (1): store the LDTR or TR selector.
pub(crate) fn store_system_selector<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.require_protected()?;
    let sel = if u.imm2 == 0 {
        cpu.s.ldtr.selector
    } else {
        cpu.s.tr.selector
    };
    cpu.store::<S>(bus, u, u.dst, sel as u32)
}

/// Reads a GDT descriptor for LLDT/LTR (the selector must not point into the LDT).
fn gdt_system_descriptor(
    cpu: &mut Cpu,
    bus: &mut Bus,
    sel: u16,
) -> Result<(Descriptor, u32), Exception> {
    if sel & 4 != 0 {
        return Err(Exception::GeneralProtection(sel & !3));
    }
    cpu.read_descriptor(bus, sel)
}

/// LLDT r/m16.
pub(crate) fn lldt(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.require_protected()?;
    cpu.require_cpl0()?;
    let sel = cpu.load::<2>(bus, u, u.dst)? as u16;
    if sel & !3 == 0 {
        cpu.s.ldtr = Segment {
            selector: sel,
            ..Segment::NULL
        };
        return Ok(());
    }
    let (d, _) = gdt_system_descriptor(cpu, bus, sel)?;
    if d.is_code_or_data() || d.typ() != sys::LDT {
        return Err(Exception::GeneralProtection(sel & !3));
    }
    if !d.present() {
        return Err(Exception::SegmentNotPresent(sel & !3));
    }
    cpu.s.ldtr = d.to_segment(sel);
    Ok(())
}

/// LTR r/m16: loads TR from an available TSS descriptor and marks it busy.
pub(crate) fn ltr(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.require_protected()?;
    cpu.require_cpl0()?;
    let sel = cpu.load::<2>(bus, u, u.dst)? as u16;
    if sel & !3 == 0 {
        return Err(Exception::GeneralProtection(0));
    }
    let (d, addr) = gdt_system_descriptor(cpu, bus, sel)?;
    if d.is_code_or_data() || !matches!(d.typ(), sys::TSS16_AVAILABLE | sys::TSS32_AVAILABLE) {
        return Err(Exception::GeneralProtection(sel & !3));
    }
    if !d.present() {
        return Err(Exception::SegmentNotPresent(sel & !3));
    }
    let busy = Descriptor(d.0 | 2 << 40);
    cpu.write_sys::<4>(bus, addr.wrapping_add(4), (busy.0 >> 32) as u32)?;
    cpu.s.tr = busy.to_segment(sel);
    Ok(())
}

/// The descriptor a LAR/LSL/VERR/VERW operand names, if it is visible at the current
/// privilege and of a type the instruction accepts (`system_ok`).
fn visible_descriptor(
    cpu: &mut Cpu,
    bus: &mut Bus,
    sel: u16,
    system_ok: fn(u8) -> bool,
) -> Result<Option<Descriptor>, Exception> {
    if sel & !3 == 0 {
        return Ok(None);
    }
    let d = match cpu.read_descriptor(bus, sel) {
        Ok((d, _)) => d,
        Err(Exception::GeneralProtection(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    if !d.is_code_or_data() && !system_ok(d.typ()) {
        return Ok(None);
    }
    let rpl = (sel & 3) as u8;
    if !d.is_conforming() && (d.dpl() < cpu.cpl || d.dpl() < rpl) {
        return Ok(None);
    }
    Ok(Some(d))
}

/// LAR r, r/m16 (`S` = destination size): access rights, ZF = 1 when valid.
pub(crate) fn lar<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.require_protected()?;
    let sel = cpu.load::<2>(bus, u, u.src)? as u16;
    let ok = |t: u8| matches!(t, 1 | 2 | 3 | 4 | 5 | 9 | 11 | 12);
    match visible_descriptor(cpu, bus, sel, ok)? {
        Some(d) => {
            let rights = ((d.0 >> 32) as u32) & if S == 4 { 0x00F0_FF00 } else { 0xFF00 };
            cpu.store::<S>(bus, u, u.dst, rights)?;
            cpu.set_arith_flags(flag::ZF, flag::ZF);
        }
        None => cpu.set_arith_flags(flag::ZF, 0),
    }
    Ok(())
}

/// LSL r, r/m16: segment limit (scaled), ZF = 1 when valid.
pub(crate) fn lsl<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.require_protected()?;
    let sel = cpu.load::<2>(bus, u, u.src)? as u16;
    let ok = |t: u8| matches!(t, 1 | 2 | 3 | 9 | 11);
    match visible_descriptor(cpu, bus, sel, ok)? {
        Some(d) => {
            cpu.store::<S>(bus, u, u.dst, d.limit())?;
            cpu.set_arith_flags(flag::ZF, flag::ZF);
        }
        None => cpu.set_arith_flags(flag::ZF, 0),
    }
    Ok(())
}

/// VERR (`WRITE = false`) / VERW (`WRITE = true`): ZF = 1 when the segment is readable /
/// writable at the current privilege.
pub(crate) fn verify<const WRITE: bool>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.require_protected()?;
    let sel = cpu.load::<2>(bus, u, u.dst)? as u16;
    let ok = match visible_descriptor(cpu, bus, sel, |_| false)? {
        Some(d) if WRITE => !d.is_code() && d.rw(),
        Some(d) => !d.is_code() || d.rw(),
        None => false,
    };
    cpu.set_arith_flags(flag::ZF, if ok { flag::ZF } else { 0 });
    Ok(())
}

/// ARPL r/m16, r16: raise the destination selector's RPL to the source's.
pub(crate) fn arpl(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.require_protected()?;
    let d = cpu.load::<2>(bus, u, u.dst)?;
    let s = cpu.load::<2>(bus, u, u.src)?;
    if d & 3 < s & 3 {
        cpu.store::<2>(bus, u, u.dst, (d & !3) | (s & 3))?;
        cpu.set_arith_flags(flag::ZF, flag::ZF);
    } else {
        cpu.set_arith_flags(flag::ZF, 0);
    }
    Ok(())
}

/// SYSENTER: to CPL 0 at SYSENTER_CS:SYSENTER_EIP with SS:ESP = SYSENTER_CS+8:SYSENTER_ESP.
pub(crate) fn sysenter(cpu: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    let cs = cpu.s.msr.sysenter_cs as u16 & !3;
    if !cpu.protected_mode() || cs == 0 {
        return Err(Exception::GeneralProtection(0));
    }
    cpu.commit_flags();
    cpu.s.eflags &= !(flag::VM | flag::IF | flag::RF);
    cpu.s.segs[SegReg::Cs as usize] = Segment::flat(cs, true, 0);
    cpu.s.segs[SegReg::Ss as usize] = Segment::flat(cs.wrapping_add(8), false, 0);
    cpu.s.regs[ESP as usize] = cpu.s.msr.sysenter_esp;
    cpu.s.eip = cpu.s.msr.sysenter_eip;
    cpu.refresh_mode();
    cpu.stop_block = true;
    Ok(())
}

/// SYSEXIT: to CPL 3 at SYSENTER_CS+16:EDX with SS:ESP = SYSENTER_CS+24:ECX.
pub(crate) fn sysexit(cpu: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    let cs = cpu.s.msr.sysenter_cs as u16 & !3;
    if !cpu.protected_mode() || cpu.cpl != 0 || cs == 0 {
        return Err(Exception::GeneralProtection(0));
    }
    cpu.s.segs[SegReg::Cs as usize] = Segment::flat(cs.wrapping_add(16) | 3, true, 3);
    cpu.s.segs[SegReg::Ss as usize] = Segment::flat(cs.wrapping_add(24) | 3, false, 3);
    cpu.s.regs[ESP as usize] = cpu.reg::<4>(ECX);
    cpu.s.eip = cpu.reg::<4>(EDX);
    cpu.refresh_mode();
    cpu.stop_block = true;
    Ok(())
}

/// INVLPG m: drops the TLB entry of the page holding the operand's linear address.
pub(crate) fn invlpg(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.require_cpl0()?;
    let off = cpu.ea(&u.mem);
    let lin = cpu.s.segs[u.mem.seg as usize % 6].base.wrapping_add(off);
    cpu.mmu.invlpg(lin);
    cpu.stop_block = true;
    Ok(())
}

/// MOV DRn, r32 (`imm2` = n): stored; DR4/DR5 alias DR6/DR7; DR6/DR7 keep their fixed bits.
pub(crate) fn mov_to_dr(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.require_cpl0()?;
    let v = match u.src {
        Opnd::Reg(r) => cpu.reg::<4>(r),
        _ => 0,
    };
    let n = match u.imm2 {
        4 => 6,
        5 => 7,
        n => n as usize,
    };
    cpu.s.dr[n & 7] = match n {
        6 => (v & 0x0000_E00F) | 0xFFFF_0FF0,
        7 => (v & 0xFFFF_2BFF) | 0x400,
        _ => v,
    };
    cpu.refresh_debug();
    cpu.stop_block = true;
    Ok(())
}

/// MOV r32, DRn (`imm2` = n).
pub(crate) fn mov_from_dr(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.require_cpl0()?;
    let n = match u.imm2 {
        4 => 6,
        5 => 7,
        n => n as usize,
    };
    if let Opnd::Reg(r) = u.dst {
        cpu.set_reg::<4>(r, cpu.s.dr[n & 7]);
    }
    Ok(())
}
