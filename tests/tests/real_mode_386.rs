//! The 386+ extensions of real mode, run as small guest programs: 66/67 prefixes, FS/GS, the
//! 386 bit/move/shift instructions, the 486/P5/P6 additions (BSWAP, XADD, CMPXCHG, CMPXCHG8B,
//! CMOVcc, CPUID, RDTSC), exceptions and interrupts through the IVT, string instructions,
//! port I/O, HLT and shutdown, self-modifying code and #NM for x87 escapes.
//!
//! There are no external vectors for these: every expected value is derived by hand from the
//! Intel SDM (vol. 2 instruction pages; vol. 3A chapter 20 for real-mode interrupts) and the
//! derivation is in the comment next to the assertion.

use iced_x86::code_asm::*;
use iced_x86::BlockEncoderOptions;
use vx86_core::{ExitReason, Machine, MachineConfig, SegReg};

const ORG: u32 = 0x7C00;
/// Every IVT entry points here (a lone HLT) unless a test installs its own handler, so a
/// wrong vector shows up as EIP = STRAY + 1.
const STRAY: u32 = 0x7B00;

// GPR indices in CpuState::regs (ModRM order, SDM vol. 2 table 2-1)
const EAX: usize = 0;
const ECX: usize = 1;
const EDX: usize = 2;
const EBX: usize = 3;
const ESP: usize = 4;
const EBP: usize = 5;
const ESI: usize = 6;
const EDI: usize = 7;

// EFLAGS bits (SDM vol. 1, figure 3-8)
const CF: u32 = 1 << 0;
const PF: u32 = 1 << 2;
const AF: u32 = 1 << 4;
const ZF: u32 = 1 << 6;
const SF: u32 = 1 << 7;
const TF: u32 = 1 << 8;
const IF: u32 = 1 << 9;
const DF: u32 = 1 << 10;
const OF: u32 = 1 << 11;
const STATUS: u32 = CF | PF | AF | ZF | SF | OF;

/// `asm!(a: mov(ax, 1u32), add(ax, bx))` is `a.mov(ax, 1u32)?; a.add(ax, bx)?;`: the
/// instructions of one step on one line.
macro_rules! asm {
    ($a:ident: $($op:ident($($arg:expr),*)),+ $(,)?) => {
        $($a.$op($($arg),*)?;)+
    };
}

trait SaveFlags {
    /// PUSHF; POP word [addr]: saves FLAGS without changing them.
    fn flags_to(&mut self, addr: u32) -> Result<(), IcedError>;
}

impl SaveFlags for CodeAssembler {
    fn flags_to(&mut self, addr: u32) -> Result<(), IcedError> {
        self.pushf()?;
        self.pop(word_ptr(addr))
    }
}

/// Assembles `build` (plus a final HLT) at 0000:7C00 and loads it; returns the machine and the
/// IPs of the labels `build` returned. Every IVT vector points to the STRAY HLT.
fn boot_labeled(
    build: impl FnOnce(&mut CodeAssembler) -> Result<Vec<CodeLabel>, IcedError>,
) -> (Machine, Vec<u32>) {
    let mut a = CodeAssembler::new(16).unwrap();
    let labels = build(&mut a).unwrap();
    a.hlt().unwrap();
    let opts = BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS;
    let r = a.assemble_options(ORG as u64, opts).unwrap();
    let ips = labels.iter().map(|l| r.label_ip(l).unwrap() as u32);
    let ips = ips.collect();
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_flat(&r.inner.code_buffer, ORG, ORG as u16).unwrap();
    poke(&mut m, STRAY, &[0xF4]);
    for v in 0..=255 {
        set_vector(&mut m, v, STRAY);
    }
    (m, ips)
}

fn boot(build: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Machine {
    boot_labeled(|a| build(a).map(|()| Vec::new())).0
}

/// Runs to HLT (and not the stray one).
fn halt(m: &mut Machine) {
    assert_eq!(m.run(100_000).unwrap(), ExitReason::Halted);
    assert_ne!(m.cpu_state().eip, STRAY + 1, "a stray interrupt was taken");
}

fn run(build: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Machine {
    let mut m = boot(build);
    halt(&mut m);
    m
}

/// IVT entry `v` (at v * 4: IP, then CS; SDM vol. 3A, 20.1.4) = 0000:`ip`.
fn set_vector(m: &mut Machine, v: u8, ip: u32) {
    poke(m, v as u32 * 4, &[ip as u8, (ip >> 8) as u8, 0, 0]);
}

/// Runs `body` (stack balanced, `mark` on the instruction of interest) with a HLT-only handler
/// for `vector`, asserts that this handler was entered, returns the machine and `mark`'s IP.
fn expect_vector(
    vector: u8,
    body: impl FnOnce(&mut CodeAssembler, &mut CodeLabel) -> Result<(), IcedError>,
) -> (Machine, u32) {
    let (mut m, ips) = boot_labeled(|a| {
        let mut mark = a.create_label();
        let mut handler = a.create_label();
        body(a, &mut mark)?;
        a.hlt()?; // falling through means nothing was raised
        a.set_label(&mut handler)?;
        a.hlt()?;
        Ok(vec![mark, handler])
    });
    set_vector(&mut m, vector, ips[1]);
    assert_eq!(m.run(10_000).unwrap(), ExitReason::Halted);
    assert_eq!(m.cpu_state().eip, ips[1] + 1, "handler {vector:#x} ran");
    // real mode pushes FLAGS, CS, IP (3 words, no error code): SP = 0xFFFE - 6
    assert_eq!(m.cpu_state().regs[ESP] & 0xFFFF, 0xFFF8);
    (m, ips[0])
}

/// The real-mode interrupt frame at SS:SP (SS = 0): (IP, CS, FLAGS).
fn frame(m: &Machine) -> (u32, u32, u32) {
    let top = m.cpu_state().regs[ESP] & 0xFFFF;
    (rd16(m, top), rd16(m, top + 2), rd16(m, top + 4))
}

fn poke(m: &mut Machine, addr: u32, data: &[u8]) {
    m.write_phys(addr as u64, data).unwrap();
}

fn bytes(m: &Machine, addr: u32, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    m.read_phys(addr as u64, &mut b).unwrap();
    b
}

fn rd16(m: &Machine, addr: u32) -> u32 {
    u16::from_le_bytes(bytes(m, addr, 2).try_into().unwrap()) as u32
}

fn rd32(m: &Machine, addr: u32) -> u32 {
    u32::from_le_bytes(bytes(m, addr, 4).try_into().unwrap())
}

fn reg(m: &Machine, r: usize) -> u32 {
    m.cpu_state().regs[r]
}

fn reg16(m: &Machine, r: usize) -> u32 {
    m.cpu_state().regs[r] & 0xFFFF
}

#[path = "real_mode_386/i386.rs"]
mod i386;
#[path = "real_mode_386/i486_p6.rs"]
mod i486_p6;
#[path = "real_mode_386/interrupts.rs"]
mod interrupts;
#[path = "real_mode_386/machine.rs"]
mod machine;
#[path = "real_mode_386/prefixes.rs"]
mod prefixes;
#[path = "real_mode_386/strings.rs"]
mod strings;
