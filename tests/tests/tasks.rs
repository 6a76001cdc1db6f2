//! Hardware task switches (SDM vol. 3A, chapter 7): CALL to a TSS and IRET back through the
//! back link (NT), and a double fault delivered through a task gate, the way 32-bit Linux
//! handles #DF. Expected values are derived from the SDM and commented.

use iced_x86::code_asm::*;
use vx86_core::cpu::TableReg;
use vx86_core::cpu::{cr0, flag, Descriptor};
use vx86_core::{CpuState, ExitReason, Machine, MachineConfig, SegReg};
use vx86_tests::util::{descriptor as desc, r32, w32};

const GDT: u32 = 0x1000;
const IDT: u32 = 0x2000;
const TSS_A: u32 = 0x3000;
const TSS_B: u32 = 0x3100;
const TSS_C: u32 = 0x3200;
const CODE: u32 = 0x10000;
const TASK_B: u32 = 0x11000;
const TASK_C: u32 = 0x12000;
const OUT: u32 = 0x600;

/// GDT: 0x08 code, 0x10 data, 0x18 TSS A, 0x20 TSS B, 0x28 TSS C (all ring 0, flat).
fn setup(main: Vec<u8>, task_b: Vec<u8>, task_c: Vec<u8>) -> Machine {
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    let gdt = [
        0,
        desc(0, 0xFFFFF, 0x9A, 0xC),
        desc(0, 0xFFFFF, 0x92, 0xC),
        desc(TSS_A, 0x67, 0x8B, 0), // busy: the current task
        desc(TSS_B, 0x67, 0x89, 0),
        desc(TSS_C, 0x67, 0x89, 0),
    ];
    for (i, d) in gdt.iter().enumerate() {
        m.write_phys((GDT + 8 * i as u32) as u64, &d.to_le_bytes())
            .unwrap();
    }
    for (tss, entry, stack) in [(TSS_B, TASK_B, 0x7_0000u32), (TSS_C, TASK_C, 0x6_0000u32)] {
        w32(&mut m, tss + 32, entry);
        w32(&mut m, tss + 36, 0x2); // EFLAGS
        w32(&mut m, tss + 40 + 4 * 4, stack); // ESP
        for (i, sel) in [0x10u32, 0x08, 0x10, 0x10, 0x10, 0x10].iter().enumerate() {
            w32(&mut m, tss + 72 + 4 * i as u32, *sel); // ES CS SS DS FS GS
        }
    }
    // IDT: vector 8 = task gate to TSS C; vector 13 = an interrupt gate that is NOT present
    let task_gate = (0x28u64 << 16) | (0x85u64 << 40);
    m.write_phys((IDT + 8 * 8) as u64, &task_gate.to_le_bytes())
        .unwrap();
    let absent_gate = (0x08u64 << 16) | (0x0Eu64 << 40);
    m.write_phys((IDT + 13 * 8) as u64, &absent_gate.to_le_bytes())
        .unwrap();
    m.write_phys(CODE as u64, &main).unwrap();
    m.write_phys(TASK_B as u64, &task_b).unwrap();
    m.write_phys(TASK_C as u64, &task_c).unwrap();
    let mut s = CpuState::reset();
    s.cr0 = cr0::PE | cr0::ET;
    s.gdtr = TableReg {
        base: GDT,
        limit: 6 * 8 - 1,
    };
    s.idtr = TableReg {
        base: IDT,
        limit: 0x7FF,
    };
    s.segs = [Descriptor(gdt[2] | 1 << 40).to_segment(0x10); 6];
    s.segs[SegReg::Cs as usize] = Descriptor(gdt[1] | 1 << 40).to_segment(0x08);
    s.tr = Descriptor(gdt[3]).to_segment(0x18);
    s.eip = CODE;
    s.regs[4] = 0x8_0000;
    s.eflags = flag::FIXED1;
    m.set_cpu_state(s);
    m
}

