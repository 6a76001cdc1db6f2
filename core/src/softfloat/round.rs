//! Rounding an exact (or sticky) intermediate into a binary format: IEEE 754-2008 4.3
//! (rounding directions), 7.4/7.5 (overflow, underflow with tininess after rounding, as the
//! SDM vol. 1 4.9.1.5 defines for x87 and SSE alike), SDM vol. 1 8.1.5.2 (x87 precision
//! control: a shorter significand with the double-extended exponent range) and 10.2.3.3
//! (flush-to-zero).
//!
//! Every arithmetic result of every format goes through [`round_pack`], so the overflow,
//! underflow, inexact and round-up rules live in one place. NaNs, infinities and zeros of
//! special-case rules never reach it. Left out: the x87's exponent-wrapped results for
//! unmasked overflow/underflow.

use super::{Env, Flags, RoundingMode};

/// A binary format as the rounding code sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Format {
    /// Significand bits including the leading (integer) bit: 24, 53 or 64.
    pub sig_bits: u32,
    /// Width of the biased exponent field.
    pub exp_bits: u32,
    /// Exponent bias.
    pub bias: i32,
}

impl Format {
    /// The all-ones biased exponent (infinities and NaNs).
    pub const fn exp_max(self) -> u32 {
        (1 << self.exp_bits) - 1
    }
    /// Exponent of the smallest normal number.
    pub const fn emin(self) -> i32 {
        1 - self.bias
    }
    /// Exponent of the largest finite number.
    pub const fn emax(self) -> i32 {
        self.exp_max() as i32 - 1 - self.bias
    }
}

/// IEEE binary32 (the SSE code derives its formats generically; tests use these).
#[cfg(test)]
pub(crate) const BINARY32: Format = Format {
    sig_bits: 24,
    exp_bits: 8,
    bias: 127,
};
/// IEEE binary64.
#[cfg(test)]
pub(crate) const BINARY64: Format = Format {
    sig_bits: 53,
    exp_bits: 11,
    bias: 1023,
};
/// x87 double extended (explicit integer bit).
pub(crate) const EXTENDED: Format = Format {
    sig_bits: 64,
    exp_bits: 15,
    bias: 16383,
};

/// An intermediate result: `sig × 2^(exp − 127)` (so bit 127 of `sig` weighs `2^exp`). When
/// the computation was not exact, bit 0 is set as a sticky bit standing for all the lost
/// lower bits; producers keep at least two bits between the rounding position and bit 0.
/// `sig == 0` is an exact zero of sign `sign`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Wide {
    pub sign: bool,
    pub exp: i32,
    pub sig: u128,
}

/// Result fields of a format: sign, biased exponent field and significand with the leading
/// bit at position `sig_bits − 1` (set for normals and infinities; explicit, as the x87
/// stores it: binary32/64 packers drop it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Packed {
    pub sign: bool,
    pub exp: u32,
    pub sig: u64,
}

impl Packed {
    /// Zero of a sign.
    pub fn zero(sign: bool) -> Packed {
        Packed {
            sign,
            exp: 0,
            sig: 0,
        }
    }
    /// Infinity of a sign in a format.
    pub fn inf(fmt: Format, sign: bool) -> Packed {
        Packed {
            sign,
            exp: fmt.exp_max(),
            sig: 1 << (fmt.sig_bits - 1),
        }
    }
}

/// `x >> n` with every bit shifted out ORed into bit 0.
pub(crate) fn shift_right_jam(x: u128, n: u32) -> u128 {
    if n == 0 {
        x
    } else if n >= 128 {
        (x != 0) as u128
    } else {
        (x >> n) | ((x << (128 - n)) != 0) as u128
    }
}

