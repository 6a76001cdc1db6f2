//! Flag control, port I/O and system instructions: CLC/STC/CMC/CLD/STD/CLI/STI (IOPL-checked),
//! IN/OUT (with the TSS I/O permission bitmap), CPUID, RDTSC, RDMSR/WRMSR, LGDT/LIDT/SGDT/SIDT,
//! SMSW/LMSW, MOV to/from CR0-4, CLTS, WAIT, WBINVD/INVD, x87 escapes, UD (SDM vol. 2 pages of
//! the same names; CR semantics in `cpu/control.rs`).
//!
//! Left out: the x87 itself (with CR0.EM or CR0.TS set, x87 instructions raise #NM as on a CPU
//! without an FPU; otherwise the run stops with `VmError::Unsupported`).

use super::R;
use crate::bus::Bus;
use crate::cpu::cpuid::cpuid as cpuid_leaf;
use crate::cpu::exception::Exception;
use crate::cpu::state::reg::{EAX, EBX, ECX, EDX};
use crate::cpu::state::{cr0, flag};
use crate::cpu::uop::{Opnd, Uop};
use crate::cpu::Cpu;

/// #UD: invalid opcode (UD0/UD1/UD2, and anything undecodable).
pub(crate) fn ud(_: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    Err(Exception::InvalidOpcode)
}

/// Sets (`imm` = 1), clears (0) or complements (2) the EFLAGS bit `imm2`.
pub(crate) fn flag_op(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    let bit = u.imm2;
    if bit == flag::IF && cpu.cpl > cpu.iopl() {
        return Err(Exception::GeneralProtection(0));
    }
    cpu.commit_flags();
    if bit == flag::IF && u.imm == 1 && cpu.s.eflags & flag::IF == 0 {
        // STI that sets IF: interrupts are recognized only after the next instruction
        cpu.irq_shadow = true;
    }
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
    cpu.io_allowed(bus, port, S as u32)?;
    let v = bus.io_in(port, S, cpu.icount);
    cpu.set_reg::<S>(EAX, v);
    Ok(())
}

/// OUT imm8/DX, acc.
pub(crate) fn out<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let port = cpu.load::<2>(bus, u, u.dst)? as u16;
    cpu.io_allowed(bus, port, S as u32)?;
    let v = cpu.reg::<S>(EAX);
    bus.io_out(port, S, v, cpu.icount);
    Ok(())
}

impl Cpu {
    /// EFLAGS.IOPL.
    #[inline]
    pub(crate) fn iopl(&self) -> u8 {
        ((self.s.eflags & flag::IOPL) >> 12) as u8
    }

    /// I/O permission (SDM vol. 1, 19.5 "Protected-mode I/O"): allowed in real mode and when
    /// CPL <= IOPL; otherwise (and always in V86 mode) every bit for the accessed ports in the
    /// 32-bit TSS's I/O permission bitmap must be clear, else #GP(0).
    pub(crate) fn io_allowed(
        &mut self,
        bus: &mut Bus,
        port: u16,
        size: u32,
    ) -> Result<(), Exception> {
        if !self.protected_mode() || (self.s.eflags & flag::VM == 0 && self.cpl <= self.iopl()) {
            return Ok(());
        }
        let tr = self.s.tr;
        let deny = Exception::GeneralProtection(0);
        if tr.attr & 0xF != crate::cpu::descriptor::sys::TSS32_BUSY as u16 || tr.limit < 103 {
            return Err(deny);
        }
        let map = self.read_sys::<2>(bus, tr.base.wrapping_add(102))?;
        let byte = map + port as u32 / 8;
        if byte + 1 > tr.limit {
            return Err(deny);
        }
        let bits = self.read_sys::<2>(bus, tr.base.wrapping_add(byte))?;
        let want = ((1u32 << size) - 1) << (port & 7);
        if bits & want != 0 {
            return Err(deny);
        }
        Ok(())
    }
}

/// CPUID.
pub(crate) fn cpuid(cpu: &mut Cpu, bus: &mut Bus, _: &Uop) -> R {
    // CPUID.1:EDX.APIC follows IA32_APIC_BASE's global enable (SDM vol. 3A, 11.4.3)
    let apic = bus
        .apic_base_msr()
        .is_some_and(|b| b & crate::devices::lapic::BASE_ENABLE != 0);
    let [a, b, c, d] = cpuid_leaf(cpu.reg::<4>(EAX), cpu.reg::<4>(ECX), apic);
    cpu.set_reg::<4>(EAX, a);
    cpu.set_reg::<4>(EBX, b);
    cpu.set_reg::<4>(ECX, c);
    cpu.set_reg::<4>(EDX, d);
    Ok(())
}

