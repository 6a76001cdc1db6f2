//! The `iced-x86` adapter: fetches an instruction's bytes through the code segment, decodes
//! them, and turns the decoded instruction into a [`Uop`] whose handler is chosen once, here.
//!
//! Instructions the modelled CPU does not have (everything CPUID does not advertise: MMX, SSE,
//! AVX, SYSENTER, …) and undecodable bytes become #UD micro-ops, as on a real CPU without those
//! features. Valid instructions of features still to come (x87 with CR0.EM clear, protected
//! mode) become `unsupported` micro-ops that stop the run with a clear error.

use iced_x86::{Code, Decoder, DecoderOptions, Instruction, Mnemonic, OpKind, Register};

use super::exec::{
    alu, bcd, bits, control, data, fpu, muldiv, protected, shift, stack, string, system,
};
use super::state::flag;
use super::uop::{
    Handler, MemRef, Opnd, Uop, K_ANY, K_IMM, K_MEM, K_REG, NO_REG, P_ADDR32, P_OP32, P_REP,
    P_REPNE,
};

/// Longest x86 instruction.
pub const MAX_INSN_LEN: usize = 15;

/// Picks the size-`S` instance of a size-generic handler.
macro_rules! sz {
    ($s:expr, $($f:ident)::+ $(, $c:expr)*) => {
        match $s {
            1 => $($f)::+::<1 $(, { $c })*> as Handler,
            2 => $($f)::+::<2 $(, { $c })*> as Handler,
            _ => $($f)::+::<4 $(, { $c })*> as Handler,
        }
    };
}

/// Picks the 16- or 32-bit instance of a handler that has no byte form.
macro_rules! sz2 {
    ($s:expr, $($f:ident)::+ $(, $c:expr)*) => {
        if $s == 4 { $($f)::+::<4 $(, { $c })*> as Handler } else { $($f)::+::<2 $(, { $c })*> as Handler }
    };
}

/// Picks the instance of a handler generic over size and operand kinds (`K_*`) that fits the
/// micro-op's destination and source: the common pairings get a handler with no run-time match
/// on operand kinds, the rest the kind-generic (`K_ANY`) one.
macro_rules! szk {
    ($s:expr, $u:expr, $($f:ident)::+ $(, $c:expr)*) => {
        match $s {
            1 => kinds!($u, $($f)::+, 1 $(, $c)*),
            2 => kinds!($u, $($f)::+, 2 $(, $c)*),
            _ => kinds!($u, $($f)::+, 4 $(, $c)*),
        }
    };
}

/// [`szk!`] for one size.
macro_rules! kinds {
    ($u:expr, $($f:ident)::+, $s:literal $(, $c:expr)*) => {
        match ($u.dst.kind(), $u.src.kind()) {
            (K_REG, K_REG) => $($f)::+::<$s $(, { $c })*, K_REG, K_REG> as Handler,
            (K_REG, K_MEM) => $($f)::+::<$s $(, { $c })*, K_REG, K_MEM> as Handler,
            (K_MEM, K_REG) => $($f)::+::<$s $(, { $c })*, K_MEM, K_REG> as Handler,
            (K_REG, K_IMM) => $($f)::+::<$s $(, { $c })*, K_REG, K_IMM> as Handler,
            (K_MEM, K_IMM) => $($f)::+::<$s $(, { $c })*, K_MEM, K_IMM> as Handler,
            _ => $($f)::+::<$s $(, { $c })*, K_ANY, K_ANY> as Handler,
        }
    };
}

