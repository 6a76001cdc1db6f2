//! Shifts and rotates: ROL, ROR, RCL, RCR, SHL/SAL, SHR, SAR, SHLD, SHRD (SDM vol. 2, "RCL/RCR/
//! ROL/ROR", "SAL/SAR/SHL/SHR", "SHLD", "SHRD"). The count is masked to 5 bits; a zero count
//! changes nothing. OF is set by the count-1 formula for every count (the SDM leaves it
//! undefined for other counts); AF, undefined, is cleared.

use super::alu::rmw;
use super::R;
use crate::bus::Bus;
use crate::cpu::flags::parity;
use crate::cpu::regs::{mask, sext, sign};
use crate::cpu::state::flag;
use crate::cpu::uop::{Opnd, Uop};
use crate::cpu::Cpu;

/// Rotate/shift numbers (ModRM `reg` field of C0/C1/D0..D3).
pub const ROL: u8 = 0;
/// ROR
pub const ROR: u8 = 1;
/// RCL
pub const RCL: u8 = 2;
/// RCR
pub const RCR: u8 = 3;
/// SHL (and SAL, /4 and /6)
pub const SHL: u8 = 4;
/// SHR
pub const SHR: u8 = 5;
/// SAR
pub const SAR: u8 = 7;

impl Cpu {
    /// Sets CF, OF, SF, ZF, PF from a shift result of width `S`; clears AF.
    #[inline]
    pub(crate) fn set_shift_flags<const S: usize>(&mut self, r: u32, cf: bool, of: bool) {
        let v = (cf as u32) * flag::CF
            | (of as u32) * flag::OF
            | ((r & sign::<S>() != 0) as u32) * flag::SF
            | ((r & mask::<S>() == 0) as u32) * flag::ZF
            | (parity(r) as u32) * flag::PF;
        self.set_arith_flags(flag::ARITH, v);
    }

    /// Sets only CF and OF (rotates).
    #[inline]
    fn set_rotate_flags(&mut self, cf: bool, of: bool) {
        self.set_arith_flags(
            flag::CF | flag::OF,
            (cf as u32) * flag::CF | (of as u32) * flag::OF,
        );
    }
}

/// Computes one shift/rotate of `a` by a non-zero masked `count`, updating flags.
fn compute<const S: usize, const OP: u8>(cpu: &mut Cpu, a: u32, count: u32) -> u32 {
    let bits = (S * 8) as u32;
    let m = mask::<S>();
    let msb = |v: u32| v & sign::<S>() != 0;
    let bit2 = |v: u32| (v >> (bits - 2)) & 1 != 0;
    match OP {
        ROL => {
            let n = count % bits;
            let r = if n == 0 {
                a
            } else {
                ((a << n) | (a >> (bits - n))) & m
            };
            let cf = r & 1 != 0;
            cpu.set_rotate_flags(cf, msb(r) ^ cf);
            r
        }
        ROR => {
            let n = count % bits;
            let r = if n == 0 {
                a
            } else {
                ((a >> n) | (a << (bits - n))) & m
            };
            cpu.set_rotate_flags(msb(r), msb(r) ^ bit2(r));
            r
        }
        RCL | RCR => {
            // A count that is a multiple of 9 (8-bit) or 17 (16-bit) rotates nothing; OF is
            // still recomputed, as the 286 vectors show (the SDM leaves OF undefined for counts
            // above 1; current Intel processors leave it unchanged).
            let n = count % (bits + 1);
            let w = bits + 1;
            let wm = (1u64 << w) - 1;
            let v = ((cpu.cf() as u64) << bits) | a as u64;
            let rot = if n == 0 {
                v
            } else if OP == RCL {
                ((v << n) | (v >> (w - n))) & wm
            } else {
                ((v >> n) | (v << (w - n))) & wm
            };
            let r = rot as u32 & m;
            let cf = (rot >> bits) & 1 != 0;
            let of = if OP == RCL {
                msb(r) ^ cf
            } else {
                msb(r) ^ bit2(r)
            };
            cpu.set_rotate_flags(cf, of);
            r
        }
        SHL => {
            let wide = (a as u64) << count;
            let r = wide as u32 & m;
            let cf = (wide >> bits) & 1 != 0;
            cpu.set_shift_flags::<S>(r, cf, msb(r) ^ cf);
            r
        }
        SHR => {
            let r = if count >= 32 { 0 } else { a >> count };
            let cf = (a as u64 >> (count - 1)) & 1 != 0;
            // OF is the sign of the operand before the last 1-bit step: 0 after the first.
            cpu.set_shift_flags::<S>(r, cf, count == 1 && msb(a));
            r
        }
        _ => {
            let sa = sext::<S>(a) as i32;
            let r = (sa >> count.min(31)) as u32 & m;
            let cf = (sa >> (count - 1).min(31)) & 1 != 0;
            cpu.set_shift_flags::<S>(r, cf, false);
            r
        }
    }
}

/// Shift/rotate `dst` by `src` (an immediate or CL).
pub(crate) fn shift<const S: usize, const OP: u8>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    let count = cpu.load::<1>(bus, u, u.src)? & 0x1F;
    if count == 0 {
        // The operand is still read (a fault is still a fault); nothing changes.
        cpu.load::<S>(bus, u, u.dst)?;
        return Ok(());
    }
    rmw::<S>(cpu, bus, u, |cpu, a| compute::<S, OP>(cpu, a, count))
}

/// SHLD/SHRD `dst, src, count`: `imm2` = 1 when the count is CL, else the count is `imm`.
pub(crate) fn double_shift<const S: usize, const LEFT: bool>(
    cpu: &mut Cpu,
    bus: &mut Bus,
    u: &Uop,
) -> R {
    let count = if u.imm2 == 1 { cpu.reg::<1>(1) } else { u.imm } & 0x1F;
    let src = match u.src {
        Opnd::Reg(r) => cpu.reg::<S>(r),
        _ => 0,
    };
    if count == 0 {
        cpu.load::<S>(bus, u, u.dst)?;
        return Ok(());
    }
    rmw::<S>(cpu, bus, u, |cpu, d| {
        let (r, cf) = if S == 4 {
            if LEFT {
                let v = ((d as u64) << 32) | src as u64;
                ((v << count >> 32) as u32, (v << (count - 1) >> 63) & 1 != 0)
            } else {
                let v = ((src as u64) << 32) | d as u64;
                ((v >> count) as u32, (v >> (count - 1)) & 1 != 0)
            }
        } else if LEFT {
            // 16-bit: the pattern dst:src:dst is shifted, so counts above 16 (which the SDM
            // leaves undefined) still give a deterministic result.
            let v = ((d as u64) << 32) | ((src as u64) << 16) | d as u64;
            (
                ((v << count) >> 32) as u32 & 0xFFFF,
                ((v << (count - 1)) >> 47) & 1 != 0,
            )
        } else {
            let v = (d as u64) | ((src as u64) << 16) | ((d as u64) << 32);
            ((v >> count) as u32 & 0xFFFF, (v >> (count - 1)) & 1 != 0)
        };
        let of = (r ^ d) & sign::<S>() != 0;
        cpu.set_shift_flags::<S>(r, cf, of);
        r
    })
}
