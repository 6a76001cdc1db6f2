//! Differential fuzzing of the x87 FPU against the host CPU's x87 unit.
//!
//! Method: a seeded generator builds random x87 sequences with iced-x86: FNINIT, a control
//! word with a random rounding mode and precision (all exceptions masked, so the host never
//! traps), a few loads, then random loads, stores, arithmetic, comparisons (FCOM*, FUCOM*,
//! FICOM*, FCOMI*, FTST), FXAM, FSQRT, FRNDINT, FSCALE, FPREM/FPREM1, FXTRACT, sign changes,
//! FXCH, FCMOVcc, stack rotation, FFREE and FNSTSW, ending with FNSAVE. Memory operands
//! are `[ebx+disp]` slots filled with values biased towards the special encodings (zeros,
//! infinities, quiet/signalling NaNs, denormals, pseudo-denormals, unnormals, values at the
//! format limits, integer edges). Each instruction is encoded for 32-bit protected mode (run
//! by vx86) and 64-bit mode (run natively, the reference); x87 semantics do not depend on the
//! mode. Compared: EAX..EDI, the arithmetic flags, the data buffer, i.e. every stored result and
//! the FNSAVE image: control, status and tag words and ST(0)..ST(7), bit for bit. Not compared:
//! the last-instruction and last-operand pointers of the image (they hold addresses, which
//! differ between the two modes). Empty registers are compared
//! too: each sequence starts by filling all eight with +0 and FNINIT, so their stale contents
//! are the same on both sides.
//!
//! Left out: unmasked exceptions, and the transcendental instructions: Intel's microcode is not
//! correctly rounded, and vx86 matches it within 1 ulp, not bit for bit (see
//! `core/src/softfloat/x87_host_transcendental_tests.rs` for that comparison).
//! A differing sequence is re-run on its prefixes to find the first differing instruction.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use iced_x86::{
    Code, EncodingKind, Instruction, MemoryOperand, MemorySize, Mnemonic, OpCodeOperandKind as K,
    Register,
};
use vx86_core::{Machine, MachineConfig};
use vx86_tests::host_cpu::{
    data_offset, ebx_mem, encode, map_host_area, run_host, run_vx86, State, ARITH, DATA, DATA_LEN,
    EBX_BASE,
};

const SEQUENCES: usize = 100_000;
/// Value slots (16 bytes each) read by loads: [ebx-0x800, ebx-0x400).
const LOAD_SLOTS: i32 = -0x800;
/// Slots written by stores: [ebx, ebx+0x400).
const STORE_SLOTS: i32 = 0;
const SLOTS: usize = 64;
/// The FNSAVE image.
const SAVE_AT: i32 = 0x600;
/// The control word loaded at the start.
const CW_AT: i32 = 0x700;
/// FNINIT, eight FLDZ, FNINIT: the start of every sequence.
const PREAMBLE: usize = 10;
/// FIP, FCS|FOP, FDP, FDS in the 32-bit FNSAVE image: addresses, not compared.
const POINTERS: std::ops::Range<usize> = 12..28;

use vx86_tests::util::Rng;

/// The x87-only value generators.
trait X87Values {
    fn f80(&mut self) -> (u16, u64);
    fn bcd(&mut self) -> [u8; 10];
}

impl X87Values for Rng {
    /// An 80-bit value: sign+exponent and the significand, with the x87-only encodings
    /// (pseudo-denormals, unnormals, pseudo-NaNs) among them.
    fn f80(&mut self) -> (u16, u64) {
        let sign = (self.below(2) as u16) << 15;
        let int_bit = if self.below(12) == 0 { 0 } else { 1u64 << 63 };
        let frac = match self.below(4) {
            0 => 0,
            1 => 1 << 62,
            2 => (1 << 63) - 1,
            _ => self.next_u64() >> 1,
        };
        let exp: u16 = match self.below(10) {
            0 => 0,
            1 => 0x7FFF,
            2 => self.pick(&[1, 2, 0x7FFE, 0x7FFD, 0x3FFF - 64, 0x3FFF + 64]),
            3..=6 => 0x3FFF - 8 + self.below(17) as u16,
            _ => self.below(0x8000) as u16,
        };
        let signif = if exp == 0 && int_bit != 0 && self.below(2) == 0 {
            frac // plain denormal: integer bit clear
        } else {
            int_bit | frac
        };
        (sign | exp, signif)
    }

