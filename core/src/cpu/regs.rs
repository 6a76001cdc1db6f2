//! Register and flag access for the handlers: width-generic GPR reads/writes (`S` is the
//! operand size in bytes: 1, 2 or 4; byte registers 4..7 are AH, CH, DH, BH) and the lazy-flag
//! front end (SDM vol. 1, 3.4.1 and 3.4.3).

use super::flags::{LazyFlags, LazyKind};
use super::state::flag;
use super::Cpu;

/// Truncation mask for an operand of `S` bytes.
#[inline(always)]
pub const fn mask<const S: usize>() -> u32 {
    match S {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => 0xFFFF_FFFF,
    }
}

/// Sign bit for an operand of `S` bytes.
#[inline(always)]
pub const fn sign<const S: usize>() -> u32 {
    match S {
        1 => 0x80,
        2 => 0x8000,
        _ => 0x8000_0000,
    }
}

/// Sign-extends an `S`-byte value to 32 bits.
#[inline(always)]
pub fn sext<const S: usize>(v: u32) -> u32 {
    match S {
        1 => v as u8 as i8 as i32 as u32,
        2 => v as u16 as i16 as i32 as u32,
        _ => v,
    }
}

impl Cpu {
    /// Reads GPR `r` at width `S`.
    #[inline(always)]
    pub(crate) fn reg<const S: usize>(&self, r: u8) -> u32 {
        let r = r as usize & 7;
        match S {
            1 => {
                if r < 4 {
                    self.s.regs[r] & 0xFF
                } else {
                    (self.s.regs[r - 4] >> 8) & 0xFF
                }
            }
            2 => self.s.regs[r] & 0xFFFF,
            _ => self.s.regs[r],
        }
    }

    /// Writes GPR `r` at width `S` (8/16-bit writes keep the other bits).
    #[inline(always)]
    pub(crate) fn set_reg<const S: usize>(&mut self, r: u8, v: u32) {
        let r = r as usize & 7;
        match S {
            1 => {
                if r < 4 {
                    self.s.regs[r] = (self.s.regs[r] & !0xFF) | (v & 0xFF);
                } else {
                    self.s.regs[r - 4] = (self.s.regs[r - 4] & !0xFF00) | ((v & 0xFF) << 8);
                }
            }
            2 => self.s.regs[r] = (self.s.regs[r] & !0xFFFF) | (v & 0xFFFF),
            _ => self.s.regs[r] = v,
        }
    }

    /// EFLAGS, materialised.
    #[inline]
    pub fn flags(&self) -> u32 {
        if self.lazy.kind == LazyKind::None {
            self.s.eflags
        } else {
            (self.s.eflags & !flag::ARITH) | self.lazy.materialise(self.s.eflags)
        }
    }

    /// Writes the pending lazy flags into `eflags`.
    #[inline]
    pub(crate) fn commit_flags(&mut self) {
        if self.lazy.kind != LazyKind::None {
            self.s.eflags = self.flags();
            self.lazy.kind = LazyKind::None;
        }
    }

    /// Sets the arithmetic flags in `bits` to the values in `values` (other flags unchanged).
    #[inline]
    pub(crate) fn set_arith_flags(&mut self, bits: u32, values: u32) {
        self.commit_flags();
        self.s.eflags = (self.s.eflags & !bits) | (values & bits);
    }

    /// Records a lazy flag result of width `S`.
    #[inline(always)]
    pub(crate) fn set_lazy<const S: usize>(&mut self, kind: LazyKind, a: u32, b: u32, res: u32) {
        if matches!(kind, LazyKind::Inc | LazyKind::Dec) {
            let cf = self.cf();
            self.s.eflags = (self.s.eflags & !flag::CF) | cf as u32;
        }
        self.lazy = LazyFlags {
            kind,
            bits: (S * 8) as u8,
            a,
            b,
            res: res & mask::<S>(),
        };
    }

    /// Carry flag.
    #[inline(always)]
    pub(crate) fn cf(&self) -> bool {
        match self.lazy.kind {
            LazyKind::None | LazyKind::Inc | LazyKind::Dec => self.s.eflags & flag::CF != 0,
            _ => self.lazy.cf(),
        }
    }

    /// A flag from `eflags` when no lazy result is pending, else computed by `lazy`.
    #[inline(always)]
    fn flag_or_lazy(&self, bit: u32, lazy: impl Fn(&LazyFlags) -> bool) -> bool {
        if self.lazy.kind == LazyKind::None {
            self.s.eflags & bit != 0
        } else {
            lazy(&self.lazy)
        }
    }

    /// Zero flag.
    #[inline(always)]
    pub(crate) fn zf(&self) -> bool {
        self.flag_or_lazy(flag::ZF, LazyFlags::zf)
    }

    /// Sign flag.
    #[inline(always)]
    pub(crate) fn sf(&self) -> bool {
        self.flag_or_lazy(flag::SF, LazyFlags::sf)
    }

    /// Overflow flag.
    #[inline(always)]
    pub(crate) fn of(&self) -> bool {
        self.flag_or_lazy(flag::OF, LazyFlags::of)
    }

    /// Parity flag.
    #[inline(always)]
    pub(crate) fn pf(&self) -> bool {
        self.flag_or_lazy(flag::PF, LazyFlags::pf)
    }

    /// Auxiliary-carry flag.
    #[inline(always)]
    pub(crate) fn af(&self) -> bool {
        self.flag_or_lazy(flag::AF, LazyFlags::af)
    }

    /// Evaluates condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc opcodes:
    /// O, NO, B, AE, E, NE, BE, A, S, NS, P, NP, L, GE, LE, G).
    #[inline(always)]
    pub(crate) fn cond(&self, cc: u8) -> bool {
        let r = match cc >> 1 {
            0 => self.of(),
            1 => self.cf(),
            2 => self.zf(),
            3 => self.cf() || self.zf(),
            4 => self.sf(),
            5 => self.pf(),
            6 => self.sf() != self.of(),
            _ => self.zf() || (self.sf() != self.of()),
        };
        r ^ (cc & 1 != 0)
    }

    /// Direction flag as a step of `S` bytes: +S or −S.
    #[inline(always)]
    pub(crate) fn df_step<const S: usize>(&self) -> u32 {
        if self.s.eflags & flag::DF != 0 {
            (S as u32).wrapping_neg()
        } else {
            S as u32
        }
    }
}
