//! Port I/O, HLT, shutdown, self-modifying code, #NM for x87 escapes. Harness and constants: `real_mode_386.rs`.

use super::*;

#[test]
fn out_to_e9_and_in_from_unclaimed_ports() {
    let mut m = run(|a| {
        asm!(a: mov(al, b'O' as u32), out(0xE9u32, al));
        asm!(a: mov(dx, 0xE9u32), mov(al, b'K' as u32), out(dx, al));
        asm!(a: xor(eax, eax), in_(al, 0xE0u32), mov(dword_ptr(0x500), eax));
        asm!(a: xor(eax, eax), mov(dx, 0x1234u32), in_(ax, dx), mov(dword_ptr(0x504), eax));
        Ok(())
    });
    assert_eq!(m.take_debug_output(), b"OK");
    // nothing answers on ports 0xE0 and 0x1234: the bus floats high (all ones, a platform
    // property, not an SDM rule); only AL / AX are written
    assert_eq!((rd32(&m, 0x500), rd32(&m, 0x504)), (0xFF, 0xFFFF));
}

#[test]
fn hlt_returns_halted() {
    let mut m = run(|a| a.nop());
    // NOP (1 byte) then HLT: EIP after the HLT, 2 instructions retired
    assert_eq!((m.cpu_state().eip, m.instruction_count()), (ORG + 2, 2));
    // still halted (nothing can wake it)
    assert_eq!(m.run(10).unwrap(), ExitReason::Halted);
}

#[test]
fn triple_fault_with_an_empty_ivt() {
    // LIDT from zeroed RAM: limit 0, base 0
    let mut m = boot(|a| a.lidt(ptr(0x500)).and_then(|()| a.int3()));
    // vector 3's entry (bytes 12..15) is beyond limit 0 → #GP; #GP's (52..55) too →
    // #DF; #DF's (32..35) too → shutdown
    assert_eq!(m.run(100).unwrap(), ExitReason::TripleFault);
    assert_eq!(m.run(100).unwrap(), ExitReason::TripleFault);
}

/// Assembles `body(patch_address)` twice: first to learn where the label `body` returns
/// is, then with the address of its imm16 (label + 1 after the B8 opcode). The store's
/// disp16 encoding has the same length for any address.
fn patched(body: impl Fn(&mut CodeAssembler, u32) -> Result<CodeLabel, IcedError>) -> Machine {
    let (_, ips) = boot_labeled(|a| Ok(vec![body(a, 0)?]));
    let (mut m, ips2) = boot_labeled(|a| Ok(vec![body(a, ips[0] + 1)?]));
    assert_eq!(ips, ips2);
    halt(&mut m);
    m
}

#[test]
fn self_modifying_code_in_the_same_block() {
    let m = patched(|a, imm| {
        let mut target = a.create_label();
        a.mov(word_ptr(imm), 0x5678u32)?; // C7 06 disp16 imm16
        a.set_label(&mut target)?;
        a.mov(ax, 0x1234u32)?; // B8 34 12
        Ok(target)
    });
    // the store rewrote the immediate before the MOV ran: AX = 0x5678
    assert_eq!(reg16(&m, EAX), 0x5678);
}

#[test]
fn self_modifying_code_in_a_cached_loop() {
    let m = patched(|a, imm| {
        let mut top = a.create_label();
        a.mov(cx, 2u32)?;
        a.set_label(&mut top)?;
        a.mov(ax, 0x1234u32)?; // the target
        asm!(a: add(word_ptr(0x500), ax), mov(word_ptr(imm), 0x0001u32), loop_(top));
        Ok(top)
    });
    // pass 1 adds 0x1234 and patches the immediate; pass 2 (the block already decoded)
    // must add the new 0x0001: 0x1234 + 0x0001
    assert_eq!(rd16(&m, 0x500), 0x1235);
}

#[test]
fn x87_escape_raises_nm_with_cr0_em() {
    // CR0.EM (bit 2) is set at reset in vx86 (no FPU yet)
    let m0 = Machine::new(MachineConfig::default()).unwrap();
    assert_eq!(m0.cpu_state().cr0 & 4, 4);
    // FNINIT = DB E3; with EM = 1 any ESC instruction raises #NM (vector 7, SDM vol. 3A
    // 6.15), a fault: the pushed IP is the FNINIT
    let (m, at) = expect_vector(7, |a, mark| {
        asm!(a: set_label(mark), db(&[0xDB, 0xE3]));
        Ok(())
    });
    assert_eq!(frame(&m).0, at);
}
