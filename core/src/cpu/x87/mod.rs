//! The x87 FPU's architectural state (SDM vol. 1, chapter 8 "Programming with the x87 FPU"):
//! eight 80-bit physical registers addressed as a stack through TOP, the control, status and
//! tag words, and the last-instruction/last-operand pointers. Registers are kept as raw
//! extended-precision bit patterns; arithmetic goes through the software float library so
//! results are identical on every host.
//!
//! This file holds the state and the stack/tag/exception bookkeeping shared by the handlers.

pub mod env;

pub use crate::softfloat::F80;

/// The x87's view of a register value: its tag.
impl F80 {
    /// The tag this value gets (SDM vol. 1, 8.1.7): 0 valid, 1 zero, 2 special.
    pub fn tag(self) -> u16 {
        let exp = self.sign_exp & 0x7FFF;
        if exp == 0 {
            if self.signif == 0 {
                tag::ZERO
            } else {
                tag::SPECIAL // denormal or pseudo-denormal
            }
        } else if exp == 0x7FFF || self.signif >> 63 == 0 {
            tag::SPECIAL // infinity, NaN, or an unsupported encoding (integer bit clear)
        } else {
            tag::VALID
        }
    }
}

/// Tag values.
pub mod tag {
    /// A normal finite value.
    pub const VALID: u16 = 0;
    /// Zero.
    pub const ZERO: u16 = 1;
    /// NaN, infinity, denormal or unsupported.
    pub const SPECIAL: u16 = 2;
    /// No value.
    pub const EMPTY: u16 = 3;
}

/// Status-word bits.
pub mod sw {
    /// Invalid operation.
    pub const IE: u16 = 1 << 0;
    /// Denormal operand.
    pub const DE: u16 = 1 << 1;
    /// Zero divide.
    pub const ZE: u16 = 1 << 2;
    /// Overflow.
    pub const OE: u16 = 1 << 3;
    /// Underflow.
    pub const UE: u16 = 1 << 4;
    /// Precision.
    pub const PE: u16 = 1 << 5;
    /// Stack fault.
    pub const SF: u16 = 1 << 6;
    /// Exception summary.
    pub const ES: u16 = 1 << 7;
    /// Condition code C0.
    pub const C0: u16 = 1 << 8;
    /// Condition code C1.
    pub const C1: u16 = 1 << 9;
    /// Condition code C2.
    pub const C2: u16 = 1 << 10;
    /// TOP field shift.
    pub const TOP_SHIFT: u16 = 11;
    /// Condition code C3.
    pub const C3: u16 = 1 << 14;
    /// FPU busy (mirrors ES).
    pub const B: u16 = 1 << 15;
    /// The six exception flags.
    pub const EXCEPTIONS: u16 = 0x3F;
}

/// The x87 state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct FpuState {
    /// Physical registers R0..R7 (ST(i) is R[(TOP + i) mod 8]).
    pub regs: [F80; 8],
    /// Control word.
    pub fcw: u16,
    /// Status word (TOP in bits 11-13).
    pub fsw: u16,
    /// Full tag word, two bits per physical register.
    pub ftw: u16,
    /// Last non-control instruction's opcode (11 bits).
    pub fop: u16,
    /// Last instruction pointer (offset and selector).
    pub fip: u32,
    /// Last instruction's CS selector.
    pub fcs: u16,
    /// Last data operand pointer.
    pub fdp: u32,
    /// Last data operand's segment selector.
    pub fds: u16,
}

impl Default for FpuState {
    /// The state after FNINIT (SDM vol. 1, table 8-10); power-on differs only in the
    /// registers' contents, which are zero here.
    fn default() -> Self {
        Self {
            regs: [F80::ZERO; 8],
            fcw: 0x037F,
            fsw: 0,
            ftw: 0xFFFF,
            fop: 0,
            fip: 0,
            fcs: 0,
            fdp: 0,
            fds: 0,
        }
    }
}

impl FpuState {
    /// TOP.
    #[inline]
    pub fn top(&self) -> usize {
        ((self.fsw >> sw::TOP_SHIFT) & 7) as usize
    }

    fn set_top(&mut self, t: usize) {
        self.fsw = (self.fsw & !(7 << sw::TOP_SHIFT)) | ((t as u16 & 7) << sw::TOP_SHIFT);
    }

    /// Physical index of ST(i).
    #[inline]
    pub fn phys(&self, i: usize) -> usize {
        (self.top() + i) & 7
    }

    /// The tag of physical register `p`.
    #[inline]
    pub fn tag_of(&self, p: usize) -> u16 {
        (self.ftw >> (2 * p)) & 3
    }

    fn set_tag(&mut self, p: usize, t: u16) {
        self.ftw = (self.ftw & !(3 << (2 * p))) | (t << (2 * p));
    }

    /// Whether ST(i) is empty.
    pub fn is_empty(&self, i: usize) -> bool {
        self.tag_of(self.phys(i)) == tag::EMPTY
    }

    /// ST(i) (whatever it holds, even when empty).
    pub fn st(&self, i: usize) -> F80 {
        self.regs[self.phys(i)]
    }

    /// Writes ST(i) and its tag.
    pub fn set_st(&mut self, i: usize, v: F80) {
        let p = self.phys(i);
        self.regs[p] = v;
        self.set_tag(p, v.tag());
    }

