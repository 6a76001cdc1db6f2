//! Lazy arithmetic flags. Instructions that set OF/SF/ZF/AF/PF/CF from an addition,
//! subtraction or logic operation record only (kind, size, operands, result); a flag is
//! computed when something reads it (SDM vol. 1, 3.4.3.1 gives each flag's definition).
//! Everything else writes the flags eagerly into `eflags` and sets the kind to `None`.

use super::state::flag;

/// What produced the pending arithmetic flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LazyKind {
    /// Flags in `eflags` are current.
    None,
    /// `res = a + b (+ carry)`: ADD, ADC.
    Add,
    /// `res = a - b (- borrow)`: SUB, SBB, CMP, NEG (a = 0).
    Sub,
    /// AND, OR, XOR, TEST: CF = OF = 0, AF = 0.
    Logic,
    /// INC: like ADD with b = 1, CF kept in `eflags`.
    Inc,
    /// DEC: like SUB with b = 1, CF kept in `eflags`.
    Dec,
}

/// Pending flag computation.
#[derive(Debug, Clone, Copy)]
pub struct LazyFlags {
    /// Kind of the last flag-setting operation.
    pub kind: LazyKind,
    /// Operand size in bits: 8, 16 or 32.
    pub bits: u8,
    /// First operand.
    pub a: u32,
    /// Second operand.
    pub b: u32,
    /// Result (truncated to `bits`).
    pub res: u32,
}

impl Default for LazyFlags {
    fn default() -> Self {
        Self {
            kind: LazyKind::None,
            bits: 32,
            a: 0,
            b: 0,
            res: 0,
        }
    }
}

/// Even parity of the low byte: PF = 1 when the number of set bits is even.
#[inline]
pub fn parity(v: u32) -> bool {
    (v as u8).count_ones() % 2 == 0
}

impl LazyFlags {
    #[inline]
    fn msb(&self, v: u32) -> bool {
        (v >> (self.bits - 1)) & 1 != 0
    }

    #[inline]
    fn mask(&self) -> u32 {
        u32::MAX >> (32 - self.bits as u32)
    }

    /// Carry flag (not for Inc/Dec, where it lives in `eflags`).
    #[inline]
    pub fn cf(&self) -> bool {
        match self.kind {
            // carry out of the MSB = majority(a, b, carry into MSB)
            LazyKind::Add => self.msb((self.a & self.b) | ((self.a | self.b) & !self.res)),
            // borrow out of the MSB
            LazyKind::Sub => self.msb((!self.a & self.b) | ((!self.a | self.b) & self.res)),
            _ => false,
        }
    }

    /// Overflow flag.
    #[inline]
    pub fn of(&self) -> bool {
        match self.kind {
            LazyKind::Add | LazyKind::Inc => self.msb((self.a ^ self.res) & (self.b ^ self.res)),
            LazyKind::Sub | LazyKind::Dec => self.msb((self.a ^ self.b) & (self.a ^ self.res)),
            _ => false,
        }
    }

    /// Zero flag.
    #[inline]
    pub fn zf(&self) -> bool {
        self.res & self.mask() == 0
    }

    /// Sign flag.
    #[inline]
    pub fn sf(&self) -> bool {
        self.msb(self.res)
    }

    /// Auxiliary carry (carry/borrow out of bit 3).
    #[inline]
    pub fn af(&self) -> bool {
        match self.kind {
            LazyKind::Logic | LazyKind::None => false,
            _ => (self.a ^ self.b ^ self.res) & 0x10 != 0,
        }
    }

    /// Parity flag.
    #[inline]
    pub fn pf(&self) -> bool {
        parity(self.res)
    }

    /// The six arithmetic flags as EFLAGS bits, with CF taken from `old` for Inc/Dec.
    pub fn materialise(&self, old: u32) -> u32 {
        let cf = match self.kind {
            LazyKind::Inc | LazyKind::Dec => old & flag::CF != 0,
            _ => self.cf(),
        };
        (cf as u32) * flag::CF
            | (self.pf() as u32) * flag::PF
            | (self.af() as u32) * flag::AF
            | (self.zf() as u32) * flag::ZF
            | (self.sf() as u32) * flag::SF
            | (self.of() as u32) * flag::OF
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lazy(kind: LazyKind, bits: u8, a: u32, b: u32, res: u32) -> u32 {
        LazyFlags {
            kind,
            bits,
            a,
            b,
            res,
        }
        .materialise(0)
    }

    #[test]
    fn add_flags_by_hand() {
        // 0x7F + 0x01 = 0x80: signed overflow, sign set, AF (0xF+0x1 carries out of bit 3),
        // no carry, parity of 0x80 is odd → PF clear.
        assert_eq!(
            lazy(LazyKind::Add, 8, 0x7f, 1, 0x80),
            flag::OF | flag::SF | flag::AF
        );
        // 0xFF + 0x01 = 0x00 carry: CF, ZF, AF, PF (0 has even parity).
        assert_eq!(
            lazy(LazyKind::Add, 8, 0xff, 1, 0),
            flag::CF | flag::ZF | flag::AF | flag::PF
        );
        // 0xFFFF + 0xFFFF + carry-in 1 = 0x1FFFF → 0xFFFF with carry (ADC path).
        let f = lazy(LazyKind::Add, 16, 0xffff, 0xffff, 0xffff);
        assert!(f & flag::CF != 0);
    }

    #[test]
    fn sub_flags_by_hand() {
        // 0 - 1 = 0xFF: borrow (CF), SF, AF (borrow from bit 4), PF (0xFF has 8 ones).
        assert_eq!(
            lazy(LazyKind::Sub, 8, 0, 1, 0xff),
            flag::CF | flag::SF | flag::AF | flag::PF
        );
        // 0x80000000 - 1 = 0x7FFFFFFF: signed overflow, AF, PF (0xFF low byte even).
        assert_eq!(
            lazy(LazyKind::Sub, 32, 0x8000_0000, 1, 0x7fff_ffff),
            flag::OF | flag::AF | flag::PF
        );
    }

    #[test]
    fn inc_keeps_carry() {
        let l = LazyFlags {
            kind: LazyKind::Inc,
            bits: 16,
            a: 0xffff,
            b: 1,
            res: 0,
        };
        assert_eq!(l.materialise(flag::CF) & flag::CF, flag::CF);
        assert_eq!(l.materialise(0) & flag::CF, 0);
    }
}
