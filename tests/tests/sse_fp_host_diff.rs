//! Differential fuzzing of the SSE/SSE2 floating-point instructions against the host CPU.
//!
//! Method: a seeded generator builds random sequences with iced-x86: LDMXCSR with a random
//! rounding mode, DAZ and FTZ (all exceptions masked, so the host never traps), loads of
//! XMM0-7 and MM0-7, then random ADD/SUB/MUL/DIV/MIN/MAX/SQRT (PS, SS, PD, SD), CMPcc
//! (PS, SS, PD, SD), COMIS/UCOMIS, every CVT form (to and from XMM, MMX and 32-bit GPRs) and
//! the bitwise ANDPS/ORPS/XORPS, ending with stores of every XMM and MMX register, STMXCSR and
//! EMMS. Operands are registers or `[ebx+disp]` slots (16-byte aligned) holding values biased
//! towards the special encodings. Each instruction is encoded for 32-bit protected mode (run by
//! vx86) and 64-bit mode (run natively: the reference); the semantics of these forms do not
//! depend on the mode. Compared: EAX..EDI, the arithmetic flags and the data buffer (every
//! register dump and MXCSR with its sticky exception flags), bit for bit.
//!
//! Left out: RCPPS/RCPSS/RSQRTPS/RSQRTSS (their approximations are model-specific; a unit test
//! checks vx86's error bound) and unmasked exceptions.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use iced_x86::{
    Code, EncodingKind, Instruction, MemoryOperand, Mnemonic, OpCodeOperandKind as K, Register,
};
use vx86_core::{Machine, MachineConfig};
use vx86_tests::host_cpu::{
    data_offset, ebx_mem, encode, map_host_area, run_host, run_vx86, State, ARITH, DATA_LEN,
    EBX_BASE,
};
use vx86_tests::util::Rng;

const SEQUENCES: usize = 40_000;
/// 16-byte value slots read by loads: [ebx-0x800, ebx-0x400).
const LOAD_SLOTS: i32 = -0x800;
const SLOTS: i32 = 64;
/// Register dumps: XMM0-7 then MM0-7.
const DUMP_AT: i32 = 0x500;
/// MXCSR to load at the start, the final MXCSR, and the default restored for the host.
const MXCSR_IN: i32 = 0x700;
const MXCSR_OUT: i32 = 0x704;
const MXCSR_DEFAULT: i32 = 0x708;
/// Instructions before the random part: LDMXCSR, 8 MOVDQA and 8 MOVQ loads.
const PREAMBLE: usize = 17;

const MNEMONICS: [Mnemonic; 59] = {
    use Mnemonic::*;
    [
        Addps, Addss, Addpd, Addsd, Subps, Subss, Subpd, Subsd, Mulps, Mulss, Mulpd, Mulsd, Divps,
        Divss, Divpd, Divsd, Minps, Minss, Minpd, Minsd, Maxps, Maxss, Maxpd, Maxsd, Sqrtps,
        Sqrtss, Sqrtpd, Sqrtsd, Cmpps, Cmpss, Cmppd, Cmpsd, Comiss, Ucomiss, Comisd, Ucomisd,
        Cvtss2sd, Cvtsd2ss, Cvtps2pd, Cvtpd2ps, Cvtdq2ps, Cvtps2dq, Cvttps2dq, Cvtdq2pd, Cvtpd2dq,
        Cvttpd2dq, Cvtpi2ps, Cvtps2pi, Cvttps2pi, Cvtpi2pd, Cvtpd2pi, Cvttpd2pi, Cvtss2si,
        Cvttss2si, Cvtsd2si, Cvttsd2si, Cvtsi2ss, Cvtsi2sd, Andps,
    ]
};

/// The usable encodings: legacy, valid in both modes, 32-bit GPR forms only.
fn codes() -> Vec<Code> {
    let ok = |k: K| {
        use K::*;
        matches!(
            k,
            xmm_reg | xmm_or_mem | mm_reg | mm_or_mem | r32_reg | r32_or_mem | imm8 | mem
        )
    };
    let v: Vec<Code> = Code::values()
        .filter(|c| {
            let oc = c.op_code();
            oc.encoding() == EncodingKind::Legacy
                && oc.is_instruction()
                && oc.mode32()
                && oc.mode64()
                && oc.operand_size() != 64
                && MNEMONICS.contains(&c.mnemonic())
                && oc.op_kinds().iter().all(|&k| ok(k))
        })
        .collect();
    for m in MNEMONICS {
        assert!(v.iter().any(|c| c.mnemonic() == m), "no encoding for {m:?}");
    }
    v
}

