//! Breakpoints, hooks of every kind, translate and virtual-memory access.

use crate::hooks::{hook_fn, HookAction, HookEvent};
use crate::{ExitReason, Machine, MachineConfig};
use std::sync::{Arc, Mutex};

/// Real-mode program at 0x7C00 (CS = 0, so linear = EIP):
/// 7C00 in al, 0x99      (an unclaimed port: 0xFF unless a hook replaces it)
/// 7C02 mov [0x600], al
/// 7C05 out 0x98, al
/// 7C07 inc bx
/// 7C08 int 0x21         (handler at 0x7E00: inc cx; iret)
/// 7C0A mov cr3, eax
/// 7C0D jmp 7C00
fn machine() -> Machine {
    #[rustfmt::skip]
    let code = [
        0xE4, 0x99, 0xA2, 0x00, 0x06, 0xE6, 0x98, 0x43, 0xCD, 0x21,
        0x0F, 0x22, 0xD8, 0xEB, 0xF1,
    ];
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_flat(&code, 0x7C00, 0x7C00).unwrap();
    m.write_phys(0x7E00, &[0x41, 0xCF]).unwrap();
    m.write_phys(0x21 * 4, &[0x00, 0x7E, 0x00, 0x00]).unwrap();
    m
}

#[test]
fn breakpoints_stop_before_the_instruction_and_resume_past_it() {
    let mut m = machine();
    m.add_breakpoint(0x7C07);
    assert_eq!(m.run(1000).unwrap(), ExitReason::Breakpoint);
    assert_eq!(m.cpu_state().eip, 0x7C07);
    assert_eq!(m.instruction_count(), 3);
    // the next run executes it and stops at the next pass (7 instructions + 2 in the handler)
    assert_eq!(m.run(1000).unwrap(), ExitReason::Breakpoint);
    assert_eq!(m.instruction_count(), 3 + 9);
    assert!(m.remove_breakpoint(0x7C07));
    assert_eq!(m.run(100).unwrap(), ExitReason::BudgetReached);
    // run_until: a temporary breakpoint
    assert_eq!(
        m.run_until(1000, Some(0x7E00)).unwrap(),
        ExitReason::Breakpoint
    );
    assert_eq!(m.cpu_state().eip, 0x7E00);
    assert!(m.breakpoints().is_empty());
}

#[test]
fn io_hooks_see_accesses_and_replace_reads() {
    let mut m = machine();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    m.hooks().add_io(
        0x98,
        0x99,
        hook_fn(move |e| {
            log.lock().unwrap().push(*e);
            match e {
                HookEvent::Io { write: false, .. } => HookAction::Replace(0x42),
                _ => HookAction::Continue,
            }
        }),
    );
    m.run(7).unwrap();
    let mut b = [0];
    m.read_phys(0x600, &mut b).unwrap();
    assert_eq!(b[0], 0x42, "the guest read the hook's value");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            HookEvent::Io {
                port: 0x99,
                size: 1,
                write: false,
                value: 0xFF
            },
            HookEvent::Io {
                port: 0x98,
                size: 1,
                write: true,
                value: 0x42
            },
        ]
    );
}

#[test]
fn a_hook_can_stop_the_run_after_the_instruction() {
    let mut m = machine();
    let id = m.hooks().add_io(0x98, 0x98, hook_fn(|_| HookAction::Stop));
    assert_eq!(m.run(1000).unwrap(), ExitReason::Hooked);
    assert_eq!(m.cpu_state().eip, 0x7C07, "after the OUT");
    assert!(matches!(
        m.last_hook_event(),
        Some(HookEvent::Io { port: 0x98, .. })
    ));
    assert!(m.hooks().remove(id));
    assert_eq!(m.run(1000).unwrap(), ExitReason::BudgetReached);
}

#[test]
fn code_interrupt_and_cr3_hooks() {
    let mut m = machine();
    let events = Arc::new(Mutex::new(Vec::new()));
    let (a, b, c) = (events.clone(), events.clone(), events.clone());
    m.hooks().add_code(
        0x7E00,
        0x7E01,
        hook_fn(move |e| {
            a.lock().unwrap().push(*e);
            HookAction::Continue
        }),
    );
    m.hooks().add_interrupt(
        0x20,
        0x2F,
        hook_fn(move |e| {
            b.lock().unwrap().push(*e);
            HookAction::Continue
        }),
    );
    m.hooks().add_cr3(hook_fn(move |e| {
        c.lock().unwrap().push(*e);
        HookAction::Continue
    }));
    m.run(9).unwrap(); // through mov cr3
    assert_eq!(
        *events.lock().unwrap(),
        vec![
            HookEvent::Interrupt {
                vector: 0x21,
                external: false
            },
            HookEvent::Code {
                linear: 0x7E00,
                eip: 0x7E00
            },
            HookEvent::Code {
                linear: 0x7E01,
                eip: 0x7E01
            },
            HookEvent::Cr3Write { old: 0, new: 0xFF }, // EAX = the 0xFF read from port 0x99
        ]
    );
    // a code hook that stops: before the instruction, and not again when resuming
    let mut m = machine();
    m.hooks()
        .add_code(0x7C05, 0x7C05, hook_fn(|_| HookAction::Stop));
    assert_eq!(m.run(1000).unwrap(), ExitReason::Hooked);
    assert_eq!((m.cpu_state().eip, m.instruction_count()), (0x7C05, 2));
    assert_eq!(m.run(1).unwrap(), ExitReason::BudgetReached);
    assert_eq!(m.cpu_state().eip, 0x7C07);
}

