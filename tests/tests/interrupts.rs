//! External (maskable) interrupts at instruction boundaries (SDM vol. 3A, 6.8): taken only
//! with IF set, not in the one-instruction shadow after STI or MOV SS (6.8.3), and ending a
//! HLT. Real-mode handlers record the IP the interrupt pushed.

use iced_x86::code_asm::*;
use vx86_core::{ExitReason, Machine, MachineConfig};
use vx86_tests::util::r32;

/// Loads `code` at 0000:7C00 and a handler for vector 0x20 at 0x7E00 that stores the pushed IP
/// at 0x900 + 2·n (n = the count at 0x8FE) and increments the count.
fn machine(code: &[u8]) -> Machine {
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_flat(code, 0x7C00, 0x7C00).unwrap();
    m.write_phys(0x20 * 4, &[0x00, 0x7E, 0, 0]).unwrap();
    let mut a = CodeAssembler::new(16).unwrap();
    a.push(bp).unwrap();
    a.push(bx).unwrap();
    a.mov(bp, sp).unwrap();
    a.mov(bx, word_ptr(0x8FE)).unwrap();
    a.shl(bx, 1u32).unwrap();
    a.push(ax).unwrap();
    a.mov(ax, word_ptr(bp + 4)).unwrap(); // the pushed IP (above saved BX, BP)
    a.mov(word_ptr(bx + 0x900), ax).unwrap();
    a.pop(ax).unwrap();
    a.inc(word_ptr(0x8FE)).unwrap();
    a.pop(bx).unwrap();
    a.pop(bp).unwrap();
    a.iret().unwrap();
    m.write_phys(0x7E00, &a.assemble(0x7E00).unwrap()).unwrap();
    m
}

/// ICW1-ICW4 for the master (vector base 0x20) and the slave (0x28), as a PC BIOS programs
/// them; the first four entries are the master's.
const PIC_INIT: [(u32, u32); 8] = [
    (0x20, 0x11),
    (0x21, 0x20),
    (0x21, 0x04),
    (0x21, 0x01),
    (0xA0, 0x11),
    (0xA1, 0x28),
    (0xA1, 0x02),
    (0xA1, 0x01),
];

/// `out imm8, al` for each (port, value).
fn outs(a: &mut CodeAssembler, writes: &[(u32, u32)]) -> Result<(), IcedError> {
    for &(port, v) in writes {
        a.mov(al, v)?;
        a.out(port, al)?;
    }
    Ok(())
}

