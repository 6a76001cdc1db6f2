//! A guest that walks the main protected-mode paths end to end: real → protected mode entry
//! (LGDT, CR0.PE, far JMP), LIDT/LTR, paging (CR3, CR0.PG) with a page fault whose handler maps
//! the page and returns to retry the store, a switch to ring 3 with IRETD, a system call through
//! a DPL-3 interrupt gate (stack switch from the TSS), and a #GP(0) from CLI at CPL 3.
//!
//! Every expected value is derived from the Intel SDM (vol. 3A chapters 4-6) and commented.

use iced_x86::code_asm::*;
use iced_x86::BlockEncoderOptions;
use vx86_core::{ExitReason, Machine, MachineConfig, SegReg};
use vx86_tests::util::{descriptor, gate, r32, w32};

const GDT: u32 = 0x1000;
const IDT: u32 = 0x2000;
const TSS: u32 = 0x3000;
const PD: u32 = 0x4000;
const PT: u32 = 0x5000;
const CODE32: u32 = 0x10000;
const USER_CODE: u32 = 0x12000;
const RESULTS: u32 = 0x600;
const RING0_STACK: u32 = 0x9F000;

struct Labels {
    ac: u32,
    gp: u32,
    pf: u32,
    syscall: u32,
}

fn code32() -> Result<(Vec<u8>, Labels), IcedError> {
    let mut a = CodeAssembler::new(32)?;
    let mut pf_handler = a.create_label();
    let mut gp_handler = a.create_label();
    let mut syscall = a.create_label();
    let mut ac_handler = a.create_label();
    a.mov(ax, 0x10u32)?;
    a.mov(ds, ax)?;
    a.mov(es, ax)?;
    a.mov(ss, ax)?;
    a.mov(esp, 0x90000u32)?;
    a.lidt(dword_ptr(0x510))?;
    a.mov(ax, 0x28u32)?;
    a.ltr(ax)?;
    a.mov(eax, PD)?;
    a.mov(cr3, eax)?;
    a.mov(eax, cr0)?;
    a.or(eax, 0x8004_0000u32)?; // PG and AM
    a.mov(cr0, eax)?;
    // not present: #PF, the handler maps it, the store is retried
    a.mov(dword_ptr(0x20_0010), 0x1234u32)?;
    a.mov(al, b'P' as u32)?;
    a.out(0xE9u32, al)?;
    // to ring 3: SS, ESP, EFLAGS, CS, EIP
    a.push(0x23u32)?;
    a.push(0x8_0000u32)?;
    a.pushfd()?;
    a.push(0x1Bu32)?;
    a.push(USER_CODE)?;
    a.iretd()?;

    // #PF: record CR2 and the error code, map 0x200000 to 0x300000, return
    a.set_label(&mut pf_handler)?;
    a.mov(eax, cr2)?;
    a.mov(dword_ptr(RESULTS), eax)?;
    a.pop(eax)?;
    a.mov(dword_ptr(RESULTS + 4), eax)?;
    a.mov(dword_ptr(PT + 0x200 * 4), 0x30_0000u32 | 7)?;
    a.invlpg(byte_ptr(0x20_0000))?;
    a.iretd()?;

    // INT 0x80 from ring 3: record EAX and the pushed CS and SS
    a.set_label(&mut syscall)?;
    a.mov(dword_ptr(RESULTS + 8), eax)?;
    a.mov(ebx, dword_ptr(esp + 4))?;
    a.mov(dword_ptr(RESULTS + 12), ebx)?;
    a.mov(ebx, dword_ptr(esp + 16))?;
    a.mov(dword_ptr(RESULTS + 16), ebx)?;
    a.mov(ebx, esp)?;
    a.mov(dword_ptr(RESULTS + 0x24), ebx)?;
    a.iretd()?;

    // #AC: count it, record the error code, clear AC in the interrupted EFLAGS
    a.set_label(&mut ac_handler)?;
    a.pop(eax)?;
    a.mov(dword_ptr(RESULTS + 0x28), eax)?;
    a.inc(dword_ptr(RESULTS + 0x2C))?;
    a.and(dword_ptr(esp + 8), !0x4_0000u32)?;
    a.iretd()?;

    // #GP: record the error code and the pushed CS, then stop
    a.set_label(&mut gp_handler)?;
    a.pop(eax)?;
    a.mov(dword_ptr(RESULTS + 20), eax)?;
    a.mov(eax, dword_ptr(esp + 4))?;
    a.mov(dword_ptr(RESULTS + 24), eax)?;
    a.hlt()?;

    let r = a.assemble_options(
        CODE32 as u64,
        BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS,
    )?;
    let labels = Labels {
        ac: r.label_ip(&ac_handler)? as u32,
        gp: r.label_ip(&gp_handler)? as u32,
        pf: r.label_ip(&pf_handler)? as u32,
        syscall: r.label_ip(&syscall)? as u32,
    };
    Ok((r.inner.code_buffer, labels))
}

