//! The i386 additions: MOVZX/MOVSX, BT*, BSF/BSR, SETcc, SHLD/SHRD, IMUL forms, LSS/LFS/LGS. Harness and constants: `real_mode_386.rs`.

use super::*;

#[test]
fn movzx_and_movsx() {
    let mut m = boot(|a| {
        asm!(a: stc(), mov(eax, 0xFFFF_FFFFu32), mov(ecx, 0x1234_5678u32));
        asm!(a: mov(bl, 0x80u32), movzx(ax, bl), movsx(cx, bl), movzx(edx, bl));
        asm!(a: movsx(esi, bl));
        asm!(a: mov(bx, 0x8001u32), movzx(edi, bx), movsx(ebp, bx));
        asm!(a: movsx(ebx, byte_ptr(0x500)), flags_to(0x502));
        Ok(())
    });
    poke(&mut m, 0x500, &[0x7F]);
    halt(&mut m);
    // MOVZX 8→16: 0x80 → 0x0080 and MOVSX 8→16: 0x80 (bit 7 set) → 0xFF80; the 16-bit
    // destinations keep bits 31:16 (0xFFFF and 0x1234)
    assert_eq!((reg(&m, EAX), reg(&m, ECX)), (0xFFFF_0080, 0x1234_FF80));
    // MOVZX 8→32: 0x0000_0080; MOVSX 8→32: 0xFFFF_FF80
    assert_eq!((reg(&m, EDX), reg(&m, ESI)), (0x0000_0080, 0xFFFF_FF80));
    // MOVZX 16→32: 0x8001 → 0x0000_8001; MOVSX 16→32: bit 15 set → 0xFFFF_8001
    assert_eq!((reg(&m, EDI), reg(&m, EBP)), (0x0000_8001, 0xFFFF_8001));
    // MOVSX from memory 8→32: 0x7F (bit 7 clear) → 0x0000_007F
    assert_eq!(reg(&m, EBX), 0x0000_007F);
    // "Flags Affected: None": CF from STC survives
    assert_eq!(rd16(&m, 0x502) & CF, CF);
}

#[test]
fn bt_bts_btr_btc_with_register_and_immediate_offsets() {
    let m = run(|a| {
        asm!(a: mov(eax, 0x8421u32));
        asm!(a: bt(eax, 5u32), setc(byte_ptr(0x500)), bt(eax, 6u32), setc(byte_ptr(0x501)));
        asm!(a: bts(eax, 6u32), setc(byte_ptr(0x502)), btr(eax, 15u32), setc(byte_ptr(0x503)));
        asm!(a: btc(eax, 31u32), setc(byte_ptr(0x504)));
        asm!(a: mov(ecx, 36u32), btc(eax, ecx), setc(byte_ptr(0x505)));
        asm!(a: mov(bx, 0xFFFFu32), mov(cx, 17u32), btr(bx, cx), setc(byte_ptr(0x506)));
        asm!(a: bts(word_ptr(0x510), 3u32), setc(byte_ptr(0x507)));
        asm!(a: bts(word_ptr(0x512), 19u32), setc(byte_ptr(0x508)));
        Ok(())
    });
    // EAX = 0x8421 has bits 0, 5, 10, 15. CF = the selected bit before the change:
    // BT 5 → 1; BT 6 → 0; BTS 6 → 0 (EAX = 0x8461); BTR 15 → 1 (EAX = 0x0461);
    // BTC 31 → 0 (EAX = 0x8000_0461); BTC ECX = 36: 36 mod 32 = 4, bit 4 of 0x61 is 0 → 0
    // (EAX = 0x8000_0471); BTR BX, CX = 17: 17 mod 16 = 1, bit 1 of 0xFFFF → 1 (BX = 0xFFFD);
    // BTS word [0x510], 3 → 0; BTS word [0x512], 19: 19 mod 16 = 3 → 0
    assert_eq!(bytes(&m, 0x500, 9), [1, 0, 0, 1, 0, 0, 1, 0, 0]);
    assert_eq!((reg(&m, EAX), reg16(&m, EBX)), (0x8000_0471, 0xFFFD));
    // bit 3 set in both words
    assert_eq!((rd16(&m, 0x510), rd16(&m, 0x512)), (0x0008, 0x0008));
}

