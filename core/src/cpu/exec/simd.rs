//! MMX and the integer/data-movement half of SSE/SSE2 (SDM vol. 2 pages of the same names;
//! vol. 1 chapters 9-11): moves between XMM/MMX registers, memory and general registers,
//! bitwise logic, packed integer arithmetic (wrapping and saturating), multiplies, compares,
//! shifts, packs, unpacks, shuffles, PMOVMSKB/MOVMSKPS/MOVMSKPD, PEXTRW/PINSRW, EMMS,
//! LDMXCSR/STMXCSR. Nothing here rounds, so no floating point is involved (the SSE
//! floating-point instructions are in `sse_fp.rs`).
//!
//! `W` is the register width in bytes: 8 for MMX (MM0-7 alias the x87 significands; every MMX
//! instruction sets TOP to 0 and tags all registers valid), 16 for XMM. SSE instructions need
//! CR4.OSFXSR (else #UD); CR0.EM gives #UD and CR0.TS #NM. Aligned forms raise #GP(0) on a
//! memory operand not aligned to 16 bytes.

use super::R;
use crate::bus::Bus;
use crate::cpu::exception::Exception;
use crate::cpu::state::{cr0, cr4};
use crate::cpu::uop::{Opnd, Uop};
use crate::cpu::x87::{sw, F80};
use crate::cpu::Cpu;

/// `imm2` bit: the memory operand must be 16-byte aligned.
pub const ALIGNED: u32 = 1 << 31;

impl Cpu {
    /// Checks for an SSE instruction (W = 16) or an MMX one (W = 8) and, for MMX, enters MMX
    /// mode (TOP = 0, all tags valid).
    pub(super) fn simd_enter<const W: usize>(&mut self) -> Result<(), Exception> {
        if self.s.cr0 & cr0::EM != 0 {
            return Err(Exception::InvalidOpcode);
        }
        if W == 16 && self.s.cr4 & cr4::OSFXSR == 0 {
            return Err(Exception::InvalidOpcode);
        }
        if self.s.cr0 & cr0::TS != 0 {
            return Err(Exception::DeviceNotAvailable);
        }
        if W == 8 {
            if self.s.fpu.fsw & sw::ES != 0 && self.s.cr0 & cr0::NE != 0 {
                return Err(Exception::FpuError);
            }
            self.s.fpu.fsw &= !(7 << sw::TOP_SHIFT);
            self.s.fpu.ftw = 0;
        }
        Ok(())
    }

    /// Vector register `n` (XMM or MMX by `W`).
    pub(super) fn vreg<const W: usize>(&self, n: u8) -> u128 {
        if W == 16 {
            self.s.xmm[n as usize & 7]
        } else {
            self.s.fpu.regs[n as usize & 7].signif as u128
        }
    }

    pub(super) fn set_vreg<const W: usize>(&mut self, n: u8, v: u128) {
        if W == 16 {
            self.s.xmm[n as usize & 7] = v;
        } else {
            // an MMX write sets the exponent and sign bits to all ones
            self.s.fpu.regs[n as usize & 7] = F80 {
                signif: v as u64,
                sign_exp: 0xFFFF,
            };
        }
    }

    /// Reads `n` bytes of a vector operand (register or memory) as a little-endian number.
    pub(super) fn vload<const W: usize>(
        &mut self,
        bus: &mut Bus,
        u: &Uop,
        o: Opnd,
        n: usize,
    ) -> Result<u128, Exception> {
        match o {
            Opnd::Reg(r) => Ok(self.vreg::<W>(r) & mask(n)),
            Opnd::Mem => {
                let off = self.ea(&u.mem);
                self.aligned_check(u, off)?;
                let mut b = [0u8; 16];
                self.read_bytes(bus, u.mem.seg, off, &mut b[..n])?;
                Ok(u128::from_le_bytes(b))
            }
            _ => Ok(0),
        }
    }

