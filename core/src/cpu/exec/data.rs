//! Data movement: MOV (incl. segment registers), MOVZX/MOVSX, XCHG, LEA, LDS/LES/LSS/LFS/LGS,
//! XLAT, CBW/CWDE, CWD/CDQ, BSWAP, XADD, CMPXCHG, CMPXCHG8B, CMOVcc, SETcc, LAHF/SAHF, SALC
//! (SDM vol. 2 pages of the same names).

use super::R;
use crate::bus::Bus;
use crate::cpu::exception::Exception;
use crate::cpu::flags::LazyKind;
use crate::cpu::regs::{mask, sext};
use crate::cpu::state::reg::{EAX, EBX, ECX, EDX};
use crate::cpu::state::{flag, SegReg};
use crate::cpu::uop::{Opnd, Uop, K_REG, P_ADDR32};
use crate::cpu::Cpu;

/// MOV dst, src (`D`, `SRC`: the operand kinds the decoder fixed, `K_*`).
pub(crate) fn mov<const S: usize, const D: u8, const SRC: u8>(
    cpu: &mut Cpu,
    bus: &mut Bus,
    u: &Uop,
) -> R {
    let v = cpu.load_k::<S, SRC>(bus, u, u.src)?;
    cpu.store_k::<S, D>(bus, u, u.dst, v)
}

/// MOV r/m, Sreg (`imm2` = segment). A 32-bit register destination gets the selector
/// zero-extended; a memory destination is always 16 bits.
pub(crate) fn mov_from_seg<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let sel = cpu.s.segs[u.imm2 as usize % 6].selector as u32;
    cpu.store::<S>(bus, u, u.dst, sel)
}

/// MOV Sreg, r/m (`imm2` = segment). Loading CS this way is #UD on a 386+.
pub(crate) fn mov_to_seg(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let seg = SegReg::ALL[u.imm2 as usize % 6];
    if seg == SegReg::Cs {
        return Err(Exception::InvalidOpcode);
    }
    let v = cpu.load::<2>(bus, u, u.src)?;
    cpu.load_seg(bus, seg, v as u16)
}

/// MOVZX / MOVSX: `D`-byte destination from an `SRC`-byte source of kind `K` (`K_*`).
pub(crate) fn movx<const D: usize, const SRC: usize, const SIGNED: bool, const K: u8>(
    cpu: &mut Cpu,
    bus: &mut Bus,
    u: &Uop,
) -> R {
    let v = cpu.load_k::<SRC, K>(bus, u, u.src)?;
    let v = if SIGNED { sext::<SRC>(v) } else { v };
    cpu.store_k::<D, K_REG>(bus, u, u.dst, v & mask::<D>())
}

/// XCHG dst, src.
pub(crate) fn xchg<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let a = cpu.load::<S>(bus, u, u.dst)?;
    let b = cpu.load::<S>(bus, u, u.src)?;
    cpu.store::<S>(bus, u, u.dst, b)?;
    cpu.store::<S>(bus, u, u.src, a)
}

/// LEA r, m: the effective address, truncated to the operand size.
pub(crate) fn lea<const S: usize>(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    let ea = cpu.ea(&u.mem);
    if let Opnd::Reg(r) = u.dst {
        cpu.set_reg::<S>(r, ea);
    }
    Ok(())
}

/// LDS/LES/LSS/LFS/LGS r, m16:16/m16:32 (`imm2` = segment).
pub(crate) fn load_far_pointer<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let (sel, ptr) = cpu.read_far_pointer::<S>(bus, u)?;
    cpu.load_seg(bus, SegReg::ALL[u.imm2 as usize % 6], sel)?;
    if let Opnd::Reg(r) = u.dst {
        cpu.set_reg::<S>(r, ptr);
    }
    Ok(())
}

/// XLAT: AL = [seg:(E)BX + AL].
pub(crate) fn xlat(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let mut off = cpu.reg::<4>(EBX).wrapping_add(cpu.reg::<1>(EAX));
    if u.prefix & P_ADDR32 == 0 {
        off &= 0xFFFF;
    }
    let v = cpu.read_mem::<1>(bus, u.mem.seg, off)?;
    cpu.set_reg::<1>(EAX, v);
    Ok(())
}

/// CBW (S = 2) / CWDE (S = 4): sign-extend the lower half of the accumulator.
pub(crate) fn cbw<const S: usize>(cpu: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    let v = if S == 2 {
        sext::<1>(cpu.reg::<1>(EAX))
    } else {
        sext::<2>(cpu.reg::<2>(EAX))
    };
    cpu.set_reg::<S>(EAX, v);
    Ok(())
}

/// CWD (S = 2) / CDQ (S = 4): sign-extend the accumulator into DX/EDX.
pub(crate) fn cwd<const S: usize>(cpu: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    let neg = sext::<S>(cpu.reg::<S>(EAX)) as i32 <= -1;
    cpu.set_reg::<S>(EDX, if neg { u32::MAX } else { 0 });
    Ok(())
}

