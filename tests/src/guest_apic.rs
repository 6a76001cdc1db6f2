//! Guest program "apic": the local APIC (TPR/PPR, a self-IPI held back by the task priority,
//! ISR/IRR bits, EOI, the timer in one-shot and periodic modes), the I/O APIC (the PIT on pin
//! 2 as an edge-triggered vector; the UART on pin 4 level-triggered, with Remote IRR set until
//! the EOI) and the ACPI PM timer (it advances). The 8259A is fully masked so every interrupt
//! comes through the APICs. Prints only values the architecture defines, no IDs or versions.

use crate::guests::{Guest, IDT};
use iced_x86::code_asm::*;

const LAPIC: u32 = 0xFEE0_0000;
const IOAPIC: u32 = 0xFEC0_0000;
/// Interrupt counters, one dword per handler.
const COUNT: u32 = 0x30_0000;
const V_IPI: u32 = 0x41;
const V_TIMER: u32 = 0x42;
const V_PIT: u32 = 0x50;
const V_UART: u32 = 0x54;

/// Builds the program.
pub fn build() -> Result<Vec<u8>, IcedError> {
    crate::guests::two_pass(program)
}

/// Points IDT vector `v` at `label` (interrupt gate, ring 0).
fn gate(g: &mut Guest, v: u32, label: CodeLabel) -> Result<(), IcedError> {
    g.mov_label(eax, label)?;
    g.a.mov(word_ptr(IDT + 8 * v), ax)?;
    g.a.mov(word_ptr(IDT + 8 * v + 2), 0x08u32)?;
    g.a.mov(word_ptr(IDT + 8 * v + 4), 0x8E00u32)?;
    g.a.shr(eax, 16u32)?;
    g.a.mov(word_ptr(IDT + 8 * v + 6), ax)
}

/// EAX = I/O APIC register `index`.
fn ioapic_read(g: &mut Guest, index: u32) -> Result<(), IcedError> {
    g.a.mov(dword_ptr(IOAPIC), index)?;
    g.a.mov(eax, dword_ptr(IOAPIC + 0x10))
}

fn ioapic_write(g: &mut Guest, index: u32, v: u32) -> Result<(), IcedError> {
    g.a.mov(dword_ptr(IOAPIC), index)?;
    g.a.mov(dword_ptr(IOAPIC + 0x10), v)
}

/// Opens an interrupt window: a short loop with IF set (a loop, so an emulator that checks
/// for interrupts only between translated blocks sees one too).
fn window(g: &mut Guest) -> Result<(), IcedError> {
    g.a.sti()?;
    g.a.mov(ecx, 1000u32)?;
    let mut spin = g.a.create_label();
    g.a.set_label(&mut spin)?;
    g.a.dec(ecx)?;
    g.a.jnz(spin)?;
    g.a.cli()
}

