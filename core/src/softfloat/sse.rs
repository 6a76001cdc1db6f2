//! IEEE binary32 ([`F32`]) and binary64 ([`F64`]) with SSE/SSE2 semantics, one generic
//! implementation for both behind the [`SseFloat`] trait.
//!
//! Followed: IEEE 754-2008 (sections 5.3-5.8, 5.11) for the values; SDM vol. 1 4.8.3.5 and
//! table 4-7 for NaNs (an SNaN operand is quietened; of two NaNs the FIRST operand's is
//! returned; invalid operations give the default NaN, the negative QNaN 0xFFC00000 /
//! 0xFFF8000000000000), 11.5.2 for the exceptions (tininess after rounding; masked underflow
//! flags UE only with an inexact result), 10.2.3.3/10.2.3.4 for MXCSR.FTZ and MXCSR.DAZ
//! ([`Env::ftz`], [`Env::daz`]); vol. 2 for the instructions: ADDSS/SUBSS/MULSS/DIVSS/SQRTSS
//! (and the SD forms), MINSS/MAXSS (a NaN or two zeros give the second operand, IE for any
//! NaN), CMPSS/COMISS/UCOMISS, CVTSS2SD/CVTSD2SS, CVTSI2SS, CVT(T)SS2SI.
//!
//! Measured on hardware where the SDM is silent: an operation ending in IE or ZE raises no
//! DE; a NaN operand suppresses DE; CVT(T)SS2SI raise no DE but do apply DAZ; MINSS/MAXSS
//! return the second operand after DAZ (a denormal second operand comes back as zero).
//!
//! Left out: the packed forms and horizontal operations (the handlers apply these per lane),
//! and AVX-512 embedded rounding (pass another [`Env`]).

use super::round::{round_pack, Format, Packed, Wide};
use super::unpacked::{self, Num};
use super::{Env, Flags, Relation, RoundingMode};

/// An IEEE binary32 value, bit for bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct F32(pub u32);

/// An IEEE binary64 value, bit for bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct F64(pub u64);

pub(crate) mod sealed {
    /// The format parameters the generic code needs; only [`super::F32`] and
    /// [`super::F64`] implement it.
    pub trait Sealed: Copy {
        /// Significand bits, hidden bit included.
        const SIG_BITS: u32;
        /// Exponent field bits.
        const EXP_BITS: u32;
        /// The bit pattern, zero-extended.
        fn to_u64(self) -> u64;
        /// From a bit pattern (upper bits ignored).
        fn from_u64(bits: u64) -> Self;
    }
}
use sealed::Sealed;

impl Sealed for F32 {
    const SIG_BITS: u32 = 24;
    const EXP_BITS: u32 = 8;
    fn to_u64(self) -> u64 {
        self.0 as u64
    }
    fn from_u64(bits: u64) -> Self {
        F32(bits as u32)
    }
}

impl Sealed for F64 {
    const SIG_BITS: u32 = 53;
    const EXP_BITS: u32 = 11;
    fn to_u64(self) -> u64 {
        self.0
    }
    fn from_u64(bits: u64) -> Self {
        F64(bits)
    }
}

/// Encoding classes of a binary32/64 value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Zero,
    Denormal,
    Normal,
    Infinity,
    QuietNan,
    SignalingNan,
}

impl Kind {
    pub fn is_nan(self) -> bool {
        matches!(self, Kind::QuietNan | Kind::SignalingNan)
    }
}

/// Bit-level helpers shared with the x87 conversions.
pub(crate) mod raw {
    use super::*;

