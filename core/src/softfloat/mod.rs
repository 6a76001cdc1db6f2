//! Software floating point for the x87 and SSE instruction handlers.
//!
//! Guest floating-point arithmetic must give bit-identical results on every host (native x86-64
//! and WebAssembly), so nothing here uses host floating point: values are bit patterns, and
//! every operation is integer arithmetic on at most 128-bit intermediates, in a bounded
//! number of steps.
//!
//! Specifications followed:
//! - IEEE 754-2008: formats, correctly rounded add/sub/mul/div/sqrt/remainder, round to
//!   integral, conversions, comparisons (sections 3, 4, 5, 7).
//! - Intel SDM vol. 1: 4.2.2 and table 4-3 (real indefinite, integer indefinite), 4.8.3.5
//!   and table 4-7 (which NaN a result takes), 4.9 (floating-point exceptions and their
//!   masked responses), 8.1.5.2 (x87 precision control), 8.2.2 (unsupported double-extended
//!   encodings), 8.3.8/8.3.10 (the x87's 66-bit π, transcendental accuracy), 8.7 (exception
//!   priority), 10.2.3.3/10.2.3.4 (MXCSR flush-to-zero and denormals-are-zeros), 11.5.2 (SIMD
//!   floating-point exceptions); vol. 2: the pages of the instructions (FADD .. FXTRACT,
//!   F2XM1 .. FSINCOS, ADDSS .. CVTTSD2SI, MINSS/MAXSS, COMISS/UCOMISS).
//!
//! Tininess (underflow) is detected AFTER rounding, for the x87 and SSE alike: SDM vol. 1
//! 4.9.1.5 and 11.5.2.5 define a tiny result as one whose rounding "with unbounded exponent
//! (taking into account precision control for x87)" is below the smallest normal, and the
//! differential tests against a real x87 and SSE unit confirm it (detecting before rounding
//! makes them fail). Masked underflow reports UE only for tiny and inexact results; FTZ
//! flushes every tiny result, exact ones included, raising UE and PE (also measured).
//!
//! Where the SDM leaves details open, the behaviour implemented is the one measured on an
//! Intel host by the differential tests: an operation ending in IE or ZE raises no DE for a
//! denormal operand (x87 and SSE), FST/FIST and CVTSS2SI never raise DE, two x87 NaNs with
//! equal significands give the positive one, precision control rounds denormal results on
//! the grid of the reduced format (2^(−16382−23) for single), the reserved PC value 01 acts
//! as extended, and FPREM/FPREM1's partial step uses N = 32 + (D mod 32).
//!
//! Layout, one concept per file:
//! - this file: rounding mode, exception flags, precision control, the [`Env`] context and
//!   the comparison result [`Relation`];
//! - `round.rs`: the exact-or-sticky intermediate and the one rounding routine every format
//!   uses (overflow, underflow, precision control, flush-to-zero);
//! - `unpacked.rs`: normalized finite values and the exact add/mul/div/sqrt/remainder and
//!   round-to-integer kernels on them;
//! - `f80.rs` (+ `f80_ops.rs`, `f80_convert.rs`, `f80_transcendental.rs`): the x87
//!   double-extended format ([`F80`]) with x87 semantics;
//! - `elementary.rs`: the 128-bit kernels of the transcendental instructions ((2^x − 1)/x,
//!   log2, the 66-bit-π argument reduction, sin/cos, atan);
//! - `sse.rs`: binary32 ([`F32`]) and binary64 ([`F64`]) with SSE semantics, one generic
//!   implementation for both ([`SseFloat`]);
//! - tests: `testutil.rs` (seeded generator, biased operands), `sse_props.rs` (against host
//!   IEEE arithmetic, any host), `f80_transcendental_tests.rs` (hand-checked values and the
//!   special-case tables), and on x86-64 hosts `x87_host*.rs` and `sse_host_tests.rs`
//!   (against the host's own x87 and SSE units, flags included).
//!
//! Left out (the instruction handlers or later work provide them): delivering unmasked
//! exceptions (the caller compares the flags an operation raised with its mask bits; results
//! are always the masked responses, SSE handlers drop OE/UE/PE after an unmasked IE/ZE/DE),
//! the x87 exponent-wrapped results for unmasked overflow/underflow (SDM 8.5.4/8.5.5), the
//! x87 stack and tags, and last-bit agreement with Intel's transcendental microcode, which
//! is not correctly rounded (see `f80_transcendental.rs`).

mod elementary;
pub mod f80;
mod f80_convert;
mod f80_ops;
mod f80_transcendental;
mod round;
pub mod sse;
mod unpacked;

#[cfg(test)]
mod f80_transcendental_tests;
#[cfg(all(test, target_arch = "x86_64"))]
mod sse_host_tests;
#[cfg(test)]
mod sse_props;
#[cfg(test)]
mod testutil;
#[cfg(all(test, target_arch = "x86_64"))]
mod x87_host;
#[cfg(all(test, target_arch = "x86_64"))]
mod x87_host_edge_tests;
#[cfg(all(test, target_arch = "x86_64"))]
mod x87_host_tests;
#[cfg(all(test, target_arch = "x86_64"))]
mod x87_host_transcendental_tests;
#[cfg(all(test, target_arch = "x86_64"))]
mod x87_host_wrap_tests;