#[test]
fn bit_string_in_memory_with_negative_and_large_register_offsets() {
    // BT "Operation": with a register offset and a memory base the offset is signed and
    // addresses bit (offset MOD 8) of the byte at base + (offset SAR 3).
    let m = run(|a| {
        // (offset, 0 = BT / 1 = BTS / 2 = BTR / 3 = BTC), CF to 0x500 + i
        #[rustfmt::skip]
        let ops = [(-1, 1), (-9, 1), (100, 1), (-1, 0), (100, 2), (1000, 3), (-2998, 3)];
        for (i, (offset, op)) in ops.into_iter().enumerate() {
            a.mov(ecx, offset)?;
            match op {
                0 => a.bt(dword_ptr(0x610), ecx)?,
                1 => a.bts(dword_ptr(0x610), ecx)?,
                2 => a.btr(dword_ptr(0x610), ecx)?,
                _ => a.btc(dword_ptr(0x610), ecx)?,
            }
            a.setc(byte_ptr(0x500 + i as u32))?;
        }
        asm!(a: mov(cx, 0xFFF0u32), bts(word_ptr(0x610), cx), setc(byte_ptr(0x507)));
        Ok(())
    });
    // BTS -1: byte 0x610 - 1 = 0x60F, bit 7 → 0x80 (CF = 0)
    // BTS -9: floor(-9 / 8) = -2 → byte 0x60E, bit -9 - (-16) = 7 → 0x80 (CF = 0)
    // BTS 100: byte 0x610 + 12 = 0x61C, bit 4 → 0x10 (CF = 0)
    // BT -1: bit 7 of 0x60F is now set → CF = 1
    // BTR 100: bit 4 of 0x61C was set → CF = 1, the byte is 0 again
    // BTC 1000: byte 0x610 + 125 = 0x68D, bit 0 → 0x01 (CF = 0)
    // BTC -2998: floor(-2998 / 8) = -375 → byte 0x610 - 0x177 = 0x499, bit -2998 + 3000 = 2
    // BTS word, CX = 0xFFF0 = -16 at 16 bits: byte 0x610 - 2 = 0x60E, bit 0 → 0x81 (CF = 0)
    assert_eq!(bytes(&m, 0x500, 8), [0, 0, 0, 1, 1, 0, 0, 0]);
    let mut want = vec![0u8; 0x20];
    (want[0x0E], want[0x0F]) = (0x81, 0x80);
    assert_eq!(bytes(&m, 0x600, 0x20), want);
    assert_eq!(bytes(&m, 0x68C, 3), [0, 0x01, 0]);
    assert_eq!(bytes(&m, 0x498, 3), [0, 0x04, 0]);
}

#[test]
fn bsf_and_bsr() {
    let m = run(|a| {
        asm!(a: mov(eax, 0x00F0_0800u32), bsf(ecx, eax), flags_to(0x500), bsr(edx, eax));
        asm!(a: mov(bx, 0x0300u32), bsr(si, bx), bsf(bp, bx));
        // zero sources, each after a CMP that leaves ZF = 0
        asm!(a: mov(edi, 0x1234_5678u32), cmp(eax, 0u32));
        asm!(a: bsf(edi, dword_ptr(0x510)), flags_to(0x502));
        asm!(a: mov(bx, 0xBEEFu32), cmp(eax, 0u32));
        asm!(a: bsr(bx, word_ptr(0x510)), flags_to(0x504));
        Ok(())
    });
    // 0x00F0_0800: lowest set bit is 11 (0x800), highest is 23 (0x0080_0000); ZF = 0
    assert_eq!((reg(&m, ECX), reg(&m, EDX)), (11, 23));
    assert_eq!(rd16(&m, 0x500) & ZF, 0);
    // 0x0300: bits 8 and 9 → BSR = 9, BSF = 8 (16-bit forms)
    assert_eq!((reg16(&m, ESI), reg16(&m, EBP)), (9, 8));
    // source 0 → ZF = 1; the SDM calls the destination undefined, vx86 (like Intel and
    // AMD hardware, AMD APM "BSF") leaves it unchanged
    assert_eq!((rd16(&m, 0x502) & ZF, rd16(&m, 0x504) & ZF), (ZF, ZF));
    assert_eq!((reg(&m, EDI), reg16(&m, EBX)), (0x1234_5678, 0xBEEF));
}

type SetCc = fn(&mut CodeAssembler, AsmMemoryOperand) -> Result<(), IcedError>;

