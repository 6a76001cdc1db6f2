//! String instructions with REP/REPE/REPNE, direction, address size, the budget mid-REP. Harness and constants: `real_mode_386.rs`.

use super::*;

#[test]
fn rep_movsb_movsw_movsd_copy() {
    let mut m = boot(|a| {
        asm!(a: cld(), mov(si, 0x600u32), mov(di, 0x700u32), mov(cx, 13u32));
        a.rep().movsb()?;
        asm!(a: mov(dword_ptr(0x500), esi), mov(dword_ptr(0x504), edi));
        asm!(a: mov(si, 0x610u32), mov(di, 0x720u32), mov(cx, 3u32));
        a.rep().movsw()?;
        asm!(a: mov(dword_ptr(0x508), esi));
        asm!(a: mov(si, 0x620u32), mov(di, 0x730u32), mov(cx, 2u32));
        a.rep().movsd()?;
        asm!(a: mov(dword_ptr(0x50C), esi));
        Ok(())
    });
    poke(&mut m, 0x600, b"Hello, world!");
    poke(&mut m, 0x610, b"abcdefgh");
    poke(&mut m, 0x620, b"ABCDEFGHIJ");
    halt(&mut m);
    // MOVSB x13: 13 bytes, SI/DI advance by 13 (DF = 0)
    assert_eq!(bytes(&m, 0x700, 14), b"Hello, world!\0");
    assert_eq!((rd32(&m, 0x500), rd32(&m, 0x504)), (0x60D, 0x70D));
    // MOVSW x3: 6 bytes, SI + 6
    assert_eq!(bytes(&m, 0x720, 8), b"abcdef\0\0");
    assert_eq!(rd32(&m, 0x508), 0x616);
    // MOVSD x2 (66 F3 A5): 8 bytes, SI + 8, CX = 0
    assert_eq!(bytes(&m, 0x730, 10), b"ABCDEFGH\0\0");
    assert_eq!((rd32(&m, 0x50C), reg(&m, ECX)), (0x628, 0));
}

#[test]
fn rep_stosd_fills() {
    let m = run(|a| {
        asm!(a: mov(eax, 0xA5A5_5A5Au32), mov(di, 0x800u32), mov(cx, 4u32));
        a.rep().stosd()
    });
    // 4 dwords = 16 bytes, DI = 0x810, the dword after is untouched, CX = 0
    let got: Vec<u32> = (0..5).map(|i| rd32(&m, 0x800 + 4 * i)).collect();
    assert_eq!(got, [0xA5A5_5A5A, 0xA5A5_5A5A, 0xA5A5_5A5A, 0xA5A5_5A5A, 0]);
    assert_eq!((reg(&m, EDI), reg(&m, ECX)), (0x810, 0));
}

#[test]
fn repe_cmpsb_stops_at_the_first_difference() {
    let mut m = boot(|a| {
        asm!(a: mov(si, 0x600u32), mov(di, 0x700u32), mov(cx, 6u32));
        a.repe().cmpsb()?;
        a.flags_to(0x500)
    });
    poke(&mut m, 0x600, b"ABCDEF");
    poke(&mut m, 0x700, b"ABCxEF");
    halt(&mut m);
    // A=A, B=B, C=C, then 'D' (0x44) vs 'x' (0x78): 4 iterations, CX = 6 - 4 = 2,
    // SI/DI just past the mismatch
    assert_eq!(reg(&m, ECX), 2);
    assert_eq!((reg(&m, ESI), reg(&m, EDI)), (0x604, 0x704));
    // flags of 0x44 - 0x78 = 0xCC: ZF = 0, CF = 1 (borrow), SF = 1
    assert_eq!(rd16(&m, 0x500) & (ZF | CF | SF), CF | SF);
}

#[test]
fn repne_scasb_finds_the_terminator() {
    let mut m = boot(|a| {
        asm!(a: mov(di, 0x700u32), xor(al, al), mov(cx, 0xFFFFu32));
        a.repne().scasb()?;
        a.flags_to(0x500)
    });
    poke(&mut m, 0x700, b"hello\0world");
    halt(&mut m);
    // h e l l o \0: stops after the 6th compare (equal → ZF = 1)
    assert_eq!((reg(&m, EDI), reg(&m, ECX)), (0x706, 0xFFFF - 6));
    assert_eq!(rd16(&m, 0x500) & ZF, ZF);
}