    /// Writes the low `n` bytes of `v` to a vector operand; a register keeps its other bytes
    /// when `merge`, else they become zero.
    pub(super) fn vstore<const W: usize>(
        &mut self,
        bus: &mut Bus,
        u: &Uop,
        o: Opnd,
        n: usize,
        v: u128,
        merge: bool,
    ) -> R {
        match o {
            Opnd::Reg(r) => {
                let old = if merge {
                    self.vreg::<W>(r) & !mask(n)
                } else {
                    0
                };
                self.set_vreg::<W>(r, old | (v & mask(n)));
                Ok(())
            }
            Opnd::Mem => {
                let off = self.ea(&u.mem);
                self.aligned_check(u, off)?;
                self.write_bytes(bus, u.mem.seg, off, &v.to_le_bytes()[..n])
            }
            _ => Ok(()),
        }
    }

    fn aligned_check(&self, u: &Uop, off: u32) -> Result<(), Exception> {
        let lin = self.s.segs[u.mem.seg as usize % 6].base.wrapping_add(off);
        if u.imm2 & ALIGNED != 0 && lin & 15 != 0 {
            return Err(Exception::GeneralProtection(0));
        }
        Ok(())
    }
}

/// All ones in the low `n` bytes.
pub(super) fn mask(n: usize) -> u128 {
    if n >= 16 {
        u128::MAX
    } else {
        (1u128 << (8 * n)) - 1
    }
}

/// Lane `i` of `L` bytes.
#[inline]
fn lane<const L: usize>(v: u128, i: usize) -> u64 {
    (v >> (8 * L * i)) as u64 & (u64::MAX >> (64 - 8 * L))
}

/// Builds a vector of `W` bytes from `L`-byte lanes produced by `f(i)`.
#[inline]
fn build<const W: usize, const L: usize>(f: impl Fn(usize) -> u64) -> u128 {
    let mut r = 0u128;
    for i in 0..W / L {
        r |= ((f(i) & (u64::MAX >> (64 - 8 * L))) as u128) << (8 * L * i);
    }
    r
}

fn sext(v: u64, bytes: usize) -> i64 {
    let s = 64 - 8 * bytes;
    ((v << s) as i64) >> s
}

fn sat_signed(v: i64, bytes: usize) -> u64 {
    let max = (1i64 << (8 * bytes - 1)) - 1;
    v.clamp(-max - 1, max) as u64
}

fn sat_unsigned(v: i64, bytes: usize) -> u64 {
    v.clamp(0, ((1u64 << (8 * bytes)) - 1) as i64) as u64
}

/// Packed binary operations.
pub mod op {
    /// Wrapping add.
    pub const ADD: u8 = 0;
    /// Signed saturating add.
    pub const ADDS: u8 = 1;
    /// Unsigned saturating add.
    pub const ADDUS: u8 = 2;
    /// Wrapping subtract.
    pub const SUB: u8 = 3;
    /// Signed saturating subtract.
    pub const SUBS: u8 = 4;
    /// Unsigned saturating subtract.
    pub const SUBUS: u8 = 5;
    /// Low half of the product (PMULLW).
    pub const MULLO: u8 = 6;
    /// High half of the signed product (PMULHW).
    pub const MULHI: u8 = 7;
    /// High half of the unsigned product (PMULHUW).
    pub const MULHIU: u8 = 8;
    /// Rounded unsigned average (PAVGB/PAVGW).
    pub const AVG: u8 = 9;
    /// Unsigned minimum.
    pub const MINU: u8 = 10;
    /// Unsigned maximum.
    pub const MAXU: u8 = 11;
    /// Signed minimum.
    pub const MINS: u8 = 12;
    /// Signed maximum.
    pub const MAXS: u8 = 13;
    /// Equal → all ones.
    pub const CMPEQ: u8 = 14;
    /// Signed greater → all ones.
    pub const CMPGT: u8 = 15;
    /// AND.
    pub const AND: u8 = 16;
    /// AND NOT (NOT dst AND src).
    pub const ANDN: u8 = 17;
    /// OR.
    pub const OR: u8 = 18;
    /// XOR.
    pub const XOR: u8 = 19;
}

