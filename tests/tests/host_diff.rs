//! Differential fuzzing of the integer instruction set against the host CPU.
//!
//! Method: a seeded generator builds short random sequences of unprivileged integer
//! instructions with iced-x86 (ALU, shifts/rotates, SHLD/SHRD, MUL/IMUL/DIV/IDIV, bit tests
//! and scans, MOVZX/MOVSX, XCHG/XADD/CMPXCHG, CMOVcc/SETcc, BSWAP, LEA, CBW..CDQ, LAHF/SAHF,
//! CLC/STC/CMC; 8-, 16- and 32-bit forms). Every instruction is encoded twice: for 32-bit
//! protected mode (run by vx86) and for 64-bit mode (run natively on this machine, the
//! reference). Only forms with identical semantics in both modes are used: operands are
//! AL..BH/AX..DI/EAX..EDI (no REX registers, never ESP), immediates and `[ebx+disp]` with
//! 32-bit addressing (iced adds the 0x67 prefix in 64-bit mode). EBX is the memory base and is
//! never written. Both sides start from the same registers, arithmetic flags and 4 KiB data
//! buffer at 0x0010_0000; afterwards the 32-bit GPRs, CF/PF/AF/ZF/SF/OF and the buffer must be
//! equal.
//!
//! Undefined flags: iced-x86's instruction info says which flags each instruction leaves
//! undefined. The generator keeps a running mask of flags that are currently undefined, never
//! emits an instruction that reads one of them, and the final comparison ignores them. What
//! the SDM leaves undefined but iced does not flag (CF of SHL/SHR by >= the operand width, OF
//! of RCL/RCR by a multiple of 9 or 17, 16-bit SHLD/SHRD by more than 16) is handled here: the
//! generator tracks CL to know shift counts and pins CL where needed. DIV/IDIV operands are set
//! up so that #DE cannot occur (`mov edx,imm`/CDQ and a non-zero divisor just before).
//!
//! A differing sequence is re-run on its prefixes to find the first differing instruction.
//!
//! Host side (x86-64 Linux only): a 2 MiB RWX mapping at the fixed address 0x0010_0000 holds
//! the data buffer and, at 0x0011_0000, the 64-bit code followed by `ret`; an `asm!` trampoline
//! loads the registers and flags, calls it, and stores registers and `pushfq` back.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use iced_x86::{
    Code, Encoder, EncodingKind, Instruction, InstructionInfoFactory, MemoryOperand, Mnemonic,
    OpAccess, OpCodeOperandKind as K, OpKind, Register, RflagsBits, UsedRegister,
};
use vx86_core::cpu::flag;
use vx86_core::{Machine, MachineConfig};
use vx86_tests::host_cpu::{map_host_area, run_host, run_vx86, State, DATA, DATA_LEN, EBX_BASE};

use vx86_tests::host_cpu::ARITH;
const SEQUENCES: usize = 20_000;

/// xorshift64: fixed seed, no host entropy.
/// The shared seeded generator with this test's helpers on top.
struct Rng(vx86_tests::util::Rng);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn coin(&mut self) -> bool {
        self.next() & 1 == 0
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len() as u64) as usize]
    }
    /// A 32-bit value biased towards the edges of the 8-, 16- and 32-bit ranges.
    fn val(&mut self) -> u32 {
        const EDGE: [u32; 14] = [
            0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
            0xFFFFFF80, 0x8080,
        ];
        match self.below(8) {
            0..=2 => self.pick(&EDGE),
            3 => (self.next() as u32 & !0xFF) | self.pick(&EDGE) & 0xFF, // random high, edge low
            4 => self.below(40) as u32,
            _ => self.next() as u32,
        }
    }
    /// A shift/rotate count: mostly 0..=33, sometimes any byte (the CPU masks it).
    fn count(&mut self) -> u8 {
        let n = if self.below(4) == 0 { 256 } else { 34 };
        self.below(n) as u8
    }
}

/// The arithmetic flags as EFLAGS bits and as iced's `RflagsBits`, in "CPAZSO" order.
const FLAGS: [u32; 6] = [flag::CF, flag::PF, flag::AF, flag::ZF, flag::SF, flag::OF];
const ICED_FLAGS: [u32; 6] = {
    use RflagsBits as R;
    [R::CF, R::PF, R::AF, R::ZF, R::SF, R::OF]
};

/// iced's RflagsBits -> EFLAGS bits.
fn eflags(iced: u32) -> u32 {
    (0..6)
        .filter(|&i| iced & ICED_FLAGS[i] != 0)
        .fold(0, |a, i| a | FLAGS[i])
}

