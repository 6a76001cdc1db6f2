//! Flag control, port I/O and system instructions usable in real mode: CLC/STC/CMC/CLD/STD/
//! CLI/STI, IN/OUT, CPUID, RDTSC, RDMSR/WRMSR, LGDT/LIDT/SGDT/SIDT, SMSW/LMSW, MOV to/from CR0-4,
//! CLTS, WAIT, x87 escapes, UD (SDM vol. 2 pages of the same names; CR semantics from vol. 3A,
//! 2.5 "Control registers").
//!
//! Left out until the protected-mode issue: setting CR0.PE or CR0.PG, debug registers, and the
//! x87 itself (with CR0.EM or CR0.TS set, x87 instructions raise #NM as on a CPU without an FPU;
//! otherwise the run stops with `VmError::Unsupported`).

use super::R;
use crate::bus::Bus;
use crate::cpu::cpuid::cpuid as cpuid_leaf;
use crate::cpu::exception::Exception;
use crate::cpu::state::reg::{EAX, EBX, ECX, EDX};
use crate::cpu::state::{cr0, flag};
use crate::cpu::uop::{Opnd, Uop};
use crate::cpu::Cpu;

/// Why an instruction is not available yet; indexed by `imm2` of [`unsupported`] micro-ops.
pub const UNSUPPORTED_REASONS: &[&str] = &[
    "not implemented by vx86's CPU yet",
    "x87 instructions arrive with the x87 issue (set CR0.EM to get #NM instead)",
    "protected mode arrives with the protected-mode issue",
    "debug registers arrive with the protected-mode issue",
    "MMX/SSE instructions arrive with the SSE issue",
];

/// Stops the run with a clear error (a valid instruction vx86 does not implement yet).
pub(crate) fn unsupported(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let reason = UNSUPPORTED_REASONS
        .get(u.imm2 as usize)
        .copied()
        .unwrap_or(UNSUPPORTED_REASONS[0]);
    Err(cpu.unsupported(bus, reason))
}

/// #UD: invalid opcode (UD0/UD1/UD2, and anything undecodable).
pub(crate) fn ud(_: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    Err(Exception::InvalidOpcode)
}

/// Sets (`imm` = 1), clears (0) or complements (2) the EFLAGS bit `imm2`.
pub(crate) fn flag_op(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.commit_flags();
    let bit = u.imm2;
    match u.imm {
        0 => cpu.s.eflags &= !bit,
        1 => cpu.s.eflags |= bit,
        _ => cpu.s.eflags ^= bit,
    }
    if bit & (flag::IF | flag::TF) != 0 {
        cpu.stop_block = true;
    }
    Ok(())
}

/// IN acc, imm8/DX.
pub(crate) fn in_<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let port = cpu.load::<2>(bus, u, u.src)? as u16;
    let v = bus.io_in(port, S);
    cpu.set_reg::<S>(EAX, v);
    Ok(())
}

/// OUT imm8/DX, acc.
pub(crate) fn out<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let port = cpu.load::<2>(bus, u, u.dst)? as u16;
    let v = cpu.reg::<S>(EAX);
    bus.io_out(port, S, v);
    Ok(())
}

/// CPUID.
pub(crate) fn cpuid(cpu: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    let [a, b, c, d] = cpuid_leaf(cpu.reg::<4>(EAX), cpu.reg::<4>(ECX));
    cpu.set_reg::<4>(EAX, a);
    cpu.set_reg::<4>(EBX, b);
    cpu.set_reg::<4>(ECX, c);
    cpu.set_reg::<4>(EDX, d);
    Ok(())
}

impl Cpu {
    /// The time-stamp counter: one tick per retired instruction plus the offset WRMSR set.
    pub fn tsc(&self) -> u64 {
        self.icount.wrapping_add(self.s.tsc_offset)
    }
}

/// RDTSC: EDX:EAX = TSC.
pub(crate) fn rdtsc(cpu: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    let t = cpu.tsc();
    cpu.set_reg::<4>(EAX, t as u32);
    cpu.set_reg::<4>(EDX, (t >> 32) as u32);
    Ok(())
}

/// The TSC's MSR number.
const MSR_TSC: u32 = 0x10;

/// RDMSR: only the TSC MSR exists so far; others #GP(0).
pub(crate) fn rdmsr(cpu: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    match cpu.reg::<4>(ECX) {
        MSR_TSC => {
            let t = cpu.tsc();
            cpu.set_reg::<4>(EAX, t as u32);
            cpu.set_reg::<4>(EDX, (t >> 32) as u32);
            Ok(())
        }
        _ => Err(Exception::GeneralProtection(0)),
    }
}