/// dst = dst OP src, lane by lane (`L`-byte lanes of a `W`-byte register; OP in `imm`).
pub(crate) fn packed<const W: usize, const L: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.simd_enter::<W>()?;
    let operation = u.imm as u8;
    let b = cpu.vload::<W>(bus, u, u.src, W)?;
    let a = cpu.vload::<W>(bus, u, u.dst, W)?;
    let r = match operation {
        op::AND => a & b,
        op::ANDN => !a & b,
        op::OR => a | b,
        op::XOR => a ^ b,
        _ => build::<W, L>(|i| {
            let (x, y) = (lane::<L>(a, i), lane::<L>(b, i));
            let (sx, sy) = (sext(x, L), sext(y, L));
            let ones = u64::MAX;
            match operation {
                op::ADD => x.wrapping_add(y),
                op::ADDS => sat_signed(sx + sy, L),
                op::ADDUS => sat_unsigned(x as i64 + y as i64, L),
                op::SUB => x.wrapping_sub(y),
                op::SUBS => sat_signed(sx - sy, L),
                op::SUBUS => sat_unsigned(x as i64 - y as i64, L),
                op::MULLO => x.wrapping_mul(y),
                op::MULHI => ((sx * sy) >> (8 * L)) as u64,
                op::MULHIU => (x * y) >> (8 * L),
                op::AVG => (x + y + 1) >> 1,
                op::MINU => x.min(y),
                op::MAXU => x.max(y),
                op::MINS => sx.min(sy) as u64,
                op::MAXS => sx.max(sy) as u64,
                op::CMPEQ => {
                    if x == y {
                        ones
                    } else {
                        0
                    }
                }
                _ => {
                    if sx > sy {
                        ones
                    } else {
                        0
                    }
                }
            }
        }),
    };
    cpu.vstore::<W>(bus, u, u.dst, W, r, false)
}

/// PMULUDQ: unsigned 32×32→64 of the even dwords.
pub(crate) fn pmuludq<const W: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.simd_enter::<W>()?;
    let b = cpu.vload::<W>(bus, u, u.src, W)?;
    let a = cpu.vload::<W>(bus, u, u.dst, W)?;
    let r = build::<W, 8>(|i| lane::<4>(a, 2 * i) * lane::<4>(b, 2 * i));
    cpu.vstore::<W>(bus, u, u.dst, W, r, false)
}

/// PMADDWD: signed word products summed in pairs into dwords.
pub(crate) fn pmaddwd<const W: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.simd_enter::<W>()?;
    let b = cpu.vload::<W>(bus, u, u.src, W)?;
    let a = cpu.vload::<W>(bus, u, u.dst, W)?;
    let r = build::<W, 4>(|i| {
        let p = |j: usize| sext(lane::<2>(a, j), 2) * sext(lane::<2>(b, j), 2);
        (p(2 * i) + p(2 * i + 1)) as u64
    });
    cpu.vstore::<W>(bus, u, u.dst, W, r, false)
}

/// PSADBW: sum of absolute byte differences per 8-byte group, in the group's low word.
pub(crate) fn psadbw<const W: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.simd_enter::<W>()?;
    let b = cpu.vload::<W>(bus, u, u.src, W)?;
    let a = cpu.vload::<W>(bus, u, u.dst, W)?;
    let r = build::<W, 8>(|g| {
        (0..8)
            .map(|k| lane::<1>(a, 8 * g + k).abs_diff(lane::<1>(b, 8 * g + k)))
            .sum()
    });
    cpu.vstore::<W>(bus, u, u.dst, W, r, false)
}

/// Shift kinds.
pub mod shift {
    /// Logical left.
    pub const LL: u8 = 0;
    /// Logical right.
    pub const RL: u8 = 1;
    /// Arithmetic right.
    pub const RA: u8 = 2;
}