fn program(g: &mut Guest) -> Result<(), IcedError> {
    g.install_handlers(&[0, 0x00CF_9B00_0000_FFFF, 0x00CF_9300_0000_FFFF])?;
    let mut ipi = g.a.create_label();
    let mut timer = g.a.create_label();
    let mut pit = g.a.create_label();
    let mut uart = g.a.create_label();
    let mut entry = g.a.create_label();
    g.a.jmp(entry)?;

    // the self-IPI handler: its ISR bit (vector 0x41 = bank 2, bit 1) while in service
    g.a.set_label(&mut ipi)?;
    g.a.inc(dword_ptr(COUNT))?;
    g.a.mov(eax, dword_ptr(LAPIC + 0x120))?;
    g.report("ipi handler isr bank 2")?;
    g.a.mov(dword_ptr(LAPIC + 0xB0), 0u32)?;
    g.a.mov(eax, dword_ptr(LAPIC + 0x120))?;
    g.report("after eoi isr bank 2")?;
    g.a.iretd()?;

    g.a.set_label(&mut timer)?;
    g.a.inc(dword_ptr(COUNT + 4))?;
    g.a.mov(dword_ptr(LAPIC + 0xB0), 0u32)?;
    g.a.iretd()?;

    g.a.set_label(&mut pit)?;
    g.a.inc(dword_ptr(COUNT + 8))?;
    g.a.mov(dword_ptr(LAPIC + 0xB0), 0u32)?;
    g.a.iretd()?;

    // the UART's level-triggered interrupt: Remote IRR is set while it is in service
    g.a.set_label(&mut uart)?;
    g.a.inc(dword_ptr(COUNT + 12))?;
    ioapic_read(g, 0x10 + 2 * 4)?;
    g.a.and(eax, 0x4000u32)?;
    g.report("uart handler remote irr")?;
    g.a.mov(dx, 0x3FAu32)?;
    g.a.in_(al, dx)?; // IIR: reading it acknowledges THRE, the line drops
    g.a.and(eax, 0x0Fu32)?;
    g.report("uart iir")?;
    g.a.mov(dx, 0x3F9u32)?;
    g.a.mov(al, 0u32)?;
    g.a.out(dx, al)?; // IER = 0: no new interrupt
    g.a.mov(dword_ptr(LAPIC + 0xB0), 0u32)?;
    ioapic_read(g, 0x10 + 2 * 4)?;
    g.a.and(eax, 0x4000u32)?;
    g.report("after eoi remote irr")?;
    g.a.iretd()?;

    g.a.set_label(&mut entry)?;
    g.a.mov(word_ptr(0x610), 0x7FFu32)?; // IDT limit: all 256 vectors
    g.a.lidt(dword_ptr(0x610))?;
    gate(g, V_IPI, ipi)?;
    gate(g, V_TIMER, timer)?;
    gate(g, V_PIT, pit)?;
    gate(g, V_UART, uart)?;
    for i in 0..4 {
        g.a.mov(dword_ptr(COUNT + 4 * i), 0u32)?;
    }
    // mask both 8259As: every interrupt below comes through the APICs
    g.a.mov(al, 0xFFu32)?;
    g.a.out(0x21, al)?;
    g.a.out(0xA1, al)?;
    g.a.mov(dword_ptr(LAPIC + 0xF0), 0x1FFu32)?; // software enable, spurious vector 0xFF
    g.a.mov(eax, dword_ptr(LAPIC + 0xF0))?;
    g.a.and(eax, 0x1FFu32)?;
    g.report("svr")?;

    g.print("test task priority\n")?;
    g.a.mov(dword_ptr(LAPIC + 0x80), 0x20u32)?;
    g.a.mov(eax, dword_ptr(LAPIC + 0x80))?;
    g.report("tpr")?;
    g.a.mov(eax, dword_ptr(LAPIC + 0xA0))?;
    g.report("ppr")?;

    g.print("test self ipi held by tpr\n")?;
    g.a.mov(dword_ptr(LAPIC + 0x80), 0x50u32)?;
    g.a.mov(dword_ptr(LAPIC + 0x310), 0u32)?;
    g.a.mov(dword_ptr(LAPIC + 0x300), 0x0004_4000u32 | V_IPI)?; // self, fixed
    window(g)?;
    g.a.mov(eax, dword_ptr(COUNT))?;
    g.report("delivered with tpr 0x50")?;
    g.a.mov(eax, dword_ptr(LAPIC + 0x220))?;
    g.report("irr bank 2")?;
    g.a.mov(dword_ptr(LAPIC + 0x80), 0u32)?;
    window(g)?;
    g.a.mov(eax, dword_ptr(COUNT))?;
    g.report("delivered with tpr 0")?;

    g.print("test timer one-shot\n")?;
    g.a.mov(dword_ptr(LAPIC + 0x3E0), 0xBu32)?; // divide by 1
    g.a.mov(dword_ptr(LAPIC + 0x320), V_TIMER)?;
    g.a.mov(dword_ptr(LAPIC + 0x380), 100_000u32)?;
    g.a.sti()?;
    g.a.hlt()?;
    g.a.cli()?;
    g.a.mov(eax, dword_ptr(COUNT + 4))?;
    g.report("timer interrupts")?;
    g.a.mov(eax, dword_ptr(LAPIC + 0x390))?;
    g.report("current count")?;

    g.print("test timer periodic\n")?;
    g.a.mov(dword_ptr(LAPIC + 0x320), 0x2_0000u32 | V_TIMER)?;
    g.a.mov(dword_ptr(LAPIC + 0x380), 50_000u32)?;
    for _ in 0..3 {
        g.a.sti()?;
        g.a.hlt()?;
        g.a.cli()?;
    }
    g.a.mov(dword_ptr(LAPIC + 0x320), 0x1_0000u32 | V_TIMER)?; // masked
    g.a.mov(dword_ptr(LAPIC + 0x380), 0u32)?; // stopped
                                              // each HLT ended with a timer interrupt (one more may have been pending meanwhile,
                                              // depending on the host's speed under a wall-clock emulator)
    g.a.mov(eax, dword_ptr(COUNT + 4))?;
    g.a.cmp(eax, 4u32)?;
    g.a.setae(al)?;
    g.a.movzx(eax, al)?;
    g.report("at least 3 periodic interrupts")?;

    g.print("test ioapic edge pin 2 (pit)\n")?;
    ioapic_write(g, 0x11 + 2 * 2, 0)?; // destination APIC 0
    ioapic_write(g, 0x10 + 2 * 2, V_PIT)?; // edge, active high, unmasked
    g.a.mov(al, 0x34u32)?; // channel 0, lobyte/hibyte, mode 2
    g.a.out(0x43, al)?;
    g.a.mov(al, 0xA9u32)?; // 1193 = 1 ms
    g.a.out(0x40, al)?;
    g.a.mov(al, 0x04u32)?;
    g.a.out(0x40, al)?;
    g.a.sti()?;
    g.a.hlt()?;
    g.a.cli()?;
    ioapic_write(g, 0x10 + 2 * 2, 0x1_0000 | V_PIT)?; // masked again
    g.a.mov(eax, dword_ptr(COUNT + 8))?;
    g.a.test(eax, eax)?;
    g.a.setnz(al)?;
    g.a.movzx(eax, al)?;
    g.report("pit interrupt arrived")?;

    g.print("test ioapic level pin 4 (uart)\n")?;
    ioapic_write(g, 0x11 + 2 * 4, 0)?;
    ioapic_write(g, 0x10 + 2 * 4, 0x8000 | V_UART)?; // level-triggered, unmasked
    g.a.mov(dx, 0x3FCu32)?;
    g.a.mov(al, 0x08u32)?; // MCR: OUT2 (the interrupt line's enable)
    g.a.out(dx, al)?;
    g.a.mov(dx, 0x3F9u32)?;
    g.a.mov(al, 0x02u32)?; // IER: transmitter empty
    g.a.out(dx, al)?;
    window(g)?;
    g.a.mov(eax, dword_ptr(COUNT + 12))?;
    g.report("uart interrupts")?;

    g.print("test pm timer\n")?;
    g.a.mov(dx, 0x608u32)?;
    g.a.in_(eax, dx)?;
    g.a.mov(ebx, eax)?;
    g.a.mov(ecx, 20_000u32)?;
    let mut spin = g.a.create_label();
    g.a.set_label(&mut spin)?;
    g.a.dec(ecx)?;
    g.a.jnz(spin)?;
    g.a.in_(eax, dx)?;
    g.a.sub(eax, ebx)?;
    g.a.and(eax, 0xFF_FFFFu32)?; // 24-bit timer (or 32): the low bits advanced
    g.a.test(eax, eax)?;
    g.a.setnz(al)?;
    g.a.movzx(eax, al)?;
    g.report("pm timer advanced")
}