fn writes(a: OpAccess) -> bool {
    matches!(
        a,
        OpAccess::Write | OpAccess::CondWrite | OpAccess::ReadWrite | OpAccess::ReadCondWrite
    )
}

const R8: [Register; 8] = {
    use Register::*;
    [AL, CL, DL, BL, AH, CH, DH, BH] // no REX: 4..7 are AH..BH in both modes
};
const R16: [Register; 7] = {
    use Register::*;
    [AX, CX, DX, BX, BP, SI, DI]
};
const R32: [Register; 7] = {
    use Register::*;
    [EAX, ECX, EDX, EBX, EBP, ESI, EDI]
};
const CC: [&str; 16] = [
    "o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g",
];
const FAMILIES: [&str; 51] = [
    "Add", "Or", "Adc", "Sbb", "And", "Sub", "Xor", "Cmp", "Test", "Inc", "Dec", "Neg", "Not",
    "Mul", "Imul", "Div", "Idiv", "Rol", "Ror", "Rcl", "Rcr", "Shl", "Shr", "Sar", "Shld", "Shrd",
    "Bt", "Bts", "Btr", "Btc", "Bsf", "Bsr", "Movzx", "Movsx", "Mov", "Xchg", "Xadd", "Cmpxchg",
    "Bswap", "Lea", "Cbw", "Cwde", "Cwd", "Cdq", "Lahf", "Sahf", "Clc", "Stc", "Cmc", "Cmov",
    "Set",
];
const SHIFTS: [Mnemonic; 9] = {
    use Mnemonic::*;
    [Rol, Ror, Rcl, Rcr, Shl, Shr, Sar, Shld, Shrd]
};

/// Operand kinds the generator can fill in.
fn supported(k: K) -> bool {
    use K::*;
    let a = [r8_reg, r8_opcode, r16_reg, r16_rm, r16_opcode];
    let b = [r32_reg, r32_rm, r32_opcode, r8_or_mem, r16_or_mem];
    let c = [r32_or_mem, mem, al, cl, ax, eax, imm8, imm16, imm32];
    let d = [imm8sex16, imm8sex32];
    k == imm8_const_1 || [&a[..], &b, &c, &d].concat().contains(&k)
}

/// Instruction families (CMOVcc and SETcc count as one each) and their usable `Code`s: legacy
/// encodings valid in both 32- and 64-bit mode, no 64-bit operand size, supported operands.
fn families() -> Vec<(String, Vec<Code>)> {
    let cc = |n: &str, p: &str| n.strip_prefix(p).is_some_and(|c| CC.contains(&c));
    let mut out: Vec<(String, Vec<Code>)> = FAMILIES.map(|n| (n.to_string(), vec![])).into();
    for code in Code::values() {
        let oc = code.op_code();
        if oc.encoding() != EncodingKind::Legacy
            || !oc.is_instruction()
            || !oc.mode32()
            || !oc.mode64()
            || oc.operand_size() == 64
            || oc.is_privileged()
            || code == Code::Bswap_r16 // result undefined
            || !oc.op_kinds().iter().all(|&k| supported(k))
        {
            continue;
        }
        let n = format!("{:?}", code.mnemonic());
        let g = ["Cmov", "Set"]
            .into_iter()
            .find(|p| cc(&n, p))
            .unwrap_or(&n);
        if let Some(f) = out.iter_mut().find(|(n, _)| *n == g) {
            f.1.push(code);
        }
    }
    if let Some((n, _)) = out.iter().find(|(_, c)| c.is_empty()) {
        panic!("no usable encodings for {n}");
    }
    out
}

#[derive(Clone, Copy)]
enum Op {
    R(Register),
    I(u32),
    M(MemoryOperand),
}

fn make(code: Code, ops: &[Op]) -> Instruction {
    use Op::*;
    let r = match *ops {
        [] => Ok(Instruction::with(code)),
        [R(a)] => Instruction::with1(code, a),
        [M(a)] => Instruction::with1(code, a),
        [R(a), R(b)] => Instruction::with2(code, a, b),
        [R(a), I(b)] => Instruction::with2(code, a, b),
        [R(a), M(b)] => Instruction::with2(code, a, b),
        [M(a), R(b)] => Instruction::with2(code, a, b),
        [M(a), I(b)] => Instruction::with2(code, a, b),
        [R(a), R(b), R(c)] => Instruction::with3(code, a, b, c),
        [R(a), R(b), I(c)] => Instruction::with3(code, a, b, c),
        [R(a), M(b), I(c)] => Instruction::with3(code, a, b, c),
        [M(a), R(b), R(c)] => Instruction::with3(code, a, b, c),
        [M(a), R(b), I(c)] => Instruction::with3(code, a, b, c),
        _ => panic!("unexpected operand combination for {code:?}"),
    };
    r.unwrap_or_else(|e| panic!("{code:?}: {e}"))
}