/// Ring-3 code at `USER_CODE`.
fn user32() -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(32)?;
    // IRET to ring 3 made DS/ES (DPL 0) null (SDM "IRET": segment registers the new CPL
    // may not use are cleared); load the ring-3 data segment.
    a.mov(ax, 0x23u32)?;
    a.mov(ds, ax)?;
    a.mov(es, ax)?;
    a.mov(eax, 42u32)?;
    a.int(0x80u32)?;
    a.mov(al, b'U' as u32)?;
    a.mov(dword_ptr(RESULTS + 0x20), eax)?; // user-mode store through the user data segment
                                            // EFLAGS.AC with CR0.AM at CPL 3: an unaligned load raises #AC(0); the handler clears AC
                                            // in the saved EFLAGS and the retried load succeeds.
    a.pushfd()?;
    a.or(dword_ptr(esp), 0x4_0000u32)?;
    a.popfd()?;
    a.mov(ecx, dword_ptr(RESULTS + 0x21))?;
    a.mov(dword_ptr(RESULTS + 0x30), ecx)?;
    a.cli()?; // CPL 3 > IOPL 0: #GP(0)
    a.hlt()?;
    a.assemble(USER_CODE as u64)
}

fn entry16() -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(16)?;
    a.cli()?;
    a.lgdt(dword_ptr(0x500))?;
    a.mov(eax, cr0)?;
    a.or(eax, 1u32)?;
    a.mov(cr0, eax)?;
    // jmp dword 0x08:CODE32 (66 EA imm32 imm16)
    a.db(&[0x66, 0xEA])?;
    a.dd(&[CODE32])?;
    a.dw(&[0x08])?;
    a.assemble(0x7C00)
}

fn build() -> Machine {
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    let (code, l) = code32().unwrap();
    m.write_phys(CODE32 as u64, &code).unwrap();
    m.write_phys(USER_CODE as u64, &user32().unwrap()).unwrap();
    let gdt = [
        0,
        descriptor(0, 0xFFFFF, 0x9A, 0xC), // 0x08 ring-0 code, flat, 32-bit
        descriptor(0, 0xFFFFF, 0x92, 0xC), // 0x10 ring-0 data
        descriptor(0, 0xFFFFF, 0xFA, 0xC), // 0x18 ring-3 code
        descriptor(0, 0xFFFFF, 0xF2, 0xC), // 0x20 ring-3 data
        descriptor(TSS, 0x67, 0x89, 0),    // 0x28 available 32-bit TSS
    ];
    for (i, d) in gdt.iter().enumerate() {
        m.write_phys((GDT + 8 * i as u32) as u64, &d.to_le_bytes())
            .unwrap();
    }
    // GDTR and IDTR pseudo-descriptors
    m.write_phys(0x500, &[(gdt.len() * 8 - 1) as u8, 0])
        .unwrap();
    w32(&mut m, 0x502, GDT);
    m.write_phys(0x510, &[0xFF, 0x07]).unwrap();
    w32(&mut m, 0x512, IDT);
    for (v, off, dpl) in [
        (13u32, l.gp, 0u8),
        (14, l.pf, 0),
        (0x80, l.syscall, 3),
        (17, l.ac, 0),
    ] {
        m.write_phys(
            (IDT + 8 * v) as u64,
            &gate(0x08, off, 0xE, dpl).to_le_bytes(),
        )
        .unwrap();
    }
    // TSS: ESP0, SS0; the I/O map base beyond the limit (no port allowed at CPL 3)
    w32(&mut m, TSS + 4, RING0_STACK);
    w32(&mut m, TSS + 8, 0x10);
    w32(&mut m, TSS + 100, 0x68 << 16);
    // paging: PDE 0 → PT, user/writable; identity-map 4 MiB except the page at 0x200000
    w32(&mut m, PD, PT | 7);
    for p in 0..1024u32 {
        if p != 0x200 {
            w32(&mut m, PT + 4 * p, (p << 12) | 7);
        }
    }
    m.load_flat(&entry16().unwrap(), 0x7C00, 0x7C00).unwrap();
    m
}