    fn bcd(&mut self) -> [u8; 10] {
        let mut b = [0u8; 10];
        let digits = self.below(19) as usize;
        for i in 0..digits {
            let d = self.below(10) as u8;
            b[i / 2] |= d << (4 * (i % 2));
        }
        b[9] = if self.below(2) == 0 { 0x80 } else { 0 };
        b
    }
}

/// The kinds of value a slot can hold (its `MemorySize`).
const KINDS: [MemorySize; 7] = {
    use MemorySize::*;
    [Float32, Float64, Float80, Int16, Int32, Int64, Bcd]
};

fn slot_value(rng: &mut Rng, kind: MemorySize) -> [u8; 16] {
    let mut b = [0u8; 16];
    let r = rng.next_u64().to_le_bytes();
    b[8..].copy_from_slice(&r); // unused tail: random
    match kind {
        MemorySize::Float32 => b[..4].copy_from_slice(&(rng.ieee(8, 23) as u32).to_le_bytes()),
        MemorySize::Float64 => b[..8].copy_from_slice(&rng.ieee(11, 52).to_le_bytes()),
        MemorySize::Float80 => {
            let (se, sig) = rng.f80();
            b[..8].copy_from_slice(&sig.to_le_bytes());
            b[8..10].copy_from_slice(&se.to_le_bytes());
        }
        MemorySize::Int16 => b[..2].copy_from_slice(&(rng.int_edge(16) as u16).to_le_bytes()),
        MemorySize::Int32 => b[..4].copy_from_slice(&(rng.int_edge(32) as u32).to_le_bytes()),
        MemorySize::Int64 => b[..8].copy_from_slice(&rng.int_edge(64).to_le_bytes()),
        _ => b[..10].copy_from_slice(&rng.bcd()),
    }
    b
}

const MNEMONICS: [Mnemonic; 62] = {
    use Mnemonic::*;
    [
        Fld, Fild, Fbld, Fst, Fstp, Fist, Fistp, Fisttp, Fbstp, Fadd, Faddp, Fiadd, Fsub, Fsubp,
        Fisub, Fsubr, Fsubrp, Fisubr, Fmul, Fmulp, Fimul, Fdiv, Fdivp, Fidiv, Fdivr, Fdivrp,
        Fidivr, Fcom, Fcomp, Fcompp, Fucom, Fucomp, Fucompp, Ficom, Ficomp, Fcomi, Fcomip, Fucomi,
        Fucomip, Ftst, Fxam, Fsqrt, Frndint, Fscale, Fprem, Fprem1, Fxtract, Fchs, Fabs, Fxch,
        Fld1, Fldz, Fldpi, Fldl2e, Fcmovb, Fcmovne, Fcmovbe, Fcmovu, Fincstp, Fdecstp, Ffree,
        Fnstsw,
    ]
};

/// Stores, whose memory operand goes to the store slots.
fn is_store(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(m, Fst | Fstp | Fist | Fistp | Fisttp | Fbstp | Fnstsw)
}

/// Every legacy encoding of the mnemonics above valid in both modes, with its operand kinds.
fn codes() -> Vec<Code> {
    let ok = |k: K| matches!(k, K::st0 | K::sti_opcode | K::mem);
    let v: Vec<Code> = Code::values()
        .filter(|c| {
            let oc = c.op_code();
            oc.encoding() == EncodingKind::Legacy
                && oc.is_instruction()
                && oc.mode32()
                && oc.mode64()
                && MNEMONICS.contains(&c.mnemonic())
                && oc.op_kinds().iter().all(|&k| ok(k))
        })
        .collect();
    for m in MNEMONICS {
        assert!(v.iter().any(|c| c.mnemonic() == m), "no encoding for {m:?}");
    }
    v
}

struct Gen {
    rng: Rng,
    codes: Vec<Code>,
    kinds: [MemorySize; SLOTS],
}