#[test]
fn std_copies_backwards() {
    let mut m = boot(|a| {
        asm!(a: std(), mov(si, 0x604u32), mov(di, 0x606u32), mov(cx, 5u32));
        a.rep().movsb()?;
        asm!(a: flags_to(0x500), mov(di, 0x806u32), mov(ax, 0x4241u32), mov(cx, 2u32));
        a.rep().stosw()?;
        a.cld()
    });
    poke(&mut m, 0x600, b"12345");
    halt(&mut m);
    // overlapping move 0x600..0x604 → 0x602..0x606 from the top down copies correctly
    // (a forward copy would give "1212121"); SI ends one below the last byte moved
    assert_eq!(bytes(&m, 0x600, 7), b"1212345");
    assert_eq!((rd16(&m, 0x500) & DF, reg(&m, ESI)), (DF, 0x5FF));
    // STOSW backwards: words at 0x806 and 0x804, DI = 0x806 - 4 = 0x802
    assert_eq!(
        (bytes(&m, 0x804, 4), reg(&m, EDI)),
        (b"ABAB".to_vec(), 0x802)
    );
}

#[test]
fn address_size_selects_ecx_esi_edi() {
    let mut m = boot(|a| {
        asm!(a: mov(esi, 0x600u32), mov(edi, 0x700u32), mov(ecx, 3u32));
        a.db(&[0x67, 0xF3, 0xA4])?; // a32 rep movsb
        asm!(a: mov(dword_ptr(0x500), esi), mov(dword_ptr(0x504), edi));
        asm!(a: mov(dword_ptr(0x508), ecx));
        asm!(a: mov(ecx, 0xFFFF_0002u32), mov(esi, 0xABCD_0610u32));
        asm!(a: mov(edi, 0x1234_0710u32));
        a.rep().movsb() // a16: CX, SI, DI only
    });
    poke(&mut m, 0x600, b"xyz?");
    poke(&mut m, 0x610, b"PQR");
    halt(&mut m);
    // 67: ECX = 3 iterations, ESI/EDI + 3, ECX = 0
    assert_eq!(bytes(&m, 0x700, 4), b"xyz\0");
    let got = (rd32(&m, 0x500), rd32(&m, 0x504), rd32(&m, 0x508));
    assert_eq!(got, (0x603, 0x703, 0));
    // 16-bit addressing: count CX = 2, addresses SI = 0x610, DI = 0x710; the upper halves
    // of ECX/ESI/EDI are left alone
    assert_eq!(bytes(&m, 0x710, 3), b"PQ\0");
    let got = (reg(&m, ECX), reg(&m, ESI), reg(&m, EDI));
    assert_eq!(got, (0xFFFF_0000, 0xABCD_0612, 0x1234_0712));
}

#[test]
fn rep_movsb_stops_mid_way_on_the_budget_and_resumes() {
    let (mut m, ips) = boot_labeled(|a| {
        let mut rep = a.create_label();
        asm!(a: cld(), mov(si, 0x600u32), mov(di, 0x700u32), mov(cx, 10u32));
        a.set_label(&mut rep)?;
        a.rep().movsb()?;
        Ok(vec![rep])
    });
    poke(&mut m, 0x600, b"0123456789");
    // 4 instructions, then 3 REP iterations (each iteration retires as one instruction)
    assert_eq!(m.run(7).unwrap(), ExitReason::BudgetReached);
    let s = m.cpu_state();
    assert_eq!(s.eip, ips[0], "EIP stays on the REP MOVSB");
    assert_eq!(
        (s.regs[ECX], s.regs[ESI], s.regs[EDI]),
        (10 - 3, 0x603, 0x703)
    );
    assert_eq!(bytes(&m, 0x700, 4), b"012\0");
    assert_eq!(m.instruction_count(), 7);
    // one more step = one more iteration
    assert_eq!(m.step().unwrap(), ExitReason::BudgetReached);
    assert_eq!((m.cpu_state().regs[ECX], m.cpu_state().eip), (6, ips[0]));
    // the rest: 6 iterations and HLT → 4 + 10 + 1 = 15 retired in all
    halt(&mut m);
    assert_eq!(bytes(&m, 0x700, 11), b"0123456789\0");
    assert_eq!((reg(&m, ECX), m.instruction_count()), (0, 15));
}