fn asm(at: u32, f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vec<u8> {
    let mut a = CodeAssembler::new(32).unwrap();
    f(&mut a).unwrap();
    a.assemble(at as u64).unwrap()
}

#[test]
fn call_to_tss_and_iret_back_through_the_link() {
    // CALL FAR 0x20:0 (9A imm32 imm16), then record EAX and halt
    let mut main = asm(CODE, |a| a.mov(eax, 0x1111u32));
    main.extend_from_slice(&[0x9A, 0, 0, 0, 0, 0x20, 0]);
    main.extend(asm(CODE + main.len() as u32, |a| {
        a.mov(dword_ptr(OUT + 8), eax)?;
        a.hlt()
    }));
    let task_b = asm(TASK_B, |a| {
        a.mov(dword_ptr(OUT), eax)?; // EAX of task B (0 from its TSS)
        a.pushfd()?;
        a.pop(dword_ptr(OUT + 4))?; // EFLAGS inside the nested task
        a.mov(eax, 0x2222u32)?;
        a.iretd() // NT set: return to the linked task
    });
    let mut m = setup(main, task_b, vec![0xF4]);
    assert_eq!(m.run(1000).unwrap(), ExitReason::Halted);
    // task B starts with its own registers: EAX = 0 from its TSS (7.3 step 12)
    assert_eq!(r32(&m, OUT), 0);
    // CALL nests: NT (bit 14) set in the new task's EFLAGS (7.4)
    assert_eq!(r32(&m, OUT + 4) & flag::NT, flag::NT);
    // back in task A its EAX was restored from TSS A: 0x1111, not task B's 0x2222
    assert_eq!(r32(&m, OUT + 8), 0x1111);
    // the back link in TSS B holds TSS A's selector 0x18 (7.4)
    assert_eq!(r32(&m, TSS_B) & 0xFFFF, 0x18);
    // TSS B's saved EAX is 0x2222 (saved by the IRET's switch) and its EIP is past the IRET
    assert_eq!(r32(&m, TSS_B + 40), 0x2222);
    // after IRET: B is available again (type 9), A stays busy (type 11); CR0.TS set (7.3)
    let mut d = [0u8; 8];
    m.read_phys((GDT + 0x20) as u64, &mut d).unwrap();
    assert_eq!(d[5] & 0xF, 9);
    m.read_phys((GDT + 0x18) as u64, &mut d).unwrap();
    assert_eq!(d[5] & 0xF, 11);
    let s = m.cpu_state();
    assert_eq!(s.tr.selector, 0x18);
    assert_eq!(s.cr0 & cr0::TS, cr0::TS);
    assert_eq!(
        s.eflags & flag::NT,
        0,
        "the IRET cleared NT in the returning task"
    );
}

#[test]
fn double_fault_through_a_task_gate() {
    // Loading DS with a selector beyond the GDT limit raises #GP(0x1230); its gate is not
    // present, so delivery raises #NP(13*8+2+EXT=0x6B): two contributory faults make #DF,
    // whose task gate switches to task C (6.15, interrupt 8; 7.3).
    let main = asm(CODE, |a| {
        a.mov(ax, 0x1230u32)?;
        a.mov(ds, ax)?;
        a.hlt()
    });
    let task_c = asm(TASK_C, |a| {
        a.pop(eax)?; // #DF error code, pushed on task C's stack: always 0
        a.mov(dword_ptr(OUT), eax)?;
        a.mov(eax, dword_ptr(TSS_A + 32))?; // the EIP task A saved: the faulting MOV
        a.mov(dword_ptr(OUT + 4), eax)?;
        a.hlt()
    });
    let mut m = setup(main, vec![0xF4], task_c);
    assert_eq!(m.run(1000).unwrap(), ExitReason::Halted);
    assert_eq!(r32(&m, OUT), 0);
    // mov ax, imm16 (66 B8 imm16) is 4 bytes: the faulting MOV DS is at CODE + 4
    assert_eq!(r32(&m, OUT + 4), CODE + 4);
    assert_eq!(m.cpu_state().tr.selector, 0x28);
    // ESP: task C's 0x60000, minus the error code pushed, plus the POP = 0x60000
    assert_eq!(m.cpu_state().regs[4], 0x6_0000);
}

#[test]
fn virtual_8086_mode_entry_and_iopl_sensitive_fault() {
    // Ring-0 code enters V86 mode with IRETD (EFLAGS.VM in the image, IOPL 0) at
    // 0x2000:0x0010 = linear 0x20010, where CLI faults: in V86 mode CLI is IOPL-sensitive and
    // IOPL 0 < 3 gives #GP(0) (SDM vol. 3A, 20.2.7). The #GP handler runs at CPL 0 on the TSS
    // stack with GS, FS, DS, ES, SS, ESP, EFLAGS, CS, EIP and the error code pushed (6.12.1,
    // figure 6-5 "stack usage on transfers ... from virtual-8086 mode").
    let main = asm(CODE, |a| {
        for v in [0x5000u32, 0x4000, 0x3000, 0x1000] {
            a.push(v)?; // GS, FS, DS, ES for the V86 task
        }
        a.push(0x2000u32)?; // SS
        a.push(0xFFF0u32)?; // ESP
        a.push(0x2_0002u32)?; // EFLAGS: VM, IOPL 0
        a.push(0x2000u32)?; // CS
        a.push(0x0010u32)?; // EIP
        a.iretd()
    });
    let mut m = setup(main, vec![0xF4], vec![0xF4]);
    // V86 code: mov ax, [0x0004] (DS=0x3000 → linear 0x30004), then CLI
    m.write_phys(0x20010, &[0xA1, 0x04, 0x00, 0xFA, 0xF4])
        .unwrap();
    m.write_phys(0x30004, &[0xCD, 0xAB]).unwrap();
    // TSS A ring-0 stack for the fault, IDT vector 13 → handler at 0x13000 (present this time)
    w32(&mut m, TSS_A + 4, 0x9_0000);
    w32(&mut m, TSS_A + 8, 0x10);
    let gp_gate = (0x1_3000u64 & 0xFFFF) | 0x08 << 16 | 0x8Eu64 << 40 | (0x1_3000u64 >> 16) << 48;
    m.write_phys((IDT + 13 * 8) as u64, &gp_gate.to_le_bytes())
        .unwrap();
    m.write_phys(0x1_3000, &[0xF4]).unwrap();
    assert_eq!(m.run(100).unwrap(), ExitReason::Halted);
    let s = m.cpu_state();
    // the V86 load used DS = 0x3000 as a real-mode segment: AX = 0xABCD
    assert_eq!(s.regs[0] & 0xFFFF, 0xABCD);
    assert_eq!(s.eip, 0x1_3001, "halted in the #GP handler");
    assert_eq!(s.eflags & flag::VM, 0, "the handler runs in protected mode");
    // the frame on the ring-0 stack, from ESP0 = 0x90000 down: GS FS DS ES SS ESP EFLAGS CS
    // EIP, error code
    let frame: Vec<u32> = (0..10).map(|i| r32(&m, 0x9_0000 - 4 * (i + 1))).collect();
    assert_eq!(
        frame,
        vec![0x5000, 0x4000, 0x3000, 0x1000, 0x2000, 0xFFF0, 0x2_0002, 0x2000, 0x13, 0]
    );
    // the data segment registers were loaded with null selectors (6.12.1)
    assert_eq!(s.segs[SegReg::Ds as usize].selector, 0);
    assert_eq!(s.regs[4], 0x9_0000 - 40);
}
