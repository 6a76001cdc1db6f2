//! The decoder's tables for the x87 (D8-DF) and MMX/SSE/SSE2 instructions: which handler
//! runs each mnemonic, with the operand width, the FOP bits and the alignment requirement
//! recorded in the micro-op. Split from `decode.rs` (the general-purpose table).

use iced_x86::{Code, Instruction, Mnemonic, OpKind, Register};

use super::decode::{vreg, Prefixes};
use super::exec::fpu_arith::{self as fa, bits as fb, fmt as ff, op as fo};
use super::exec::sse_fp::{self as sf, cvt, op as so};
use super::exec::{data, fpu, simd, system};
use super::uop::{Handler, Uop};
use crate::softfloat::{F32, F64};

/// Width in bytes of a SIMD instruction's registers: 16 with an XMM operand, else 8 (MMX).
fn vector_width(ins: &Instruction) -> usize {
    let x0 = Register::XMM0 as u32;
    let xmm = (0..ins.op_count()).any(|i| {
        ins.op_kind(i) == OpKind::Register && (x0..x0 + 8).contains(&(ins.op_register(i) as u32))
    });
    if xmm {
        16
    } else {
        8
    }
}

/// Picks the MMX (8) or SSE (16) instance of a SIMD handler.
macro_rules! vw {
    ($w:expr, $($f:ident)::+ $(, $c:expr)*) => {
        if $w == 16 { $($f)::+::<16 $(, { $c })*> as Handler } else { $($f)::+::<8 $(, { $c })*> as Handler }
    };
}

/// The x87 handler for an instruction with a D8-DF opcode; records the FOP (low 3 opcode
/// bits and ModRM) and the ST(i) operand in `imm2`, and options in `imm`. Arithmetic,
/// comparisons, conversions and transcendentals come from `x87_arith_handler`; anything else
/// (reserved encodings) goes to `system::x87`.
pub(super) fn x87_handler(ins: &Instruction, u: &mut Uop, p: &Prefixes) -> Handler {
    use Mnemonic as M;
    let sti = (0..ins.op_count())
        .filter(|&i| ins.op_kind(i) == OpKind::Register)
        .map(|i| ins.op_register(i))
        .filter_map(|r| {
            let n = r as u32;
            let st0 = Register::ST0 as u32;
            (st0..st0 + 8).contains(&n).then(|| n - st0)
        })
        .next_back()
        .unwrap_or(0);
    u.imm2 = (((p.opcode as u32) & 7) << 8 | p.modrm as u32) | sti << 16;
    let mem = ins.op_count() > 0 && (0..ins.op_count()).any(|i| ins.op_kind(i) == OpKind::Memory);
    let m80 = mem && ins.memory_size().size() == 10;
    let set = |u: &mut Uop, v: u32, h: Handler| {
        u.imm = v;
        h
    };
    match ins.mnemonic() {
        M::Fld if m80 || !mem => fpu::fld,
        M::Fstp if m80 => fpu::fstp_m80,
        M::Fst if !mem => set(u, 0, fpu::fst_reg),
        M::Fstp if !mem => set(u, 1, fpu::fst_reg),
        M::Fxch => fpu::fxch,
        M::Ffree => set(u, 0, fpu::ffree),
        M::Ffreep => set(u, 1, fpu::ffree),
        M::Fincstp => set(u, 1, fpu::fstp_rotate),
        M::Fdecstp => set(u, 0, fpu::fstp_rotate),
        M::Fchs => set(u, 0, fpu::fsign),
        M::Fabs => set(u, 1, fpu::fsign),
        M::Fld1 => set(u, 0, fpu::fld_const),
        M::Fldz => set(u, 1, fpu::fld_const),
        M::Fldpi => set(u, 2, fpu::fld_const),
        M::Fldl2e => set(u, 3, fpu::fld_const),
        M::Fldl2t => set(u, 4, fpu::fld_const),
        M::Fldlg2 => set(u, 5, fpu::fld_const),
        M::Fldln2 => set(u, 6, fpu::fld_const),
        M::Fxam => fpu::fxam,
        M::Fcmovb => set(u, 0, fpu::fcmov),
        M::Fcmove => set(u, 1, fpu::fcmov),
        M::Fcmovbe => set(u, 2, fpu::fcmov),
        M::Fcmovu => set(u, 3, fpu::fcmov),
        M::Fcmovnb => set(u, 4, fpu::fcmov),
        M::Fcmovne => set(u, 5, fpu::fcmov),
        M::Fcmovnbe => set(u, 6, fpu::fcmov),
        M::Fcmovnu => set(u, 7, fpu::fcmov),
        M::Fnop => fpu::fnop,
        // the 8087's FNENI/FNDISI and the 287's FNSETPM: ignored since the 387 (SDM vol. 1,
        // 8.1.10 and appendix: "treated as FNOP"), with no wait and no pointer update
        M::Fneni | M::Fndisi | M::Fnsetpm => fpu::legacy_nop,
        M::Fninit => fpu::fninit,
        M::Fnclex => fpu::fnclex,
        M::Fldcw => fpu::fldcw,
        M::Fnstcw => fpu::fnstcw,
        M::Fnstsw => fpu::fnstsw,
        M::Fnstenv => fpu::fnstenv,
        M::Fldenv => fpu::fldenv,
        M::Fnsave => fpu::fnsave,
        M::Frstor => fpu::frstor,
        M::Fxsave => fpu::fxsave,
        M::Fxrstor => fpu::fxrstor,
        _ => x87_arith_handler(ins, u).unwrap_or(system::x87),
    }
}