impl Gen {
    /// A memory operand for `code`: a store slot for stores, else a load slot, usually one
    /// holding a value of the instruction's own format.
    fn operand(&mut self, code: Code, size: MemorySize) -> MemoryOperand {
        let slot = if is_store(code.mnemonic()) {
            STORE_SLOTS + 16 * self.rng.below(SLOTS as u64) as i32
        } else {
            let same: Vec<usize> = (0..SLOTS).filter(|&i| self.kinds[i] == size).collect();
            let i = if !same.is_empty() && self.rng.below(4) != 0 {
                self.rng.pick(&same)
            } else {
                self.rng.below(SLOTS as u64) as usize
            };
            LOAD_SLOTS + 16 * i as i32
        };
        ebx_mem(slot)
    }

    fn instruction(&mut self, code: Code) -> Instruction {
        let kinds = code.op_code().op_kinds().to_vec();
        let sti = match self.rng.below(3) {
            0 => Register::ST1,
            _ => Register::ST0 + self.rng.below(8) as u32,
        };
        let r = match kinds.as_slice() {
            [] => Ok(Instruction::with(code)),
            [K::mem] => {
                // the memory size is a property of the code: build once to learn it
                let probe = Instruction::with1(code, ebx_mem(0)).unwrap();
                let m = self.operand(code, probe.memory_size());
                Instruction::with1(code, m)
            }
            [K::sti_opcode] => Instruction::with1(code, sti),
            [K::st0, K::sti_opcode] => Instruction::with2(code, Register::ST0, sti),
            [K::sti_opcode, K::st0] => Instruction::with2(code, sti, Register::ST0),
            k => panic!("{code:?}: operands {k:?}"),
        };
        r.unwrap_or_else(|e| panic!("{code:?}: {e}"))
    }

    fn load(&mut self) -> Instruction {
        let i = self.rng.below(SLOTS as u64) as usize;
        let code = match self.kinds[i] {
            MemorySize::Float32 => Code::Fld_m32fp,
            MemorySize::Float64 => Code::Fld_m64fp,
            MemorySize::Float80 => Code::Fld_m80fp,
            MemorySize::Int16 => Code::Fild_m16int,
            MemorySize::Int32 => Code::Fild_m32int,
            MemorySize::Int64 => Code::Fild_m64int,
            _ => Code::Fbld_m80bcd,
        };
        Instruction::with1(code, ebx_mem(LOAD_SLOTS + 16 * i as i32)).unwrap()
    }

    fn sequence(&mut self) -> Vec<Instruction> {
        // the registers' contents survive FNINIT: give them known values on both sides
        let mut v = vec![Instruction::with(Code::Fninit)];
        v.extend([Instruction::with(Code::Fldz); 8]);
        v.push(Instruction::with(Code::Fninit));
        if self.rng.below(4) != 0 {
            v.push(Instruction::with1(Code::Fldcw_m2byte, ebx_mem(CW_AT)).unwrap());
        }
        for _ in 0..1 + self.rng.below(5) {
            v.push(self.load());
        }
        for _ in 0..1 + self.rng.below(12) {
            let ins = if self.rng.below(5) == 0 {
                self.load()
            } else {
                let code = self.rng.pick(&self.codes);
                self.instruction(code)
            };
            v.push(ins);
        }
        v
    }
}

fn with_save(ins: &[Instruction]) -> Vec<Instruction> {
    let save = Instruction::with1(Code::Fnsave_m108byte, ebx_mem(SAVE_AT)).unwrap();
    ins.iter().copied().chain([save]).collect()
}

/// Offset of the FNSAVE image in the data buffer.
fn save_offset() -> usize {
    data_offset(SAVE_AT)
}

/// The buffer with the image's pointer fields blanked.
fn comparable(mem: &[u8]) -> Vec<u8> {
    let mut m = mem.to_vec();
    let at = save_offset();
    m[at + POINTERS.start..at + POINTERS.end].fill(0);
    m
}

fn describe_image(mem: &[u8]) -> String {
    let mem = &comparable(mem);
    let at = save_offset();
    let w = |o: usize| u16::from_le_bytes([mem[at + o], mem[at + o + 1]]);
    let mut s = format!("fcw={:04x} fsw={:04x} ftw={:04x}", w(0), w(4), w(8));
    for i in 0..8 {
        let r = &mem[at + 28 + 10 * i..at + 38 + 10 * i];
        let sig = u64::from_le_bytes(r[..8].try_into().unwrap());
        s += &format!(" st{i}={:04x}:{sig:016x}", u16::from_le_bytes([r[8], r[9]]));
    }
    s
}