/// The PUSH/POP instance of size 2 or 4 for the operand kind of the micro-op's `dst`.
macro_rules! stack_op {
    ($s:expr, $u:expr, $($f:ident)::+) => {
        match ($s == 4, $u.dst.kind()) {
            (true, K_REG) => $($f)::+::<4, K_REG> as Handler,
            (true, K_MEM) => $($f)::+::<4, K_MEM> as Handler,
            (true, K_IMM) => $($f)::+::<4, K_IMM> as Handler,
            (true, _) => $($f)::+::<4, K_ANY> as Handler,
            (false, K_REG) => $($f)::+::<2, K_REG> as Handler,
            (false, K_MEM) => $($f)::+::<2, K_MEM> as Handler,
            (false, K_IMM) => $($f)::+::<2, K_IMM> as Handler,
            (false, _) => $($f)::+::<2, K_ANY> as Handler,
        }
    };
}

/// The MOVZX/MOVSX instance for a source of kind `k` (register or memory).
macro_rules! movx {
    ($k:expr, $d:literal, $s:literal, $signed:literal) => {
        match $k {
            K_REG => data::movx::<$d, $s, $signed, K_REG> as Handler,
            K_MEM => data::movx::<$d, $s, $signed, K_MEM> as Handler,
            _ => data::movx::<$d, $s, $signed, K_ANY> as Handler,
        }
    };
}

/// The Jcc instance for condition code `cc` (0..15), so the condition is not dispatched on at
/// run time.
fn jcc_handler<const S: usize>(cc: u8) -> Handler {
    use control::jcc;
    [
        jcc::<S, 0>,
        jcc::<S, 1>,
        jcc::<S, 2>,
        jcc::<S, 3>,
        jcc::<S, 4>,
        jcc::<S, 5>,
        jcc::<S, 6>,
        jcc::<S, 7>,
        jcc::<S, 8>,
        jcc::<S, 9>,
        jcc::<S, 10>,
        jcc::<S, 11>,
        jcc::<S, 12>,
        jcc::<S, 13>,
        jcc::<S, 14>,
        jcc::<S, 15>,
    ][cc as usize & 15]
}

/// GPR number and size in bytes.
fn gpr(r: Register) -> Option<(u8, usize)> {
    use Register::*;
    Some(match r {
        AL => (0, 1),
        CL => (1, 1),
        DL => (2, 1),
        BL => (3, 1),
        AH => (4, 1),
        CH => (5, 1),
        DH => (6, 1),
        BH => (7, 1),
        AX => (0, 2),
        CX => (1, 2),
        DX => (2, 2),
        BX => (3, 2),
        SP => (4, 2),
        BP => (5, 2),
        SI => (6, 2),
        DI => (7, 2),
        EAX => (0, 4),
        ECX => (1, 4),
        EDX => (2, 4),
        EBX => (3, 4),
        ESP => (4, 4),
        EBP => (5, 4),
        ESI => (6, 4),
        EDI => (7, 4),
        _ => return Option::None,
    })
}

/// Segment register number.
fn sreg(r: Register) -> Option<u8> {
    use Register::*;
    Some(match r {
        ES => 0,
        CS => 1,
        SS => 2,
        DS => 3,
        FS => 4,
        GS => 5,
        _ => return Option::None,
    })
}

/// Control register number.
fn creg(r: Register) -> Option<u8> {
    use Register::*;
    Some(match r {
        CR0 => 0,
        CR1 => 1,
        CR2 => 2,
        CR3 => 3,
        CR4 => 4,
        CR5 => 5,
        CR6 => 6,
        CR7 => 7,
        _ => return Option::None,
    })
}

/// XMM or MMX register number.
pub(super) fn vreg(r: Register) -> Option<u8> {
    let n = r as u32;
    let (x0, m0) = (Register::XMM0 as u32, Register::MM0 as u32);
    if (x0..x0 + 8).contains(&n) {
        Some((n - x0) as u8)
    } else if (m0..m0 + 8).contains(&n) {
        Some((n - m0) as u8)
    } else {
        Option::None
    }
}

/// Debug register number.
fn dreg(r: Register) -> Option<u8> {
    use Register::*;
    Some(match r {
        DR0 => 0,
        DR1 => 1,
        DR2 => 2,
        DR3 => 3,
        DR4 => 4,
        DR5 => 5,
        DR6 => 6,
        DR7 => 7,
        _ => return Option::None,
    })
}