/// The memory format of an x87 operand (`fpu_arith::fmt`).
fn x87_mem_format(ins: &Instruction) -> u32 {
    use iced_x86::MemorySize as S;
    match ins.memory_size() {
        S::Float32 => ff::F32,
        S::Float64 => ff::F64,
        S::Int16 | S::UInt16 => ff::I16,
        S::Int32 | S::UInt32 => ff::I32,
        S::Int64 | S::UInt64 => ff::I64,
        S::Bcd => ff::BCD,
        _ => ff::REG,
    }
}

/// Handlers in `fpu_arith.rs`, with their `imm` (see `fpu_arith::bits`), and in
/// `fpu_transcendental.rs` (`imm`: `fpu_transcendental::op`).
fn x87_arith_handler(ins: &Instruction, u: &mut Uop) -> Option<Handler> {
    use super::exec::fpu_transcendental as ft;
    use Mnemonic as M;
    let regs: Vec<u32> = (0..ins.op_count())
        .filter(|&i| ins.op_kind(i) == OpKind::Register)
        .filter_map(|i| (ins.op_register(i) as u32).checked_sub(Register::ST0 as u32))
        .filter(|&n| n < 8)
        .collect();
    let mem = (0..ins.op_count()).any(|i| ins.op_kind(i) == OpKind::Memory);
    let f = if mem { x87_mem_format(ins) } else { ff::REG };
    let base = f << fb::FMT_SHIFT;
    let arith = |op: u32, pop: bool| {
        let (dst, src) = match (mem, regs.as_slice()) {
            (true, _) => (0, 0),
            (false, [d, s]) => (*d, *s),
            (false, [s]) => (0, *s),
            _ => (1, 0),
        };
        base | op | (pop as u32 * fb::POP) | dst << fb::DST_SHIFT | src << fb::SRC_SHIFT
    };
    let compare = |extra: u32| {
        let src = match regs.as_slice() {
            [_, s] | [s] => *s,
            _ => 1,
        };
        base | extra | src << fb::SRC_SHIFT
    };
    let (imm, h): (u32, Handler) = match ins.mnemonic() {
        M::Fadd | M::Fiadd => (arith(fo::ADD, false), fa::farith),
        M::Faddp => (arith(fo::ADD, true), fa::farith),
        M::Fmul | M::Fimul => (arith(fo::MUL, false), fa::farith),
        M::Fmulp => (arith(fo::MUL, true), fa::farith),
        M::Fsub | M::Fisub => (arith(fo::SUB, false), fa::farith),
        M::Fsubp => (arith(fo::SUB, true), fa::farith),
        M::Fsubr | M::Fisubr => (arith(fo::SUBR, false), fa::farith),
        M::Fsubrp => (arith(fo::SUBR, true), fa::farith),
        M::Fdiv | M::Fidiv => (arith(fo::DIV, false), fa::farith),
        M::Fdivp => (arith(fo::DIV, true), fa::farith),
        M::Fdivr | M::Fidivr => (arith(fo::DIVR, false), fa::farith),
        M::Fdivrp => (arith(fo::DIVR, true), fa::farith),
        M::Fcom | M::Ficom => (compare(0), fa::fcompare),
        M::Fcomp | M::Ficomp => (compare(fb::POP), fa::fcompare),
        M::Fcompp => (compare(fb::POP2), fa::fcompare),
        M::Fucom => (compare(fb::QUIET), fa::fcompare),
        M::Fucomp => (compare(fb::QUIET | fb::POP), fa::fcompare),
        M::Fucompp => (compare(fb::QUIET | fb::POP2), fa::fcompare),
        M::Fcomi => (compare(fb::EFLAGS), fa::fcompare),
        M::Fcomip => (compare(fb::EFLAGS | fb::POP), fa::fcompare),
        M::Fucomi => (compare(fb::EFLAGS | fb::QUIET), fa::fcompare),
        M::Fucomip => (compare(fb::EFLAGS | fb::QUIET | fb::POP), fa::fcompare),
        M::Ftst => (fb::WITH_ZERO, fa::fcompare),
        M::Fld | M::Fild | M::Fbld if mem => (base, fa::fload),
        M::Fst | M::Fist if mem => (base, fa::fstore),
        M::Fstp | M::Fistp | M::Fbstp if mem => (base | fb::POP, fa::fstore),
        M::Fisttp => (base | fb::POP | fb::TRUNC, fa::fstore),
        M::Fsqrt => (0, fa::funary),
        M::Frndint => (1, fa::funary),
        M::Fscale => (0, fa::fscale),
        M::Fprem => (0, fa::fprem),
        M::Fprem1 => (1, fa::fprem),
        M::Fxtract => (0, fa::fxtract),
        M::F2xm1 => (ft::op::F2XM1, ft::unary),
        M::Fsin => (ft::op::FSIN, ft::unary),
        M::Fcos => (ft::op::FCOS, ft::unary),
        M::Fyl2x => (ft::op::FYL2X, ft::binary),
        M::Fyl2xp1 => (ft::op::FYL2XP1, ft::binary),
        M::Fpatan => (ft::op::FPATAN, ft::binary),
        M::Fptan => (ft::op::FPTAN, ft::pushing),
        M::Fsincos => (ft::op::FSINCOS, ft::pushing),
        _ => return None,
    };
    u.imm = imm;
    Some(h)
}

