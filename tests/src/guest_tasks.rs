//! Guest program "tasks": hardware task switches with 32-bit TSSes (CALL to a TSS and IRET
//! back through the link, JMP to a TSS, a double fault through a task gate) and virtual-8086
//! mode (entry with IRETD, an INT from V86 mode into a ring-0 handler and its frame).
//! Prints registers, links, busy bits and the frames the transitions produce.

use crate::guests::{Guest, GDT, IDT};
use iced_x86::code_asm::*;

const TSS_MAIN: u32 = 0x3000;
const TSS_B: u32 = 0x3100;
const TSS_C: u32 = 0x3200;
const V86_CODE: u32 = 0x2_0010;

/// Builds the program.
pub fn build() -> Result<Vec<u8>, IcedError> {
    crate::guests::two_pass(program)
}

fn tss_desc(base: u32) -> u64 {
    0x0000_8900_0000_0000u64 | (base as u64 & 0xFF_FFFF) << 16 | 0x67
}

fn program(g: &mut Guest) -> Result<(), IcedError> {
    g.install_handlers(&[
        0,
        0x00CF_9B00_0000_FFFF,
        0x00CF_9300_0000_FFFF,
        tss_desc(TSS_MAIN), // 0x18
        tss_desc(TSS_B),    // 0x20
        tss_desc(TSS_C),    // 0x28
    ])?;
    let mut task_b = g.a.create_label();
    let mut task_c = g.a.create_label();
    let mut int21 = g.a.create_label();
    let mut after_v86 = g.a.create_label();
    let mut entry = g.a.create_label();
    g.a.jmp(entry)?;

    // task B: print its EAX and EFLAGS.NT, return with IRET (NT set: back to the caller)
    g.a.set_label(&mut task_b)?;
    g.report("task b eax")?;
    g.a.pushfd()?;
    g.a.pop(eax)?;
    g.a.and(eax, 0x4000u32)?;
    g.report("task b nt")?;
    g.a.str(ax)?;
    g.a.movzx(eax, ax)?;
    g.report("task b tr")?;
    g.a.mov(eax, 0xB0B0u32)?;
    g.a.iretd()?;
    g.a.jmp(task_b)?; // a later switch to B resumes here

    // task C: the double-fault task
    g.a.set_label(&mut task_c)?;
    g.a.pop(eax)?;
    g.report("task c error code")?;
    g.a.str(ax)?;
    g.a.movzx(eax, ax)?;
    g.report("task c tr")?;
    g.a.mov(eax, dword_ptr(TSS_MAIN + 32))?;
    g.report("saved eip of the faulting task")?;
    let mut resume_main = g.a.create_label();
    let r = g.mov_label(eax, resume_main)?;
    // resume the main task at `resume_main` by JMP to its TSS (busy → make it available)
    g.a.mov(dword_ptr(TSS_MAIN + 32), eax)?;
    g.a.and(byte_ptr(GDT + 0x18 + 5), 0xFDu32)?;
    g.a.jmp_far(0x18u16, 0u32)?;

    // INT 0x21 from V86 mode (ring 0 handler): the frame holds GS FS DS ES SS ESP EFLAGS CS EIP
    g.a.set_label(&mut int21)?;
    g.a.movzx(eax, ax)?;
    g.report("v86 ax")?;
    for (name, off) in [
        ("v86 eip", 0u32),
        ("v86 cs", 4),
        ("v86 eflags", 8),
        ("v86 ss", 16),
        ("v86 es", 20),
        ("v86 ds", 24),
    ] {
        g.a.mov(eax, dword_ptr(esp + off))?;
        g.report(name)?;
    }
    g.a.mov(eax, ds)?;
    g.report("ds in handler")?;
    g.a.mov(ax, 0x10u32)?;
    g.a.mov(ds, ax)?;
    g.a.mov(es, ax)?;
    g.a.mov(fs, ax)?;
    g.a.mov(gs, ax)?;
    g.a.add(esp, 36u32)?; // drop the V86 frame; continue in ring 0
    g.a.jmp(after_v86)?;

    g.a.set_label(&mut entry)?;
    // TSSes: main is current; B and C start at their labels with their own stacks
    g.a.mov(ax, 0x18u32)?;
    g.a.ltr(ax)?;
    for (tss, label, stack) in [(TSS_B, task_b, 0x7_0000u32), (TSS_C, task_c, 0x6_0000)] {
        g.mov_label(eax, label)?;
        g.a.mov(dword_ptr(tss + 32), eax)?;
        g.a.mov(dword_ptr(tss + 36), 2u32)?;
        g.a.mov(dword_ptr(tss + 40), 0x1234u32)?; // EAX
        g.a.mov(dword_ptr(tss + 56), stack)?; // ESP
        for (i, sel) in [0x10u32, 0x08, 0x10, 0x10, 0x10, 0x10].iter().enumerate() {
            g.a.mov(dword_ptr(tss + 72 + 4 * i as u32), *sel)?;
        }
        g.a.mov(eax, cr3)?;
        g.a.mov(dword_ptr(tss + 28), eax)?;
    }
    g.a.mov(dword_ptr(TSS_MAIN + 4), 0x9_F000u32)?; // ESP0 for V86 interrupts
    g.a.mov(dword_ptr(TSS_MAIN + 8), 0x10u32)?;
    g.a.mov(eax, 0x1111u32)?;
    g.a.call_far(0x20u16, 0u32)?;
    g.report("back in main eax")?;
    g.a.mov(eax, dword_ptr(TSS_B))?;
    g.report("tss b link")?;
    g.a.mov(eax, dword_ptr(GDT + 0x20 + 4))?;
    g.a.shr(eax, 8u32)?;
    g.a.and(eax, 0xFu32)?;
    g.report("tss b type after return")?;
    // double fault through a task gate: vector 8 → TSS C, #GP gate made not present
    g.a.mov(dword_ptr(IDT + 8 * 8), 0x28u32 << 16)?;
    g.a.mov(dword_ptr(IDT + 8 * 8 + 4), 0x8500u32)?;
    g.a.and(byte_ptr(IDT + 13 * 8 + 5), 0x7Fu32)?;
    g.a.mov(ax, 0x1230u32)?;
    g.a.mov(ds, ax)?;
    g.print("not reached\n")?;
    g.a.set_label(&mut resume_main)?;
    g.bind(r, resume_main);
    g.a.or(byte_ptr(IDT + 13 * 8 + 5), 0x80u32)?;
    g.a.str(ax)?;
    g.a.movzx(eax, ax)?;
    g.report("main again, tr")?;

    // V86 mode: IDT 0x21 → ring-0 handler (DPL 3 gate); real-mode code at 0x2000:0x0010:
    // mov ax, [0x0004] (DS = 0x3000) ; int 0x21
    g.a.mov(ax, 0x10u32)?;
    g.a.mov(ds, ax)?;
    g.mov_label(eax, int21)?;
    g.a.mov(word_ptr(IDT + 0x21 * 8), ax)?;
    g.a.mov(word_ptr(IDT + 0x21 * 8 + 2), 0x08u32)?;
    g.a.mov(word_ptr(IDT + 0x21 * 8 + 4), 0xEE00u32)?;
    g.a.shr(eax, 16u32)?;
    g.a.mov(word_ptr(IDT + 0x21 * 8 + 6), ax)?;
    g.a.mov(word_ptr(0x610), (0x22 * 8 - 1) as u32)?;
    g.a.lidt(dword_ptr(0x610))?;
    for (i, b) in [0xA1u8, 0x04, 0x00, 0xCD, 0x21, 0xF4].iter().enumerate() {
        g.a.mov(byte_ptr(V86_CODE + i as u32), *b as u32)?;
    }
    g.a.mov(word_ptr(0x3_0004), 0xCAFEu32)?;
    for v in [
        0x5000u32, 0x4000, 0x3000, 0x1000, 0x2000, 0xFFF0, 0x2_3002, 0x2000, 0x0010,
    ] {
        g.a.push(v)?; // GS FS DS ES SS ESP EFLAGS (VM, IOPL 3) CS EIP
    }
    g.a.iretd()?;
    g.a.set_label(&mut after_v86)?;
    g.print("back in protected mode\n")?;
    Ok(())
}
