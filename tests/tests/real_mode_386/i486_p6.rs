//! The i486-P6 additions: BSWAP, XADD, CMPXCHG, CMPXCHG8B, CMOVcc, CPUID, RDTSC. Harness and constants: `real_mode_386.rs`.

use super::*;

#[test]
fn bswap() {
    let m = run(|a| {
        asm!(a: mov(eax, 0x1234_5678u32), bswap(eax), mov(edx, 0xFFu32), bswap(edx));
        Ok(())
    });
    // bytes 12 34 56 78 reversed; 00 00 00 FF reversed
    assert_eq!((reg(&m, EAX), reg(&m, EDX)), (0x7856_3412, 0xFF00_0000));
}

#[test]
fn xadd_exchanges_and_sets_flags_as_add() {
    let m = run(|a| {
        asm!(a: mov(ecx, 0x7FFF_FFFFu32), mov(edx, 1u32), xadd(ecx, edx), flags_to(0x500));
        asm!(a: mov(word_ptr(0x510), 0xFFFFu32), mov(bx, 1u32));
        asm!(a: xadd(word_ptr(0x510), bx), flags_to(0x502));
        asm!(a: mov(al, 0x10u32), mov(ah, 0x20u32), xadd(al, ah));
        asm!(a: mov(esi, 5u32), xadd(esi, esi));
        Ok(())
    });
    // TEMP = 0x7FFF_FFFF + 1 = 0x8000_0000; SRC = old DEST; DEST = TEMP
    assert_eq!((reg(&m, ECX), reg(&m, EDX)), (0x8000_0000, 0x7FFF_FFFF));
    // as ADD: OF (positive + positive = negative), SF, AF (0xF + 0x1), PF (0x00), no CF
    assert_eq!(rd16(&m, 0x500) & STATUS, OF | SF | AF | PF);
    // 0xFFFF + 1 = 0x1_0000 → 0: CF, ZF, AF, PF; BX = old memory value 0xFFFF
    assert_eq!((rd16(&m, 0x510), reg16(&m, EBX)), (0, 0xFFFF));
    assert_eq!(rd16(&m, 0x502) & STATUS, CF | ZF | AF | PF);
    // byte form: AL = 0x10 + 0x20 = 0x30, AH = old AL = 0x10
    assert_eq!(reg16(&m, EAX), 0x1030);
    // XADD ESI, ESI: "TEMP := SRC + DEST; SRC := DEST; DEST := TEMP" — DEST is written
    // last, so the register holds the sum 5 + 5 = 10
    assert_eq!(reg(&m, ESI), 10);
}

#[test]
fn cmpxchg_equal_and_unequal() {
    let m = run(|a| {
        asm!(a: mov(dword_ptr(0x510), 0x1111_1111u32), mov(eax, 0x1111_1111u32));
        asm!(a: mov(ecx, 0x2222_2222u32), cmpxchg(dword_ptr(0x510), ecx), flags_to(0x500));
        asm!(a: mov(dword_ptr(0x520), eax));
        asm!(a: mov(ax, 5u32), mov(bx, 3u32), mov(dx, 9u32));
        asm!(a: cmpxchg(bx, dx), flags_to(0x502), mov(esi, eax));
        asm!(a: mov(al, 1u32), mov(cl, 2u32), cmpxchg(cl, dl), flags_to(0x504));
        Ok(())
    });
    // equal (EAX = DEST): ZF = 1, DEST = SRC, EAX unchanged; flags of CMP with result 0
    // (PF = 1, no CF/SF/OF/AF)
    assert_eq!(
        (rd32(&m, 0x510), rd32(&m, 0x520)),
        (0x2222_2222, 0x1111_1111)
    );
    assert_eq!(rd16(&m, 0x500) & STATUS, ZF | PF);
    // unequal (AX = 5, BX = 3): ZF = 0, AX = DEST = 3, BX unchanged; flags of 5 - 3 = 2:
    // no borrow, PF: 0x02 → 0
    assert_eq!((reg16(&m, ESI), reg16(&m, EBX)), (3, 3));
    assert_eq!(rd16(&m, 0x502) & STATUS, 0);
    // unequal byte (AL = 1, CL = 2): AL = 2, CL kept; flags of 1 - 2 = 0xFF: CF, SF,
    // AF (borrow from bit 4), PF (8 ones)
    assert_eq!((reg16(&m, EAX), reg(&m, ECX) & 0xFF), (0x0002, 2));
    assert_eq!(rd16(&m, 0x504) & STATUS, CF | SF | AF | PF);
}

#[test]
fn cmpxchg8b_equal_and_unequal() {
    let mut m = boot(|a| {
        asm!(a: mov(edx, 0x1122_3344u32), mov(eax, 0x5566_7788u32));
        asm!(a: mov(ecx, 0xAABB_CCDDu32), mov(ebx, 0xEEFF_0011u32));
        asm!(a: cmpxchg8b(qword_ptr(0x600)), flags_to(0x500));
        // XOR sets ZF = 1 before the unequal compare
        asm!(a: xor(edx, edx), xor(eax, eax), cmpxchg8b(qword_ptr(0x610)), flags_to(0x502));
        Ok(())
    });
    poke(&mut m, 0x600, &0x1122_3344_5566_7788u64.to_le_bytes());
    poke(&mut m, 0x610, &0x0102_0304_0506_0708u64.to_le_bytes());
    halt(&mut m);
    // equal (EDX:EAX = m64): ZF = 1, m64 = ECX:EBX
    assert_eq!(
        (rd32(&m, 0x600), rd32(&m, 0x604)),
        (0xEEFF_0011, 0xAABB_CCDD)
    );
    assert_eq!(rd16(&m, 0x500) & ZF, ZF);
    // unequal: ZF = 0, EDX:EAX = m64, memory unchanged
    assert_eq!(rd16(&m, 0x502) & ZF, 0);
    assert_eq!((reg(&m, EDX), reg(&m, EAX)), (0x0102_0304, 0x0506_0708));
    assert_eq!(
        (rd32(&m, 0x614), rd32(&m, 0x610)),
        (0x0102_0304, 0x0506_0708)
    );
}