    /// Marks ST(i) empty (FFREE).
    pub fn free(&mut self, i: usize) {
        let p = self.phys(i);
        self.set_tag(p, tag::EMPTY);
    }

    /// Raises exception flags; sets ES and B when any raised flag is unmasked.
    pub fn raise(&mut self, flags: u16) {
        self.fsw |= flags & (sw::EXCEPTIONS | sw::SF);
        self.update_summary();
    }

    /// Recomputes ES/B from the flags and the masks.
    pub fn update_summary(&mut self) {
        if self.fsw & !self.fcw & sw::EXCEPTIONS != 0 {
            self.fsw |= sw::ES | sw::B;
        } else {
            self.fsw &= !(sw::ES | sw::B);
        }
    }

    /// Whether an unmasked invalid-operation exception stops the current instruction.
    pub fn invalid_unmasked(&self) -> bool {
        self.fcw & sw::IE == 0
    }

    /// Pushes `v`. On stack overflow (ST(7) in use): IE+SF with C1 = 1; masked, the
    /// indefinite QNaN is pushed; unmasked, nothing changes. Returns false when it did not push.
    pub fn push(&mut self, v: F80) -> bool {
        let t = (self.top() + 7) & 7;
        if self.tag_of(t) != tag::EMPTY {
            self.raise(sw::IE | sw::SF);
            self.fsw |= sw::C1;
            if self.invalid_unmasked() {
                return false;
            }
            self.set_top(t);
            self.set_st(0, F80::INDEFINITE);
            return true;
        }
        self.set_top(t);
        self.set_st(0, v);
        true
    }

    /// Pops ST(0) (marks it empty, TOP + 1).
    pub fn pop(&mut self) {
        let p = self.phys(0);
        self.set_tag(p, tag::EMPTY);
        self.set_top(self.top() + 1);
    }

    /// Stack underflow on reading an empty register: IE+SF with C1 = 0. Returns whether the
    /// exception is masked (the instruction then goes on with the indefinite value).
    pub fn underflow(&mut self) -> bool {
        self.raise(sw::IE | sw::SF);
        self.fsw &= !sw::C1;
        !self.invalid_unmasked()
    }

    /// TOP − 1 (FDECSTP) or + 1 (FINCSTP): no tag changes.
    pub fn rotate(&mut self, up: bool) {
        let t = if up { self.top() + 1 } else { self.top() + 7 };
        self.set_top(t);
    }

    /// FNINIT.
    pub fn init(&mut self) {
        let regs = self.regs;
        *self = FpuState {
            regs,
            ..FpuState::default()
        };
    }

    /// The tag word abridged to one bit per register (FXSAVE): 1 = not empty.
    pub fn abridged_tags(&self) -> u8 {
        (0..8).fold(0u8, |acc, p| {
            acc | (((self.tag_of(p) != tag::EMPTY) as u8) << p)
        })
    }

    /// Rebuilds the full tag word from an abridged one and the register contents (FXRSTOR).
    pub fn set_abridged_tags(&mut self, t: u8) {
        for p in 0..8 {
            let tag = if t & (1 << p) == 0 {
                tag::EMPTY
            } else {
                self.regs[p].tag()
            };
            self.set_tag(p, tag);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pop_and_tags() {
        let mut f = FpuState::default();
        assert_eq!(f.top(), 0);
        let one = F80 {
            signif: 1 << 63,
            sign_exp: 0x3FFF,
        };
        assert!(f.push(one));
        // TOP decrements on push: 0 → 7, and ST(0) is physical R7, tagged valid
        assert_eq!(f.top(), 7);
        assert_eq!(f.tag_of(7), tag::VALID);
        assert_eq!(f.st(0), one);
        assert!(f.push(F80::ZERO));
        assert_eq!(f.tag_of(6), tag::ZERO);
        f.pop();
        assert_eq!(f.top(), 7);
        assert_eq!(f.tag_of(6), tag::EMPTY);
        // abridged tags: only R7 in use
        assert_eq!(f.abridged_tags(), 0x80);
    }

    #[test]
    fn stack_overflow_masked_pushes_indefinite() {
        let mut f = FpuState::default();
        for _ in 0..8 {
            assert!(f.push(F80::ZERO));
        }
        assert!(f.push(F80::ZERO));
        // IE + SF with C1 = 1 (overflow), masked by the default control word 0x037F
        assert_eq!(f.fsw & (sw::IE | sw::SF | sw::C1), sw::IE | sw::SF | sw::C1);
        assert_eq!(f.st(0), F80::INDEFINITE);
        assert_eq!(f.fsw & sw::ES, 0, "masked: no exception summary");
    }

    #[test]
    fn tags_of_special_values() {
        assert_eq!(F80::INDEFINITE.tag(), tag::SPECIAL);
        // infinity: exponent all ones, significand 8000..0
        assert_eq!(
            F80 {
                signif: 1 << 63,
                sign_exp: 0x7FFF
            }
            .tag(),
            tag::SPECIAL
        );
        // denormal: exponent 0, significand non-zero
        assert_eq!(
            F80 {
                signif: 1,
                sign_exp: 0
            }
            .tag(),
            tag::SPECIAL
        );
        // unnormal: non-zero exponent, integer bit clear
        assert_eq!(
            F80 {
                signif: 1,
                sign_exp: 0x3FFF
            }
            .tag(),
            tag::SPECIAL
        );
    }
}