/// Condition code (low nibble of the Jcc/SETcc/CMOVcc opcode) of a mnemonic.
fn cc(m: Mnemonic) -> Option<u8> {
    use Mnemonic::*;
    Some(match m {
        Jo | Seto | Cmovo => 0,
        Jno | Setno | Cmovno => 1,
        Jb | Setb | Cmovb => 2,
        Jae | Setae | Cmovae => 3,
        Je | Sete | Cmove => 4,
        Jne | Setne | Cmovne => 5,
        Jbe | Setbe | Cmovbe => 6,
        Ja | Seta | Cmova => 7,
        Js | Sets | Cmovs => 8,
        Jns | Setns | Cmovns => 9,
        Jp | Setp | Cmovp => 10,
        Jnp | Setnp | Cmovnp => 11,
        Jl | Setl | Cmovl => 12,
        Jge | Setge | Cmovge => 13,
        Jle | Setle | Cmovle => 14,
        Jg | Setg | Cmovg => 15,
        _ => return Option::None,
    })
}

/// Prefix facts iced does not expose directly: operand/address-size overrides and the opcode
/// byte that follows the prefixes.
pub(super) struct Prefixes {
    pub(super) op32: bool,
    pub(super) addr32: bool,
    pub(super) opcode: u8,
    /// The byte after the opcode (ModRM for x87 instructions).
    pub(super) modrm: u8,
}

fn scan_prefixes(bytes: &[u8], bitness: u32) -> Prefixes {
    let (mut o, mut a) = (false, false);
    let mut opcode = 0;
    let mut modrm = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            0x66 => o = true,
            0x67 => a = true,
            0x26 | 0x2E | 0x36 | 0x3E | 0x64 | 0x65 | 0xF0 | 0xF2 | 0xF3 => {}
            _ => {
                opcode = b;
                modrm = bytes.get(i + 1).copied().unwrap_or(0);
                break;
            }
        }
    }
    let big = bitness == 32;
    Prefixes {
        op32: big ^ o,
        addr32: big ^ a,
        opcode,
        modrm,
    }
}

/// How the block goes on after an instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// With the next instruction in memory (a conditional branch included: when it is taken,
    /// the block stops there).
    Next,
    /// The block ends after it.
    End,
    /// A direct near JMP/CALL to this offset in CS: the block may go on at the target.
    Jump(u32),
}

/// The result of decoding one instruction.
pub(crate) enum Decoded {
    /// A micro-op and how its block goes on.
    Op(Uop, Flow),
    /// The bytes ran past the end of the fetch window (segment limit): #GP(0) when executed.
    Truncated,
}

/// Decodes the instruction at the start of `bytes` (whose first byte is at offset `ip`).
pub(crate) fn decode(bytes: &[u8], bitness: u32, ip: u32) -> Decoded {
    let mut dec = Decoder::with_ip(bitness, bytes, ip as u64, DecoderOptions::NONE);
    let ins = dec.decode();
    if ins.is_invalid() {
        if dec.last_error() == iced_x86::DecoderError::NoMoreBytes && bytes.len() < MAX_INSN_LEN {
            return Decoded::Truncated;
        }
        // Undecodable: #UD, with a length of 1 (EIP stays on it, as for any fault).
        return Decoded::Op(simple(system::ud, 1), Flow::End);
    }
    let p = scan_prefixes(bytes, bitness);
    let (u, ends) = translate(&ins, &p);
    let direct = matches!(ins.mnemonic(), Mnemonic::Jmp | Mnemonic::Call)
        && matches!(ins.op_kind(0), OpKind::NearBranch16 | OpKind::NearBranch32);
    let flow = match (ends, direct) {
        (false, _) => Flow::Next,
        (true, true) => Flow::Jump(ins.near_branch_target() as u32),
        (true, false) => Flow::End,
    };
    Decoded::Op(u, flow)
}