/// PSLL/PSRL/PSRA by an immediate or by the low 64 bits of a register/memory operand.
pub(crate) fn pshift<const W: usize, const L: usize, const KIND: u8>(
    cpu: &mut Cpu,
    bus: &mut Bus,
    u: &Uop,
) -> R {
    cpu.simd_enter::<W>()?;
    let count = match u.src {
        Opnd::Imm => (u.imm & 0xFF) as u64,
        o => cpu.vload::<W>(bus, u, o, W.min(16))? as u64,
    };
    let a = cpu.vload::<W>(bus, u, u.dst, W)?;
    let bits = 8 * L as u64;
    let r = build::<W, L>(|i| {
        let x = lane::<L>(a, i);
        match KIND {
            shift::LL if count < bits => x << count,
            shift::RL if count < bits => x >> count,
            shift::RA => (sext(x, L) >> count.min(bits - 1)) as u64,
            _ => 0,
        }
    });
    cpu.vstore::<W>(bus, u, u.dst, W, r, false)
}

/// PSLLDQ (`LEFT`) / PSRLDQ: byte shift of the whole XMM register.
pub(crate) fn pshift_bytes<const LEFT: bool>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.simd_enter::<16>()?;
    let n = (u.imm & 0xFF).min(16) * 8;
    let a = cpu.vload::<16>(bus, u, u.dst, 16)?;
    let r = if n >= 128 {
        0
    } else if LEFT {
        a << n
    } else {
        a >> n
    };
    cpu.vstore::<16>(bus, u, u.dst, 16, r, false)
}

/// PUNPCKL* (`HIGH = false`) / PUNPCKH*: interleave `L`-byte lanes of one half of dst and src.
pub(crate) fn unpack<const W: usize, const L: usize, const HIGH: bool>(
    cpu: &mut Cpu,
    bus: &mut Bus,
    u: &Uop,
) -> R {
    cpu.simd_enter::<W>()?;
    // MMX low unpacks read only 32 bits of a memory source
    let n = if W == 8 && !HIGH { 4 } else { W };
    let b = cpu.vload::<W>(bus, u, u.src, n)?;
    let a = cpu.vload::<W>(bus, u, u.dst, W)?;
    let base = if HIGH { W / L / 2 } else { 0 };
    let r = build::<W, L>(|i| {
        if i % 2 == 0 {
            lane::<L>(a, base + i / 2)
        } else {
            lane::<L>(b, base + i / 2)
        }
    });
    cpu.vstore::<W>(bus, u, u.dst, W, r, false)
}

/// PACKSSWB (`L` = 2, `SIGNED`), PACKSSDW (`L` = 4, `SIGNED`), PACKUSWB (`L` = 2, unsigned):
/// narrow dst's then src's lanes with saturation.
pub(crate) fn pack<const W: usize, const L: usize, const SIGNED: bool>(
    cpu: &mut Cpu,
    bus: &mut Bus,
    u: &Uop,
) -> R {
    cpu.simd_enter::<W>()?;
    let b = cpu.vload::<W>(bus, u, u.src, W)?;
    let a = cpu.vload::<W>(bus, u, u.dst, W)?;
    let per = W / L;
    let narrow = |v: u64| {
        let s = sext(v, L);
        if SIGNED {
            sat_signed(s, L / 2)
        } else {
            sat_unsigned(s, L / 2)
        }
    };
    let r = match L {
        2 => build::<W, 1>(|i| {
            narrow(if i < per {
                lane::<2>(a, i)
            } else {
                lane::<2>(b, i - per)
            })
        }),
        _ => build::<W, 2>(|i| {
            narrow(if i < per {
                lane::<4>(a, i)
            } else {
                lane::<4>(b, i - per)
            })
        }),
    };
    cpu.vstore::<W>(bus, u, u.dst, W, r, false)
}

/// PSHUFD (`KIND` 0), PSHUFLW (1), PSHUFHW (2), PSHUFW (3, MMX): dst = shuffle(src, imm).
pub(crate) fn pshuf<const W: usize, const KIND: u8>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.simd_enter::<W>()?;
    let s = cpu.vload::<W>(bus, u, u.src, W)?;
    let sel = |i: usize| ((u.imm >> (2 * i)) & 3) as usize;
    let r = match KIND {
        0 => build::<16, 4>(|i| lane::<4>(s, sel(i))),
        1 => build::<16, 2>(|i| {
            if i < 4 {
                lane::<2>(s, sel(i))
            } else {
                lane::<2>(s, i)
            }
        }),
        2 => build::<16, 2>(|i| {
            if i < 4 {
                lane::<2>(s, i)
            } else {
                lane::<2>(s, 4 + sel(i - 4))
            }
        }),
        _ => build::<8, 2>(|i| lane::<2>(s, sel(i))),
    };
    cpu.vstore::<W>(bus, u, u.dst, W, r, false)
}