/// `mov reg, imm` of the register's width (no flags touched).
fn mov_imm(r: Register, v: u32) -> Instruction {
    match r.size() {
        1 => make(Code::Mov_r8_imm8, &[Op::R(r), Op::I(v & 0xFF)]),
        2 => make(Code::Mov_r16_imm16, &[Op::R(r), Op::I(v & 0xFFFF)]),
        _ => make(Code::Mov_r32_imm32, &[Op::R(r), Op::I(v)]),
    }
}

fn width(ins: &Instruction) -> u32 {
    8 * match ins.op0_kind() {
        OpKind::Register => ins.op0_register().size(),
        _ => ins.memory_size().size(),
    } as u32
}

/// The generator: what it knows while it emits a sequence.
struct Gen {
    rng: Rng,
    fams: Vec<(String, Vec<Code>)>,
    info: InstructionInfoFactory,
    /// EFLAGS bits whose value is currently architecturally undefined.
    undef: u32,
    /// CL, when the generator knows it (shift counts decide which flags get defined).
    cl: Option<u8>,
}

impl Gen {
    fn mem(&mut self) -> MemoryOperand {
        // [ebx], [ebx+disp8] or [ebx+disp32]; every access stays inside the 4 KiB buffer
        let (d, size) = match self.rng.below(3) {
            0 => (0, 0),
            1 => (self.rng.next() as i8 as i64, 1),
            _ => (self.rng.below(0xFA0) as i64 - 0x7E0, 4),
        };
        MemoryOperand::with_base_displ_size(Register::EBX, d, size)
    }

    /// LEA's address: any base/index (never ESP), any scale, any displacement.
    fn lea_mem(&mut self) -> MemoryOperand {
        let rng = &mut self.rng;
        let any = [&R32[..], &[Register::None; 3]].concat();
        let (mut base, index) = (rng.pick(&any), rng.pick(&any));
        if base == Register::None && index == Register::None {
            base = Register::EAX;
        }
        let d = rng.val() as i32 as i64;
        let (d, size) = [(0, 0), (d as i8 as i64, 1), (d, 4)][rng.below(3) as usize];
        MemoryOperand::with_base_index_scale_displ_size(base, index, 1 << rng.below(4), d, size)
    }

    fn operand(&mut self, k: K, shift: bool) -> Op {
        use K::*;
        if matches!(k, r8_or_mem | r16_or_mem | r32_or_mem | mem) && self.rng.coin() {
            return Op::M(if k == mem { self.lea_mem() } else { self.mem() });
        }
        let rng = &mut self.rng;
        match k {
            r8_reg | r8_opcode => Op::R(rng.pick(&R8)),
            r16_reg | r16_rm | r16_opcode => Op::R(rng.pick(&R16)),
            r32_reg | r32_rm | r32_opcode => Op::R(rng.pick(&R32)),
            r8_or_mem => Op::R(rng.pick(&R8)),
            r16_or_mem => Op::R(rng.pick(&R16)),
            r32_or_mem => Op::R(rng.pick(&R32)),
            mem => Op::M(self.lea_mem()),
            al => Op::R(Register::AL),
            cl => Op::R(Register::CL),
            ax => Op::R(Register::AX),
            eax => Op::R(Register::EAX),
            imm8 if shift => Op::I(rng.count() as u32),
            imm8 => Op::I(rng.val() & 0xFF),
            imm8_const_1 => Op::I(1),
            imm8sex16 => Op::I(rng.val() as i8 as i16 as u16 as u32),
            imm8sex32 => Op::I(rng.val() as i8 as i32 as u32),
            imm16 => Op::I(rng.val() & 0xFFFF),
            imm32 => Op::I(rng.val()),
            _ => unreachable!("{k:?}"),
        }
    }

