//! 66/67 prefixes and FS/GS in real mode. Harness and constants: `real_mode_386.rs`.

use super::*;

#[test]
fn operand_size_prefix_gives_32_bit_operations() {
    let m = run(|a| {
        asm!(a: mov(eax, 0x1234_5678u32), mov(ax, 0xAAAAu32));
        asm!(a: mov(ebx, 0x1234_5678u32), add(ebx, 0x89AB_CDEFu32), flags_to(0x500));
        asm!(a: stc(), mov(edx, 0xFFFF_FFFFu32), inc(edx), flags_to(0x502));
        asm!(a: mov(esi, 0x8000_0001u32), shl(esi, 1u32), flags_to(0x504));
        asm!(a: mov(ecx, 0xDEAD_BEEFu32), push(ecx), mov(bp, sp), pop(di), pop(cx));
        Ok(())
    });
    // a 16-bit write keeps the upper half: 0x1234_0000 | 0xAAAA
    assert_eq!(reg(&m, EAX), 0x1234_AAAA);
    // 0x1234_5678 + 0x89AB_CDEF: 0x5678 + 0xCDEF = 0x1_2467, 0x1234 + 0x89AB + 1 = 0x9BE0
    assert_eq!(reg(&m, EBX), 0x9BE0_2467);
    // ADD: no carry out of bit 31, operands of opposite sign → OF = 0, SF = bit 31 = 1,
    // AF: 0x8 + 0xF carries out of bit 3, PF: 0x67 = 0110_0111 has 5 ones → 0
    assert_eq!(rd16(&m, 0x500) & STATUS, SF | AF);
    // INC at 32 bits: 0xFFFF_FFFF + 1 = 0 (not 0xFFFF_0000): ZF, AF (0xF + 1), PF (0 has
    // even parity), and CF keeps the 1 from STC (INC does not affect CF)
    assert_eq!(reg(&m, EDX), 0);
    assert_eq!(rd16(&m, 0x502) & STATUS, CF | ZF | AF | PF);
    // SHL 0x8000_0001, 1 = 0x0000_0002: CF = old bit 31 = 1, OF = MSB(result) ^ CF = 1,
    // PF: 0x02 has one 1 → 0 (AF undefined, not checked)
    assert_eq!(reg(&m, ESI), 2);
    assert_eq!(rd16(&m, 0x504) & (STATUS & !AF), CF | OF);
    // PUSH ECX (66 51) moves SP by 4: 0xFFFE - 4 = 0xFFFA; the dword is little-endian, so
    // POP DI takes the low word 0xBEEF and POP CX the high word 0xDEAD; SP back at 0xFFFE
    assert_eq!(reg16(&m, EBP), 0xFFFA);
    assert_eq!((reg(&m, EDI), reg(&m, ECX)), (0xBEEF, 0xDEAD_DEAD));
    assert_eq!(reg(&m, ESP), 0xFFFE);
}

#[test]
fn address_size_prefix_gives_scaled_index_addressing() {
    let mut m = boot(|a| {
        asm!(a: mov(bx, 0xFFFFu32), mov(si, 0x0602u32), mov(ax, word_ptr(bx + si)));
        asm!(a: mov(word_ptr(0x500), ax));
        asm!(a: mov(ebx, 0x600u32), mov(ecx, 2u32), mov(eax, dword_ptr(ebx + ecx * 4)));
        asm!(a: mov(esi, 1u32), mov(dx, word_ptr(ebx + esi * 2)));
        asm!(a: mov(edi, 0xCAFE_BABEu32), mov(dword_ptr(ebx + ecx * 8 + 0x20), edi));
        asm!(a: lea(ebp, ptr(ebx + ecx * 8 + 0x12345)), mov(cl, byte_ptr(ecx * 4 + 5)));
        Ok(())
    });
    poke(&mut m, 0x600, &(0..16).collect::<Vec<u8>>());
    poke(&mut m, 0x0D, &[0x5A]);
    halt(&mut m);
    // 16-bit addressing wraps: (0xFFFF + 0x0602) mod 0x10000 = 0x0601 → bytes 01 02
    assert_eq!(rd16(&m, 0x500), 0x0201);
    // [ebx + ecx*4] = 0x600 + 2*4 = 0x608 → bytes 08 09 0A 0B
    assert_eq!(reg(&m, EAX), 0x0B0A_0908);
    // [ebx + esi*2] = 0x602 → bytes 02 03
    assert_eq!(reg16(&m, EDX), 0x0302);
    // [ebx + ecx*8 + 0x20] = 0x600 + 16 + 0x20 = 0x630
    assert_eq!(rd32(&m, 0x630), 0xCAFE_BABE);
    // LEA keeps all 32 bits: 0x600 + 0x10 + 0x12345 = 0x12955
    assert_eq!(reg(&m, EBP), 0x0001_2955);
    // [ecx*4 + 5] (index, no base: disp32) = 8 + 5 = 0x0D
    assert_eq!(reg(&m, ECX) & 0xFF, 0x5A);
}

#[test]
fn fs_and_gs_loads_and_overrides() {
    let mut m = boot(|a| {
        asm!(a: mov(ax, 0x1000u32), mov(fs, ax), mov(ax, 0x2000u32), mov(gs, ax));
        asm!(a: mov(word_ptr(0x510).fs(), 0x1111u32));
        asm!(a: mov(dword_ptr(0x510).gs(), 0x2222_2222u32));
        asm!(a: mov(bx, 0x30u32), mov(cx, word_ptr(bx).fs()), mov(edx, dword_ptr(bx).gs()));
        asm!(a: mov(esi, 0x40u32), mov(edi, dword_ptr(esi * 2).gs()));
        asm!(a: mov(bp, fs));
        Ok(())
    });
    poke(&mut m, 0x1_0030, &[0xEF, 0xBE]);
    poke(&mut m, 0x2_0030, &0x1234_5678u32.to_le_bytes());
    poke(&mut m, 0x2_0080, &0x55AA_66BBu32.to_le_bytes());
    halt(&mut m);
    let s = m.cpu_state();
    let seg = |r: SegReg| (s.segs[r as usize].selector, s.segs[r as usize].base);
    // real mode: base = selector * 16 (SDM vol. 3A, 20.1.1)
    assert_eq!(seg(SegReg::Fs), (0x1000, 0x1_0000));
    assert_eq!(seg(SegReg::Gs), (0x2000, 0x2_0000));
    // FS:0x510 = 0x10510, GS:0x510 = 0x20510; DS:0x510 (base 0) is untouched
    assert_eq!(rd16(&m, 0x1_0510), 0x1111);
    assert_eq!(rd32(&m, 0x2_0510), 0x2222_2222);
    assert_eq!(rd32(&m, 0x510), 0);
    // FS:[BX] = 0x10030, GS:[BX] = 0x20030, GS:[ESI*2] = 0x20000 + 0x80
    assert_eq!(reg16(&m, ECX), 0xBEEF);
    assert_eq!((reg(&m, EDX), reg(&m, EDI)), (0x1234_5678, 0x55AA_66BB));
    // MOV r16, FS gives the selector
    assert_eq!(reg16(&m, EBP), 0x1000);
}