    pub fn format<T: Sealed>() -> Format {
        Format {
            sig_bits: T::SIG_BITS,
            exp_bits: T::EXP_BITS,
            bias: (1 << (T::EXP_BITS - 1)) - 1,
        }
    }
    pub fn frac_bits<T: Sealed>() -> u32 {
        T::SIG_BITS - 1
    }
    pub fn frac_mask<T: Sealed>() -> u64 {
        (1 << frac_bits::<T>()) - 1
    }
    pub fn sign<T: Sealed>(x: T) -> bool {
        x.to_u64() >> (frac_bits::<T>() + T::EXP_BITS) != 0
    }
    pub fn exp_field<T: Sealed>(x: T) -> u32 {
        ((x.to_u64() >> frac_bits::<T>()) & ((1 << T::EXP_BITS) - 1)) as u32
    }
    pub fn frac<T: Sealed>(x: T) -> u64 {
        x.to_u64() & frac_mask::<T>()
    }
    pub fn kind<T: Sealed>(x: T) -> Kind {
        let (e, f) = (exp_field(x), frac(x));
        let quiet_bit = 1 << (frac_bits::<T>() - 1);
        match e {
            0 if f == 0 => Kind::Zero,
            0 => Kind::Denormal,
            _ if e == format::<T>().exp_max() => match f {
                0 => Kind::Infinity,
                _ if f & quiet_bit != 0 => Kind::QuietNan,
                _ => Kind::SignalingNan,
            },
            _ => Kind::Normal,
        }
    }
    /// A finite nonzero value, normalized.
    pub fn num<T: Sealed>(x: T) -> Num {
        let e = exp_field(x);
        let hidden = if e == 0 { 0 } else { 1 << frac_bits::<T>() };
        Num::from_fields(format::<T>(), sign(x), e, frac(x) | hidden)
    }
    pub fn pack<T: Sealed>(p: Packed) -> T {
        let fb = frac_bits::<T>();
        T::from_u64(
            (p.sign as u64) << (fb + T::EXP_BITS) | (p.exp as u64) << fb | p.sig & frac_mask::<T>(),
        )
    }
    pub fn zero<T: Sealed>(sign: bool) -> T {
        pack(Packed::zero(sign))
    }
    pub fn inf<T: Sealed>(sign: bool) -> T {
        pack(Packed::inf(format::<T>(), sign))
    }
    /// The NaN with its quiet bit set.
    pub fn quieted<T: Sealed>(x: T) -> T {
        T::from_u64(x.to_u64() | 1 << (frac_bits::<T>() - 1))
    }
    /// The default NaN: negative, quiet, zero payload ("QNaN floating-point indefinite").
    pub fn default_nan<T: Sealed>() -> T {
        quieted(inf::<T>(true))
    }
    /// A NaN of this format with a sign and a payload given left-aligned in 64 bits (bit 63
    /// = the quiet bit position): the top bits are kept, the quiet bit set.
    pub fn nan_from_payload<T: Sealed>(sign: bool, payload: u64) -> T {
        let f = payload >> (64 - frac_bits::<T>());
        quieted(T::from_u64(inf::<T>(sign).to_u64() | f))
    }
    /// The payload of a NaN left-aligned in 64 bits (the inverse of `nan_from_payload`).
    pub fn nan_payload<T: Sealed>(x: T) -> u64 {
        frac(x) << (64 - frac_bits::<T>())
    }
    /// Round an intermediate to this format, with flush-to-zero if the env asks for it.
    pub fn round<T: Sealed>(env: &mut Env, w: Wide) -> T {
        let ftz = env.ftz;
        pack(round_pack(env, format::<T>(), T::SIG_BITS, w, ftz))
    }
}
use raw::*;

/// Read an operand: DAZ turns a denormal into a zero of its sign. Also says whether the
/// operand (still) is a denormal, for DE, which an operation raises unless it ends in IE or
/// ZE (those take precedence, as on hardware).
fn load<T: Sealed>(x: T, env: &Env) -> (T, Kind, bool) {
    match kind(x) {
        Kind::Denormal if env.daz => (zero(sign(x)), Kind::Zero, false),
        k => (x, k, k == Kind::Denormal),
    }
}

/// Raise DE when `den`.
fn denormal(env: &mut Env, den: bool) {
    if den {
        env.raise(Flags::DENORMAL);
    }
}