/// Drop the low `shift` bits of `sig` (any amount, ≥ 1) rounding by `mode` for a value of
/// sign `sign`. Returns the kept integer (possibly carried one past its width), whether bits
/// were lost, and whether the magnitude was rounded up.
pub(crate) fn round_shift(
    sig: u128,
    shift: u32,
    sign: bool,
    mode: RoundingMode,
) -> (u128, bool, bool) {
    debug_assert!(shift >= 1);
    let (kept, half, sticky) = if shift > 128 {
        (0, false, sig != 0)
    } else if shift == 128 {
        (0, sig >> 127 != 0, sig << 1 != 0)
    } else {
        let rest = sig << (128 - shift); // dropped bits, left-aligned
        (sig >> shift, rest >> 127 != 0, rest << 1 != 0)
    };
    let inexact = half || sticky;
    let up = match mode {
        RoundingMode::NearestEven => half && (sticky || kept & 1 != 0),
        RoundingMode::Down => inexact && sign,
        RoundingMode::Up => inexact && !sign,
        RoundingMode::TowardZero => false,
    };
    (kept + up as u128, inexact, up)
}

/// Round `w` to `prec` significand bits (`prec ≤ fmt.sig_bits`) in the exponent range of
/// `fmt`, raising OE/UE/PE in `env` and setting `env.rounded_up`; `ftz` asks for MXCSR
/// flush-to-zero. Masked overflow gives infinity or the largest finite value by the
/// rounding direction (SDM vol. 1, table 4-10); masked underflow a denormal or zero, with UE
/// only when the result is also inexact (unmasked: whenever tiny). Tininess is judged after
/// rounding, on the result rounded to `prec` bits with unbounded exponent.
pub(crate) fn round_pack(env: &mut Env, fmt: Format, prec: u32, w: Wide, ftz: bool) -> Packed {
    debug_assert!(prec <= fmt.sig_bits);
    if w.sig == 0 {
        return Packed::zero(w.sign);
    }
    let lz = w.sig.leading_zeros();
    let sig = w.sig << lz;
    let e = w.exp - lz as i32; // exponent of the leading bit
    let (emin, emax) = (fmt.emin(), fmt.emax());
    let mode = env.rounding;

    // Tininess after rounding: the value rounded to `prec` bits with unbounded exponent is
    // below 2^emin. Only e = emin − 1 can be lifted to 2^emin by the rounding.
    let tiny = e < emin - 1
        || (e == emin - 1 && {
            let (k, _, _) = round_shift(sig, 128 - prec, w.sign, mode);
            k >> prec == 0
        });

    let wrap = env.x87_wrap && fmt.sig_bits == 64 && fmt.exp_bits == 15;
    if wrap && tiny && !env.masks.contains(Flags::UNDERFLOW) {
        if let Some(p) = wrapped(env, fmt, prec, sig, e, w.sign, X87_WRAP_BIAS) {
            env.raise(Flags::UNDERFLOW);
            return p;
        }
    }

    // The rounding position: `prec` bits below the leading bit, but never below the
    // denormal grid of the (precision-reduced) format.
    let lsb = e.max(emin) - (prec as i32 - 1);
    let shift = (127 - e + lsb) as u32;
    let (k, inexact, up) = round_shift(sig, shift, w.sign, mode);

    if tiny && ftz && env.masks.contains(Flags::UNDERFLOW) {
        env.raise(Flags::UNDERFLOW | Flags::INEXACT);
        return Packed::zero(w.sign);
    }
    if tiny && (inexact || !env.masks.contains(Flags::UNDERFLOW)) {
        env.raise(Flags::UNDERFLOW);
    }
    if inexact {
        env.raise(Flags::INEXACT);
    }
    if k == 0 {
        return Packed::zero(w.sign);
    }
    let len = 128 - k.leading_zeros();
    let final_e = lsb + len as i32 - 1;
    if final_e > emax && wrap && !env.masks.contains(Flags::OVERFLOW) {
        if let Some(p) = wrapped(env, fmt, prec, sig, e, w.sign, -X87_WRAP_BIAS) {
            env.raise(Flags::OVERFLOW);
            return p;
        }
    }
    if final_e > emax {
        env.raise(Flags::OVERFLOW | Flags::INEXACT);
        let to_inf = match mode {
            RoundingMode::NearestEven => true,
            RoundingMode::TowardZero => false,
            RoundingMode::Up => !w.sign,
            RoundingMode::Down => w.sign,
        };
        if to_inf {
            env.rounded_up = true;
            return Packed::inf(fmt, w.sign);
        }
        let ones = (1u64 << (prec - 1) << 1).wrapping_sub(1); // prec ones (prec ≤ 64)
        return Packed {
            sign: w.sign,
            exp: fmt.exp_max() - 1,
            sig: ones << (fmt.sig_bits - prec),
        };
    }
    if up {
        env.rounded_up = true;
    }
    if final_e >= emin {
        // normal: left-align k and take the top sig_bits bits (any dropped bits are zero)
        let aligned = k << (128 - len);
        Packed {
            sign: w.sign,
            exp: (final_e + fmt.bias) as u32,
            sig: (aligned >> (128 - fmt.sig_bits)) as u64,
        }
    } else {
        // denormal: place k on the format's denormal grid (LSB weight 2^(emin − sig_bits + 1))
        let up = lsb - (emin - (fmt.sig_bits as i32 - 1));
        Packed {
            sign: w.sign,
            exp: 0,
            sig: (k << up) as u64,
        }
    }
}