/// GPRs an instruction may write or read: never EBX (the base) or ESP.
const GPRS: [Register; 6] = {
    use Register::*;
    [EAX, ECX, EDX, EBP, ESI, EDI]
};

fn instruction(rng: &mut Rng, code: Code) -> Instruction {
    #[derive(Clone, Copy)]
    enum Op {
        R(Register),
        M(MemoryOperand),
        I(u32),
    }
    let load_slot = |rng: &mut Rng| ebx_mem(LOAD_SLOTS + 16 * rng.below(SLOTS as u64) as i32);
    let ops: Vec<Op> = code
        .op_code()
        .op_kinds()
        .iter()
        .map(|&k| {
            let reg_or_mem = rng.below(3) != 0;
            match k {
                K::xmm_reg => Op::R(Register::XMM0 + rng.below(8) as u32),
                K::mm_reg => Op::R(Register::MM0 + rng.below(8) as u32),
                K::r32_reg => Op::R(rng.pick(&GPRS)),
                K::xmm_or_mem if reg_or_mem => Op::R(Register::XMM0 + rng.below(8) as u32),
                K::mm_or_mem if reg_or_mem => Op::R(Register::MM0 + rng.below(8) as u32),
                K::r32_or_mem if reg_or_mem => Op::R(rng.pick(&GPRS)),
                K::imm8 => Op::I(rng.below(8) as u32),
                _ => Op::M(load_slot(rng)),
            }
        })
        .collect();
    use Op::*;
    let r = match ops[..] {
        [R(a), R(b)] => Instruction::with2(code, a, b),
        [R(a), M(b)] => Instruction::with2(code, a, b),
        [M(a), R(b)] => Instruction::with2(code, a, b),
        [R(a), R(b), I(c)] => Instruction::with3(code, a, b, c),
        [R(a), M(b), I(c)] => Instruction::with3(code, a, b, c),
        _ => panic!("{code:?}: unexpected operands"),
    };
    r.unwrap_or_else(|e| panic!("{code:?}: {e}"))
}

fn sequence(rng: &mut Rng, codes: &[Code]) -> Vec<Instruction> {
    let mut v = vec![Instruction::with1(Code::Ldmxcsr_m32, ebx_mem(MXCSR_IN)).unwrap()];
    for i in 0..8 {
        let slot = ebx_mem(LOAD_SLOTS + 16 * rng.below(SLOTS as u64) as i32);
        let x = Register::XMM0 + i;
        v.push(Instruction::with2(Code::Movdqa_xmm_xmmm128, x, slot).unwrap());
    }
    for i in 0..8 {
        let slot = ebx_mem(LOAD_SLOTS + 16 * rng.below(SLOTS as u64) as i32);
        let m = Register::MM0 + i;
        v.push(Instruction::with2(Code::Movq_mm_mmm64, m, slot).unwrap());
    }
    for _ in 0..1 + rng.below(10) {
        let code = rng.pick(codes);
        v.push(instruction(rng, code));
    }
    v
}

/// The closing dump: XMM0-7, MM0-7, MXCSR, then the default MXCSR back and EMMS (the host's
/// Rust code expects both).
fn epilogue() -> Vec<Instruction> {
    let mut v = Vec::new();
    for i in 0..8 {
        let at = ebx_mem(DUMP_AT + 16 * i as i32);
        v.push(Instruction::with2(Code::Movdqu_xmmm128_xmm, at, Register::XMM0 + i).unwrap());
    }
    for i in 0..8 {
        let at = ebx_mem(DUMP_AT + 0x80 + 8 * i as i32);
        v.push(Instruction::with2(Code::Movq_mmm64_mm, at, Register::MM0 + i).unwrap());
    }
    v.push(Instruction::with1(Code::Stmxcsr_m32, ebx_mem(MXCSR_OUT)).unwrap());
    v.push(Instruction::with1(Code::Ldmxcsr_m32, ebx_mem(MXCSR_DEFAULT)).unwrap());
    v.push(Instruction::with(Code::Emms));
    v
}

fn describe(s: &State) -> String {
    let mut out = format!("eax..edi={:08x?} flags={:03x}", s.regs, s.eflags & ARITH);
    let m = &s.mem;
    let w = |o: usize| u32::from_le_bytes(m[o..o + 4].try_into().unwrap());
    out += &format!(" mxcsr={:08x}\n   ", w(data_offset(MXCSR_OUT)));
    for i in 0..8 {
        let o = data_offset(DUMP_AT) + 16 * i;
        let x = u128::from_le_bytes(m[o..o + 16].try_into().unwrap());
        out += &format!(" xmm{i}={x:032x}");
    }
    out
}