/// The NaN rules for two operands: `None` when neither is a NaN; otherwise IE for an SNaN,
/// and the first NaN operand, quietened.
fn nan2<T: Sealed>(a: T, b: T, env: &mut Env) -> Option<T> {
    let (ka, kb) = (kind(a), kind(b));
    if !ka.is_nan() && !kb.is_nan() {
        return None;
    }
    if ka == Kind::SignalingNan || kb == Kind::SignalingNan {
        env.raise(Flags::INVALID);
    }
    Some(quieted(if ka.is_nan() { a } else { b }))
}

fn invalid<T: Sealed>(env: &mut Env) -> T {
    env.raise(Flags::INVALID);
    default_nan()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

fn arith<T: Sealed>(a: T, b: T, op: Op, env: &mut Env) -> T {
    use Kind::{Denormal, Infinity, Normal, Zero};
    if let Some(n) = nan2(a, b, env) {
        return n;
    }
    let (a, ka, da) = load(a, env);
    let (b, kb, db) = load(b, env);
    let sb = sign(b) ^ (op == Op::Sub); // the addend's sign
    let s = sign(a) ^ sign(b); // the product's or quotient's sign
                               // IE and ZE first: they take precedence over DE
    match (op, ka, kb) {
        (Op::Add | Op::Sub, Infinity, Infinity) if sign(a) != sb => return invalid(env),
        (Op::Mul, Zero, Infinity) | (Op::Mul, Infinity, Zero) => return invalid(env),
        (Op::Div, Zero, Zero) | (Op::Div, Infinity, Infinity) => return invalid(env),
        (Op::Div, Normal | Denormal, Zero) => {
            env.raise(Flags::DIV_BY_ZERO);
            return inf(s);
        }
        _ => denormal(env, da || db),
    }
    match op {
        Op::Add | Op::Sub => match (ka, kb) {
            (Infinity, _) => a,
            (_, Infinity) => inf(sb),
            (Zero, Zero) if sign(a) == sb => a,
            (Zero, Zero) => zero(env.rounding == RoundingMode::Down),
            (Zero, _) => round(env, Num { sign: sb, ..num(b) }.wide()),
            (_, Zero) => round(env, num(a).wide()),
            _ => {
                let nb = Num { sign: sb, ..num(b) };
                round(env, unpacked::add(num(a), nb, env.rounding))
            }
        },
        Op::Mul => match (ka, kb) {
            (Infinity, _) | (_, Infinity) => inf(s),
            (Zero, _) | (_, Zero) => zero(s),
            _ => round(env, unpacked::mul(num(a), num(b))),
        },
        Op::Div => match (ka, kb) {
            (Infinity, _) => inf(s),
            (_, Infinity) | (Zero, _) => zero(s),
            _ => round(env, unpacked::div(num(a), num(b))),
        },
    }
}

fn sqrt<T: Sealed>(a: T, env: &mut Env) -> T {
    if kind(a).is_nan() {
        if kind(a) == Kind::SignalingNan {
            env.raise(Flags::INVALID);
        }
        return quieted(a);
    }
    let (a, ka, den) = load(a, env);
    match ka {
        Kind::Zero => a,
        _ if sign(a) => invalid(env),
        Kind::Infinity => a,
        _ => {
            denormal(env, den);
            round(env, unpacked::sqrt(num(a)))
        }
    }
}

/// MINSS/MAXSS: the second operand when either is a NaN (IE for any NaN) or both are zeros.
fn min_max<T: Sealed>(a: T, b: T, max: bool, env: &mut Env) -> T {
    let (a, ka, da) = load(a, env);
    let (b, kb, db) = load(b, env);
    if ka.is_nan() || kb.is_nan() {
        env.raise(Flags::INVALID);
        return b;
    }
    denormal(env, da || db);
    let first = match ordering(a, b) {
        Relation::Less => !max,
        Relation::Greater => max,
        _ => false, // equal (two zeros included): the second operand
    };
    if first {
        a
    } else {
        b
    }
}

/// Order two non-NaN values.
fn ordering<T: Sealed>(a: T, b: T) -> Relation {
    let key = |x: T| -> (bool, u64) {
        match kind(x) {
            Kind::Zero => (false, 0),
            _ => (
                sign(x),
                x.to_u64() & !(1 << (frac_bits::<T>() + T::EXP_BITS)),
            ),
        }
    };
    let ((sa, ma), (sb, mb)) = (key(a), key(b));
    let ord = match (sa, sb) {
        (false, true) => core::cmp::Ordering::Greater,
        (true, false) => core::cmp::Ordering::Less,
        (false, false) => ma.cmp(&mb),
        (true, true) => mb.cmp(&ma),
    };
    match ord {
        core::cmp::Ordering::Less => Relation::Less,
        core::cmp::Ordering::Equal => Relation::Equal,
        core::cmp::Ordering::Greater => Relation::Greater,
    }
}

fn compare<T: Sealed>(a: T, b: T, signaling: bool, env: &mut Env) -> Relation {
    let (ka, kb) = (kind(a), kind(b));
    if ka.is_nan() || kb.is_nan() {
        if signaling || ka == Kind::SignalingNan || kb == Kind::SignalingNan {
            env.raise(Flags::INVALID);
        }
        return Relation::Unordered;
    }
    let (a, _, da) = load(a, env);
    let (b, _, db) = load(b, env);
    denormal(env, da || db);
    ordering(a, b)
}

/// Conversion to a `bits`-wide signed integer rounded by `mode`; NaN, infinity and
/// out-of-range values give the integer indefinite −2^(bits−1) with IE.
fn to_int<T: Sealed>(x: T, bits: u32, mode: RoundingMode, env: &mut Env) -> i64 {
    let indefinite = i64::MIN >> (64 - bits);
    let k = kind(x);
    if k.is_nan() || k == Kind::Infinity {
        env.raise(Flags::INVALID);
        return indefinite;
    }
    // DAZ applies; a denormal raises no DE here (CVTSS2SI lists only #I and #P)
    let (x, k, _) = load(x, env);
    if k == Kind::Zero {
        return 0;
    }
    let n = num(x);
    match unpacked::to_integer(n, mode) {
        Some((mag, inexact, _)) if mag <= (1u64 << (bits - 1)) - (!n.sign) as u64 => {
            if inexact {
                env.raise(Flags::INEXACT);
            }
            if n.sign {
                (mag as i64).wrapping_neg()
            } else {
                mag as i64
            }
        }
        _ => {
            env.raise(Flags::INVALID);
            indefinite
        }
    }
}

fn from_int<T: Sealed>(v: i64, env: &mut Env) -> T {
    let w = Wide {
        sign: v < 0,
        exp: 127,
        sig: v.unsigned_abs() as u128,
    };
    round(env, w)
}

/// Conversion between the two formats (CVTSS2SD, CVTSD2SS): NaN payloads keep their top
/// bits and are quietened.
fn convert<S: Sealed, D: Sealed>(x: S, env: &mut Env) -> D {
    let k = kind(x);
    if k.is_nan() {
        if k == Kind::SignalingNan {
            env.raise(Flags::INVALID);
        }
        return nan_from_payload(sign(x), nan_payload(x));
    }
    let (x, k, den) = load(x, env);
    denormal(env, den);
    match k {
        Kind::Zero => zero(sign(x)),
        Kind::Infinity => inf(sign(x)),
        _ => round(env, num(x).wide()),
    }
}

/// binary32/binary64 arithmetic with SSE semantics, implemented once for [`F32`] and
/// [`F64`]. Binary operations take `self` as the first (destination) operand and `b` as the
/// second (source) one, which matters for NaN results, MINSS/MAXSS and the operand order of
/// SUB/DIV.
pub trait SseFloat: Sealed {
    /// The default NaN (QNaN floating-point indefinite): 0xFFC00000 / 0xFFF8000000000000.
    const DEFAULT_NAN: Self;

    /// `self + b` (ADDSS/ADDSD).
    fn add(self, b: Self, env: &mut Env) -> Self {
        arith(self, b, Op::Add, env)
    }
    /// `self − b` (SUBSS/SUBSD).
    fn sub(self, b: Self, env: &mut Env) -> Self {
        arith(self, b, Op::Sub, env)
    }
    /// `self × b` (MULSS/MULSD).
    fn mul(self, b: Self, env: &mut Env) -> Self {
        arith(self, b, Op::Mul, env)
    }
    /// `self ÷ b` (DIVSS/DIVSD).
    fn div(self, b: Self, env: &mut Env) -> Self {
        arith(self, b, Op::Div, env)
    }
    /// `√self` (SQRTSS/SQRTSD); √−0 = −0.
    fn sqrt(self, env: &mut Env) -> Self {
        sqrt(self, env)
    }
    /// MINSS/MINSD: `self < b ? self : b`, so a NaN (IE even for a QNaN) or two zeros give
    /// `b` unchanged.
    fn min(self, b: Self, env: &mut Env) -> Self {
        min_max(self, b, false, env)
    }
    /// MAXSS/MAXSD: `self > b ? self : b`, with MINSS's NaN and zero rules.
    fn max(self, b: Self, env: &mut Env) -> Self {
        min_max(self, b, true, env)
    }
    /// Compare, IE only for an SNaN (UCOMISS; CMPSS with EQ, UNORD, NEQ, ORD).
    fn compare_quiet(self, b: Self, env: &mut Env) -> Relation {
        compare(self, b, false, env)
    }
    /// Compare, IE for any NaN (COMISS; CMPSS with LT, LE, NLT, NLE).
    fn compare_signaling(self, b: Self, env: &mut Env) -> Relation {
        compare(self, b, true, env)
    }
    /// CVTSS2SI/CVTSD2SI with a 32-bit destination: rounded by [`Env::rounding`];
    /// 0x80000000 and IE for a NaN, an infinity or an out-of-range value.
    fn to_i32(self, env: &mut Env) -> i32 {
        let mode = env.rounding;
        to_int(self, 32, mode, env) as i32
    }
    /// CVTTSS2SI/CVTTSD2SI with a 32-bit destination: truncated.
    fn to_i32_trunc(self, env: &mut Env) -> i32 {
        to_int(self, 32, RoundingMode::TowardZero, env) as i32
    }
    /// CVTSS2SI/CVTSD2SI with a 64-bit destination (indefinite 0x8000000000000000).
    fn to_i64(self, env: &mut Env) -> i64 {
        let mode = env.rounding;
        to_int(self, 64, mode, env)
    }
    /// CVTTSS2SI/CVTTSD2SI with a 64-bit destination: truncated.
    fn to_i64_trunc(self, env: &mut Env) -> i64 {
        to_int(self, 64, RoundingMode::TowardZero, env)
    }
    /// CVTSI2SS/CVTSI2SD from a 32-bit integer (PE when inexact).
    fn from_i32(v: i32, env: &mut Env) -> Self {
        from_int(v as i64, env)
    }
    /// CVTSI2SS/CVTSI2SD from a 64-bit integer (PE when inexact).
    fn from_i64(v: i64, env: &mut Env) -> Self {
        from_int(v, env)
    }
    /// Whether this is a NaN.
    fn is_nan(self) -> bool {
        kind(self).is_nan()
    }
    /// Whether this is a signalling NaN.
    fn is_signaling_nan(self) -> bool {
        kind(self) == Kind::SignalingNan
    }
    /// Whether this is a denormal.
    fn is_denormal(self) -> bool {
        kind(self) == Kind::Denormal
    }
}

impl SseFloat for F32 {
    const DEFAULT_NAN: F32 = F32(0xFFC0_0000);
}

impl SseFloat for F64 {
    const DEFAULT_NAN: F64 = F64(0xFFF8_0000_0000_0000);
}

impl F32 {
    /// From the bit pattern.
    pub const fn from_bits(bits: u32) -> F32 {
        F32(bits)
    }
    /// The bit pattern.
    pub const fn to_bits(self) -> u32 {
        self.0
    }
    /// CVTSS2SD: exact; an SNaN is quietened (IE), a denormal raises DE (or reads as zero
    /// under DAZ).
    pub fn to_f64(self, env: &mut Env) -> F64 {
        convert(self, env)
    }
}

impl F64 {
    /// From the bit pattern.
    pub const fn from_bits(bits: u64) -> F64 {
        F64(bits)
    }
    /// The bit pattern.
    pub const fn to_bits(self) -> u64 {
        self.0
    }
    /// CVTSD2SS: rounded by [`Env::rounding`], with overflow, underflow and FTZ; NaN
    /// payloads keep their top 22 bits and are quietened.
    pub fn to_f32(self, env: &mut Env) -> F32 {
        convert(self, env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f32) -> F32 {
        F32(x.to_bits())
    }
    fn d(x: f64) -> F64 {
        F64(x.to_bits())
    }

    /// Run `op` in a fresh round-to-nearest environment, returning the result and flags.
    fn run<R>(op: impl FnOnce(&mut Env) -> R) -> (R, Flags) {
        let mut env = Env::default();
        let r = op(&mut env);
        (r, env.flags)
    }

    #[test]
    fn hand_checked_flags() {
        assert_eq!(
            run(|e| f(1.0).div(f(0.0), e)),
            (f(f32::INFINITY), Flags::DIV_BY_ZERO)
        );
        assert_eq!(
            run(|e| f(f32::INFINITY).sub(f(f32::INFINITY), e)),
            (F32(0xFFC0_0000), Flags::INVALID)
        );
        assert_eq!(
            run(|e| f(1.0).div(f(3.0), e)),
            (F32(0x3EAA_AAAB), Flags::INEXACT)
        );
        assert_eq!(
            run(|e| f(f32::MAX).mul(f(2.0), e)),
            (f(f32::INFINITY), Flags::OVERFLOW | Flags::INEXACT)
        );
        let tiny = f(1e-30);
        assert_eq!(
            run(|e| tiny.mul(tiny, e)),
            (f(0.0), Flags::UNDERFLOW | Flags::INEXACT)
        );
        assert_eq!(
            run(|e| d(1.0).div(d(3.0), e)),
            (d(1.0 / 3.0), Flags::INEXACT)
        );
        assert_eq!(
            run(|e| d(0.0).mul(d(f64::INFINITY), e)),
            (F64::DEFAULT_NAN, Flags::INVALID)
        );
        assert_eq!(run(|e| d(-4.0).sqrt(e)), (F64::DEFAULT_NAN, Flags::INVALID));
        assert_eq!(run(|e| d(-0.0).sqrt(e)), (d(-0.0), Flags::NONE));
        // a denormal operand: DE
        assert_eq!(
            run(|e| F32(1).add(f(1.0), e)),
            (f(1.0), Flags::DENORMAL | Flags::INEXACT)
        );
    }

    #[test]
    fn nan_rules() {
        let qa = F32(0x7FC0_0001);
        let qb = F32(0xFFC0_0002);
        let sa = F32(0x7F80_0003);
        // first operand's NaN; an SNaN is quietened with IE
        assert_eq!(run(|e| qa.add(qb, e)), (qa, Flags::NONE));
        assert_eq!(run(|e| qb.add(qa, e)), (qb, Flags::NONE));
        assert_eq!(run(|e| sa.mul(qb, e)), (F32(0x7FC0_0003), Flags::INVALID));
        assert_eq!(run(|e| qb.mul(sa, e)), (qb, Flags::INVALID));
        assert_eq!(
            run(|e| f(1.0).div(sa, e)),
            (F32(0x7FC0_0003), Flags::INVALID)
        );
        // min/max: the second operand, unchanged, IE even for QNaNs
        assert_eq!(run(|e| qa.min(f(1.0), e)), (f(1.0), Flags::INVALID));
        assert_eq!(run(|e| f(1.0).max(sa, e)), (sa, Flags::INVALID));
        assert_eq!(run(|e| f(0.0).min(f(-0.0), e)), (f(-0.0), Flags::NONE));
        assert_eq!(run(|e| f(-0.0).max(f(0.0), e)), (f(0.0), Flags::NONE));
        assert_eq!(run(|e| f(-3.0).max(f(2.0), e)), (f(2.0), Flags::NONE));
        assert_eq!(run(|e| f(-3.0).min(f(2.0), e)), (f(-3.0), Flags::NONE));
        // conversions keep the payload's top bits
        assert_eq!(
            run(|e| F32(0xFF80_0001).to_f64(e)),
            (F64(0xFFF8_0000_2000_0000), Flags::INVALID)
        );
        assert_eq!(
            run(|e| F64(0x7FF0_0000_2000_0001).to_f32(e)),
            (F32(0x7FC0_0001), Flags::INVALID)
        );
    }

    #[test]
    fn compare_rules() {
        let q = F64::DEFAULT_NAN;
        assert_eq!(
            run(|e| d(1.0).compare_quiet(q, e)),
            (Relation::Unordered, Flags::NONE)
        );
        assert_eq!(
            run(|e| d(1.0).compare_signaling(q, e)),
            (Relation::Unordered, Flags::INVALID)
        );
        assert_eq!(
            run(|e| d(-0.0).compare_quiet(d(0.0), e)),
            (Relation::Equal, Flags::NONE)
        );
        assert_eq!(
            run(|e| d(-1.0).compare_quiet(d(-2.0), e)),
            (Relation::Greater, Flags::NONE)
        );
        assert_eq!(
            run(|e| d(f64::NEG_INFINITY).compare_quiet(d(-2.0), e)),
            (Relation::Less, Flags::NONE)
        );
    }

    #[test]
    fn integer_conversions() {
        assert_eq!(run(|e| f(2.5).to_i32(e)), (2, Flags::INEXACT));
        assert_eq!(run(|e| f(-2.5).to_i32_trunc(e)), (-2, Flags::INEXACT));
        assert_eq!(run(|e| f(3e9).to_i32(e)), (i32::MIN, Flags::INVALID));
        assert_eq!(run(|e| f(-2147483648.0).to_i32(e)), (i32::MIN, Flags::NONE));
        assert_eq!(
            run(|e| F32::DEFAULT_NAN.to_i64(e)),
            (i64::MIN, Flags::INVALID)
        );
        assert_eq!(
            run(|e| d(-9.2233720368547758e18).to_i64(e)),
            (i64::MIN, Flags::NONE)
        );
        assert_eq!(
            run(|e| d(9.2233720368547758e18).to_i64(e)),
            (i64::MIN, Flags::INVALID)
        );
        assert_eq!(
            run(|e| F32::from_i32(16_777_217, e)),
            (f(16_777_216.0), Flags::INEXACT)
        );
        assert_eq!(
            run(|e| F64::from_i64(i64::MIN, e)),
            (d(-9.2233720368547758e18), Flags::NONE)
        );
        assert_eq!(run(|e| F32::from_i32(0, e)), (f(0.0), Flags::NONE));
        let mut env = Env::new(RoundingMode::Up);
        assert_eq!(F32::from_i32(16_777_217, &mut env), f(16_777_218.0));
        assert_eq!(f(0.1).to_i32(&mut env), 1);
    }

    #[test]
    fn daz_and_ftz() {
        let den = F32(0x0000_0100);
        let mut env = Env::default();
        env.daz = true;
        assert_eq!(den.add(f(0.0), &mut env), f(0.0));
        assert_eq!(env.flags, Flags::NONE);
        let mut env = Env::default();
        env.ftz = true;
        let tiny = f(1e-30);
        assert_eq!(
            tiny.mul(tiny.sub(f(2e-30), &mut Env::default()), &mut env),
            f(-0.0)
        );
        assert_eq!(env.flags, Flags::UNDERFLOW | Flags::INEXACT);
        assert_eq!(
            run(|e| d(1e-310).to_f32(e)),
            (f(0.0), Flags::DENORMAL | Flags::UNDERFLOW | Flags::INEXACT)
        );
    }
}