    /// DIV/IDIV with operands set up so that no #DE can occur: the high half of the dividend
    /// is below the divisor (DIV) or the sign extension of the low half (IDIV), and the divisor
    /// is neither 0 nor (IDIV) -1.
    fn division(&mut self, signed: bool, pre: &mut Vec<Instruction>) -> Instruction {
        use Register::*;
        let (w, mask, hi, divisors) = match self.rng.below(3) {
            0 => (8, 0xFF, AH, [CL, CH, DL, DH]),
            1 => (16, 0xFFFF, DX, [CX, BP, SI, DI]),
            _ => (32, u32::MAX, EDX, [ECX, EBP, ESI, EDI]),
        };
        let mut d = self.rng.val() & mask;
        while d == 0 || (signed && d == mask) {
            d = self.rng.val() & mask;
        }
        pre.push(match (signed, w) {
            (true, 8) => Instruction::with(Code::Cbw),
            (true, 16) => Instruction::with(Code::Cwd),
            (true, _) => Instruction::with(Code::Cdq),
            // DIV: a high half below the divisor (0 half of the time) cannot overflow
            _ => mov_imm(hi, self.rng.next() as u32 % d * self.rng.below(2) as u32),
        });
        let codes = match (signed, w) {
            (false, 8) => [Code::Div_rm8, Code::Mov_rm8_imm8],
            (false, 16) => [Code::Div_rm16, Code::Mov_rm16_imm16],
            (false, _) => [Code::Div_rm32, Code::Mov_rm32_imm32],
            (true, 8) => [Code::Idiv_rm8, Code::Mov_rm8_imm8],
            (true, 16) => [Code::Idiv_rm16, Code::Mov_rm16_imm16],
            (true, _) => [Code::Idiv_rm32, Code::Mov_rm32_imm32],
        };
        let src = if self.rng.coin() {
            let m = self.mem();
            pre.push(make(codes[1], &[Op::M(m), Op::I(d)]));
            Op::M(m)
        } else {
            let r = self.rng.pick(&divisors);
            pre.push(mov_imm(r, d));
            Op::R(r)
        };
        make(codes[0], &[src])
    }

    /// One instruction, possibly preceded by set-up instructions (MOV/CBW/CWD/CDQ, which leave
    /// the flags alone). Returns them in order and updates the generator's knowledge.
    fn one(&mut self, out: &mut Vec<(Instruction, u32)>) {
        loop {
            let f = self.rng.below(self.fams.len() as u64) as usize;
            let name = self.fams[f].0.clone();
            let mut pre = Vec::new();
            let ins = match name.as_str() {
                "Div" | "Idiv" => self.division(name == "Idiv", &mut pre),
                _ => {
                    let code = self.rng.pick(&self.fams[f].1);
                    let shift = SHIFTS.contains(&code.mnemonic());
                    let kinds = code.op_code().op_kinds();
                    let ops: Vec<Op> = kinds.iter().map(|&k| self.operand(k, shift)).collect();
                    make(code, &ops)
                }
            };
            let m = ins.mnemonic();
            // EBX (the memory base) and ESP are never written; ESP is never touched at all
            let bad = self.info.info(&ins).used_registers().iter().any(|u| {
                let full = u.register().full_register32();
                full == Register::ESP || (full == Register::EBX && writes(u.access()))
            });
            if bad {
                continue;
            }
            let last = ins.op_count().saturating_sub(1);
            if SHIFTS.contains(&m) && ins.op_kind(last) == OpKind::Register {
                // count in CL: SHLD/SHRD r/m16 by more than 16 leave the result undefined, so
                // pin CL then; otherwise sometimes pin it to get exact flag knowledge
                let long16 = matches!(m, Mnemonic::Shld | Mnemonic::Shrd)
                    && width(&ins) == 16
                    && self.cl.map_or(true, |c| c & 31 > 16);
                if long16 {
                    pre.push(mov_imm(Register::CL, self.rng.below(17) as u32));
                } else if self.rng.below(4) == 0 {
                    pre.push(mov_imm(Register::CL, self.rng.count() as u32));
                }
            } else if matches!(m, Mnemonic::Shld | Mnemonic::Shrd)
                && width(&ins) == 16
                && ins.immediate8() & 31 > 16
            {
                continue;
            }
            let bit_test = [Mnemonic::Bt, Mnemonic::Bts, Mnemonic::Btr, Mnemonic::Btc];
            if bit_test.contains(&m)
                && ins.op0_kind() == OpKind::Memory
                && ins.op1_kind() == OpKind::Register
            {
                // a register bit offset addresses memory outside the operand: keep it small
                let r = ins.op1_register();
                if r.full_register32() == Register::EBX {
                    continue;
                }
                pre.push(mov_imm(r, (self.rng.below(256) as i32 - 128) as u32));
            }
            if eflags(ins.rflags_read()) & self.undef != 0 {
                continue; // would read an undefined flag
            }
            for i in pre.into_iter().chain([ins]) {
                self.apply(&i);
                out.push((i, self.undef));
            }
            return;
        }
    }