#[test]
fn cmovcc_taken_and_not_taken() {
    let m = run(|a| {
        asm!(a: mov(eax, 1u32), mov(ebx, 0x1111_1111u32), mov(ecx, 0x2222_2222u32));
        asm!(a: mov(edx, 0x3333_3333u32), mov(ebp, 0u32));
        asm!(a: cmp(eax, 1u32), cmove(ebx, ecx), cmovne(edx, ecx)); // ZF = 1
        asm!(a: mov(word_ptr(0x500), 0xBEEFu32), mov(si, 0x1234u32), mov(di, 0x5678u32));
        // 1 - 2: CF = 1, ZF = 0, SF = 1, OF = 0
        asm!(a: cmp(eax, 2u32), cmovb(si, word_ptr(0x500)), cmova(di, word_ptr(0x500)));
        asm!(a: cmovl(ebp, ecx));
        Ok(())
    });
    // E taken (ZF = 1): EBX = ECX; NE not taken: EDX unchanged
    assert_eq!((reg(&m, EBX), reg(&m, EDX)), (0x2222_2222, 0x3333_3333));
    // B taken (CF = 1); A (CF = 0 and ZF = 0) not taken; L (SF ≠ OF) taken
    assert_eq!((reg16(&m, ESI), reg16(&m, EDI)), (0xBEEF, 0x5678));
    assert_eq!(reg(&m, EBP), 0x2222_2222);
}

#[test]
fn cpuid_vendor_and_features() {
    let m = run(|a| {
        asm!(a: xor(eax, eax), cpuid(), mov(dword_ptr(0x500), ebx));
        asm!(a: mov(dword_ptr(0x504), edx), mov(dword_ptr(0x508), ecx));
        asm!(a: mov(dword_ptr(0x50C), eax));
        asm!(a: mov(eax, 1u32), cpuid(), mov(dword_ptr(0x510), edx));
        Ok(())
    });
    // leaf 0: the vendor string is EBX, EDX, ECX in that order; EAX = the highest basic
    // leaf, so leaf 1 must exist
    assert_eq!(bytes(&m, 0x500, 12), b"VX86 Virtual");
    assert!(rd32(&m, 0x50C) >= 1);
    // leaf 1 EDX: FPU = bit 0, TSC = bit 4, CX8 = bit 8, CMOV = bit 15, MMX = 23, FXSR = 24,
    // SSE = 25, SSE2 = 26 set; APIC = bit 9 set (the default machine has a local APIC)
    let bit = |n: u32| rd32(&m, 0x510) >> n & 1;
    assert_eq!((bit(0), bit(4), bit(8), bit(15)), (1, 1, 1, 1));
    assert_eq!(
        (bit(23), bit(24), bit(25), bit(26), bit(9)),
        (1, 1, 1, 1, 1)
    );
}

#[test]
fn rdtsc_counts_up() {
    let m = run(|a| {
        asm!(a: rdtsc(), mov(dword_ptr(0x500), eax), mov(dword_ptr(0x504), edx), nop());
        asm!(a: rdtsc(), mov(dword_ptr(0x508), eax), mov(dword_ptr(0x50C), edx));
        Ok(())
    });
    // EDX:EAX = the 64-bit counter; it increases monotonically
    let first = (rd32(&m, 0x504) as u64) << 32 | rd32(&m, 0x500) as u64;
    let second = (rd32(&m, 0x50C) as u64) << 32 | rd32(&m, 0x508) as u64;
    assert!(second > first, "{second} > {first}");
}

/// RDRAND/RDSEED (SDM vol. 2): CF = 1 and OF/SF/ZF/AF/PF = 0 on success; the values come from
/// the machine's seeded generator (SplitMix64 of `MachineConfig::seed`, 0 by default), so they
/// are known in advance: SplitMix64's published first outputs for seed 0.
#[test]
fn rdrand_and_rdseed_are_seeded() {
    let m = run(|a| {
        asm!(a: mov(eax, 0xFFu32), add(al, 1u32)); // ZF, AF, CF set before
        asm!(a: rdrand(ecx), pushfd(), pop(dword_ptr(0x500)), mov(dword_ptr(0x504), ecx));
        asm!(a: rdseed(dx), mov(word_ptr(0x508), dx));
        Ok(())
    });
    let f = rd32(&m, 0x500);
    assert_eq!(
        f & 0x8D5,
        0x001,
        "CF = 1, OF SF ZF AF PF = 0 (flags {f:#x})"
    );
    assert_eq!(
        rd32(&m, 0x504),
        0x7B1D_CDAF,
        "low half of 0xE220A8397B1DCDAF"
    );
    assert_eq!(
        rd16(&m, 0x508),
        0x65F4,
        "low 16 bits of the second, 0x6E789E6AA1B965F4"
    );
}