/// A micro-op with no operands.
fn simple(run: Handler, len: u8) -> Uop {
    Uop {
        run,
        len,
        prefix: 0,
        dst: Opnd::None,
        src: Opnd::None,
        mem: MemRef::default(),
        imm: 0,
        imm2: 0,
        advance: len as u32,
    }
}

/// The mnemonic of the instruction in `bytes` and its length (for error messages).
pub(crate) fn describe(bytes: &[u8], bitness: u32, ip: u32) -> (String, usize) {
    let mut dec = Decoder::with_ip(bitness, bytes, ip as u64, DecoderOptions::NONE);
    let ins = dec.decode();
    (format!("{:?}", ins.mnemonic()).to_lowercase(), ins.len())
}

/// Size in bytes of operand `i` (register or memory), or `None`.
fn operand_size(ins: &Instruction, i: u32) -> Option<usize> {
    match ins.op_kind(i) {
        OpKind::Register => gpr(ins.op_register(i)).map(|g| g.1),
        OpKind::Memory => match ins.memory_size().size() {
            0 => None,
            n => Some(n),
        },
        _ => None,
    }
}

/// Fills operands, immediates and the memory reference common to all instructions.
fn operands(ins: &Instruction, p: &Prefixes) -> Uop {
    let mut u = simple(system::ud, ins.len() as u8);
    if p.addr32 {
        u.prefix |= P_ADDR32;
    }
    if p.op32 {
        u.prefix |= P_OP32;
    }
    if ins.has_rep_prefix() {
        u.prefix |= P_REP;
    }
    if ins.has_repne_prefix() {
        u.prefix |= P_REPNE;
    }
    u.mem.seg = sreg(ins.memory_segment()).unwrap_or(3);
    u.mem.addr32 = p.addr32;
    let next_ip = ins.next_ip() as u32;
    for i in 0..ins.op_count().min(3) {
        let o = match ins.op_kind(i) {
            OpKind::Register => {
                let r = ins.op_register(i);
                if let Some(n) = vreg(r) {
                    Opnd::Reg(n)
                } else if let Some((n, _)) = gpr(r) {
                    if i == 2 {
                        // SHLD/SHRD count in CL
                        u.imm2 = 1;
                        Opnd::None
                    } else {
                        Opnd::Reg(n)
                    }
                } else {
                    if let Some(s) = sreg(r).or_else(|| creg(r)).or_else(|| dreg(r)) {
                        u.imm2 = s as u32;
                    }
                    Opnd::None
                }
            }
            OpKind::Memory => {
                u.mem.base = gpr(ins.memory_base()).map_or(NO_REG, |g| g.0);
                u.mem.index = gpr(ins.memory_index()).map_or(NO_REG, |g| g.0);
                u.mem.scale = ins.memory_index_scale().trailing_zeros() as u8;
                u.mem.disp = ins.memory_displacement32();
                Opnd::Mem
            }
            OpKind::Immediate8
            | OpKind::Immediate16
            | OpKind::Immediate32
            | OpKind::Immediate8to16
            | OpKind::Immediate8to32 => {
                u.imm = ins.immediate(i) as u32;
                Opnd::Imm
            }
            OpKind::Immediate8_2nd => {
                u.imm2 = ins.immediate8_2nd() as u32;
                Opnd::None
            }
            OpKind::NearBranch16 | OpKind::NearBranch32 => {
                u.imm = (ins.near_branch_target() as u32).wrapping_sub(next_ip);
                Opnd::None
            }
            OpKind::FarBranch16 | OpKind::FarBranch32 => {
                u.imm = if ins.op_kind(i) == OpKind::FarBranch16 {
                    ins.far_branch16() as u32
                } else {
                    ins.far_branch32()
                };
                u.imm2 = ins.far_branch_selector() as u32;
                Opnd::None
            }
            _ => Opnd::None,
        };
        match i {
            0 => u.dst = o,
            1 => u.src = o,
            _ => {}
        }
    }
    u
}