fn diff(m: &mut Machine, init: &State, ins: &[Instruction]) -> Option<String> {
    let all: Vec<Instruction> = ins.iter().copied().chain(epilogue()).collect();
    let host = run_host(init, &encode(&all, 64));
    let v = match run_vx86(m, init, &encode(&all, 32), all.len()) {
        Ok(v) => v,
        Err(e) => return Some(format!("  {e}\n")),
    };
    if v.regs == host.regs && (v.eflags ^ host.eflags) & ARITH == 0 && v.mem == host.mem {
        return None;
    }
    Some(format!(
        "  host: {}\n  vx86: {}\n",
        describe(&host),
        describe(&v)
    ))
}

fn initial_state(rng: &mut Rng) -> State {
    let mut mem = vec![0u8; DATA_LEN];
    for b in mem.iter_mut() {
        *b = rng.next_u64() as u8;
    }
    for i in 0..SLOTS as usize {
        let at = data_offset(LOAD_SLOTS) + 16 * i;
        let kind = rng.below(3);
        for lane in 0..4 {
            match kind {
                0 => {
                    let v = rng.ieee(8, 23) as u32;
                    mem[at + 4 * lane..at + 4 * lane + 4].copy_from_slice(&v.to_le_bytes());
                }
                1 if lane < 2 => {
                    let v = rng.ieee(11, 52);
                    mem[at + 8 * lane..at + 8 * lane + 8].copy_from_slice(&v.to_le_bytes());
                }
                2 => {
                    let v = rng.int_edge(32) as u32;
                    mem[at + 4 * lane..at + 4 * lane + 4].copy_from_slice(&v.to_le_bytes());
                }
                _ => {}
            }
        }
    }
    // MXCSR: all exceptions masked, random rounding control, DAZ and FTZ
    let mxcsr = 0x1F80
        | (rng.below(4) as u32) << 13
        | (rng.below(2) as u32) << 6
        | (rng.below(2) as u32) << 15;
    mem[data_offset(MXCSR_IN)..data_offset(MXCSR_IN) + 4].copy_from_slice(&mxcsr.to_le_bytes());
    mem[data_offset(MXCSR_DEFAULT)..data_offset(MXCSR_DEFAULT) + 4]
        .copy_from_slice(&0x1F80u32.to_le_bytes());
    let mut regs = [0u32; 8].map(|_| rng.int_edge(32) as u32);
    regs[3] = EBX_BASE;
    regs[4] = 0x8_0000;
    State {
        regs,
        eflags: rng.next_u64() as u32 & ARITH,
        mem,
    }
}

#[test]
fn sse_fp_sequences_match_the_host() {
    map_host_area();
    let codes = codes();
    let mut rng = Rng(0x55E_F10A7);
    let config = MachineConfig {
        ram_size: 4 << 20,
        ..MachineConfig::default()
    };
    let mut machine = Machine::new(config).unwrap();
    let (mut total, mut differed, mut reports) = (0usize, 0usize, Vec::new());
    let mut by_code = std::collections::BTreeMap::<String, usize>::new();
    for seq in 0..SEQUENCES {
        let init = initial_state(&mut rng);
        let ins = sequence(&mut rng, &codes);
        total += ins.len();
        if diff(&mut machine, &init, &ins).is_none() {
            continue;
        }
        differed += 1;
        let k = (PREAMBLE + 1..=ins.len())
            .find(|&k| diff(&mut machine, &init, &ins[..k]).is_some())
            .unwrap_or(ins.len());
        let count = by_code
            .entry(format!("{:?}", ins[k - 1].code()))
            .or_default();
        *count += 1;
        if *count <= 2 && reports.len() < 40 {
            let mut r = format!("sequence {seq}, first difference after {k} instructions:\n");
            r += "    (ldmxcsr; loads of xmm0-7 and mm0-7)\n";
            for (i, s) in ins[..k].iter().enumerate().skip(PREAMBLE) {
                r += &format!("    {s:<36}");
                if s.memory_base() == Register::EBX {
                    let a = data_offset(s.memory_displacement32() as i32);
                    r += &format!(" ; [mem] = {:02x?}", &init.mem[a..a + 16]);
                }
                r += if i + 1 == k { "  <==\n" } else { "\n" };
            }
            reports.push(r + &diff(&mut machine, &init, &ins[..k]).unwrap_or_default());
        }
    }
    println!("sse_fp_host_diff: {SEQUENCES} sequences, {total} instructions, {differed} differed");
    println!("first differing instruction (iced Code: sequences): {by_code:?}");
    for r in &reports {
        println!("{r}");
    }
    assert_eq!(
        differed, 0,
        "vx86's SSE floating point differs from the host (see above)"
    );
}