    /// Updates the undefined-flag mask and the knowledge of CL after `ins`.
    fn apply(&mut self, ins: &Instruction) {
        let m = ins.mnemonic();
        let modified = eflags(ins.rflags_modified());
        let mut undef = eflags(ins.rflags_undefined());
        let last = ins.op_count().saturating_sub(1);
        if SHIFTS.contains(&m) {
            // iced already resolves immediate counts (count 0: no flag changes; count 1: OF
            // defined). CL counts are resolved here when CL is known; a count of 0 leaves
            // every flag as it was, so an unknown count can define nothing.
            let count = match ins.op_kind(last) {
                OpKind::Register => self.cl,
                _ => Some(ins.immediate8()),
            };
            // SDM (SAL/SAR/SHL/SHR): CF is undefined for SHL/SHR by >= the operand width
            let w = width(ins);
            let wide = count.map_or(w < 32, |c| u32::from(c & 31) >= w);
            if matches!(m, Mnemonic::Shl | Mnemonic::Shr) && wide {
                undef |= flag::CF;
            }
            // SDM (RCL/RCR): OF is undefined for masked counts > 1, even when the count is a
            // multiple of 9 (17) and nothing rotates; iced reports "no flags" for that case
            if matches!(m, Mnemonic::Rcl | Mnemonic::Rcr) && count.map_or(true, |c| c & 31 > 1) {
                undef |= flag::OF;
            }
            match count {
                Some(c) if c & 31 == 0 => {}
                Some(_) => self.undef = (self.undef & !modified) | undef,
                None => self.undef |= undef,
            }
        } else {
            self.undef = (self.undef & !modified) | undef;
        }
        // CL knowledge: set by `mov cl/cx/ecx, imm`, lost on any other write to CL
        let c_regs = [Register::CL, Register::CX, Register::ECX, Register::RCX];
        let set_cl = [Code::Mov_r8_imm8, Code::Mov_r16_imm16, Code::Mov_r32_imm32];
        let clobbers = |u: &UsedRegister| c_regs.contains(&u.register()) && writes(u.access());
        if set_cl.contains(&ins.code()) && c_regs.contains(&ins.op0_register()) {
            self.cl = Some(ins.immediate32() as u8);
        } else if self.info.info(ins).used_registers().iter().any(clobbers) {
            self.cl = None;
        }
    }
}

fn flags_str(f: u32) -> String {
    let bit = |(c, b): (char, u32)| if f & b != 0 { c } else { '-' };
    "CPAZSO".chars().zip(FLAGS).map(bit).collect()
}

fn regs_str(s: &State) -> String {
    let n = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
    let r: Vec<String> = (0..8)
        .filter(|&i| i != 4)
        .map(|i| format!("{}={:08x}", n[i], s.regs[i]))
        .collect();
    format!("{} flags={}", r.join(" "), flags_str(s.eflags & ARITH))
}

/// One generated instruction: its two encodings and the undefined flags after it.
struct Step {
    ins: Instruction,
    b32: Vec<u8>,
    b64: Vec<u8>,
    undef: u32,
}

/// Runs `steps` on the host and on vx86 from `init`; describes the difference, if any.
fn diff(m: &mut Machine, init: &State, steps: &[Step]) -> Option<String> {
    let code64: Vec<u8> = steps.iter().flat_map(|s| s.b64.iter().copied()).collect();
    let code32: Vec<u8> = steps.iter().flat_map(|s| s.b32.iter().copied()).collect();
    let host = run_host(init, &code64);
    // harness check: the reference itself must be deterministic
    assert!(run_host(init, &code64) == host, "host run not reproducible");
    let v = match run_vx86(m, init, &code32, steps.len()) {
        Ok(v) => v,
        Err(e) => return Some(format!("  host:    {}\n  {e}\n", regs_str(&host))),
    };
    let undef = steps.last().map_or(0, |s| s.undef);
    let bad: Vec<usize> = (0..DATA_LEN).filter(|&i| v.mem[i] != host.mem[i]).collect();
    if v.regs == host.regs && (v.eflags ^ host.eflags) & ARITH & !undef == 0 && bad.is_empty() {
        return None;
    }
    let (h, x) = (regs_str(&host), regs_str(&v));
    let mut s = format!("  host:    {h}\n  vx86:    {x}\n");
    if let Some(&b) = bad.first() {
        let e = DATA_LEN.min(b + 4);
        s += &format!(
            "  memory: {} bytes differ, first at {:#x}: host {:02x?} vx86 {:02x?}\n",
            bad.len(),
            DATA + b as u64,
            &host.mem[b..e],
            &v.mem[b..e]
        );
    }
    Some(s + &format!("  undefined flags (ignored): {}\n", flags_str(undef)))
}