#[test]
fn hooks_survive_checkpoint_restore() {
    let mut m = machine();
    let count = Arc::new(Mutex::new(0));
    let c2 = count.clone();
    let cp = m.checkpoint();
    m.hooks().add_io(
        0x99,
        0x99,
        hook_fn(move |_| {
            *c2.lock().unwrap() += 1;
            HookAction::Continue
        }),
    );
    m.restore_checkpoint(&cp).unwrap();
    m.run(1).unwrap();
    assert_eq!(*count.lock().unwrap(), 1);
}

#[test]
fn translate_and_virtual_memory_through_a_4_mib_page() {
    use crate::cpu::{cr0, cr4};
    let mut m = machine();
    // page directory at 0x10000: PDE 1 maps linear 4-8 MiB to physical 0 (4 MiB page)
    m.write_phys(0x10000 + 4, &(0x83u32).to_le_bytes()).unwrap();
    let mut s = m.cpu_state();
    s.cr3 = 0x10000;
    s.cr4 |= cr4::PSE;
    s.cr0 |= cr0::PE | cr0::PG;
    m.set_cpu_state(s);
    let w = m.translate(0x40_0123);
    assert_eq!(w.entries().len(), 1);
    assert_eq!(w.entries()[0].entry_addr, 0x10004);
    let t = w.outcome.unwrap();
    assert_eq!((t.phys, t.page_size), (0x123, 4 << 20));
    m.write_virt(0x40_0FFE, &[1, 2, 3, 4]).unwrap();
    let mut b = [0; 4];
    m.read_phys(0xFFE, &mut b).unwrap();
    assert_eq!(b, [1, 2, 3, 4], "across a 4 KiB boundary");
    let mut v = [0; 4];
    m.read_virt(0x40_0FFE, &mut v).unwrap();
    assert_eq!(v, b);
    assert!(m.translate(0x80_0000).outcome.is_err());
    let e = m.read_virt(0x80_0000, &mut v).unwrap_err().to_string();
    assert_eq!(e, "linear address 0x00800000 is not mapped");
}

#[test]
fn a_code_hook_in_the_middle_of_a_block_sees_each_pass_and_far_ones_change_nothing() {
    // the hook covers only `inc bx` (0x7C07), the fourth instruction of the block at 0x7C00
    let mut m = machine();
    let hits = Arc::new(Mutex::new(0u32));
    let h = hits.clone();
    m.hooks().add_code(
        0x7C07,
        0x7C07,
        hook_fn(move |_| {
            *h.lock().unwrap() += 1;
            HookAction::Continue
        }),
    );
    // a breakpoint and a hook nowhere near the code: blocks run whole, nothing changes
    m.add_breakpoint(0x9_0000);
    m.hooks()
        .add_code(0x8_0000, 0x8_0010, hook_fn(|_| HookAction::Stop));
    let mut plain = machine();
    // one pass of the loop is 9 instructions (7 + the 2 of the INT 21h handler)
    assert_eq!(m.run(9 * 50).unwrap(), ExitReason::BudgetReached);
    assert_eq!(plain.run(9 * 50).unwrap(), ExitReason::BudgetReached);
    assert_eq!(*hits.lock().unwrap(), 50);
    assert_eq!(m.state_hash(), plain.state_hash());
}

#[test]
fn code_watched_ranges_wrap_around_4_gib() {
    let mut bps = std::collections::BTreeSet::new();
    let hooks = crate::hooks::Hooks::default();
    bps.insert(0x10);
    assert!(super::code_watched(&bps, &hooks, 0xFFFF_FFF0, 0x10));
    assert!(!super::code_watched(&bps, &hooks, 0xFFFF_FFF0, 0xF));
    assert!(super::code_watched(&bps, &hooks, 0x10, 0x10));
    assert!(!super::code_watched(&bps, &hooks, 0x11, 0xFFFF_FFFF));
    let mut hooks = crate::hooks::Hooks::default();
    hooks.add_code(
        0xFFFF_FF00,
        0xFFFF_FFFF,
        crate::hooks::hook_fn(|_| HookAction::Continue),
    );
    assert!(hooks.code_in(0xFFFF_FFF0, 0x10));
    assert!(!hooks.code_in(0x0, 0xFFFF_FEFF));
}

#[test]
fn msrs_read_and_write_as_rdmsr_and_wrmsr() {
    let mut m = machine();
    assert_eq!(m.read_msr(0x176), Some(0));
    m.write_msr(0x176, 0xC000_1234).unwrap();
    assert_eq!(m.read_msr(0x176), Some(0xC000_1234));
    assert_eq!(m.cpu_state().msr.sysenter_eip, 0xC000_1234);
    // PAT entry type 2 is reserved; MSR 0x1234 does not exist
    assert!(m.write_msr(0x277, 0x02).is_err());
    assert!(m.write_msr(0x1234, 0).is_err());
    assert_eq!(m.read_msr(0x1234), None);
    // the TSC counts retired instructions (1 GHz default: one tick per instruction)
    let t0 = m.read_msr(0x10).unwrap();
    m.run(100).unwrap();
    assert!(m.read_msr(0x10).unwrap() > t0);
}