/// BSWAP r32. With a 16-bit operand (undefined in the SDM) the register's low word is cleared,
/// as Intel processors do.
pub(crate) fn bswap<const S: usize>(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    if let Opnd::Reg(r) = u.dst {
        let v = if S == 4 {
            cpu.reg::<4>(r).swap_bytes()
        } else {
            0
        };
        cpu.set_reg::<S>(r, v);
    }
    Ok(())
}

/// XADD dst, src: `tmp = dst + src; src = dst; dst = tmp`.
pub(crate) fn xadd<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let a = cpu.load::<S>(bus, u, u.dst)?;
    let b = cpu.load::<S>(bus, u, u.src)?;
    let r = a.wrapping_add(b) & mask::<S>();
    cpu.store::<S>(bus, u, u.dst, r)?;
    cpu.set_lazy::<S>(LazyKind::Add, a, b, r);
    cpu.store::<S>(bus, u, u.src, a)?;
    // SDM "XADD" Operation ends with DEST := TEMP: for XADD r, r with the same register the
    // sum, written last, is what the register keeps.
    if let Opnd::Reg(_) = u.dst {
        cpu.store::<S>(bus, u, u.dst, r)?;
    }
    Ok(())
}

/// CMPXCHG dst, src: compare accumulator with dst; equal → dst = src, else acc = dst.
/// The destination is written in both cases (with its old value when unequal), as the
/// processor's locked read-modify-write does.
pub(crate) fn cmpxchg<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let d = cpu.load::<S>(bus, u, u.dst)?;
    let acc = cpu.reg::<S>(EAX);
    let src = cpu.load::<S>(bus, u, u.src)?;
    let r = acc.wrapping_sub(d) & mask::<S>();
    if acc == d {
        cpu.store::<S>(bus, u, u.dst, src)?;
    } else {
        cpu.store::<S>(bus, u, u.dst, d)?;
        cpu.set_reg::<S>(EAX, d);
    }
    cpu.set_lazy::<S>(LazyKind::Sub, acc, d, r);
    Ok(())
}

/// CMPXCHG8B m64: compare EDX:EAX with m64; equal → m64 = ECX:EBX, ZF = 1; else
/// EDX:EAX = m64, ZF = 0 (other flags unchanged).
pub(crate) fn cmpxchg8b(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let off = cpu.ea(&u.mem);
    let hi_off = u.mem.offset_after(off, 4);
    let lo = cpu.read_mem::<4>(bus, u.mem.seg, off)?;
    let hi = cpu.read_mem::<4>(bus, u.mem.seg, hi_off)?;
    let equal = lo == cpu.reg::<4>(EAX) && hi == cpu.reg::<4>(EDX);
    let (new_lo, new_hi) = if equal {
        (cpu.reg::<4>(EBX), cpu.reg::<4>(ECX))
    } else {
        (lo, hi)
    };
    cpu.check_write(bus, u.mem.seg, off, 4)?;
    cpu.check_write(bus, u.mem.seg, hi_off, 4)?;
    cpu.write_mem::<4>(bus, u.mem.seg, off, new_lo)?;
    cpu.write_mem::<4>(bus, u.mem.seg, hi_off, new_hi)?;
    if !equal {
        cpu.set_reg::<4>(EAX, lo);
        cpu.set_reg::<4>(EDX, hi);
    }
    cpu.set_arith_flags(flag::ZF, (equal as u32) * flag::ZF);
    Ok(())
}

/// CMOVcc r, r/m (`imm2` = condition). The source is read (and may fault) either way.
pub(crate) fn cmov<const S: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let v = cpu.load::<S>(bus, u, u.src)?;
    if cpu.cond(u.imm2 as u8) {
        cpu.store::<S>(bus, u, u.dst, v)?;
    }
    Ok(())
}

/// SETcc r/m8 (`imm2` = condition).
pub(crate) fn setcc(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let v = cpu.cond(u.imm2 as u8) as u32;
    cpu.store::<1>(bus, u, u.dst, v)
}

/// LAHF: AH = SF:ZF:0:AF:0:PF:1:CF.
pub(crate) fn lahf(cpu: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    let f = cpu.flags() & 0xD5 | flag::FIXED1;
    cpu.set_reg::<1>(4, f);
    Ok(())
}

/// SAHF: SF, ZF, AF, PF, CF from AH.
pub(crate) fn sahf(cpu: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    let ah = cpu.reg::<1>(4);
    cpu.set_arith_flags(flag::SF | flag::ZF | flag::AF | flag::PF | flag::CF, ah);
    Ok(())
}

/// SALC (undocumented D6): AL = CF ? 0xFF : 0.
pub(crate) fn salc(cpu: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    let v = if cpu.cf() { 0xFF } else { 0 };
    cpu.set_reg::<1>(EAX, v);
    Ok(())
}

/// NOP (and multi-byte NOP, hint NOPs, PAUSE, FWAIT with no x87 error pending).
pub(crate) fn nop(_: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    Ok(())
}