fn asm16(f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vec<u8> {
    let mut a = CodeAssembler::new(16).unwrap();
    f(&mut a).unwrap();
    a.assemble(0x7C00).unwrap()
}

#[test]
fn interrupt_waits_for_if_and_the_sti_shadow() {
    // 7C00 nop; 7C01 nop; 7C02 sti; 7C03 mov ax, 1 (3 bytes); 7C06 mov bx, 2; 7C09 hlt
    let code = asm16(|a| {
        a.nop()?;
        a.nop()?;
        a.sti()?;
        a.mov(ax, 1u32)?;
        a.mov(bx, 2u32)?;
        a.hlt()
    });
    let mut m = machine(&code);
    m.interrupt(0x20); // pending while IF = 0 (load_flat clears IF)
    assert_eq!(m.run(100).unwrap(), ExitReason::Halted);
    // STI sets IF, the instruction after it (mov ax, 1) still runs: taken before 0x7C06
    assert_eq!(r32(&m, 0x8FE) & 0xFFFF, 1);
    assert_eq!(r32(&m, 0x900) & 0xFFFF, 0x7C06);
}

#[test]
fn interrupt_wakes_hlt_and_returns_after_it() {
    // 7C00 sti; 7C01 hlt; 7C02 mov cx, 5; 7C05 hlt
    let code = asm16(|a| {
        a.sti()?;
        a.hlt()?;
        a.mov(cx, 5u32)?;
        a.hlt()
    });
    let mut m = machine(&code);
    assert_eq!(m.run(100).unwrap(), ExitReason::Halted);
    assert_eq!(m.cpu_state().eip, 0x7C02);
    m.interrupt(0x20);
    assert_eq!(m.run(100).unwrap(), ExitReason::Halted);
    // the interrupt ended the HLT; the handler returned to the instruction after it
    assert_eq!(r32(&m, 0x900) & 0xFFFF, 0x7C02);
    assert_eq!(m.cpu_state().regs[1] & 0xFFFF, 5);
    assert_eq!(m.cpu_state().eip, 0x7C06);
}

#[test]
fn mov_ss_inhibits_interrupts_for_one_instruction() {
    // 7C00 sti; 7C01 nop; 7C02 mov ss, ax (8E D0); 7C04 mov sp, 0x7000; 7C07 nop; 7C08 hlt
    let code = asm16(|a| {
        a.sti()?;
        a.nop()?;
        a.mov(ss, ax)?;
        a.mov(sp, 0x7000u32)?;
        a.nop()?;
        a.hlt()
    });
    let mut m = machine(&code);
    assert_eq!(m.run(3).unwrap(), ExitReason::BudgetReached); // sti, nop, mov ss
    m.interrupt(0x20);
    assert_eq!(m.run(100).unwrap(), ExitReason::Halted);
    // not between MOV SS and MOV SP: taken before the NOP at 0x7C07, on the new stack
    assert_eq!(r32(&m, 0x900) & 0xFFFF, 0x7C07);
    assert_eq!(
        r32(&m, 0x6FFA) & 0xFFFF,
        0x7C07,
        "IP pushed at SS:SP − 6 of the new stack"
    );
}

#[test]
fn halted_with_interrupts_disabled_stays_halted() {
    let code = asm16(|a| {
        a.cli()?;
        a.hlt()
    });
    let mut m = machine(&code);
    m.interrupt(0x20);
    assert_eq!(m.run(100).unwrap(), ExitReason::Halted);
    assert_eq!(m.run(100).unwrap(), ExitReason::Halted);
    assert_eq!(
        r32(&m, 0x8FE) & 0xFFFF,
        0,
        "IF = 0: the interrupt is never taken"
    );
}

#[test]
fn pic_delivers_an_irq_line_with_its_vector_and_eoi() {
    // Initialise the 8259A pair like a PC BIOS (ICW1 0x11, ICW2 0x20/0x28, ICW3, ICW4 0x01),
    // unmask IRQ 3 only, then loop on HLT counting wake-ups in CX. The IRQ 3 handler (vector
    // 0x20 + 3) stores the in-service register and sends a non-specific EOI.
    let code = asm16(|a| {
        outs(a, &PIC_INIT)?;
        outs(a, &[(0x21, 0xF7), (0xA1, 0xFF)])?;
        a.xor(cx, cx)?;
        a.sti()?;
        let mut again = a.create_label();
        a.set_label(&mut again)?;
        a.hlt()?;
        a.inc(cx)?;
        a.jmp(again)
    });
    let mut m = machine(&code);
    m.write_phys(0x23 * 4, &[0x00, 0x7F, 0, 0]).unwrap();
    let mut h = CodeAssembler::new(16).unwrap();
    h.mov(al, 0x0Bu32).unwrap(); // OCW3: read ISR
    h.out(0x20u32, al).unwrap();
    h.in_(al, 0x20u32).unwrap();
    h.mov(byte_ptr(0x950), al).unwrap();
    h.inc(word_ptr(0x952)).unwrap();
    h.mov(al, 0x20u32).unwrap(); // non-specific EOI
    h.out(0x20u32, al).unwrap();
    h.iret().unwrap();
    m.write_phys(0x7F00, &h.assemble(0x7F00).unwrap()).unwrap();
    assert_eq!(m.run(1000).unwrap(), ExitReason::Halted);
    m.set_irq(3, true);
    assert_eq!(m.run(1000).unwrap(), ExitReason::Halted);
    // one interrupt: IRQ 3 was in service in the handler (ISR bit 3), CX counted one wake-up
    assert_eq!(r32(&m, 0x950) & 0xFF, 0x08);
    assert_eq!(r32(&m, 0x952) & 0xFFFF, 1);
    assert_eq!(m.cpu_state().regs[1] & 0xFFFF, 1);
    // an edge-triggered line that stays high does not interrupt again
    m.set_irq(3, true);
    assert_eq!(m.run(1000).unwrap(), ExitReason::Halted);
    assert_eq!(r32(&m, 0x952) & 0xFFFF, 1);
    // a new rising edge does; a masked line (IRQ 4) does not
    m.set_irq(4, true);
    m.set_irq(3, false);
    m.set_irq(3, true);
    assert_eq!(m.run(1000).unwrap(), ExitReason::Halted);
    assert_eq!(r32(&m, 0x952) & 0xFFFF, 2);
    assert_eq!(m.cpu_state().regs[1] & 0xFFFF, 2);
}

/// PIT channel 0, mode 2, count 1193 (≈1 kHz); IRQ 0 unmasked; the loop halts until ten
/// timer interrupts were counted, then stops with CLI; HLT. The handler (vector 0x20 = IRQ 0
/// after the ICW2 of `PIC_INIT`) counts at 0x8FE and sends the EOI the next tick needs.
fn pit_machine() -> Machine {
    let code = asm16(|a| {
        outs(a, &PIC_INIT[..4])?;
        outs(
            a,
            &[
                (0x21, 0xFE),
                (0x43, 0x34),
                (0x40, 1193 & 0xFF),
                (0x40, 1193 >> 8),
            ],
        )?;
        a.sti()?;
        let mut again = a.create_label();
        a.set_label(&mut again)?;
        a.hlt()?;
        a.cmp(word_ptr(0x8FE), 10u32)?;
        a.jb(again)?;
        a.cli()?;
        a.hlt()
    });
    let mut m = machine(&code);
    let mut h = CodeAssembler::new(16).unwrap();
    h.inc(word_ptr(0x8FE)).unwrap();
    h.push(ax).unwrap();
    h.mov(al, 0x20u32).unwrap();
    h.out(0x20u32, al).unwrap();
    h.pop(ax).unwrap();
    h.iret().unwrap();
    m.write_phys(0x7E00, &h.assemble(0x7E00).unwrap()).unwrap();
    m
}

#[test]
fn pit_ticks_wake_hlt_in_virtual_time() {
    let run = || {
        let mut m = pit_machine();
        assert_eq!(m.run(100_000).unwrap(), ExitReason::Halted);
        (
            r32(&m, 0x8FE) & 0xFFFF,
            m.instruction_count(),
            m.virtual_time_ns(),
        )
    };
    let (ticks, insns, ns) = run();
    assert_eq!(ticks, 10);
    // the tenth edge comes at 10 × 1193 input ticks = 11930 × 10^9 / 1193182 ns ≈ 9.998 ms;
    // the few instructions after it take 1 ns each at the default 1 GHz
    let tenth = (11930u128 * 1_000_000_000).div_ceil(1_193_182) as u64;
    assert!(
        ns >= tenth && ns < tenth + 1000,
        "virtual time {ns} ns, tenth tick at {tenth} ns"
    );
    assert!(
        insns < 1000,
        "halted time is skipped, not executed ({insns} instructions)"
    );
    // and the same run gives the same result
    assert_eq!(run(), (ticks, insns, ns));
}

#[test]
fn an_idle_limit_holds_a_halted_guest_without_changing_its_run() {
    let mut free = pit_machine();
    assert_eq!(free.run(100_000).unwrap(), ExitReason::Halted);
    // paced: the limit moves 250 µs at a time, as a host following a wall clock would
    let mut paced = pit_machine();
    let (mut limit, mut idles) = (0u64, 0);
    loop {
        paced.set_idle_limit(Some(limit));
        let before = (paced.instruction_count(), paced.virtual_time_ns());
        match paced.run(100_000).unwrap() {
            ExitReason::Idle => {
                idles += 1;
                // halted, the next tick beyond the limit, and no idle time skipped towards it
                assert!(paced.cpu_state().halted);
                assert!(paced.next_timer_ns().unwrap() > limit);
                assert!(paced.virtual_time_ns() <= limit.max(before.1) + 1000);
                assert!(paced.instruction_count() >= before.0);
                limit += 250_000;
            }
            ExitReason::Halted => break,
            other => panic!("{other:?}"),
        }
    }
    // ten ticks ≈ 1 ms apart: the guest waited at the limit about four times per tick
    assert!((30..=50).contains(&idles), "{idles} idle returns");
    assert_eq!(
        paced.state_hash(),
        free.state_hash(),
        "pacing changed the run"
    );
}

#[test]
fn serial_port_output_and_receive_interrupt() {
    // Print "ok" on COM1, then enable the received-data interrupt (IER bit 0, MCR OUT2),
    // unmask IRQ 4 at the PIC and wait; the IRQ 4 handler (vector 0x24) stores the byte.
    let code = asm16(|a| {
        outs(a, &PIC_INIT[..4])?;
        outs(a, &[(0x21, 0xEF)])?;
        a.mov(dx, 0x3F8u32)?;
        a.mov(al, b'o' as u32)?;
        a.out(dx, al)?;
        a.mov(al, b'k' as u32)?;
        a.out(dx, al)?;
        a.mov(dx, 0x3F9u32)?;
        a.mov(al, 1u32)?; // IER: received data available
        a.out(dx, al)?;
        a.mov(dx, 0x3FCu32)?;
        a.mov(al, 0x08u32)?; // MCR: OUT2
        a.out(dx, al)?;
        a.sti()?;
        a.hlt()?;
        a.hlt()
    });
    let mut m = machine(&code);
    m.write_phys(0x24 * 4, &[0x00, 0x7F, 0, 0]).unwrap();
    let mut h = CodeAssembler::new(16).unwrap();
    h.mov(dx, 0x3F8u32).unwrap();
    h.in_(al, dx).unwrap();
    h.mov(byte_ptr(0x960), al).unwrap();
    h.mov(al, 0x20u32).unwrap();
    h.out(0x20u32, al).unwrap();
    h.iret().unwrap();
    m.write_phys(0x7F00, &h.assemble(0x7F00).unwrap()).unwrap();
    assert_eq!(m.run(1000).unwrap(), ExitReason::Halted);
    assert_eq!(m.take_serial_output(), b"ok");
    m.send_serial(b"Z");
    assert_eq!(m.run(1000).unwrap(), ExitReason::Halted);
    assert_eq!(r32(&m, 0x960) & 0xFF, b'Z' as u32);
}

#[test]
fn rtc_date_and_periodic_interrupt() {
    // Read the year and month registers (BCD), then enable the periodic interrupt at 2 Hz
    // (register A rate 15: 32768 >> 14) and wait for four IRQ 8 interrupts (vector 0x28 + 0).
    let code = asm16(|a| {
        outs(a, &PIC_INIT)?;
        outs(a, &[(0x21, 0xFB), (0xA1, 0xFE)])?;
        for (index, slot) in [(9u32, 0x970u32), (8, 0x971)] {
            a.mov(al, index)?;
            a.out(0x70u32, al)?;
            a.in_(al, 0x71u32)?;
            a.mov(byte_ptr(slot), al)?;
        }
        for (index, v) in [(0x0Au32, 0x2Fu32), (0x0B, 0x42)] {
            a.mov(al, index)?;
            a.out(0x70u32, al)?;
            a.mov(al, v)?;
            a.out(0x71u32, al)?;
        }
        a.sti()?;
        let mut again = a.create_label();
        a.set_label(&mut again)?;
        a.hlt()?;
        a.cmp(word_ptr(0x8FE), 4u32)?;
        a.jb(again)?;
        a.cli()?;
        a.hlt()
    });
    let mut m = machine(&code);
    m.write_phys(0x28 * 4, &[0x00, 0x7E, 0, 0]).unwrap();
    // handler: count, read register C (clears the flags and the IRQ), EOI slave and master
    let mut h = CodeAssembler::new(16).unwrap();
    h.inc(word_ptr(0x8FE)).unwrap();
    h.push(ax).unwrap();
    h.mov(al, 0x0Cu32).unwrap();
    h.out(0x70u32, al).unwrap();
    h.in_(al, 0x71u32).unwrap();
    h.mov(al, 0x20u32).unwrap();
    h.out(0xA0u32, al).unwrap();
    h.out(0x20u32, al).unwrap();
    h.pop(ax).unwrap();
    h.iret().unwrap();
    m.write_phys(0x7E00, &h.assemble(0x7E00).unwrap()).unwrap();
    assert_eq!(m.run(100_000).unwrap(), ExitReason::Halted);
    // the default start time is 2026-01-01: year 0x26, month 0x01 in BCD
    assert_eq!(r32(&m, 0x970) & 0xFFFF, 0x0126);
    assert_eq!(r32(&m, 0x8FE) & 0xFFFF, 4);
    // four periods of 500 ms: the fourth interrupt at 2 s of virtual time
    let ns = m.virtual_time_ns();
    assert!(
        (2_000_000_000..2_000_010_000).contains(&ns),
        "virtual time {ns}"
    );
}

#[test]
fn keyboard_controller_a20_and_reset() {
    // Disable A20 through the controller's output port (0xD1, then 0xDD: A20 off, not reset),
    // show the 1 MiB wrap, then reset with the pulse command 0xFE.
    let code = asm16(|a| {
        a.mov(al, 0xD1u32)?;
        a.out(0x64u32, al)?;
        a.mov(al, 0xDDu32)?;
        a.out(0x60u32, al)?;
        // FFFF:0010 is linear 0x100000: with A20 off it is physical 0
        a.mov(ax, 0xFFFFu32)?;
        a.mov(es, ax)?;
        a.mov(byte_ptr(0x10).es(), 0xA5u32)?;
        a.mov(al, 0xFEu32)?;
        a.out(0x64u32, al)?;
        a.hlt()
    });
    let mut m = machine(&code);
    assert_eq!(m.run(100).unwrap(), vx86_core::ExitReason::Reset);
    assert_eq!(r32(&m, 0) & 0xFF, 0xA5, "the write wrapped to physical 0");
}

/// Where a run is cut into `run` calls must not change it: a fast PIT (IRQ 0 every 3 input
/// ticks, ≈2.5 µs) interrupting straight-line code, loops and REP MOVSB, run in one call and
/// one instruction per call, ends in the same state (same interrupt count, same hash).
#[test]
fn slicing_a_run_does_not_move_interrupts() {
    let code = asm16(|a| {
        outs(a, &PIC_INIT[..4])?;
        outs(a, &[(0x21, 0xFE), (0x43, 0x34), (0x40, 3), (0x40, 0)])?;
        a.sti()?;
        let mut again = a.create_label();
        a.set_label(&mut again)?;
        for _ in 0..20 {
            a.add(dx, ax)?; // straight-line code: a long basic block
            a.inc(ax)?;
        }
        a.mov(si, 0x1000u32)?;
        a.mov(di, 0x3000u32)?;
        a.mov(cx, 700u32)?;
        a.rep().movsb()?; // a long REP: interrupts come between iterations
        a.jmp(again)
    });
    let mut handler = CodeAssembler::new(16).unwrap();
    handler.inc(word_ptr(0x8FE)).unwrap();
    handler.push(ax).unwrap();
    handler.mov(al, 0x20u32).unwrap();
    handler.out(0x20u32, al).unwrap();
    handler.pop(ax).unwrap();
    handler.iret().unwrap();
    let handler = handler.assemble(0x7E00).unwrap();
    let setup = || {
        let mut m = machine(&code);
        m.write_phys(0x7E00, &handler).unwrap();
        m
    };
    const N: u64 = 500_000;
    let mut straight = setup();
    straight.run(N).unwrap();
    let mut stepped = setup();
    for _ in 0..N {
        stepped.run(1).unwrap();
    }
    let ticks = r32(&straight, 0x8FE) & 0xFFFF;
    assert!(
        ticks > 100,
        "the PIT must interrupt often ({ticks} interrupts)"
    );
    assert_eq!(ticks, r32(&stepped, 0x8FE) & 0xFFFF);
    assert_eq!(straight.cpu_state(), stepped.cpu_state());
    assert_eq!(straight.state_hash_hex(), stepped.state_hash_hex());
}
