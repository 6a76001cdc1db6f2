//! Exceptions and interrupts through the IVT: #DE, #UD, #BR, INT n, INTO, IRET, #GP. Harness and constants: `real_mode_386.rs`.

use super::*;

#[test]
fn divide_error_pushes_the_div_itself() {
    let (m, at) = expect_vector(0, |a, mark| {
        asm!(a: mov(ax, 100u32), xor(bl, bl), set_label(mark), div(bl));
        Ok(())
    });
    // #DE is a fault: the pushed CS:IP is the DIV; nothing was written (AX = 100)
    assert_eq!((frame(&m).0, frame(&m).1), (at, 0));
    assert_eq!(reg16(&m, EAX), 100);
    // quotient too large: EDX:EAX = 0x1_0000_0000 / 1 does not fit 32 bits → #DE
    let (m, at) = expect_vector(0, |a, mark| {
        asm!(a: mov(edx, 1u32), xor(eax, eax), mov(ecx, 1u32), set_label(mark), div(ecx));
        Ok(())
    });
    assert_eq!(frame(&m).0, at);
}

#[test]
fn invalid_opcodes_raise_ud() {
    // UD2 = 0F 0B; FE /2 (ModRM D0: mod 11, reg 2) is undefined (opcode group 4 defines
    // only /0 INC and /1 DEC); LOCK ADD AX, AX (F0 01 C0) has a register destination.
    // #UD is a fault: the pushed IP is the instruction.
    for code in [&[0x0F, 0x0B][..], &[0xFE, 0xD0], &[0xF0, 0x01, 0xC0]] {
        let (m, at) = expect_vector(6, |a, mark| {
            asm!(a: set_label(mark), db(code));
            Ok(())
        });
        assert_eq!(frame(&m).0, at, "{code:02X?}");
    }
}

#[test]
fn bound_range_exceeded() {
    let (m, at) = expect_vector(5, |a, mark| {
        // bounds: lower = 0xFFFB = -5, upper = 5
        asm!(a: mov(word_ptr(0x500), 0xFFFBu32), mov(word_ptr(0x502), 5u32));
        // AX = 0xFFFE = -2: inside by the signed compare, no #BR
        asm!(a: mov(ax, 0xFFFEu32), bound(ax, dword_ptr(0x500)));
        // AX = 6 > 5: #BR
        asm!(a: mov(ax, 6u32), set_label(mark), bound(ax, dword_ptr(0x500)));
        Ok(())
    });
    // #BR is a fault: the pushed IP is the second BOUND
    assert_eq!(frame(&m).0, at);
}

#[test]
fn int_n_enters_the_handler_with_if_and_tf_clear() {
    let (m, at) = expect_vector(0x40, |a, mark| {
        asm!(a: sti(), pushf(), pop(ax), or(ax, TF), push(ax), popf());
        asm!(a: set_label(mark), int(0x40u32));
        Ok(())
    });
    let (ip, code_seg, flags) = frame(&m);
    // INT n is a trap: the pushed IP is the next instruction (CD 40 is 2 bytes)
    assert_eq!((ip, code_seg), (at + 2, 0));
    // the pushed FLAGS image still has IF (STI) and TF (POPF) set ...
    assert_eq!(flags & (IF | TF), IF | TF);
    // ... and the handler runs with IF = TF = 0 (SDM vol. 3A, 20.1.4)
    assert_eq!(m.cpu_state().eflags & (IF | TF), 0);
}

#[test]
fn into_traps_only_with_of_set() {
    let (m, at) = expect_vector(4, |a, mark| {
        asm!(a: xor(ax, ax), into(), mov(bx, 0x55u32)); // OF = 0: INTO does nothing
        asm!(a: mov(al, 0x7Fu32), add(al, 1u32)); // 0x7F + 1 = 0x80: OF = 1
        asm!(a: set_label(mark), into());
        Ok(())
    });
    // the first INTO fell through to MOV BX; the second traps with IP = next (CE: 1 byte)
    // and OF set in the pushed FLAGS
    assert_eq!(reg16(&m, EBX), 0x55);
    assert_eq!((frame(&m).0, frame(&m).2 & OF), (at + 1, OF));
}

#[test]
fn iret_returns_and_restores_flags() {
    let (mut m, ips) = boot_labeled(|a| {
        let mut after = a.create_label();
        let mut handler = a.create_label();
        let mut done = a.create_label();
        asm!(a: sti(), mov(bx, 0u32), int(0x41u32));
        asm!(a: set_label(&mut after), flags_to(0x502), set_label(&mut done), hlt());
        asm!(a: set_label(&mut handler), flags_to(0x500), mov(bx, 0x4141u32), iret());
        Ok(vec![after, handler, done])
    });
    set_vector(&mut m, 0x41, ips[1]);
    halt(&mut m);
    assert_eq!(m.cpu_state().eip, ips[2] + 1);
    // the handler ran, with IF = 0
    assert_eq!((reg16(&m, EBX), rd16(&m, 0x500) & IF), (0x4141, 0));
    // IRET popped IP (= the instruction after INT, still in memory at 0xFFF8), CS and
    // FLAGS: SP is back at 0xFFFE and IF = 1 again
    assert_eq!((rd16(&m, 0xFFF8), reg(&m, ESP)), (ips[0], 0xFFFE));
    assert_eq!(rd16(&m, 0x502) & IF, IF);
}

#[test]
fn offset_beyond_the_64k_limit_is_gp() {
    // real mode: a 32-bit effective address above the segment limit 0xFFFF → #GP
    // (SDM vol. 2 MOV, "Real-Address Mode Exceptions"), a fault without error code
    let (m, at) = expect_vector(13, |a, mark| {
        asm!(a: mov(ebx, 0x1_0000u32), set_label(mark), mov(al, byte_ptr(ebx)));
        Ok(())
    });
    assert_eq!(frame(&m).0, at);
}