/// Chooses the handler; returns the micro-op and whether it ends a block.
fn translate(ins: &Instruction, p: &Prefixes) -> (Uop, bool) {
    use Mnemonic as M;
    let mut u = operands(ins, p);
    let osz = if p.op32 { 4 } else { 2 };
    let s0 = operand_size(ins, 0).unwrap_or(osz);
    let mut ends = false;
    let m = ins.mnemonic();
    if (0xD8..=0xDF).contains(&p.opcode) {
        u.run = super::decode_fp::x87_handler(ins, &mut u, p);
        return (u, false);
    }
    if let Some(h) = super::decode_fp::simd_handler(ins, &mut u) {
        u.run = h;
        return (u, false);
    }
    u.run = match m {
        M::Add => szk!(s0, u, alu::alu, alu::ADD),
        M::Or => szk!(s0, u, alu::alu, alu::OR),
        M::Adc => szk!(s0, u, alu::alu, alu::ADC),
        M::Sbb => szk!(s0, u, alu::alu, alu::SBB),
        M::And => szk!(s0, u, alu::alu, alu::AND),
        M::Sub => szk!(s0, u, alu::alu, alu::SUB),
        M::Xor => szk!(s0, u, alu::alu, alu::XOR),
        M::Cmp => szk!(s0, u, alu::alu, alu::CMP),
        M::Test => szk!(s0, u, alu::alu, alu::TEST),
        M::Inc => sz!(s0, alu::inc),
        M::Dec => sz!(s0, alu::dec),
        M::Neg => sz!(s0, alu::neg),
        M::Not => sz!(s0, alu::not),
        M::Mul => sz!(s0, muldiv::mul),
        M::Imul => match ins.op_count() {
            1 => sz!(s0, muldiv::imul1),
            2 => sz2!(s0, muldiv::imul2),
            _ => sz2!(s0, muldiv::imul3),
        },
        M::Div => sz!(s0, muldiv::div),
        M::Idiv => sz!(s0, muldiv::idiv),
        M::Rol => sz!(s0, shift::shift, shift::ROL),
        M::Ror => sz!(s0, shift::shift, shift::ROR),
        M::Rcl => sz!(s0, shift::shift, shift::RCL),
        M::Rcr => sz!(s0, shift::shift, shift::RCR),
        M::Shl | M::Sal => sz!(s0, shift::shift, shift::SHL),
        M::Shr => sz!(s0, shift::shift, shift::SHR),
        M::Sar => sz!(s0, shift::shift, shift::SAR),
        M::Shld => sz2!(s0, shift::double_shift, true),
        M::Shrd => sz2!(s0, shift::double_shift, false),
        M::Daa => bcd::daa_das::<false>,
        M::Das => bcd::daa_das::<true>,
        M::Aaa => bcd::aaa_aas::<false>,
        M::Aas => bcd::aaa_aas::<true>,
        M::Aam => bcd::aam,
        M::Aad => bcd::aad,
        M::Mov => {
            let k0 = ins.op_kind(0);
            let k1 = ins.op_kind(1);
            let r0 = if k0 == OpKind::Register {
                ins.op_register(0)
            } else {
                Register::None
            };
            let r1 = if k1 == OpKind::Register {
                ins.op_register(1)
            } else {
                Register::None
            };
            if sreg(r0).is_some() {
                ends = true;
                data::mov_to_seg
            } else if sreg(r1).is_some() {
                sz2!(s0, data::mov_from_seg)
            } else if creg(r0).is_some() {
                ends = true;
                system::mov_to_cr
            } else if creg(r1).is_some() {
                system::mov_from_cr
            } else if dreg(r0).is_some() {
                protected::mov_to_dr
            } else if dreg(r1).is_some() {
                protected::mov_from_dr
            } else if r0.is_tr() || r1.is_tr() {
                system::ud
            } else {
                szk!(s0, u, data::mov)
            }
        }
        M::Movzx | M::Movsx => {
            let src = operand_size(ins, 1).unwrap_or(1);
            let k = u.src.kind();
            // 66 0F B7/BF: a word source into a word destination (only the low word changes)
            match (s0, src, m == M::Movsx) {
                (2, 1, false) => movx!(k, 2, 1, false),
                (2, _, false) => movx!(k, 2, 2, false),
                (4, 1, false) => movx!(k, 4, 1, false),
                (_, _, false) => movx!(k, 4, 2, false),
                (2, 1, true) => movx!(k, 2, 1, true),
                (2, _, true) => movx!(k, 2, 2, true),
                (4, 1, true) => movx!(k, 4, 1, true),
                (_, _, true) => movx!(k, 4, 2, true),
            }
        }
        M::Xchg => sz!(s0, data::xchg),
        M::Lea => sz2!(s0, data::lea),
        M::Lds | M::Les | M::Lss | M::Lfs | M::Lgs => {
            u.imm2 = match m {
                M::Les => 0,
                M::Lss => 2,
                M::Lds => 3,
                M::Lfs => 4,
                _ => 5,
            };
            ends = m == M::Lss;
            sz2!(s0, data::load_far_pointer)
        }
        M::Xlatb => data::xlat,
        M::Cbw => data::cbw::<2>,
        M::Cwde => data::cbw::<4>,
        M::Cwd => data::cwd::<2>,
        M::Cdq => data::cwd::<4>,
        M::Bswap => sz2!(s0, data::bswap),
        M::Xadd => sz!(s0, data::xadd),
        M::Cmpxchg => sz!(s0, data::cmpxchg),
        M::Cmpxchg8b => data::cmpxchg8b,
        M::Lahf => data::lahf,
        M::Sahf => data::sahf,
        M::Salc => data::salc,
        // the hint-NOP space (0F 18-1F, SDM vol. 2, NOP and "Hint NOP"): ENDBR32/ENDBR64
        // (F3 0F 1E FA/FB) and RDSSP (F3 0F 1E /1) execute as NOPs on a CPU without CET
        M::Nop | M::Reservednop | M::Endbr32 | M::Endbr64 | M::Rdsspd | M::Rdsspq => data::nop,
        M::Pause => system::pause,
        M::Invd | M::Wbinvd => system::privileged_nop,
        M::Invlpg => {
            ends = true;
            protected::invlpg
        }
        M::Sldt => sz2!(s0, protected::store_system_selector),
        M::Str => {
            u.imm2 = 1;
            sz2!(s0, protected::store_system_selector)
        }
        M::Lldt => protected::lldt,
        M::Ltr => protected::ltr,
        M::Lar => sz2!(s0, protected::lar),
        M::Lsl => sz2!(s0, protected::lsl),
        M::Verr => protected::verify::<false>,
        M::Verw => protected::verify::<true>,
        M::Arpl => protected::arpl,
        M::Sysenter => {
            ends = true;
            protected::sysenter
        }
        M::Sysexit => {
            ends = true;
            protected::sysexit
        }
        M::Push => {
            if ins.op_kind(0) == OpKind::Register && sreg(ins.op_register(0)).is_some() {
                sz2!(osz, stack::push_seg)
            } else if ins.op_kind(0) == OpKind::Memory || ins.op_kind(0) == OpKind::Register {
                stack_op!(s0, u, stack::push)
            } else {
                stack_op!(osz, u, stack::push)
            }
        }
        M::Pop => {
            if ins.op_kind(0) == OpKind::Register && sreg(ins.op_register(0)).is_some() {
                ends = true;
                sz2!(osz, stack::pop_seg)
            } else {
                stack_op!(s0, u, stack::pop)
            }
        }
        M::Pusha => stack::pusha::<2>,
        M::Pushad => stack::pusha::<4>,
        M::Popa => stack::popa::<2>,
        M::Popad => stack::popa::<4>,
        M::Pushf => stack::pushf::<2>,
        M::Pushfd => stack::pushf::<4>,
        M::Popf => {
            ends = true;
            stack::popf::<2>
        }
        M::Popfd => {
            ends = true;
            stack::popf::<4>
        }
        M::Enter => sz2!(osz, stack::enter),
        M::Leave => sz2!(osz, stack::leave),
        M::Bt => sz2!(s0, bits::bt, bits::BT),
        M::Bts => sz2!(s0, bits::bt, bits::BTS),
        M::Btr => sz2!(s0, bits::bt, bits::BTR),
        M::Btc => sz2!(s0, bits::bt, bits::BTC),
        // Without BMI1/ABM (not advertised) F3 0F BC/BD execute as BSF/BSR.
        M::Bsf | M::Tzcnt => sz2!(s0, bits::bit_scan, false),
        M::Bsr | M::Lzcnt => sz2!(s0, bits::bit_scan, true),
        M::Clc | M::Stc | M::Cmc | M::Cld | M::Std | M::Cli | M::Sti => {
            let (bit, op) = match m {
                M::Clc => (flag::CF, 0),
                M::Stc => (flag::CF, 1),
                M::Cmc => (flag::CF, 2),
                M::Cld => (flag::DF, 0),
                M::Std => (flag::DF, 1),
                M::Cli => (flag::IF, 0),
                _ => (flag::IF, 1),
            };
            u.imm = op;
            u.imm2 = bit;
            ends = bit == flag::IF;
            system::flag_op
        }
        M::In => sz!(operand_size(ins, 0).unwrap_or(1), system::in_),
        M::Out => sz!(operand_size(ins, 1).unwrap_or(1), system::out),
        M::Cpuid => system::cpuid,
        M::Rdtsc => system::rdtsc,
        M::Rdrand | M::Rdseed => sz2!(s0, system::rdrand),
        M::Rdmsr => system::rdmsr,
        M::Wrmsr => system::wrmsr,
        M::Lgdt | M::Lidt => {
            u.imm2 = (m == M::Lidt) as u32;
            ends = true;
            sz2!(osz, system::load_table)
        }
        M::Sgdt | M::Sidt => {
            u.imm2 = (m == M::Sidt) as u32;
            system::store_table
        }
        M::Smsw => sz2!(s0, system::smsw),
        M::Lmsw => {
            ends = true;
            system::lmsw
        }
        M::Clts => system::clts,
        M::Wait => fpu::fwait,
        M::Finit | M::Fclex | M::Fstcw | M::Fstsw | M::Fstenv | M::Fsave => {
            u.imm = match m {
                M::Finit => 0,
                M::Fclex => 1,
                M::Fstcw => 2,
                M::Fstsw => 3,
                M::Fstenv => 4,
                _ => 5,
            };
            fpu::waiting_control
        }
        M::Fxsave => fpu::fxsave,
        M::Fxrstor => fpu::fxrstor,
        M::Hlt => control::hlt,
        M::Int => control::int_n,
        M::Int1 => {
            u.imm = 1;
            control::int_n
        }
        M::Int3 => control::int3,
        M::Into => control::into,
        M::Iret => control::iret::<2>,
        M::Iretd => control::iret::<4>,
        M::Bound => sz2!(s0, control::bound),
        M::Jmp => match ins.op_kind(0) {
            OpKind::NearBranch16 => control::jmp_rel::<2>,
            OpKind::NearBranch32 => control::jmp_rel::<4>,
            OpKind::FarBranch16 => control::jmp_far::<2>,
            OpKind::FarBranch32 => control::jmp_far::<4>,
            _ => match ins.code() {
                Code::Jmp_m1616 => control::jmp_far_mem::<2>,
                Code::Jmp_m1632 => control::jmp_far_mem::<4>,
                _ => sz2!(s0, control::jmp_near),
            },
        },
        M::Call => match ins.op_kind(0) {
            OpKind::NearBranch16 => control::call_rel::<2>,
            OpKind::NearBranch32 => control::call_rel::<4>,
            OpKind::FarBranch16 => control::call_far::<2>,
            OpKind::FarBranch32 => control::call_far::<4>,
            _ => match ins.code() {
                Code::Call_m1616 => control::call_far_mem::<2>,
                Code::Call_m1632 => control::call_far_mem::<4>,
                _ => sz2!(s0, control::call_near),
            },
        },
        M::Ret => match ins.code() {
            Code::Retnd | Code::Retnd_imm16 => control::ret::<4>,
            _ => control::ret::<2>,
        },
        M::Retf => match ins.code() {
            Code::Retfd | Code::Retfd_imm16 => control::retf::<4>,
            _ => control::retf::<2>,
        },
        M::Loop | M::Loope | M::Loopne | M::Jcxz | M::Jecxz => {
            u.imm2 = match m {
                M::Loop => 0,
                M::Loope => 1,
                M::Loopne => 2,
                _ => 3,
            };
            if ins.op_kind(0) == OpKind::NearBranch32 {
                control::loop_jcxz::<4>
            } else {
                control::loop_jcxz::<2>
            }
        }
        M::Ud0 | M::Ud1 | M::Ud2 => system::ud,
        _ => match string_handler(ins.code()) {
            Some(h) => h,
            None => match cc(m) {
                Some(c) => {
                    u.imm2 = c as u32;
                    match ins.op_kind(0) {
                        OpKind::NearBranch16 => jcc_handler::<2>(c),
                        OpKind::NearBranch32 => jcc_handler::<4>(c),
                        _ if ins.op_count() == 1 => data::setcc,
                        _ => sz2!(s0, data::cmov),
                    }
                }
                None => system::ud,
            },
        },
    };
    let branches = matches!(
        m,
        M::Jmp
            | M::Call
            | M::Ret
            | M::Retf
            | M::Int
            | M::Int1
            | M::Int3
            | M::Into
            | M::Iret
            | M::Iretd
            | M::Hlt
            | M::Bound
            | M::Ud0
            | M::Ud1
            | M::Ud2
    );
    (u, ends || branches)
}

