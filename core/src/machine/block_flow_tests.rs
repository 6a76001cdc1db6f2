//! How far a decoded block goes (`cpu/block.rs`): past a conditional branch that is not taken,
//! and through a direct JMP/CALL to its own page. Each test checks the architectural result
//! and the number of blocks decoded, which is what the longer blocks change; and that a block
//! still ends right after an instruction that raises an interrupt (`Bus::block_end`).

use crate::{ExitReason, Machine, MachineConfig};

/// A real-mode machine (CS = 0, so linear = EIP) running `code` at 0x7C00.
fn machine(code: &[u8]) -> Machine {
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_flat(code, 0x7C00, 0x7C00).unwrap();
    m
}

#[test]
fn a_block_goes_on_past_a_branch_not_taken_and_stops_at_a_taken_one() {
    #[rustfmt::skip]
    let code = [
        0xB9, 0x05, 0x00, // 7C00 mov cx, 5
        0x31, 0xC0,       // 7C03 xor ax, ax
        0x40,             // 7C05 inc ax
        0x3D, 0x64, 0x00, // 7C06 cmp ax, 100
        0x74, 0x05,       // 7C09 je 7C10 (never taken)
        0x49,             // 7C0B dec cx
        0x75, 0xF7,       // 7C0C jnz 7C05 (taken 4 times)
        0x89, 0xC3,       // 7C0E mov bx, ax
        0xF4,             // 7C10 hlt
    ];
    let mut m = machine(&code);
    assert_eq!(m.run(1000).unwrap(), ExitReason::Halted);
    let s = m.cpu_state();
    assert_eq!(
        (s.regs[0] & 0xFFFF, s.regs[3] & 0xFFFF, s.regs[1] & 0xFFFF),
        (5, 5, 0)
    );
    assert_eq!(s.eip, 0x7C11);
    assert_eq!(m.instruction_count(), 2 + 5 * 5 + 2);
    // one block from 7C00 to the HLT (its JNZ taken leaves it), one from 7C05 to the HLT (its
    // JNZ not taken the last time goes on to MOV BX, AX)
    assert_eq!(m.block_stats().decoded, 2);
}

#[rustfmt::skip]
const JUMP_AND_CALL: [u8; 22] = [
    0xBC, 0x00, 0x70,       // 7C00 mov sp, 0x7000
    0xEB, 0x03,             // 7C03 jmp 7C08
    0xF4, 0xF4, 0xF4,       // 7C05 hlt (skipped)
    0xE8, 0x05, 0x00,       // 7C08 call 7C10
    0x89, 0xC1,             // 7C0B mov cx, ax
    0xF4,                   // 7C0D hlt
    0xF4, 0xF4,             // 7C0E
    0x89, 0xE5,             // 7C10 mov bp, sp
    0x8B, 0x46, 0x00,       // 7C12 mov ax, [bp]
    0xC3,                   // 7C15 ret
];

#[test]
fn a_direct_jump_and_call_to_the_same_page_are_followed() {
    let mut m = machine(&JUMP_AND_CALL);
    assert_eq!(m.run(1000).unwrap(), ExitReason::Halted);
    let s = m.cpu_state();
    assert_eq!(
        s.regs[0] & 0xFFFF,
        0x7C0B,
        "AX: the return address CALL pushed"
    );
    assert_eq!(s.regs[1] & 0xFFFF, 0x7C0B, "CX");
    assert_eq!((s.regs[4] & 0xFFFF, s.eip), (0x7000, 0x7C0E), "SP, EIP");
    assert_eq!(m.instruction_count(), 8);
    // 7C00 through JMP and CALL to the RET, then 7C0B to the HLT
    assert_eq!(m.block_stats().decoded, 2);
}

#[test]
fn a_breakpoint_at_a_followed_jump_target_stops_the_run_there() {
    let mut m = machine(&JUMP_AND_CALL);
    m.add_breakpoint(0x7C12);
    assert_eq!(m.run(1000).unwrap(), ExitReason::Breakpoint);
    let s = m.cpu_state();
    assert_eq!(
        (s.eip, s.regs[4] & 0xFFFF),
        (0x7C12, 0x6FFE),
        "EIP, SP after the CALL"
    );
    assert_eq!(s.regs[0] & 0xFFFF, 0, "MOV AX, [BP] not run yet");
    assert_eq!(m.instruction_count(), 4);
}

#[test]
fn a_single_step_through_a_followed_call_stops_at_each_instruction() {
    let mut m = machine(&JUMP_AND_CALL);
    let mut eips = Vec::new();
    while m.step().unwrap() == ExitReason::BudgetReached && eips.len() < 20 {
        eips.push(m.cpu_state().eip);
    }
    assert_eq!(
        eips,
        [0x7C03, 0x7C08, 0x7C10, 0x7C12, 0x7C15, 0x7C0B, 0x7C0D]
    );
}

/// Real-mode code that programs the 8259A (vector base 0x20, all masked), then with IF set
/// unmasks IRQ 1 in the middle of a straight-line block. The handler at 0x7C21 pops the
/// return address into BX and halts.
#[rustfmt::skip]
const UNMASK_IN_A_BLOCK: [u8; 35] = [
    0xBC, 0x00, 0x70, // 7C00 mov sp, 0x7000
    0xB0, 0x11,       // 7C03 mov al, 0x11   ICW1: edge, cascade, ICW4 follows
    0xE6, 0x20,       // 7C05 out 0x20, al
    0xB0, 0x20,       // 7C07 mov al, 0x20   ICW2: vectors 0x20..0x27
    0xE6, 0x21,       // 7C09 out 0x21, al
    0xB0, 0x04,       // 7C0B mov al, 4      ICW3
    0xE6, 0x21,       // 7C0D out 0x21, al
    0xB0, 0x01,       // 7C0F mov al, 1      ICW4: 8086 mode
    0xE6, 0x21,       // 7C11 out 0x21, al
    0xB0, 0xFF,       // 7C13 mov al, 0xFF   OCW1: all masked
    0xE6, 0x21,       // 7C15 out 0x21, al
    0xFB,             // 7C17 sti
    0x90,             // 7C18 nop (the STI shadow)
    0xB0, 0xFD,       // 7C19 mov al, 0xFD   unmask IRQ 1
    0xE6, 0x21,       // 7C1B out 0x21, al
    0x90, 0x90, 0x90, // 7C1D nop x3
    0xF4,             // 7C20 hlt
    0x5B,             // 7C21 handler: pop bx
    0xF4,             // 7C22 hlt (IF clear in the handler)
];

#[test]
fn an_interrupt_raised_inside_a_block_is_taken_after_the_instruction_that_raised_it() {
    let mut m = machine(&UNMASK_IN_A_BLOCK);
    // IVT entry of vector 0x21 (IRQ 1) -> 0000:7C21
    m.write_phys(0x21 * 4, &[0x21, 0x7C, 0x00, 0x00]).unwrap();
    assert_eq!(m.run(11).unwrap(), ExitReason::BudgetReached);
    // IRQ 1 goes high while masked: requested, not delivered
    m.set_irq(1, true);
    assert_eq!(m.run(1000).unwrap(), ExitReason::Halted);
    let s = m.cpu_state();
    assert_eq!(
        s.regs[3] & 0xFFFF,
        0x7C1D,
        "BX: the return address is the instruction after the OUT that unmasked IRQ 1"
    );
    assert_eq!(s.eip, 0x7C23);
    // 11 + STI, NOP, MOV, OUT + POP, HLT (the NOPs after the OUT never ran)
    assert_eq!(m.instruction_count(), 17);
}