#[test]
fn integer_sequences_match_the_host_cpu() {
    map_host_area();
    let mut gen = Gen {
        rng: Rng(vx86_tests::util::Rng(0x9E37_79B9_7F4A_7C15)),
        fams: families(),
        info: InstructionInfoFactory::new(),
        undef: 0,
        cl: None,
    };
    let config = MachineConfig {
        ram_size: 4 << 20,
        ..MachineConfig::default()
    };
    let mut machine = Machine::new(config).unwrap();
    let (mut total, mut differed, mut reports) = (0usize, 0usize, Vec::new());
    let mut by_code = std::collections::BTreeMap::<String, usize>::new();
    for seq in 0..SEQUENCES {
        let rng = &mut gen.rng;
        let mut regs = [0u32; 8].map(|_| rng.val());
        if rng.coin() {
            regs[1] = rng.below(40) as u32 | (regs[1] & !0xFF); // small shift count in CL
        }
        regs[3] = EBX_BASE;
        regs[4] = 0x8_0000; // vx86's ESP; never used
        let mut mem = vec![0u8; DATA_LEN];
        for b in mem.chunks_mut(4) {
            b.copy_from_slice(&rng.val().to_le_bytes());
        }
        let init = State {
            regs,
            eflags: rng.next() as u32 & ARITH,
            mem,
        };
        gen.undef = 0;
        gen.cl = Some(regs[1] as u8);
        let (mut steps, mut insts) = (Vec::new(), Vec::new());
        for _ in 0..1 + gen.rng.below(6) {
            insts.clear();
            gen.one(&mut insts);
            for &(ins, undef) in &insts {
                let (mut e32, mut e64) = (Encoder::new(32), Encoder::new(64));
                e32.encode(&ins, 0).unwrap_or_else(|e| panic!("{ins}: {e}"));
                e64.encode(&ins, 0).unwrap_or_else(|e| panic!("{ins}: {e}"));
                let (b32, b64) = (e32.take_buffer(), e64.take_buffer());
                steps.push(Step {
                    ins,
                    b32,
                    b64,
                    undef,
                });
            }
        }
        total += steps.len();
        if diff(&mut machine, &init, &steps).is_none() {
            continue;
        }
        differed += 1;
        // the shortest prefix that differs pins down the first differing instruction
        let k = (1..=steps.len())
            .find(|&k| diff(&mut machine, &init, &steps[..k]).is_some())
            .unwrap();
        let code = format!("{:?}", steps[k - 1].ins.code());
        *by_code.entry(code).or_default() += 1;
        if reports.len() < 20 {
            let n = steps.len();
            let mut r = format!("sequence {seq} ({n} instructions), first difference after {k}:\n");
            for (i, s) in steps[..k].iter().enumerate() {
                r += &format!("    {:<34} ; {:02x?}", s.ins.to_string(), s.b32);
                if s.ins.memory_base() == Register::EBX && s.ins.mnemonic() != Mnemonic::Lea {
                    // the memory operand's initial contents
                    let a = EBX_BASE.wrapping_add(s.ins.memory_displacement32()) as usize
                        - DATA as usize;
                    let size = s.ins.memory_size().size();
                    r += &format!(
                        " [{:#x}] = {:02x?}",
                        DATA as usize + a,
                        &init.mem[a..a + size]
                    );
                }
                r += if i + 1 == k { "  <==\n" } else { "\n" };
            }
            r += &format!("  initial: {}\n", regs_str(&init));
            reports.push(r + &diff(&mut machine, &init, &steps[..k]).unwrap());
        }
    }
    println!("host_diff: {SEQUENCES} sequences, {total} instructions, {differed} differed");
    println!("first differing instruction (iced Code: sequences): {by_code:?}");
    for r in &reports {
        println!("{r}");
    }
    assert_eq!(differed, 0, "vx86 differs from the host CPU (see above)");
}
