//! Bit instructions: BT, BTS, BTR, BTC, BSF, BSR (SDM vol. 2 pages of the same names).
//! With a register bit offset and a memory operand, the offset is signed and selects any bit of
//! the bit string starting at the operand. Only CF (BTx) / ZF (BSx) are written; the flags the
//! SDM calls undefined keep their values, and BSF/BSR leave the destination unchanged when the
//! source is zero.

use super::R;
use crate::bus::Bus;
use crate::cpu::regs::mask;
use crate::cpu::state::flag;
use crate::cpu::uop::{Opnd, Uop};
use crate::cpu::Cpu;

/// BT operation numbers (ModRM `reg` − 4 of 0F BA).
pub const BT: u8 = 0;
/// BTS
pub const BTS: u8 = 1;
/// BTR
pub const BTR: u8 = 2;
/// BTC
pub const BTC: u8 = 3;

/// BT/BTS/BTR/BTC dst, src (register or immediate bit offset).
pub(crate) fn bt<const S: usize, const OP: u8>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let bits = (S * 8) as u32;
    let (offset_reg, raw) = match u.src {
        Opnd::Reg(r) => (true, cpu.reg::<S>(r)),
        _ => (false, u.imm),
    };
    let apply = |v: u32, bit: u32| -> u32 {
        match OP {
            BTS => v | (1 << bit),
            BTR => v & !(1 << bit),
            BTC => v ^ (1 << bit),
            _ => v,
        }
    };
    let (cf, ok) = match u.dst {
        Opnd::Reg(d) => {
            let bit = raw % bits;
            let v = cpu.reg::<S>(d);
            if OP != BT {
                cpu.set_reg::<S>(d, apply(v, bit) & mask::<S>());
            }
            ((v >> bit) & 1 != 0, Ok(()))
        }
        _ => {
            let base = cpu.ea(&u.mem);
            let (off, bit) = if offset_reg {
                let signed = if S == 2 {
                    raw as u16 as i16 as i32
                } else {
                    raw as i32
                };
                let word = signed.div_euclid(bits as i32);
                (
                    base.wrapping_add((word * S as i32) as u32),
                    signed.rem_euclid(bits as i32) as u32,
                )
            } else {
                (base, raw % bits)
            };
            let off = if u.mem.addr32 { off } else { off & 0xFFFF };
            let v = cpu.read_mem::<S>(bus, u.mem.seg, off)?;
            let res = if OP != BT {
                cpu.write_mem::<S>(bus, u.mem.seg, off, apply(v, bit))
            } else {
                Ok(())
            };
            ((v >> bit) & 1 != 0, res)
        }
    };
    ok?;
    cpu.set_arith_flags(flag::CF, cf as u32);
    Ok(())
}

/// BSF (`REVERSE = false`) / BSR (`REVERSE = true`).
pub(crate) fn bit_scan<const S: usize, const REVERSE: bool>(
    cpu: &mut Cpu,
    bus: &mut Bus,
    u: &Uop,
) -> R {
    let v = cpu.load::<S>(bus, u, u.src)?;
    if v == 0 {
        cpu.set_arith_flags(flag::ZF, flag::ZF);
        return Ok(());
    }
    let idx = if REVERSE {
        31 - v.leading_zeros()
    } else {
        v.trailing_zeros()
    };
    cpu.set_arith_flags(flag::ZF, 0);
    cpu.store::<S>(bus, u, u.dst, idx)
}