fn diff(m: &mut Machine, init: &State, ins: &[Instruction]) -> Option<String> {
    let all = with_save(ins);
    let host = run_host(init, &encode(&all, 64));
    let v = match run_vx86(m, init, &encode(&all, 32), all.len()) {
        Ok(v) => v,
        Err(e) => return Some(format!("  {e}\n")),
    };
    let (hm, vm) = (comparable(&host.mem), comparable(&v.mem));
    if v.regs == host.regs && (v.eflags ^ host.eflags) & ARITH == 0 && hm == vm {
        return None;
    }
    let mut s = format!(
        "  host: eax={:08x} flags={:03x} {}\n  vx86: eax={:08x} flags={:03x} {}\n",
        host.regs[0],
        host.eflags & ARITH,
        describe_image(&host.mem),
        v.regs[0],
        v.eflags & ARITH,
        describe_image(&v.mem)
    );
    if let Some(b) = (0..DATA_LEN).find(|&i| hm[i] != vm[i] && i < save_offset()) {
        let e = DATA_LEN.min(b + 10);
        s += &format!(
            "  stored bytes differ at {:#x}: host {:02x?} vx86 {:02x?}\n",
            DATA + b as u64,
            &host.mem[b..e],
            &v.mem[b..e]
        );
    }
    Some(s)
}

#[test]
fn x87_sequences_match_the_host_fpu() {
    map_host_area();
    let mut gen = Gen {
        rng: Rng(0x87_87_87_87),
        codes: codes(),
        kinds: [MemorySize::Float32; SLOTS],
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
        let mut mem = vec![0u8; DATA_LEN];
        for b in mem.iter_mut() {
            *b = rng.next_u64() as u8;
        }
        let load_at = data_offset(LOAD_SLOTS);
        for i in 0..SLOTS {
            let kind = rng.pick(&KINDS);
            gen.kinds[i] = kind;
            let v = slot_value(rng, kind);
            mem[load_at + 16 * i..load_at + 16 * i + 16].copy_from_slice(&v);
        }
        // control word: all exceptions masked, random precision and rounding control
        let cw = 0x007F | (rng.below(4) as u16) << 8 | (rng.below(4) as u16) << 10;
        let cw_at = data_offset(CW_AT);
        mem[cw_at..cw_at + 2].copy_from_slice(&cw.to_le_bytes());
        let mut regs = [0u32; 8].map(|_| rng.next_u64() as u32);
        regs[3] = EBX_BASE;
        regs[4] = 0x8_0000;
        let init = State {
            regs,
            eflags: rng.next_u64() as u32 & ARITH,
            mem,
        };
        let ins = gen.sequence();
        total += ins.len();
        if diff(&mut machine, &init, &ins).is_none() {
            continue;
        }
        differed += 1;
        let k = (PREAMBLE + 1..=ins.len())
            .find(|&k| diff(&mut machine, &init, &ins[..k]).is_some())
            .unwrap();
        let count = by_code
            .entry(format!("{:?}", ins[k - 1].code()))
            .or_default();
        *count += 1;
        if *count <= 2 && reports.len() < 40 {
            let mut r = format!("sequence {seq}, first difference after {k} instructions:\n");
            r += "    (fninit; 8 × fldz; fninit)\n";
            for (i, s) in ins[..k].iter().enumerate().skip(PREAMBLE) {
                r += &format!("    {s:<30}");
                if s.memory_base() == Register::EBX && !is_store(s.mnemonic()) {
                    let a = data_offset(s.memory_displacement32() as i32);
                    let n = s.memory_size().size();
                    r += &format!(
                        " ; [{:#x}] = {:02x?}",
                        DATA as usize + a,
                        &init.mem[a..a + n]
                    );
                }
                r += if i + 1 == k { "  <==\n" } else { "\n" };
            }
            reports.push(r + &diff(&mut machine, &init, &ins[..k]).unwrap());
        }
    }
    println!("x87_host_diff: {SEQUENCES} sequences, {total} instructions, {differed} differed");
    println!("first differing instruction (iced Code: sequences): {by_code:?}");
    for r in &reports {
        println!("{r}");
    }
    assert_eq!(
        differed, 0,
        "vx86's x87 differs from the host FPU (see above)"
    );
}