/// WRMSR: writing the TSC MSR sets the offset so RDTSC continues from the written value.
pub(crate) fn wrmsr(cpu: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    match cpu.reg::<4>(ECX) {
        MSR_TSC => {
            let v = (cpu.reg::<4>(EDX) as u64) << 32 | cpu.reg::<4>(EAX) as u64;
            cpu.s.tsc_offset = v.wrapping_sub(cpu.icount);
            Ok(())
        }
        _ => Err(Exception::GeneralProtection(0)),
    }
}

/// LGDT (`imm2` = 0) / LIDT (1): limit and base from m16&32 (24-bit base with a 16-bit operand).
pub(crate) fn load_table<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.require_cpl0()?;
    let off = cpu.ea(&u.mem);
    let limit = cpu.read_mem::<2>(bus, u.mem.seg, off)? as u16;
    let next = u.mem.offset_after(off, 2);
    let mut base = cpu.read_mem::<4>(bus, u.mem.seg, next)?;
    if S == 2 {
        base &= 0x00FF_FFFF;
    }
    let t = if u.imm2 == 0 {
        &mut cpu.s.gdtr
    } else {
        &mut cpu.s.idtr
    };
    t.limit = limit;
    t.base = base;
    Ok(())
}

/// SGDT (`imm2` = 0) / SIDT (1): stores the limit and the full 32-bit base.
pub(crate) fn store_table(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let t = if u.imm2 == 0 { cpu.s.gdtr } else { cpu.s.idtr };
    let off = cpu.ea(&u.mem);
    let next = u.mem.offset_after(off, 2);
    cpu.check_write(bus, u.mem.seg, off, 2)?;
    cpu.check_write(bus, u.mem.seg, next, 4)?;
    cpu.write_mem::<2>(bus, u.mem.seg, off, t.limit as u32)?;
    cpu.write_mem::<4>(bus, u.mem.seg, next, t.base)
}

/// SMSW r/m: the low word of CR0 (all of CR0 into a 32-bit register).
pub(crate) fn smsw<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let v = cpu.s.cr0;
    cpu.store::<S>(bus, u, u.dst, v)
}

/// LMSW r/m16: loads PE, MP, EM, TS; cannot clear PE.
pub(crate) fn lmsw(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.require_cpl0()?;
    let v = cpu.load::<2>(bus, u, u.dst)?;
    let new = (cpu.s.cr0 & !0xE) | (v & 0xF) | (cpu.s.cr0 & cr0::PE);
    cpu.write_cr0(bus, new)
}

/// MOV CRn, r32 (`imm2` = n).
pub(crate) fn mov_to_cr(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.require_cpl0()?;
    let v = match u.src {
        Opnd::Reg(r) => cpu.reg::<4>(r),
        _ => 0,
    };
    match u.imm2 {
        0 => cpu.write_cr0(bus, v),
        2 => {
            cpu.s.cr2 = v;
            Ok(())
        }
        3 => cpu.write_cr3(bus, v),
        4 => cpu.write_cr4(bus, v),
        _ => Err(Exception::InvalidOpcode),
    }
}

/// MOV r32, CRn (`imm2` = n).
pub(crate) fn mov_from_cr(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.require_cpl0()?;
    let v = match u.imm2 {
        0 => cpu.s.cr0,
        2 => cpu.s.cr2,
        3 => cpu.s.cr3,
        4 => cpu.s.cr4,
        _ => return Err(Exception::InvalidOpcode),
    };
    if let Opnd::Reg(r) = u.dst {
        cpu.set_reg::<4>(r, v);
    }
    Ok(())
}

/// CLTS: clears CR0.TS.
pub(crate) fn clts(cpu: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    cpu.require_cpl0()?;
    cpu.s.cr0 &= !cr0::TS;
    Ok(())
}

/// WAIT/FWAIT: #NM when CR0.MP and CR0.TS are both set.
pub(crate) fn wait(cpu: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    if cpu.s.cr0 & (cr0::MP | cr0::TS) == cr0::MP | cr0::TS {
        return Err(Exception::DeviceNotAvailable);
    }
    Ok(())
}

/// An x87 instruction: #NM when CR0.EM or CR0.TS is set, otherwise unsupported for now.
pub(crate) fn x87(cpu: &mut Cpu, bus: &mut Bus, _: &Uop) -> R {
    if cpu.s.cr0 & (cr0::EM | cr0::TS) != 0 {
        return Err(Exception::DeviceNotAvailable);
    }
    Err(cpu.unsupported(bus, UNSUPPORTED_REASONS[1]))
}