/// Handlers of the MMX and SSE/SSE2 integer and data-movement instructions (`simd.rs`).
pub(super) fn simd_handler(ins: &Instruction, u: &mut Uop) -> Option<Handler> {
    use simd::{op, shift as sh};
    use Mnemonic as M;
    let w = vector_width(ins);
    let mem16 = w == 16
        && (0..ins.op_count()).any(|i| ins.op_kind(i) == OpKind::Memory)
        && ins.memory_size().size() == 16;
    let unaligned = matches!(ins.mnemonic(), M::Movdqu | M::Movups | M::Movupd);
    let aligned = mem16 && !unaligned;
    let mut p = |l: usize, o: u8| -> Handler {
        u.imm = o as u32;
        match (w, l) {
            (16, 1) => simd::packed::<16, 1>,
            (16, 2) => simd::packed::<16, 2>,
            (16, 4) => simd::packed::<16, 4>,
            (16, _) => simd::packed::<16, 8>,
            (_, 1) => simd::packed::<8, 1>,
            (_, 2) => simd::packed::<8, 2>,
            (_, 4) => simd::packed::<8, 4>,
            _ => simd::packed::<8, 8>,
        }
    };
    let h = match ins.mnemonic() {
        M::Paddb => p(1, op::ADD),
        M::Paddw => p(2, op::ADD),
        M::Paddd => p(4, op::ADD),
        M::Paddq => p(8, op::ADD),
        M::Paddsb => p(1, op::ADDS),
        M::Paddsw => p(2, op::ADDS),
        M::Paddusb => p(1, op::ADDUS),
        M::Paddusw => p(2, op::ADDUS),
        M::Psubb => p(1, op::SUB),
        M::Psubw => p(2, op::SUB),
        M::Psubd => p(4, op::SUB),
        M::Psubq => p(8, op::SUB),
        M::Psubsb => p(1, op::SUBS),
        M::Psubsw => p(2, op::SUBS),
        M::Psubusb => p(1, op::SUBUS),
        M::Psubusw => p(2, op::SUBUS),
        M::Pmullw => p(2, op::MULLO),
        M::Pmulhw => p(2, op::MULHI),
        M::Pmulhuw => p(2, op::MULHIU),
        M::Pavgb => p(1, op::AVG),
        M::Pavgw => p(2, op::AVG),
        M::Pminub => p(1, op::MINU),
        M::Pmaxub => p(1, op::MAXU),
        M::Pminsw => p(2, op::MINS),
        M::Pmaxsw => p(2, op::MAXS),
        M::Pcmpeqb => p(1, op::CMPEQ),
        M::Pcmpeqw => p(2, op::CMPEQ),
        M::Pcmpeqd => p(4, op::CMPEQ),
        M::Pcmpgtb => p(1, op::CMPGT),
        M::Pcmpgtw => p(2, op::CMPGT),
        M::Pcmpgtd => p(4, op::CMPGT),
        M::Pand | M::Andps | M::Andpd => p(8, op::AND),
        M::Pandn | M::Andnps | M::Andnpd => p(8, op::ANDN),
        M::Por | M::Orps | M::Orpd => p(8, op::OR),
        M::Pxor | M::Xorps | M::Xorpd => p(8, op::XOR),
        M::Pmuludq => vw!(w, simd::pmuludq),
        M::Pmaddwd => vw!(w, simd::pmaddwd),
        M::Psadbw => vw!(w, simd::psadbw),
        M::Psllw => vw!(w, simd::pshift, 2, sh::LL),
        M::Pslld => vw!(w, simd::pshift, 4, sh::LL),
        M::Psllq => vw!(w, simd::pshift, 8, sh::LL),
        M::Psrlw => vw!(w, simd::pshift, 2, sh::RL),
        M::Psrld => vw!(w, simd::pshift, 4, sh::RL),
        M::Psrlq => vw!(w, simd::pshift, 8, sh::RL),
        M::Psraw => vw!(w, simd::pshift, 2, sh::RA),
        M::Psrad => vw!(w, simd::pshift, 4, sh::RA),
        M::Pslldq => simd::pshift_bytes::<true>,
        M::Psrldq => simd::pshift_bytes::<false>,
        M::Punpcklbw => vw!(w, simd::unpack, 1, false),
        M::Punpcklwd => vw!(w, simd::unpack, 2, false),
        M::Punpckldq | M::Unpcklps => vw!(w, simd::unpack, 4, false),
        M::Punpcklqdq | M::Unpcklpd => simd::unpack::<16, 8, false>,
        M::Punpckhbw => vw!(w, simd::unpack, 1, true),
        M::Punpckhwd => vw!(w, simd::unpack, 2, true),
        M::Punpckhdq | M::Unpckhps => vw!(w, simd::unpack, 4, true),
        M::Punpckhqdq | M::Unpckhpd => simd::unpack::<16, 8, true>,
        M::Packsswb => vw!(w, simd::pack, 2, true),
        M::Packssdw => vw!(w, simd::pack, 4, true),
        M::Packuswb => vw!(w, simd::pack, 2, false),
        M::Pshufd => simd::pshuf::<16, 0>,
        M::Pshuflw => simd::pshuf::<16, 1>,
        M::Pshufhw => simd::pshuf::<16, 2>,
        M::Pshufw => simd::pshuf::<8, 3>,
        M::Shufps => simd::shufp::<4>,
        M::Shufpd => simd::shufp::<8>,
        M::Movdqa
        | M::Movdqu
        | M::Movaps
        | M::Movups
        | M::Movapd
        | M::Movupd
        | M::Movntdq
        | M::Movntps
        | M::Movntpd => simd::vmov::<16, 16, true>,
        M::Movq if ins.code() == Code::Movq_xmm_xmmm64 || ins.code() == Code::Movq_xmmm64_xmm => {
            simd::vmov::<16, 8, true>
        }
        M::Movq | M::Movntq if w == 8 => simd::vmov::<8, 8, true>,
        M::Movss => simd::vmov::<16, 4, false>,
        M::Movsd if ins.code() != Code::Movsd_m32_m32 => simd::vmov::<16, 8, false>,
        M::Movlps | M::Movlpd => set_imm(u, 0, simd::mov_half),
        M::Movhps | M::Movhpd => set_imm(
            u,
            if ins.op_kind(0) == OpKind::Memory {
                2
            } else {
                1
            },
            simd::mov_half,
        ),
        M::Movhlps => set_imm(u, 2, simd::mov_half),
        M::Movlhps => set_imm(u, 1, simd::mov_half),
        M::Movd if ins.op_kind(0) == OpKind::Register && vreg(ins.op_register(0)).is_some() => {
            vw!(w, simd::movd, true)
        }
        M::Movd => vw!(w, simd::movd, false),
        M::Movq2dq => simd::movq_cross::<true>,
        M::Movdq2q => simd::movq_cross::<false>,
        M::Pmovmskb => vw!(w, simd::movmsk, 1),
        M::Movmskps => simd::movmsk::<16, 4>,
        M::Movmskpd => simd::movmsk::<16, 8>,
        M::Pextrw => vw!(w, simd::pextrw),
        M::Pinsrw => vw!(w, simd::pinsrw),
        M::Emms => simd::emms,
        M::Ldmxcsr => set_imm(u, 0, simd::mxcsr),
        M::Stmxcsr => set_imm(u, 1, simd::mxcsr),
        M::Sfence
        | M::Lfence
        | M::Mfence
        | M::Prefetchnta
        | M::Prefetcht0
        | M::Prefetcht1
        | M::Prefetcht2
        | M::Clflush => data::nop,
        _ => sse_fp_handler(ins)?,
    };
    if aligned {
        u.imm2 |= simd::ALIGNED;
    }
    Some(h)
}

