//! Guest program "privilege": ring 0 → ring 3 with IRETD, system calls back to ring 0 through
//! a DPL-3 interrupt gate (stack from the TSS), a call gate with parameter copying and RETF to
//! the outer level, SYSENTER/SYSEXIT, the TSS I/O permission bitmap (port 0xE9 allowed at
//! CPL 3, port 0x80 not), privileged instructions at CPL 3, and an IDT limit violation.
//! Prints the selectors and stack values each transition produces.

use crate::guests::{Guest, IDT};
use iced_x86::code_asm::*;

const TSS: u32 = 0x3000;
const RING0_STACK: u32 = 0x9F000;
const RING3_STACK: u32 = 0x8F000;

/// Builds the program.
pub fn build() -> Result<Vec<u8>, IcedError> {
    crate::guests::two_pass(program)
}

fn gate(selector: u16, typ: u8, dpl: u8, params: u8) -> (u32, u32) {
    // offset filled at run time; returns (low dword without offset, high dword without offset)
    (
        (selector as u32) << 16,
        (0x80 | (dpl as u32) << 5 | typ as u32) << 8 | params as u32,
    )
}

fn program(g: &mut Guest) -> Result<(), IcedError> {
    let tss_desc = 0x0000_8900_0000_0000u64 | (TSS as u64 & 0xFF_FFFF) << 16 | (0x68 + 32) as u64;
    g.install_handlers(&[
        0,
        0x00CF_9B00_0000_FFFF, // 0x08 ring-0 code
        0x00CF_9300_0000_FFFF, // 0x10 ring-0 data
        0x00CF_FB00_0000_FFFF, // 0x18 ring-3 code
        0x00CF_F300_0000_FFFF, // 0x20 ring-3 data
        tss_desc,              // 0x28 TSS (limit covers an I/O bitmap for ports 0-0xFF)
        0,                     // 0x30 call gate (filled below)
    ])?;
    let mut user = g.a.create_label();
    let mut syscall = g.a.create_label();
    let mut callgate = g.a.create_label();
    let mut sysenter = g.a.create_label();
    let mut done = g.a.create_label();
    let mut after_sysexit = g.a.create_label();
    let mut entry = g.a.create_label();
    g.a.jmp(entry)?;

    // INT 0x80 handler (ring 0): EAX = 0xFFFFFFFF ends the program; otherwise print what the
    // gate pushed and return EAX * 2
    g.a.set_label(&mut syscall)?;
    g.a.cmp(eax, u32::MAX)?;
    g.a.je(done)?;
    g.a.push(eax)?;
    g.a.mov(eax, cs)?;
    g.report("syscall cs")?;
    g.a.mov(eax, dword_ptr(esp + 8))?;
    g.report("syscall pushed cs")?;
    g.a.mov(eax, dword_ptr(esp + 20))?;
    g.report("syscall pushed ss")?;
    g.a.lea(eax, dword_ptr(esp + 4))?;
    g.report("syscall esp")?;
    g.a.pop(eax)?;
    g.a.add(eax, eax)?;
    g.a.iretd()?;

    // call-gate target (ring 0): print the copied parameters and the caller's stack, RETF 8
    g.a.set_label(&mut callgate)?;
    for (name, off) in [
        ("gate eip-pushed cs", 4u32),
        ("gate param 0", 8),
        ("gate param 1", 12),
        ("gate old ss", 20),
    ] {
        g.a.mov(eax, dword_ptr(esp + off))?;
        g.report(name)?;
    }
    g.a.mov(eax, esp)?;
    g.report("gate esp")?;
    g.a.retf_1(8u32)?;

    // SYSENTER target (ring 0)
    g.a.set_label(&mut sysenter)?;
    g.a.mov(eax, cs)?;
    g.report("sysenter cs")?;
    g.a.mov(eax, ss)?;
    g.report("sysenter ss")?;
    g.a.mov(eax, esp)?;
    g.report("sysenter esp")?;
    g.a.sysexit()?;

    g.a.set_label(&mut entry)?;
    // IDT vector 0x80 (DPL 3 interrupt gate) and a larger IDT limit
    let (lo, hi) = gate(0x08, 0xE, 3, 0);
    g.mov_label(eax, syscall)?;
    g.a.mov(word_ptr(IDT + 0x80 * 8), ax)?;
    g.a.mov(word_ptr(IDT + 0x80 * 8 + 2), lo >> 16)?;
    g.a.mov(word_ptr(IDT + 0x80 * 8 + 4), hi & 0xFFFF)?;
    g.a.shr(eax, 16u32)?;
    g.a.mov(word_ptr(IDT + 0x80 * 8 + 6), ax)?;
    g.a.mov(word_ptr(0x610), (0x81 * 8 - 1) as u32)?;
    g.a.lidt(dword_ptr(0x610))?;
    // GDT 0x30: 32-bit call gate, DPL 3, 2 parameters, to 0x08:callgate
    let (lo, hi) = gate(0x08, 0xC, 3, 2);
    g.mov_label(eax, callgate)?;
    g.a.mov(word_ptr(crate::guests::GDT + 0x30), ax)?;
    g.a.mov(word_ptr(crate::guests::GDT + 0x32), lo >> 16)?;
    g.a.mov(word_ptr(crate::guests::GDT + 0x34), hi & 0xFFFF)?;
    g.a.shr(eax, 16u32)?;
    g.a.mov(word_ptr(crate::guests::GDT + 0x36), ax)?;
    // TSS: ESP0/SS0; I/O bitmap at 0x68 denying every port but 0xE9
    g.a.mov(dword_ptr(TSS + 4), RING0_STACK)?;
    g.a.mov(dword_ptr(TSS + 8), 0x10u32)?;
    g.a.mov(dword_ptr(TSS + 100), 0x68u32 << 16)?;
    for i in 0..8u32 {
        g.a.mov(dword_ptr(TSS + 0x68 + 4 * i), u32::MAX)?;
    }
    g.a.mov(
        byte_ptr(TSS + 0x68 + 0xE9 / 8),
        !(1u32 << (0xE9 % 8)) & 0xFF,
    )?;
    g.a.mov(byte_ptr(TSS + 0x68 + 32), 0xFFu32)?;
    g.a.mov(ax, 0x28u32)?;
    g.a.ltr(ax)?;
    // SYSENTER MSRs
    g.a.xor(edx, edx)?;
    for (msr, v) in [(0x174u32, 0x08u32), (0x175, RING0_STACK - 0x1000)] {
        g.a.mov(ecx, msr)?;
        g.a.mov(eax, v)?;
        g.a.wrmsr()?;
    }
    g.a.mov(ecx, 0x176u32)?;
    g.mov_label(eax, sysenter)?;
    g.a.wrmsr()?;
    // to ring 3
    g.a.push(0x23u32)?;
    g.a.push(RING3_STACK)?;
    g.a.push(0x2u32)?;
    g.a.push(0x1Bu32)?;
    let r = g.mov_label(eax, user)?;
    g.a.push(eax)?;
    g.a.iretd()?;

    g.a.set_label(&mut user)?;
    g.bind(r, user);
    g.a.mov(ax, 0x23u32)?;
    g.a.mov(ds, ax)?;
    g.a.mov(es, ax)?;
    g.a.mov(eax, cs)?;
    g.report("user cs")?;
    g.a.mov(eax, 7u32)?;
    g.a.int(0x80u32)?;
    g.report("syscall returned")?;
    g.a.push(0x1111u32)?;
    g.a.push(0x2222u32)?;
    g.a.call_far(0x33u16, 0u32)?;
    g.a.mov(eax, esp)?;
    g.report("esp after gate return")?;
    g.a.mov(ecx, esp)?;
    let r2 = g.mov_label(edx, after_sysexit)?;
    g.a.sysenter()?;
    g.a.set_label(&mut after_sysexit)?;
    g.bind(r2, after_sysexit);
    g.a.mov(eax, cs)?;
    g.report("after sysexit cs")?;
    g.a.mov(eax, ss)?;
    g.report("after sysexit ss")?;
    g.expect_fault("out-port-80-at-cpl3", &|a| a.out(0x80u32, al))?;
    g.expect_fault("hlt-at-cpl3", &|a| a.hlt())?;
    g.expect_fault("mov-cr3-at-cpl3", &|a| a.mov(eax, cr3))?;
    g.expect_fault("int-beyond-idt-limit", &|a| a.int(0x81u32))?;
    g.expect_fault("int-through-dpl0-gate", &|a| a.int(0x0Du32))?;
    g.a.mov(eax, u32::MAX)?;
    g.a.int(0x80u32)?;
    g.set_done(&mut done)?;
    Ok(())
}