impl Cpu {
    /// The time-stamp counter: it counts at the machine's instruction rate (`cpu_hz`) through
    /// virtual time, so idle time skipped in HLT advances it too, plus the offset WRMSR set.
    pub fn tsc(&self, clock: &crate::time::VirtualClock) -> u64 {
        clock.ticks(self.icount).wrapping_add(self.s.tsc_offset)
    }
}

/// RDTSC: EDX:EAX = TSC (#GP(0) at CPL > 0 with CR4.TSD).
pub(crate) fn rdtsc(cpu: &mut Cpu, bus: &mut Bus, _: &Uop) -> R {
    if cpu.s.cr4 & crate::cpu::state::cr4::TSD != 0 && cpu.cpl != 0 {
        return Err(Exception::GeneralProtection(0));
    }
    let t = cpu.tsc(&bus.clock);
    cpu.set_reg::<4>(EAX, t as u32);
    cpu.set_reg::<4>(EDX, (t >> 32) as u32);
    Ok(())
}

/// RDRAND / RDSEED r16/r32 (SDM vol. 2): the next value of the machine's seeded random
/// source (never the host's); always succeeds: CF = 1, OF = SF = ZF = AF = PF = 0.
pub(crate) fn rdrand<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    if let Opnd::Reg(r) = u.dst {
        let v = bus.entropy.next_u64() as u32;
        cpu.commit_flags();
        cpu.s.eflags &= !(flag::OF | flag::SF | flag::ZF | flag::AF | flag::PF);
        cpu.s.eflags |= flag::CF;
        cpu.set_reg::<S>(r, v);
    }
    Ok(())
}

/// RDMSR: EDX:EAX = MSR[ECX] (#GP(0) for an MSR vx86 does not implement).
pub(crate) fn rdmsr(cpu: &mut Cpu, bus: &mut Bus, _: &Uop) -> R {
    cpu.require_cpl0()?;
    let v = cpu.read_msr(cpu.reg::<4>(ECX), bus)?;
    cpu.set_reg::<4>(EAX, v as u32);
    cpu.set_reg::<4>(EDX, (v >> 32) as u32);
    Ok(())
}

/// WRMSR: MSR[ECX] = EDX:EAX.
pub(crate) fn wrmsr(cpu: &mut Cpu, bus: &mut Bus, _: &Uop) -> R {
    cpu.require_cpl0()?;
    let v = (cpu.reg::<4>(EDX) as u64) << 32 | cpu.reg::<4>(EAX) as u64;
    cpu.write_msr(cpu.reg::<4>(ECX), v, bus)
}

/// The virtual cycles one PAUSE takes: its latency is about 100-140 cycles on current Intel
/// cores (SDM vol. 2, PAUSE: "a pre-defined delay"). Charging them makes spin-wait loops
/// (udelay, spinlocks) reach their deadlines in fewer instructions; deterministic like all
/// virtual time.
pub const PAUSE_CYCLES: u64 = 128;

/// PAUSE: a spin-wait hint that stalls for [`PAUSE_CYCLES`].
pub(crate) fn pause(_: &mut Cpu, bus: &mut Bus, _: &Uop) -> R {
    bus.clock.stall(PAUSE_CYCLES);
    bus.retime();
    Ok(())
}

/// WBINVD/INVD: caches are not modelled; privileged.
pub(crate) fn privileged_nop(cpu: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    cpu.require_cpl0()
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

/// An x87 instruction: #NM when CR0.EM or CR0.TS is set, otherwise unsupported for now.
pub(crate) fn x87(cpu: &mut Cpu, bus: &mut Bus, _: &Uop) -> R {
    if cpu.s.cr0 & (cr0::EM | cr0::TS) != 0 {
        return Err(Exception::DeviceNotAvailable);
    }
    Err(cpu.unsupported(
        bus,
        "this x87 instruction is not implemented yet (set CR0.EM to get #NM instead)",
    ))
}
