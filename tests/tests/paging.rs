//! Paging seen from guest code: an instruction straddling into an unmapped page faults with
//! CR2 at the start of that page (SDM vol. 3A, 4.7: the faulting linear address), and code
//! written through a second (alias) mapping of the same physical page is seen by the next
//! execution (self-modifying code is tracked by physical page, 11.6).

use iced_x86::code_asm::*;
use vx86_core::cpu::{cr0, flag, Descriptor, TableReg};
use vx86_core::{CpuState, ExitReason, Machine, MachineConfig, SegReg};
use vx86_tests::util::{r32, w32};

const GDT: u32 = 0x1000;
const IDT: u32 = 0x2000;
const PD: u32 = 0x4000;
const PT: u32 = 0x5000;
const OUT: u32 = 0x600;

fn desc(limit: u32, access: u8) -> u64 {
    (limit as u64 & 0xFFFF)
        | (access as u64) << 40
        | ((limit as u64 >> 16) & 0xF) << 48
        | 0xCu64 << 52
}

fn asm(at: u32, f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vec<u8> {
    let mut a = CodeAssembler::new(32).unwrap();
    f(&mut a).unwrap();
    a.assemble(at as u64).unwrap()
}

/// Flat ring-0 protected mode with paging: the first 4 MiB identity-mapped except the pages
/// in `unmapped`; extra (linear page → physical page) mappings in `alias`.
fn machine(unmapped: &[u32], alias: &[(u32, u32)]) -> Machine {
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    let code = desc(0xFFFFF, 0x9B);
    let data = desc(0xFFFFF, 0x93);
    for (i, d) in [0, code, data].iter().enumerate() {
        m.write_phys((GDT + 8 * i as u32) as u64, &d.to_le_bytes())
            .unwrap();
    }
    w32(&mut m, PD, PT | 3);
    for p in 0..1024u32 {
        if !unmapped.contains(&(p << 12)) {
            w32(&mut m, PT + 4 * p, (p << 12) | 3);
        }
    }
    for &(lin, phys) in alias {
        w32(&mut m, PT + 4 * (lin >> 12), phys | 3);
    }
    let mut s = CpuState::reset();
    s.cr0 = cr0::PE | cr0::PG | cr0::ET;
    s.cr3 = PD;
    s.gdtr = TableReg {
        base: GDT,
        limit: 23,
    };
    s.idtr = TableReg {
        base: IDT,
        limit: 0x7FF,
    };
    s.segs = [Descriptor(data).to_segment(0x10); 6];
    s.segs[SegReg::Cs as usize] = Descriptor(code).to_segment(0x08);
    s.regs[4] = 0x9_0000;
    s.eflags = flag::FIXED1;
    m.set_cpu_state(s);
    m
}

fn set_gate(m: &mut Machine, vector: u32, handler: u32) {
    let g = (handler as u64 & 0xFFFF) | 0x08 << 16 | 0x8Eu64 << 40 | (handler as u64 >> 16) << 48;
    m.write_phys((IDT + 8 * vector) as u64, &g.to_le_bytes())
        .unwrap();
}

#[test]
fn instruction_straddling_into_an_unmapped_page() {
    // `mov eax, 0x11223344` (B8 44 33 22 11) placed so its first two bytes end page 0x20000
    // and the rest lies in page 0x21000, which is not mapped.
    let mut m = machine(&[0x2_1000], &[]);
    let start = 0x2_0FFE;
    m.write_phys(start as u64, &[0xB8, 0x44, 0x33, 0x22, 0x11, 0xF4])
        .unwrap();
    let handler = asm(0x3_0000, |a| {
        a.mov(eax, cr2)?;
        a.mov(dword_ptr(OUT), eax)?;
        a.pop(eax)?;
        a.mov(dword_ptr(OUT + 4), eax)?;
        a.pop(eax)?; // the pushed EIP
        a.mov(dword_ptr(OUT + 8), eax)?;
        a.hlt()
    });
    m.write_phys(0x3_0000, &handler).unwrap();
    set_gate(&mut m, 14, 0x3_0000);
    let mut s = m.cpu_state();
    s.eip = start;
    m.set_cpu_state(s);
    assert_eq!(m.run(100).unwrap(), ExitReason::Halted);
    // CR2 = the first byte that could not be fetched: the start of page 0x21000
    assert_eq!(r32(&m, OUT), 0x2_1000);
    // error code 0: not present, read (fetch without NX reports no I/D bit), supervisor
    assert_eq!(r32(&m, OUT + 4), 0);
    // the fault is reported on the instruction: EIP = its first byte
    assert_eq!(r32(&m, OUT + 8), start);
}

#[test]
fn code_written_through_an_alias_mapping_is_executed_fresh() {
    // Linear 0x40000 and 0x50000 both map physical 0x40000. The loop body at 0x40000 is run,
    // then rewritten through 0x50000, then run again: the second run must see the new bytes.
    let mut m = machine(&[], &[(0x5_0000, 0x4_0000)]);
    // body: mov eax, imm32; ret
    m.write_phys(0x4_0000, &[0xB8, 0x01, 0, 0, 0, 0xC3])
        .unwrap();
    let main = asm(0x1_0000, |a| {
        a.mov(ebx, 0x4_0000u32)?;
        a.call(ebx)?;
        a.mov(dword_ptr(OUT), eax)?;
        a.mov(dword_ptr(0x5_0001), 0x2222u32)?; // patch the immediate via the alias
        a.call(ebx)?;
        a.mov(dword_ptr(OUT + 4), eax)?;
        a.hlt()
    });
    m.write_phys(0x1_0000, &main).unwrap();
    let mut s = m.cpu_state();
    s.eip = 0x1_0000;
    m.set_cpu_state(s);
    assert_eq!(m.run(100).unwrap(), ExitReason::Halted);
    assert_eq!(r32(&m, OUT), 1);
    assert_eq!(r32(&m, OUT + 4), 0x2222);
}