pub use f80::{F80Class, F80};
pub use f80_ops::PartialRemainder;
pub use sse::{SseFloat, F32, F64};

/// IEEE rounding-direction attribute, in the order of the x87 RC and MXCSR RC encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum RoundingMode {
    /// Round to nearest, ties to even (RC = 00).
    #[default]
    NearestEven,
    /// Round toward negative infinity (RC = 01).
    Down,
    /// Round toward positive infinity (RC = 10).
    Up,
    /// Round toward zero, truncate (RC = 11).
    TowardZero,
}

impl RoundingMode {
    /// From a two-bit RC field (x87 control word bits 10-11, MXCSR bits 13-14).
    pub fn from_rc(rc: u32) -> RoundingMode {
        match rc & 3 {
            0 => RoundingMode::NearestEven,
            1 => RoundingMode::Down,
            2 => RoundingMode::Up,
            _ => RoundingMode::TowardZero,
        }
    }

    /// The two-bit RC field for this mode.
    pub fn rc(self) -> u32 {
        self as u32
    }
}

/// x87 precision control (SDM vol. 1, 8.1.5.2): the significand of FADD/FSUB/FMUL/FDIV/FSQRT
/// results is rounded to 24, 53 or 64 bits; the exponent keeps the double-extended range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Precision {
    /// 24-bit significand (PC = 00).
    Single,
    /// 53-bit significand (PC = 10).
    Double,
    /// 64-bit significand (PC = 11, the power-on and FNINIT setting).
    #[default]
    Extended,
}

impl Precision {
    /// From the two-bit PC field (x87 control word bits 8-9). The reserved value 01 is taken
    /// as extended precision (the SDM leaves it undefined).
    pub fn from_pc(pc: u32) -> Precision {
        match pc & 3 {
            0 => Precision::Single,
            2 => Precision::Double,
            _ => Precision::Extended,
        }
    }

    /// Significand bits results are rounded to.
    pub fn bits(self) -> u32 {
        match self {
            Precision::Single => 24,
            Precision::Double => 53,
            Precision::Extended => 64,
        }
    }
}

/// Floating-point exception flags, in the bit layout shared by the x87 status word (bits 0-5)
/// and MXCSR (bits 0-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Flags(u8);

impl Flags {
    /// No flag.
    pub const NONE: Flags = Flags(0);
    /// IE: invalid operation.
    pub const INVALID: Flags = Flags(0x01);
    /// DE: denormal operand.
    pub const DENORMAL: Flags = Flags(0x02);
    /// ZE: divide by zero.
    pub const DIV_BY_ZERO: Flags = Flags(0x04);
    /// OE: numeric overflow.
    pub const OVERFLOW: Flags = Flags(0x08);
    /// UE: numeric underflow.
    pub const UNDERFLOW: Flags = Flags(0x10);
    /// PE: precision (inexact result).
    pub const INEXACT: Flags = Flags(0x20);
    /// All six flags.
    pub const ALL: Flags = Flags(0x3F);

    /// From status-word or MXCSR bits; bits above 5 are ignored.
    pub const fn from_bits(bits: u32) -> Flags {
        Flags((bits & 0x3F) as u8)
    }

    /// The flag bits (0-5).
    pub const fn bits(self) -> u32 {
        self.0 as u32
    }

    /// Whether every flag of `other` is set here.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for Flags {
    fn bitor_assign(&mut self, rhs: Flags) {
        self.0 |= rhs.0;
    }
}

impl core::ops::BitAnd for Flags {
    type Output = Flags;
    fn bitand(self, rhs: Flags) -> Flags {
        Flags(self.0 & rhs.0)
    }
}

impl core::ops::Not for Flags {
    type Output = Flags;
    fn not(self) -> Flags {
        Flags(!self.0 & 0x3F)
    }
}

