//! The host fast path for data accesses (`mmu/fast.rs`) against the slow path's rules: what a
//! cached page may no longer do after a checkpoint restore, a code decode or an A20 change.

use crate::{ExitReason, Machine, MachineConfig};

/// A real-mode machine (CS = 0, so linear = EIP) running `code` at 0x7C00.
fn machine(code: &[u8]) -> Machine {
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_flat(code, 0x7C00, 0x7C00).unwrap();
    m
}

fn phys_u16(m: &Machine, addr: u64) -> u16 {
    let mut b = [0; 2];
    m.read_phys(addr, &mut b).unwrap();
    u16::from_le_bytes(b)
}

#[test]
fn writes_through_the_fast_path_are_undone_by_a_checkpoint_restore() {
    // 7C00 inc ax; mov [0x600], ax; mov [0x604], ax; jmp 7C00
    let code = [0x40, 0xA3, 0x00, 0x06, 0xA3, 0x04, 0x06, 0xEB, 0xF7];
    let mut m = machine(&code);
    // the page of 0x600 is cached for writes before the checkpoint clears the dirty bitmap
    m.run(100).unwrap();
    assert_eq!(phys_u16(&m, 0x600), 25);
    let cp = m.checkpoint();
    m.run(1000).unwrap();
    let (hash, count) = (m.state_hash(), phys_u16(&m, 0x600));
    assert_eq!(count, 275, "250 more passes of the 4-instruction loop");
    m.restore_checkpoint(&cp).unwrap();
    assert_eq!((phys_u16(&m, 0x600), phys_u16(&m, 0x604)), (25, 25));
    m.run(1000).unwrap();
    assert_eq!(m.state_hash(), hash, "the same run again after the restore");
}

#[test]
fn a_write_to_a_page_that_became_code_still_invalidates_its_blocks() {
    #[rustfmt::skip]
    let code = [
        0xC6, 0x06, 0x00, 0x80, 0x40, // 7C00 mov byte [0x8000], 0x40  (inc ax)
        0xC6, 0x06, 0x01, 0x80, 0xC3, // 7C05 mov byte [0x8001], 0xC3  (ret)
        0xE8, 0xF3, 0x03,             // 7C0A call 0x8000
        0xC6, 0x06, 0x00, 0x80, 0x43, // 7C0D mov byte [0x8000], 0x43  (inc bx)
        0xE8, 0xEB, 0x03,             // 7C12 call 0x8000
        0xF4,                         // 7C15 hlt
    ];
    let mut m = machine(&code);
    assert_eq!(m.run(100).unwrap(), ExitReason::Halted);
    let s = m.cpu_state();
    assert_eq!((s.regs[0] & 0xFFFF, s.regs[3] & 0xFFFF), (1, 1), "AX, BX");
}

#[test]
fn an_a20_change_redirects_cached_pages() {
    #[rustfmt::skip]
    let code = [
        0xB8, 0xFF, 0xFF,             // mov ax, 0xFFFF
        0x8E, 0xC0,                   // mov es, ax
        0xB0, 0xDD,                   // mov al, 0xDD
        0xE6, 0x64,                   // out 0x64, al    (keyboard controller: its A20 off)
        0xE4, 0x92,                   // in al, 0x92
        0x0C, 0x02,                   // or al, 2        (A20 on through port 0x92)
        0xE6, 0x92,                   // out 0x92, al
        0x26, 0x8A, 0x1E, 0x10, 0x05, // mov bl, [es:0x510]   (0x100500)
        0x26, 0x8A, 0x3E, 0x10, 0x05, // mov bh, [es:0x510]
        0x24, 0xFD,                   // and al, ~2      (A20 off)
        0xE6, 0x92,                   // out 0x92, al
        0x26, 0x8A, 0x0E, 0x10, 0x05, // mov cl, [es:0x510]   (wraps to 0x500)
        0xF4,                         // hlt
    ];
    let mut m = machine(&code);
    m.write_phys(0x10_0500, &[0xAA]).unwrap();
    m.write_phys(0x500, &[0x55]).unwrap();
    assert_eq!(m.run(100).unwrap(), ExitReason::Halted);
    let s = m.cpu_state();
    assert_eq!(s.regs[3] & 0xFFFF, 0xAAAA, "BX: twice through A20 on");
    assert_eq!(s.regs[1] & 0xFF, 0x55, "CL: A20 off");
}