#[test]
fn setcc_all_sixteen_conditions() {
    use CodeAssembler as C;
    // in condition-code order 0..15 (SDM vol. 1, appendix B, table B-1)
    #[rustfmt::skip]
    let setcc: [SetCc; 16] = [
        C::seto, C::setno, C::setb, C::setae, C::sete, C::setne, C::setbe, C::seta,
        C::sets, C::setns, C::setp, C::setnp, C::setl, C::setge, C::setle, C::setg,
    ];
    let m = run(|a| {
        asm!(a: mov(ax, 1u32), mov(bx, 2u32), cmp(ax, bx));
        for (i, f) in setcc.iter().enumerate() {
            f(a, byte_ptr(0x500 + i as u32))?;
        }
        asm!(a: mov(al, 0x7Fu32), cmp(al, 0x80u32));
        for (i, f) in setcc.iter().enumerate() {
            f(a, byte_ptr(0x510 + i as u32))?;
        }
        asm!(a: mov(dx, 0xAAAAu32), setge(dl), setnp(dh));
        Ok(())
    });
    // CMP 1, 2: 1 - 2 = 0xFFFF → OF = 0, CF = 1 (borrow), ZF = 0, SF = 1, PF = 1 (0xFF).
    // O 0, NO 1, B 1, AE 0, E 0, NE 1, BE (CF|ZF) 1, A 0, S 1, NS 0, P 1, NP 0,
    // L (SF≠OF) 1, GE 0, LE (ZF | SF≠OF) 1, G 0
    let want = [0, 1, 1, 0, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0];
    assert_eq!(bytes(&m, 0x500, 16), want);
    // CMP 0x7F, 0x80 (8-bit): 0x7F - 0x80 = 0xFF → OF = 1 (127 - (-128) = 255 does not
    // fit), CF = 1, ZF = 0, SF = 1, PF = 1. Differs from above only in O/NO and SF≠OF:
    // O 1, NO 0, ..., L 0, GE 1, LE 0, G 1
    let want = [1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1];
    assert_eq!(bytes(&m, 0x510, 16), want);
    // register forms: SETGE DL → 1, SETNP DH → 0; only the byte registers change
    assert_eq!(reg16(&m, EDX), 0x0001);
}

#[test]
fn shld_and_shrd() {
    let m = run(|a| {
        asm!(a: mov(ax, 0x1234u32), mov(bx, 0xABCDu32), shld(ax, bx, 4u32), flags_to(0x500));
        asm!(a: mov(cl, 32u32), shld(ax, bx, cl), flags_to(0x502));
        asm!(a: mov(edx, 0x1234_5678u32), mov(esi, 0x9ABC_DEF0u32), mov(cl, 8u32));
        asm!(a: shrd(edx, esi, cl), flags_to(0x504));
        asm!(a: mov(edi, 0x4000_0000u32), mov(ebp, 0x8000_0000u32));
        asm!(a: shld(edi, ebp, 1u32), flags_to(0x506));
        asm!(a: mov(word_ptr(0x510), 0x0001u32), mov(bx, 0x0001u32));
        asm!(a: shrd(word_ptr(0x510), bx, 1u32), flags_to(0x508));
        Ok(())
    });
    // OF is defined only for 1-bit shifts, AF is undefined
    let defined = CF | PF | ZF | SF;
    // SHLD 0x1234, 0xABCD, 4: (0x1234 << 4 | 0xABCD >> 12) & 0xFFFF = 0x2340 | 0xA = 0x234A;
    // CF = last bit out of the destination = bit 16-4 = 12 of 0x1234 = 1;
    // PF: 0x4A = 0100_1010 has 3 ones → 0
    assert_eq!(rd16(&m, 0x500) & defined, CF);
    // CL = 32 is masked to 32 MOD 32 = 0: no change to the operand or the flags
    assert_eq!(reg16(&m, EAX), 0x234A);
    assert_eq!(rd16(&m, 0x502), rd16(&m, 0x500));
    // SHRD 0x1234_5678, 0x9ABC_DEF0, CL = 8: 0x0012_3456 | 0xF0 << 24 = 0xF012_3456;
    // CF = bit 7 of 0x78 (0111_1000) = 0; SF = 1; PF: 0x56 = 0101_0110 has 4 ones → 1
    assert_eq!(reg(&m, EDX), 0xF012_3456);
    assert_eq!(rd16(&m, 0x504) & defined, SF | PF);
    // SHLD 0x4000_0000, 0x8000_0000, 1 = 0x8000_0000 | 1 = 0x8000_0001: CF = old bit 31 = 0,
    // OF = sign changed (0 → 1) = 1, SF = 1, PF: 0x01 → 0
    assert_eq!(reg(&m, EDI), 0x8000_0001);
    assert_eq!(rd16(&m, 0x506) & (defined | OF), SF | OF);
    // SHRD word 0x0001, 0x0001, 1 = 0x0000 | 1 << 15 = 0x8000: CF = old bit 0 = 1,
    // OF = sign changed = 1, SF = 1, PF: 0x00 → 1
    assert_eq!(rd16(&m, 0x510), 0x8000);
    assert_eq!(rd16(&m, 0x508) & (defined | OF), CF | OF | SF | PF);
}