fn set_imm(u: &mut Uop, v: u32, h: Handler) -> Handler {
    u.imm = v;
    h
}

/// Handlers of the SSE/SSE2 floating-point instructions (`sse_fp.rs`); `None` for the rest.
fn sse_fp_handler(ins: &Instruction) -> Option<Handler> {
    use Mnemonic as M;
    let xmm_operands = (0..ins.op_count())
        .any(|i| ins.op_kind(i) == OpKind::Register && vreg(ins.op_register(i)).is_some());
    macro_rules! ar {
        ($t:ty, $p:expr, $o:expr) => {
            sf::arith::<$t, $p, { $o }> as Handler
        };
    }
    Some(match ins.mnemonic() {
        M::Addps => ar!(F32, true, so::ADD),
        M::Addss => ar!(F32, false, so::ADD),
        M::Addpd => ar!(F64, true, so::ADD),
        M::Addsd => ar!(F64, false, so::ADD),
        M::Subps => ar!(F32, true, so::SUB),
        M::Subss => ar!(F32, false, so::SUB),
        M::Subpd => ar!(F64, true, so::SUB),
        M::Subsd => ar!(F64, false, so::SUB),
        M::Mulps => ar!(F32, true, so::MUL),
        M::Mulss => ar!(F32, false, so::MUL),
        M::Mulpd => ar!(F64, true, so::MUL),
        M::Mulsd => ar!(F64, false, so::MUL),
        M::Divps => ar!(F32, true, so::DIV),
        M::Divss => ar!(F32, false, so::DIV),
        M::Divpd => ar!(F64, true, so::DIV),
        M::Divsd => ar!(F64, false, so::DIV),
        M::Minps => ar!(F32, true, so::MIN),
        M::Minss => ar!(F32, false, so::MIN),
        M::Minpd => ar!(F64, true, so::MIN),
        M::Minsd => ar!(F64, false, so::MIN),
        M::Maxps => ar!(F32, true, so::MAX),
        M::Maxss => ar!(F32, false, so::MAX),
        M::Maxpd => ar!(F64, true, so::MAX),
        M::Maxsd => ar!(F64, false, so::MAX),
        M::Sqrtps => ar!(F32, true, so::SQRT),
        M::Sqrtss => ar!(F32, false, so::SQRT),
        M::Sqrtpd => ar!(F64, true, so::SQRT),
        M::Sqrtsd => ar!(F64, false, so::SQRT),
        M::Cmpps => sf::compare::<F32, true>,
        M::Cmpss => sf::compare::<F32, false>,
        M::Cmppd => sf::compare::<F64, true>,
        M::Cmpsd if xmm_operands => sf::compare::<F64, false>,
        M::Comiss => sf::comis::<F32, true>,
        M::Ucomiss => sf::comis::<F32, false>,
        M::Comisd => sf::comis::<F64, true>,
        M::Ucomisd => sf::comis::<F64, false>,
        M::Cvtss2sd => sf::convert::<{ cvt::SS2SD }>,
        M::Cvtsd2ss => sf::convert::<{ cvt::SD2SS }>,
        M::Cvtps2pd => sf::convert::<{ cvt::PS2PD }>,
        M::Cvtpd2ps => sf::convert::<{ cvt::PD2PS }>,
        M::Cvtdq2ps => sf::convert::<{ cvt::DQ2PS }>,
        M::Cvtps2dq => sf::convert::<{ cvt::PS2DQ }>,
        M::Cvttps2dq => sf::convert::<{ cvt::TTPS2DQ }>,
        M::Cvtdq2pd => sf::convert::<{ cvt::DQ2PD }>,
        M::Cvtpd2dq => sf::convert::<{ cvt::PD2DQ }>,
        M::Cvttpd2dq => sf::convert::<{ cvt::TTPD2DQ }>,
        M::Cvtpi2ps => sf::convert::<{ cvt::PI2PS }>,
        M::Cvtps2pi => sf::convert::<{ cvt::PS2PI }>,
        M::Cvttps2pi => sf::convert::<{ cvt::TTPS2PI }>,
        M::Cvtpi2pd => sf::convert::<{ cvt::PI2PD }>,
        M::Cvtpd2pi => sf::convert::<{ cvt::PD2PI }>,
        M::Cvttpd2pi => sf::convert::<{ cvt::TTPD2PI }>,
        M::Cvtss2si => sf::to_int::<F32, false>,
        M::Cvttss2si => sf::to_int::<F32, true>,
        M::Cvtsd2si => sf::to_int::<F64, false>,
        M::Cvttsd2si => sf::to_int::<F64, true>,
        M::Cvtsi2ss => sf::from_int::<F32>,
        M::Cvtsi2sd => sf::from_int::<F64>,
        M::Rcpps => sf::approx::<true, false>,
        M::Rcpss => sf::approx::<false, false>,
        M::Rsqrtps => sf::approx::<true, true>,
        M::Rsqrtss => sf::approx::<false, true>,
        _ => return None,
    })
}