/// SHUFPS (`L` = 4) / SHUFPD (`L` = 8): the low lanes from dst, the high ones from src.
pub(crate) fn shufp<const L: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.simd_enter::<16>()?;
    let b = cpu.vload::<16>(bus, u, u.src, 16)?;
    let a = cpu.vload::<16>(bus, u, u.dst, 16)?;
    let r = if L == 4 {
        let sel = |i: usize| ((u.imm >> (2 * i)) & 3) as usize;
        build::<16, 4>(|i| {
            if i < 2 {
                lane::<4>(a, sel(i))
            } else {
                lane::<4>(b, sel(i))
            }
        })
    } else {
        build::<16, 8>(|i| {
            if i == 0 {
                lane::<8>(a, (u.imm & 1) as usize)
            } else {
                lane::<8>(b, ((u.imm >> 1) & 1) as usize)
            }
        })
    };
    cpu.vstore::<16>(bus, u, u.dst, 16, r, false)
}

/// Moves of `N` bytes between vector registers and memory (MOVQ, MOVDQA/U, MOVAPS/UPS/APD/UPD,
/// MOVNT*, MOVSS/MOVSD loads and stores). `ZERO` clears the destination register's other bytes
/// (loads from memory and MOVQ xmm); otherwise they are kept (register-to-register MOVSS/MOVSD).
pub(crate) fn vmov<const W: usize, const N: usize, const ZERO: bool>(
    cpu: &mut Cpu,
    bus: &mut Bus,
    u: &Uop,
) -> R {
    cpu.simd_enter::<W>()?;
    let v = cpu.vload::<W>(bus, u, u.src, N)?;
    let zero = ZERO || u.src == Opnd::Mem;
    cpu.vstore::<W>(bus, u, u.dst, N, v, !zero)
}

/// MOVLPS/MOVLPD/MOVHPS/MOVHPD/MOVHLPS/MOVLHPS: move a quadword between halves (`imm` bit 0:
/// destination half is high; bit 1: source half is high).
pub(crate) fn mov_half(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.simd_enter::<16>()?;
    let src_high = u.imm & 2 != 0;
    let dst_high = u.imm & 1 != 0;
    let s = match u.src {
        Opnd::Reg(r) => cpu.vreg::<16>(r),
        o => cpu.vload::<16>(bus, u, o, 8)?,
    };
    let q = if src_high { (s >> 64) as u64 } else { s as u64 };
    match u.dst {
        Opnd::Reg(r) => {
            let d = cpu.vreg::<16>(r);
            let v = if dst_high {
                (d & mask(8)) | (q as u128) << 64
            } else {
                (d & !mask(8)) | q as u128
            };
            cpu.set_vreg::<16>(r, v);
            Ok(())
        }
        o => cpu.vstore::<16>(bus, u, o, 8, q as u128, false),
    }
}

/// MOVD mm/xmm, r/m32 (`TO_VEC`) and MOVD r/m32, mm/xmm.
pub(crate) fn movd<const W: usize, const TO_VEC: bool>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.simd_enter::<W>()?;
    if TO_VEC {
        let v = cpu.load::<4>(bus, u, u.src)?;
        if let Opnd::Reg(r) = u.dst {
            cpu.set_vreg::<W>(r, v as u128);
        }
        Ok(())
    } else {
        let v = match u.src {
            Opnd::Reg(r) => cpu.vreg::<W>(r) as u32,
            _ => 0,
        };
        cpu.store::<4>(bus, u, u.dst, v)
    }
}