/// Handlers of the string instructions, by exact code (the mnemonic `Movsd`/`Cmpsd` is shared
/// with SSE2 instructions).
fn string_handler(code: Code) -> Option<Handler> {
    use Code as C;
    Some(match code {
        C::Movsb_m8_m8 => string::movs::<1>,
        C::Movsw_m16_m16 => string::movs::<2>,
        C::Movsd_m32_m32 => string::movs::<4>,
        C::Cmpsb_m8_m8 => string::cmps::<1>,
        C::Cmpsw_m16_m16 => string::cmps::<2>,
        C::Cmpsd_m32_m32 => string::cmps::<4>,
        C::Scasb_AL_m8 => string::scas::<1>,
        C::Scasw_AX_m16 => string::scas::<2>,
        C::Scasd_EAX_m32 => string::scas::<4>,
        C::Lodsb_AL_m8 => string::lods::<1>,
        C::Lodsw_AX_m16 => string::lods::<2>,
        C::Lodsd_EAX_m32 => string::lods::<4>,
        C::Stosb_m8_AL => string::stos::<1>,
        C::Stosw_m16_AX => string::stos::<2>,
        C::Stosd_m32_EAX => string::stos::<4>,
        C::Insb_m8_DX => string::ins::<1>,
        C::Insw_m16_DX => string::ins::<2>,
        C::Insd_m32_DX => string::ins::<4>,
        C::Outsb_DX_m8 => string::outs::<1>,
        C::Outsw_DX_m16 => string::outs::<2>,
        C::Outsd_DX_m32 => string::outs::<4>,
        _ => return Option::None,
    })
}
