//! Debug-register breakpoints in real mode (SDM vol. 3A, 18.2-18.3): an instruction
//! breakpoint is a fault reported before the instruction runs (the pushed IP is the
//! instruction's), a data write breakpoint is a trap after the writing instruction (the pushed
//! IP is the next one); DR6.B0-B3 tell which breakpoint fired.

use iced_x86::code_asm::*;
use vx86_core::{ExitReason, Machine, MachineConfig};

#[test]
fn instruction_and_data_breakpoints() {
    let mut a = CodeAssembler::new(16).unwrap();
    let mut target = a.create_label();
    let mut handler = a.create_label();
    // DR0 = linear address of `target` (CS = 0), filled in below; DR1 = 0x600 (dword)
    a.mov(eax, 0u32).unwrap(); // patched: mov eax, target
    a.mov(dr0, eax).unwrap();
    a.mov(eax, 0x600u32).unwrap();
    a.mov(dr1, eax).unwrap();
    // DR7: L0 (bit 0) execute; L1 (bit 2), RW1 = 01 (write, bits 20-21), LEN1 = 11 (4 bytes,
    // bits 22-23)
    a.mov(eax, 0x00D0_0005u32).unwrap();
    a.mov(dr7, eax).unwrap();
    a.mov(word_ptr(0x700), 0x1111u32).unwrap(); // not watched
    a.mov(word_ptr(0x602), 0x2222u32).unwrap(); // inside DR1's 4 bytes: trap after it
    a.nop().unwrap();
    a.set_label(&mut target).unwrap();
    a.inc(word_ptr(0x800)).unwrap(); // instruction breakpoint: fault before it
    a.hlt().unwrap();
    // #DB handler: record DR6 and the pushed IP, count; after the instruction breakpoint,
    // disarm it (leave the data one); clear DR6 and return
    a.set_label(&mut handler).unwrap();
    a.mov(eax, dr6).unwrap();
    a.mov(bx, word_ptr(0x900)).unwrap();
    a.shl(bx, 3u32).unwrap();
    a.mov(dword_ptr(bx + 0x910), eax).unwrap();
    a.mov(bp, sp).unwrap();
    a.mov(ax, word_ptr(bp)).unwrap();
    a.mov(word_ptr(bx + 0x914), ax).unwrap();
    a.inc(word_ptr(0x900)).unwrap();
    let mut keep = a.create_label();
    a.mov(eax, dr6).unwrap();
    a.test(al, 1u32).unwrap();
    a.jz(keep).unwrap();
    a.mov(eax, 0x00D0_0004u32).unwrap(); // B0 fired: disarm the instruction breakpoint
    a.mov(dr7, eax).unwrap();
    a.set_label(&mut keep).unwrap();
    a.xor(eax, eax).unwrap();
    a.mov(dr6, eax).unwrap();
    a.iret().unwrap();
    let r = a
        .assemble_options(
            0x7C00,
            iced_x86::BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS,
        )
        .unwrap();
    let t = r.label_ip(&target).unwrap() as u32;
    let h = r.label_ip(&handler).unwrap() as u16;
    let mut code = r.inner.code_buffer;
    // patch the first instruction's imm32 (66 B8 imm32) with the target address
    code[2..6].copy_from_slice(&t.to_le_bytes());
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_flat(&code, 0x7C00, 0x7C00).unwrap();
    m.write_phys(4, &[h as u8, (h >> 8) as u8, 0, 0]).unwrap(); // IVT vector 1
    assert_eq!(m.run(1000).unwrap(), ExitReason::Halted);
    let mut b = [0u8; 0x20];
    m.read_phys(0x900, &mut b).unwrap();
    let word = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let dword = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    assert_eq!(
        word(0),
        2,
        "two #DB: the data trap, then the instruction fault"
    );
    // first: B1 (bit 1) from the data breakpoint; DR6 reserved bits read 0xFFFF0FF0
    assert_eq!(dword(0x10) & 0xF, 0b0010);
    assert_eq!(dword(0x10) & 0xFFFF_0FF0, 0xFFFF_0FF0);
    // the trap's pushed IP is the NOP after the watched store
    assert_eq!(word(0x14) as u32 + 1, t, "NOP is one byte before target");
    // second: B0 from the instruction breakpoint, pushed IP = the instruction itself
    assert_eq!(dword(0x18) & 0xF, 0b0001);
    assert_eq!(word(0x1C) as u32, t);
    // the breakpointed instruction ran once, after the handler disarmed it
    let mut w = [0u8; 2];
    m.read_phys(0x800, &mut w).unwrap();
    assert_eq!(u16::from_le_bytes(w), 1);
}