/// MOVQ2DQ (`TO_XMM`) / MOVDQ2Q.
pub(crate) fn movq_cross<const TO_XMM: bool>(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.simd_enter::<16>()?;
    cpu.simd_enter::<8>()?;
    if let (Opnd::Reg(d), Opnd::Reg(s)) = (u.dst, u.src) {
        if TO_XMM {
            let v = cpu.vreg::<8>(s);
            cpu.set_vreg::<16>(d, v);
        } else {
            let v = cpu.vreg::<16>(s) & mask(8);
            cpu.set_vreg::<8>(d, v);
        }
    }
    Ok(())
}

/// PMOVMSKB (`L` = 1), MOVMSKPS (4), MOVMSKPD (8): the lanes' sign bits into a GPR.
pub(crate) fn movmsk<const W: usize, const L: usize>(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.simd_enter::<W>()?;
    let v = match u.src {
        Opnd::Reg(r) => cpu.vreg::<W>(r),
        _ => 0,
    };
    let m = (0..W / L).fold(0u32, |acc, i| {
        acc | (((lane::<L>(v, i) >> (8 * L - 1)) & 1) as u32) << i
    });
    if let Opnd::Reg(d) = u.dst {
        cpu.set_reg::<4>(d, m);
    }
    Ok(())
}

/// PEXTRW r32, mm/xmm, imm8.
pub(crate) fn pextrw<const W: usize>(cpu: &mut Cpu, _: &mut Bus, u: &Uop) -> R {
    cpu.simd_enter::<W>()?;
    let v = match u.src {
        Opnd::Reg(r) => cpu.vreg::<W>(r),
        _ => 0,
    };
    let w = lane::<2>(v, (u.imm as usize) % (W / 2)) as u32;
    if let Opnd::Reg(d) = u.dst {
        cpu.set_reg::<4>(d, w);
    }
    Ok(())
}

/// PINSRW mm/xmm, r32/m16, imm8.
pub(crate) fn pinsrw<const W: usize>(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.simd_enter::<W>()?;
    let w = cpu.load::<2>(bus, u, u.src)? as u128;
    if let Opnd::Reg(d) = u.dst {
        let i = (u.imm as usize) % (W / 2);
        let v = (cpu.vreg::<W>(d) & !(0xFFFF << (16 * i))) | w << (16 * i);
        cpu.set_vreg::<W>(d, v);
    }
    Ok(())
}

/// EMMS: all x87 registers empty.
pub(crate) fn emms(cpu: &mut Cpu, _: &mut Bus, _: &Uop) -> R {
    cpu.simd_enter::<8>()?;
    cpu.s.fpu.ftw = 0xFFFF;
    Ok(())
}

/// LDMXCSR m32 (#GP(0) on reserved bits) / STMXCSR m32 (`imm` = 1).
pub(crate) fn mxcsr(cpu: &mut Cpu, bus: &mut Bus, u: &Uop) -> R {
    cpu.simd_enter::<16>()?;
    if u.imm == 1 {
        let v = cpu.s.mxcsr;
        return cpu.store::<4>(bus, u, u.dst, v);
    }
    let v = cpu.load::<4>(bus, u, u.dst)?;
    if v & !crate::cpu::x87::env::MXCSR_MASK != 0 {
        return Err(Exception::GeneralProtection(0));
    }
    cpu.s.mxcsr = v;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_helpers() {
        let v = 0x0102_0304_0506_0708_090A_0B0C_0D0E_0F10u128;
        assert_eq!(lane::<1>(v, 0), 0x10);
        assert_eq!(lane::<2>(v, 1), 0x0D0E);
        assert_eq!(lane::<8>(v, 1), 0x0102_0304_0506_0708);
        assert_eq!(
            build::<16, 4>(|i| i as u64),
            0x0000_0003_0000_0002_0000_0001_0000_0000
        );
        // saturation: 0x7F + 1 signed byte → 0x7F; 0x80 (−128) − 1 → 0x80
        assert_eq!(sat_signed(0x7F + 1, 1) & 0xFF, 0x7F);
        assert_eq!(sat_signed(-128 - 1, 1) & 0xFF, 0x80);
        assert_eq!(sat_unsigned(-5, 1), 0);
        assert_eq!(sat_unsigned(300, 1), 0xFF);
    }
}
