//! Decimal adjust instructions: DAA, DAS, AAA, AAS, AAM, AAD (SDM vol. 2 pages of the same
//! names). Flags the SDM calls undefined are computed from the result as the hardware does for
//! SF/ZF/PF, and OF is cleared.

use super::R;
use crate::bus::Bus;
use crate::cpu::exception::Exception;
use crate::cpu::flags::parity;
use crate::cpu::state::flag;
use crate::cpu::state::reg::EAX;
use crate::cpu::uop::Uop;
use crate::cpu::Cpu;

fn szp(v: u8) -> u32 {
    ((v & 0x80 != 0) as u32) * flag::SF
        | ((v == 0) as u32) * flag::ZF
        | (parity(v as u32) as u32) * flag::PF
}

/// DAA (`SUB = false`) and DAS (`SUB = true`): decimal adjust AL after addition/subtraction.
pub(crate) fn daa_das<const SUB: bool>(cpu: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    let old_al = cpu.reg::<1>(EAX) as u8;
    let old_cf = cpu.cf();
    let adjust = |v: u8, by: u8| {
        if SUB {
            v.wrapping_sub(by)
        } else {
            v.wrapping_add(by)
        }
    };
    let mut al = old_al;
    let mut cf = false;
    let mut af = false;
    if old_al & 0x0F > 9 || cpu.af() {
        al = adjust(al, 6);
        // the carry/borrow out of the low adjustment
        cf = old_cf || if SUB { old_al < 6 } else { old_al > 0xF9 };
        af = true;
    }
    if old_al > 0x99 || old_cf {
        al = adjust(al, 0x60);
        cf = true;
    }
    cpu.set_reg::<1>(EAX, al as u32);
    cpu.set_arith_flags(
        flag::ARITH,
        szp(al) | (cf as u32) * flag::CF | (af as u32) * flag::AF,
    );
    Ok(())
}

/// AAA (`SUB = false`) and AAS (`SUB = true`): ASCII adjust after addition/subtraction, with
/// the 16-bit AX arithmetic of the 286 and later (SDM: `AX ← AX + 106H` / `AX ← AX – 6`).
pub(crate) fn aaa_aas<const SUB: bool>(cpu: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    let ax = cpu.reg::<2>(EAX);
    let adjust = ax & 0x0F > 9 || cpu.af();
    let ax = if adjust {
        if SUB {
            // 286+: AX ← AX − 6 (a borrow reaches AH), then AH ← AH − 1.
            ax.wrapping_sub(6).wrapping_sub(0x100) & 0xFFFF
        } else {
            ax.wrapping_add(0x106)
        }
    } else {
        ax
    };
    let ax = ax & 0xFF0F;
    cpu.set_reg::<2>(EAX, ax);
    let f = (adjust as u32) * (flag::AF | flag::CF) | szp(ax as u8);
    cpu.set_arith_flags(flag::ARITH, f);
    Ok(())
}

/// AAM imm8: AH = AL / imm, AL = AL % imm; #DE when imm is 0.
pub(crate) fn aam(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    let base = u.imm as u8;
    if base == 0 {
        return Err(Exception::DivideError);
    }
    let al = cpu.reg::<1>(EAX) as u8;
    let (q, r) = (al / base, al % base);
    cpu.set_reg::<2>(EAX, (q as u32) << 8 | r as u32);
    cpu.set_arith_flags(flag::ARITH, szp(r));
    Ok(())
}

/// AAD imm8: AL = AL + AH * imm, AH = 0. Flags as for an 8-bit ADD of AL and AH × imm.
pub(crate) fn aad(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    let ax = cpu.reg::<2>(EAX);
    let al = ax as u8;
    let prod = ((ax >> 8) as u8).wrapping_mul(u.imm as u8);
    let r = al.wrapping_add(prod);
    cpu.set_reg::<2>(EAX, r as u32);
    cpu.set_lazy::<1>(
        crate::cpu::flags::LazyKind::Add,
        al as u32,
        prod as u32,
        r as u32,
    );
    Ok(())
}