/// The floating-point environment an operation runs in, passed by `&mut` to every operation.
///
/// Operations only ever OR into [`Env::flags`] (sticky, like the status word and MXCSR) and
/// [`Env::rounded_up`]; a handler that needs the flags of one instruction (to deliver an
/// unmasked exception, or to drop OE/UE/PE after an unmasked IE/ZE/DE as SSE does, SDM
/// 11.5.1) clears them first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Env {
    /// Rounding direction (x87 RC, MXCSR RC).
    pub rounding: RoundingMode,
    /// x87 precision control; only the x87 FADD/FSUB/FMUL/FDIV/FSQRT operations of [`F80`]
    /// read it.
    pub precision: Precision,
    /// Sticky exception flags raised so far.
    pub flags: Flags,
    /// Exceptions the guest has masked (x87 control word bits 0-5, MXCSR bits 7-12). Results
    /// are the masked responses, with two exceptions: unmasked, UE is reported for every tiny
    /// result, exact or not (SDM 4.9.1.5), and flush-to-zero applies only while UE is masked;
    /// and with [`Env::x87_wrap`], unmasked overflow/underflow give the wrapped result.
    pub masks: Flags,
    /// MXCSR.DAZ: denormal SSE operands are read as zeros of the same sign (and raise no DE).
    pub daz: bool,
    /// MXCSR.FTZ: with underflow masked, tiny SSE results become zeros of the same sign and
    /// raise UE and PE.
    pub ftz: bool,
    /// Set when an inexact result was rounded away from zero (its magnitude increased): the
    /// x87 C1 "round up" bit. Sticky like `flags`; x87 handlers clear it before an
    /// instruction.
    pub rounded_up: bool,
    /// The x87's unmasked overflow/underflow response for extended-precision results (SDM
    /// vol. 1, 8.5.4 and 8.5.5): the result rounded with unbounded exponent, its exponent then
    /// reduced (overflow) or increased (underflow) by 24 576 so it fits. Set by
    /// [`Env::from_x87_control`]; SSE faults instead and stores nothing.
    pub x87_wrap: bool,
}

impl Default for Env {
    fn default() -> Self {
        Env {
            rounding: RoundingMode::NearestEven,
            precision: Precision::Extended,
            flags: Flags::NONE,
            masks: Flags::ALL,
            daz: false,
            ftz: false,
            rounded_up: false,
            x87_wrap: false,
        }
    }
}

impl Env {
    /// Round-to-nearest, extended precision, everything masked, no DAZ/FTZ, no flags.
    pub fn new(rounding: RoundingMode) -> Env {
        Env {
            rounding,
            ..Env::default()
        }
    }

    /// The environment an x87 control word selects (masks bits 0-5, PC bits 8-9, RC bits
    /// 10-11), with no flags raised.
    pub fn from_x87_control(fcw: u16) -> Env {
        Env {
            rounding: RoundingMode::from_rc((fcw >> 10) as u32),
            precision: Precision::from_pc((fcw >> 8) as u32),
            masks: Flags::from_bits(fcw as u32),
            x87_wrap: true,
            ..Env::default()
        }
    }

    /// The environment an MXCSR value selects (DAZ bit 6, masks bits 7-12, RC bits 13-14,
    /// FTZ bit 15), with no flags raised (the MXCSR flag bits are not copied).
    pub fn from_mxcsr(mxcsr: u32) -> Env {
        Env {
            rounding: RoundingMode::from_rc(mxcsr >> 13),
            masks: Flags::from_bits(mxcsr >> 7),
            daz: mxcsr & (1 << 6) != 0,
            ftz: mxcsr & (1 << 15) != 0,
            ..Env::default()
        }
    }

    /// Raise flags (OR them into the sticky set).
    pub fn raise(&mut self, f: Flags) {
        self.flags |= f;
    }
}

/// The outcome of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    /// First operand below the second.
    Less,
    /// Equal (+0 and -0 are equal).
    Equal,
    /// First operand above the second.
    Greater,
    /// At least one operand is a NaN (or, for the x87, an unsupported encoding).
    Unordered,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_decodes_control_registers() {
        // FNINIT control word: everything masked, extended precision, nearest.
        let e = Env::from_x87_control(0x037F);
        assert_eq!(e.rounding, RoundingMode::NearestEven);
        assert_eq!(e.precision, Precision::Extended);
        assert_eq!(e.masks, Flags::ALL);
        let e = Env::from_x87_control(0x0C00 | 0x0200 | 0x2F);
        assert_eq!(e.rounding, RoundingMode::TowardZero);
        assert_eq!(e.precision, Precision::Double);
        assert_eq!(e.masks, Flags::ALL & !Flags::UNDERFLOW);
        // MXCSR power-on value, then RC=down with DAZ and FTZ.
        let e = Env::from_mxcsr(0x1F80);
        assert_eq!(
            (e.rounding, e.masks, e.daz, e.ftz),
            (RoundingMode::NearestEven, Flags::ALL, false, false)
        );
        let e = Env::from_mxcsr(0x1F80 | 0x2000 | 0x40 | 0x8000 | 0x3F);
        assert_eq!(
            (e.rounding, e.daz, e.ftz, e.flags),
            (RoundingMode::Down, true, true, Flags::NONE)
        );
    }

    #[test]
    fn flag_bits_match_status_word() {
        assert_eq!(Flags::INVALID.bits(), 1);
        assert_eq!(Flags::DENORMAL.bits(), 2);
        assert_eq!(Flags::DIV_BY_ZERO.bits(), 4);
        assert_eq!(Flags::OVERFLOW.bits(), 8);
        assert_eq!(Flags::UNDERFLOW.bits(), 0x10);
        assert_eq!(Flags::INEXACT.bits(), 0x20);
        assert!((Flags::OVERFLOW | Flags::INEXACT).contains(Flags::INEXACT));
        assert_eq!(!Flags::INVALID, Flags::from_bits(0x3E));
    }
}