#[test]
fn imul_two_and_three_operand_forms() {
    let mut m = boot(|a| {
        asm!(a: mov(ax, 0x0100u32), mov(bx, 0x0100u32), imul_2(ax, bx));
        asm!(a: mov(word_ptr(0x520), ax), flags_to(0x500));
        asm!(a: mov(ecx, -3i32), mov(edx, 7u32), imul_2(ecx, edx), flags_to(0x502));
        asm!(a: mov(edi, 0x4000_0000u32), imul_3(ebp, edi, 4i32), flags_to(0x504));
        asm!(a: mov(bx, 1000u32), imul_3(si, bx, -30i32), flags_to(0x506));
        asm!(a: imul_3(di, bx, 33i32), flags_to(0x508));
        asm!(a: mov(eax, 0x8000u32), imul_2(eax, dword_ptr(0x510)), flags_to(0x50A));
        asm!(a: imul_3(edx, ecx, 0x1000i32), flags_to(0x50C));
        Ok(())
    });
    poke(&mut m, 0x510, &0x1_0000u32.to_le_bytes());
    halt(&mut m);
    let of_cf = |addr| rd16(&m, addr) & (CF | OF);
    // 0x100 * 0x100 = 0x1_0000 does not fit 16 bits: AX = 0, CF = OF = 1
    assert_eq!((rd16(&m, 0x520), of_cf(0x500)), (0, CF | OF));
    // -3 * 7 = -21 = 0xFFFF_FFEB fits: CF = OF = 0
    assert_eq!((reg(&m, ECX), of_cf(0x502)), (0xFFFF_FFEB, 0));
    // 0x4000_0000 * 4 = 2^32 → truncated 0, CF = OF = 1
    assert_eq!((reg(&m, EBP), of_cf(0x504)), (0, CF | OF));
    // 1000 * -30 = -30000 = 0x1_0000 - 0x7530 = 0x8AD0 ≥ -32768: fits, CF = OF = 0
    assert_eq!((reg16(&m, ESI), of_cf(0x506)), (0x8AD0, 0));
    // 1000 * 33 = 33000 = 0x80E8 > 32767: CF = OF = 1, DI = low 16 bits 0x80E8
    assert_eq!((reg(&m, EDI), of_cf(0x508)), (0x4000_80E8, CF | OF));
    // 0x8000 * 0x1_0000 = 0x8000_0000 = 2^31 > 2^31 - 1: CF = OF = 1
    assert_eq!((reg(&m, EAX), of_cf(0x50A)), (0x8000_0000, CF | OF));
    // -21 * 0x1000 = -0x15000 = 0xFFFE_B000: fits, CF = OF = 0
    assert_eq!((reg(&m, EDX), of_cf(0x50C)), (0xFFFE_B000, 0));
}

#[test]
fn lss_lfs_lgs() {
    let mut m = boot(|a| {
        asm!(a: lss(sp, ptr(0x500)), lfs(esi, ptr(0x508)), lgs(bx, ptr(0x510)));
        asm!(a: mov(ax, word_ptr(bx).gs()), mov(cx, 0x7777u32), push(cx));
        Ok(())
    });
    poke(&mut m, 0x500, &[0x34, 0x12, 0x00, 0x20]); // m16:16 = 2000:1234
    poke(&mut m, 0x508, &[0x45, 0x23, 0x01, 0x00, 0x00, 0x30]); // m16:32 = 3000:00012345
    poke(&mut m, 0x510, &[0xEF, 0xBE, 0x00, 0x40]); // m16:16 = 4000:BEEF
    poke(&mut m, 0x4_BEEF, &[0x5A, 0xA5]);
    halt(&mut m);
    let s = m.cpu_state();
    let seg = |r: SegReg| (s.segs[r as usize].selector, s.segs[r as usize].base);
    // LSS/LFS/LGS: offset into the register, selector into the segment (base = sel * 16)
    assert_eq!(seg(SegReg::Ss), (0x2000, 0x2_0000));
    assert_eq!(seg(SegReg::Fs), (0x3000, 0x3_0000));
    assert_eq!(seg(SegReg::Gs), (0x4000, 0x4_0000));
    assert_eq!((reg(&m, ESI), reg16(&m, EBX)), (0x0001_2345, 0xBEEF));
    // GS:BX = 0x40000 + 0xBEEF = 0x4BEEF
    assert_eq!(reg16(&m, EAX), 0xA55A);
    // the push goes to the new stack: SP = 0x1234 - 2 = 0x1232, at 0x20000 + 0x1232
    assert_eq!((reg16(&m, ESP), rd16(&m, 0x2_1232)), (0x1232, 0x7777));
}