#[test]
fn protected_mode_paging_rings_and_faults() {
    let mut m = build();
    let exit = m.run(10_000).unwrap();
    assert_eq!(exit, ExitReason::Halted, "state: {:x?}", m.cpu_state());
    assert_eq!(
        m.take_debug_output(),
        b"P",
        "'P' after the page fault was handled (ring 0)"
    );
    // #PF: CR2 = the faulting linear address; error code 2 = W (write), P=0 (not present),
    // U=0 (supervisor) (SDM vol. 3A, 4.7)
    assert_eq!(r32(&m, RESULTS), 0x20_0010);
    assert_eq!(r32(&m, RESULTS + 4), 2);
    // the retried store went through the new mapping: linear 0x200010 → physical 0x300010
    assert_eq!(r32(&m, 0x30_0010), 0x1234);
    // and the MMU set Accessed (bit 5) and Dirty (bit 6) in that PTE (4.8)
    assert_eq!(r32(&m, PT + 0x200 * 4) & 0x60, 0x60);
    // INT 0x80 from CPL 3 through a DPL-3 gate: EAX = 42 reached the handler; it pushed the
    // old CS 0x1B and old SS 0x23 (privilege change: SS, ESP, EFLAGS, CS, EIP; 6.12.1)
    assert_eq!(r32(&m, RESULTS + 8), 42);
    assert_eq!(r32(&m, RESULTS + 12), 0x1B);
    assert_eq!(r32(&m, RESULTS + 16), 0x23);
    // the handler ran on the TSS ring-0 stack: ESP0 − 5 dwords (no error code) = 0x9EFEC
    assert_eq!(r32(&m, RESULTS + 0x24), RING0_STACK - 20);
    // back in ring 3 the user store worked (EAX = 42 with AL = 'U' = 0x55 → 0x55)
    assert_eq!(r32(&m, RESULTS + 0x20), 0x55);
    // #AC once, error code 0 (6.15 interrupt 17); the retried load read bytes 0x621..0x624:
    // the upper three bytes of the dword 0x55 at 0x620, then the low byte of the ESP value
    // 0x9EFEC stored at 0x624 → 0xEC000000
    assert_eq!(r32(&m, RESULTS + 0x2C), 1);
    assert_eq!(r32(&m, RESULTS + 0x28), 0);
    assert_eq!(r32(&m, RESULTS + 0x30), 0xEC00_0000);
    // CLI at CPL 3 with IOPL 0: #GP(0), pushed CS = 0x1B
    assert_eq!(r32(&m, RESULTS + 20), 0);
    assert_eq!(r32(&m, RESULTS + 24), 0x1B);
    let s = m.cpu_state();
    // halted in the ring-0 #GP handler: CS = 0x08, SS = 0x10 from the TSS
    assert_eq!(s.segs[SegReg::Cs as usize].selector, 0x08);
    assert_eq!(s.segs[SegReg::Ss as usize].selector, 0x10);
}