/// The exponent adjustment of the x87's unmasked overflow/underflow response.
const X87_WRAP_BIAS: i32 = 24_576;

/// `sig × 2^e` (leading bit at 127, sticky at bit 0) rounded to `prec` bits with unbounded
/// exponent and packed with the exponent moved by `adjust`, raising PE and setting the
/// rounded-up bit; `None` when even the moved exponent does not fit (the caller then gives
/// the masked response).
fn wrapped(
    env: &mut Env,
    fmt: Format,
    prec: u32,
    sig: u128,
    e: i32,
    sign: bool,
    adjust: i32,
) -> Option<Packed> {
    let (k, inexact, up) = round_shift(sig, 128 - prec, sign, env.rounding);
    let len = 128 - k.leading_zeros();
    let final_e = e - (prec as i32 - 1) + len as i32 - 1 + adjust;
    if final_e < fmt.emin() || final_e > fmt.emax() {
        return None;
    }
    if inexact {
        env.raise(Flags::INEXACT);
    }
    if up {
        env.rounded_up = true;
    }
    Some(Packed {
        sign,
        exp: (final_e + fmt.bias) as u32,
        sig: ((k << (128 - len)) >> (128 - fmt.sig_bits)) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(mode: RoundingMode) -> Env {
        Env::new(mode)
    }

    #[test]
    fn shift_right_jam_keeps_sticky() {
        assert_eq!(shift_right_jam(0b1000, 3), 1);
        assert_eq!(shift_right_jam(0b1001, 3), 1);
        assert_eq!(shift_right_jam(0b1001, 1), 0b101);
        assert_eq!(shift_right_jam(1 << 127, 200), 1);
        assert_eq!(shift_right_jam(0, 200), 0);
    }

    #[test]
    fn round_shift_directions() {
        // 0b10.1 (2.5): ties to even → 2, up → 3, down → 2, toward zero → 2
        let r = |sig, shift, sign, mode| round_shift(sig, shift, sign, mode);
        use RoundingMode::*;
        assert_eq!(r(0b101, 1, false, NearestEven), (2, true, false));
        assert_eq!(r(0b111, 1, false, NearestEven), (4, true, true));
        assert_eq!(r(0b101, 1, false, Up), (3, true, true));
        assert_eq!(r(0b101, 1, true, Down), (3, true, true));
        assert_eq!(r(0b101, 1, true, Up), (2, true, false));
        assert_eq!(r(0b100, 1, true, Up), (2, false, false));
        // everything below the kept bits: 0.5 + sticky
        assert_eq!(r(3 << 126, 128, false, NearestEven), (1, true, true));
        assert_eq!(r(1 << 127, 128, false, NearestEven), (0, true, false));
        assert_eq!(r(1 << 127, 129, false, Up), (1, true, true));
    }

    #[test]
    fn one_third_in_binary32() {
        // 1/3 = 0.0101...: leading bit 2^-2
        let w = Wide {
            sign: false,
            exp: -2,
            sig: u128::MAX / 3 * 2,
        };
        let mut e = env(RoundingMode::NearestEven);
        let p = round_pack(&mut e, BINARY32, 24, w, false);
        // 0x3EAAAAAB
        assert_eq!((p.exp, p.sig), (125, 0xAAAAAB));
        assert_eq!(e.flags, Flags::INEXACT);
        assert!(e.rounded_up);
    }

    #[test]
    fn overflow_responses() {
        let big = Wide {
            sign: false,
            exp: 128,
            sig: 1 << 127,
        };
        let mut e = env(RoundingMode::NearestEven);
        assert_eq!(
            round_pack(&mut e, BINARY32, 24, big, false),
            Packed::inf(BINARY32, false)
        );
        assert_eq!(e.flags, Flags::OVERFLOW | Flags::INEXACT);
        let mut e = env(RoundingMode::TowardZero);
        let p = round_pack(&mut e, BINARY32, 24, big, false);
        assert_eq!((p.exp, p.sig), (254, 0xFF_FFFF));
        // precision control: largest finite with a 24-bit significand in the extended range
        let huge = Wide {
            sign: true,
            exp: 16384,
            sig: 1 << 127,
        };
        let mut e = env(RoundingMode::Up);
        let p = round_pack(&mut e, EXTENDED, 24, huge, false);
        assert_eq!(
            (p.sign, p.exp, p.sig),
            (true, 0x7FFE, 0xFFFF_FF00_0000_0000)
        );
    }

    #[test]
    fn underflow_and_tininess_after_rounding() {
        // (2 − 2^-30) × 2^-127 rounds (nearest) to 2^-126, the smallest normal: not tiny
        // after rounding, so only PE.
        let w = Wide {
            sign: false,
            exp: -127,
            sig: u128::MAX << 98,
        };
        let mut e = env(RoundingMode::NearestEven);
        let p = round_pack(&mut e, BINARY32, 24, w, false);
        assert_eq!((p.exp, p.sig), (1, 0x80_0000));
        assert_eq!(e.flags, Flags::INEXACT);
        // Toward zero it stays below: a denormal, tiny and inexact.
        let mut e = env(RoundingMode::TowardZero);
        let p = round_pack(&mut e, BINARY32, 24, w, false);
        assert_eq!((p.exp, p.sig), (0, 0x7F_FFFF));
        assert_eq!(e.flags, Flags::UNDERFLOW | Flags::INEXACT);
        // An exact denormal: no flag when masked, UE when unmasked.
        let d = Wide {
            sign: true,
            exp: -130,
            sig: 1 << 127,
        };
        let mut e = env(RoundingMode::NearestEven);
        assert_eq!(round_pack(&mut e, BINARY32, 24, d, false).sig, 0x8_0000);
        assert_eq!(e.flags, Flags::NONE);
        e.masks = !Flags::UNDERFLOW;
        round_pack(&mut e, BINARY32, 24, d, false);
        assert_eq!(e.flags, Flags::UNDERFLOW);
        // flush to zero
        let mut e = env(RoundingMode::NearestEven);
        assert_eq!(
            round_pack(&mut e, BINARY32, 24, d, true),
            Packed::zero(true)
        );
        assert_eq!(e.flags, Flags::UNDERFLOW | Flags::INEXACT);
        // far below the smallest denormal: 0 or the smallest denormal by direction
        let t = Wide {
            sign: false,
            exp: -400,
            sig: 1 << 127,
        };
        let mut e = env(RoundingMode::Up);
        assert_eq!(round_pack(&mut e, BINARY32, 24, t, false).sig, 1);
        let mut e = env(RoundingMode::NearestEven);
        assert_eq!(
            round_pack(&mut e, BINARY32, 24, t, false),
            Packed::zero(false)
        );
        assert_eq!(e.flags, Flags::UNDERFLOW | Flags::INEXACT);
    }
}
