//! The 386+ additions to real mode, as guest programs. These instructions have no external
//! vectors here, so each expected value is derived by hand from the Intel SDM vol. 2
//! instruction page and the derivation is written next to it.

use iced_x86::code_asm::*;
use vx86_core::{ExitReason, Machine, MachineConfig};

/// Runs 16-bit code at 0000:7C00 (DS = ES = SS = 0, SP = 0xFFFE) to its HLT.
fn run(build: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Machine {
    let mut a = CodeAssembler::new(16).unwrap();
    build(&mut a).unwrap();
    a.hlt().unwrap();
    let code = a.assemble(0x7C00).unwrap();
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_flat(&code, 0x7C00, 0x7C00).unwrap();
    assert_eq!(m.run(100_000).unwrap(), ExitReason::Halted);
    m
}

fn d(m: &Machine, addr: u64) -> u32 {
    let mut b = [0u8; 4];
    m.read_phys(addr, &mut b).unwrap();
    u32::from_le_bytes(b)
}

fn w(m: &Machine, addr: u64) -> u16 {
    d(m, addr) as u16
}

const CF: u32 = 1;
const ZF: u32 = 1 << 6;
const SF: u32 = 1 << 7;
const OF: u32 = 1 << 11;

#[test]
fn movzx_movsx() {
    let m = run(|a| {
        a.mov(bl, 0x80u32)?;
        a.movzx(ax, bl)?;
        a.mov(word_ptr(0x500), ax)?;
        a.movsx(ax, bl)?;
        a.mov(word_ptr(0x502), ax)?;
        a.movsx(ecx, bl)?;
        a.mov(dword_ptr(0x504), ecx)?;
        a.mov(bx, 0x8001u32)?;
        a.movzx(edx, bx)?;
        a.mov(dword_ptr(0x508), edx)?;
        a.movsx(edx, bx)?;
        a.mov(dword_ptr(0x50C), edx)
    });
    assert_eq!(w(&m, 0x500), 0x0080); // MOVZX: 0x80 zero-extended to 16 bits
    assert_eq!(w(&m, 0x502), 0xFF80); // MOVSX: bit 7 set → 0xFF80
    assert_eq!(d(&m, 0x504), 0xFFFF_FF80); // MOVSX r32, r8
    assert_eq!(d(&m, 0x508), 0x0000_8001); // MOVZX r32, r16
    assert_eq!(d(&m, 0x50C), 0xFFFF_8001); // MOVSX r32, r16: bit 15 set
}

#[test]
fn bit_test_family() {
    let m = run(|a| {
        a.mov(eax, 0x0000_0010u32)?;
        a.bt(eax, 4u32)?; // CF = bit 4 = 1
        a.setc(byte_ptr(0x500))?;
        a.bts(eax, 0u32)?; // CF = old bit 0 = 0; EAX = 0x11
        a.setc(byte_ptr(0x501))?;
        a.mov(ecx, 4u32)?;
        a.btr(eax, ecx)?; // CF = 1; EAX = 0x01
        a.setc(byte_ptr(0x502))?;
        a.btc(eax, 31u32)?; // EAX = 0x80000001
        a.mov(dword_ptr(0x504), eax)?;
        // memory bit string at 0x600 with a negative register offset: bit −1 is bit 7 of the
        // byte at 0x5FF (SDM BT: the offset is signed and may address outside the operand)
        a.mov(byte_ptr(0x5FF), 0u32)?;
        a.mov(edx, u32::MAX)?; // −1
        a.bts(dword_ptr(0x600), edx)?;
        a.mov(al, byte_ptr(0x5FF))?;
        a.mov(byte_ptr(0x508), al)?;
        // bit 33 of the dword string at 0x610 is bit 1 of the dword at 0x614
        a.mov(dword_ptr(0x614), 0u32)?;
        a.mov(edx, 33u32)?;
        a.bts(dword_ptr(0x610), edx)?;
        a.mov(eax, dword_ptr(0x614))?;
        a.mov(dword_ptr(0x50C), eax)
    });
    assert_eq!(d(&m, 0x500) & 0xFF_FFFF, 0x01_00_01); // CF per step: 1, 0, 1
    assert_eq!(d(&m, 0x504), 0x8000_0001);
    assert_eq!(d(&m, 0x508) & 0xFF, 0x80);
    assert_eq!(d(&m, 0x50C), 0x2);
}

#[test]
fn bit_scans() {
    let m = run(|a| {
        a.mov(eax, 0x0001_0100u32)?;
        a.bsf(ecx, eax)?; // lowest set bit: 8
        a.bsr(edx, eax)?; // highest set bit: 16
        a.mov(dword_ptr(0x500), ecx)?;
        a.mov(dword_ptr(0x504), edx)?;
        a.mov(ebx, 0xDEADu32)?;
        a.xor(eax, eax)?;
        a.bsf(ebx, eax)?; // source 0: ZF = 1, destination unchanged (on Intel processors)
        a.setz(byte_ptr(0x508))?;
        a.mov(dword_ptr(0x50C), ebx)
    });
    assert_eq!(d(&m, 0x500), 8);
    assert_eq!(d(&m, 0x504), 16);
    assert_eq!(d(&m, 0x508) & 0xFF, 1);
    assert_eq!(d(&m, 0x50C), 0xDEAD);
}

#[test]
fn setcc_and_cmovcc() {
    let m = run(|a| {
        a.mov(al, 5u32)?;
        a.cmp(al, 7u32)?; // 5 − 7: borrow (CF=1), negative (SF=1), no overflow
        a.setb(byte_ptr(0x500))?; // CF → 1
        a.setl(byte_ptr(0x501))?; // SF≠OF → 1
        a.seta(byte_ptr(0x502))?; // CF=0 and ZF=0? no → 0
        a.sete(byte_ptr(0x503))?; // ZF=0 → 0
        a.mov(ecx, 0x1111u32)?;
        a.mov(edx, 0x2222u32)?;
        a.cmovb(ecx, edx)?; // taken: ECX = 0x2222
        a.mov(ebx, 0x3333u32)?;
        a.cmova(ebx, edx)?; // not taken: EBX stays 0x3333
        a.mov(dword_ptr(0x504), ecx)?;
        a.mov(dword_ptr(0x508), ebx)
    });
    assert_eq!(d(&m, 0x500), 0x0000_0101);
    assert_eq!(d(&m, 0x504), 0x2222);
    assert_eq!(d(&m, 0x508), 0x3333);
}

#[test]
fn double_shifts() {
    let m = run(|a| {
        a.mov(eax, 0x1234_5678u32)?;
        a.mov(edx, 0x9ABC_DEF0u32)?;
        a.shld(eax, edx, 8u32)?; // EAX = 0x34567800 | 0x9A = 0x3456789A; CF = last bit out of EAX = bit 24 of 0x12345678 = 0
        a.mov(dword_ptr(0x500), eax)?;
        a.pushfd()?;
        a.pop(dword_ptr(0x504))?;
        a.mov(eax, 0x1234_5678u32)?;
        a.mov(cl, 4u32)?;
        a.shrd(eax, edx, cl)?; // EAX = 0x01234567 | 0x0 << 28 (low nibble of EDX = 0) = 0x01234567; CF = bit 3 of EAX = 1
        a.mov(dword_ptr(0x508), eax)?;
        a.pushfd()?;
        a.pop(dword_ptr(0x50C))?;
        a.mov(ax, 0x8001u32)?;
        a.mov(dx, 0xFFFFu32)?;
        a.shld(ax, dx, 1u32)?; // 16-bit: AX = 0x0002 | 1 = 0x0003; CF = old bit 15 = 1; OF = sign changed (1→0) = 1
        a.mov(word_ptr(0x510), ax)?;
        a.pushfd()?;
        a.pop(dword_ptr(0x514))
    });
    assert_eq!(d(&m, 0x500), 0x3456_789A);
    assert_eq!(d(&m, 0x504) & CF, 0);
    assert_eq!(d(&m, 0x508), 0x0123_4567);
    assert_eq!(d(&m, 0x50C) & CF, CF);
    assert_eq!(w(&m, 0x510), 0x0003);
    assert_eq!(d(&m, 0x514) & (CF | OF), CF | OF);
}

#[test]
fn imul_forms() {
    let m = run(|a| {
        a.mov(ecx, 100_000u32)?;
        a.imul_3(edx, ecx, 30_000u32)?; // 3,000,000,000 > i32::MAX: truncated 0xB2D05E00, CF=OF=1
        a.mov(dword_ptr(0x500), edx)?;
        a.pushfd()?;
        a.pop(dword_ptr(0x504))?;
        a.mov(ax, 0xFFFEu32)?; // −2
        a.mov(bx, 3u32)?;
        a.imul_2(ax, bx)?; // −6 = 0xFFFA fits: CF=OF=0
        a.mov(word_ptr(0x508), ax)?;
        a.pushfd()?;
        a.pop(dword_ptr(0x50C))?;
        a.mov(bx, 0x7Fu32)?;
        a.imul_3(bx, bx, -2i32)?; // 127 × −2 = −254 = 0xFF02 (imm8 sign-extended)
        a.mov(word_ptr(0x510), bx)
    });
    assert_eq!(d(&m, 0x500), 0xB2D0_5E00);
    assert_eq!(d(&m, 0x504) & (CF | OF), CF | OF);
    assert_eq!(w(&m, 0x508), 0xFFFA);
    assert_eq!(d(&m, 0x50C) & (CF | OF), 0);
    assert_eq!(w(&m, 0x510), 0xFF02);
}

#[test]
fn far_pointer_loads_and_fs_gs() {
    let m = run(|a| {
        // far pointer 0x1234:0x5678 at 0x600, 32-bit offset 0x89ABCDEF:0x2000 at 0x610
        a.mov(dword_ptr(0x600), 0x1234_5678u32)?;
        a.mov(dword_ptr(0x610), 0x89AB_CDEFu32)?;
        a.mov(word_ptr(0x614), 0x2000u32)?;
        a.lfs(bx, dword_ptr(0x600))?; // BX = 0x5678, FS = 0x1234
        a.lgs(ecx, fword_ptr(0x610))?; // ECX = 0x89ABCDEF, GS = 0x2000
        a.mov(word_ptr(0x500), bx)?;
        a.mov(word_ptr(0x502), fs)?;
        a.mov(dword_ptr(0x504), ecx)?;
        a.mov(word_ptr(0x508), gs)?;
        // GS:[0x10] is linear 0x20010; write it through ES = 0x2000 first
        a.mov(ax, 0x2000u32)?;
        a.mov(es, ax)?;
        a.mov(dword_ptr(0x10).es(), 0xCAFE_F00Du32)?;
        a.mov(eax, dword_ptr(0x10).gs())?;
        a.mov(dword_ptr(0x50C), eax)?;
        // LSS: SS:SP = 0x0000:0x7000 from a far pointer
        a.mov(dword_ptr(0x620), 0x0000_7000u32)?;
        a.lss(sp, dword_ptr(0x620))?;
        a.push(0xBEEFu32)?;
        a.mov(ax, word_ptr(0x6FFE))?;
        a.mov(word_ptr(0x510), ax)
    });
    assert_eq!(w(&m, 0x500), 0x5678);
    assert_eq!(w(&m, 0x502), 0x1234);
    assert_eq!(d(&m, 0x504), 0x89AB_CDEF);
    assert_eq!(w(&m, 0x508), 0x2000);
    assert_eq!(d(&m, 0x50C), 0xCAFE_F00D);
    assert_eq!(w(&m, 0x510), 0xBEEF, "push after LSS wrote at 0x7000 − 2");
}

#[test]
fn operand_and_address_size_prefixes() {
    let m = run(|a| {
        a.mov(ebx, 0x600u32)?;
        a.mov(esi, 3u32)?;
        a.mov(dword_ptr(ebx + esi * 4 + 0x10), 0x1122_3344u32)?; // 0x600 + 12 + 0x10 = 0x61C
        a.mov(eax, dword_ptr(0x61C))?;
        a.add(eax, 0x1000_0000u32)?;
        a.mov(dword_ptr(0x500), eax)
    });
    assert_eq!(d(&m, 0x61C), 0x1122_3344);
    assert_eq!(d(&m, 0x500), 0x2122_3344);
}

#[test]
fn bswap_xadd_cmpxchg() {
    let m = run(|a| {
        a.mov(eax, 0x1122_3344u32)?;
        a.bswap(eax)?; // 0x44332211
        a.mov(dword_ptr(0x500), eax)?;
        a.mov(dword_ptr(0x600), 10u32)?;
        a.mov(ecx, 5u32)?;
        a.xadd(dword_ptr(0x600), ecx)?; // [0x600] = 15, ECX = 10
        a.mov(dword_ptr(0x504), ecx)?;
        a.mov(eax, 15u32)?;
        a.mov(edx, 99u32)?;
        a.cmpxchg(dword_ptr(0x600), edx)?; // equal: [0x600] = 99, ZF = 1
        a.setz(byte_ptr(0x508))?;
        a.mov(eax, 1u32)?;
        a.cmpxchg(dword_ptr(0x600), edx)?; // unequal: EAX = 99, ZF = 0
        a.setz(byte_ptr(0x509))?;
        a.mov(dword_ptr(0x50C), eax)?;
        // CMPXCHG8B: EDX:EAX = [0x610] → equal → [0x610] = ECX:EBX
        a.mov(dword_ptr(0x610), 1u32)?;
        a.mov(dword_ptr(0x614), 2u32)?;
        a.mov(eax, 1u32)?;
        a.mov(edx, 2u32)?;
        a.mov(ebx, 0xAAu32)?;
        a.mov(ecx, 0xBBu32)?;
        a.cmpxchg8b(qword_ptr(0x610))?;
        a.setz(byte_ptr(0x50A))?;
        a.cmpxchg8b(qword_ptr(0x610))?; // now unequal: EDX:EAX = 0xBB:0xAA, ZF = 0
        a.setz(byte_ptr(0x50B))?;
        a.mov(dword_ptr(0x518), eax)?;
        a.mov(dword_ptr(0x51C), edx)
    });
    assert_eq!(d(&m, 0x500), 0x4433_2211);
    assert_eq!(d(&m, 0x504), 10);
    assert_eq!(d(&m, 0x508), 0x00_01_00_01); // ZF: 1, 0, 1, 0 (bytes 0x508..0x50B)
    assert_eq!(d(&m, 0x50C), 99);
    assert_eq!((d(&m, 0x610), d(&m, 0x614)), (0xAA, 0xBB));
    assert_eq!((d(&m, 0x518), d(&m, 0x51C)), (0xAA, 0xBB));
}

#[test]
fn cpuid_and_rdtsc() {
    let m = run(|a| {
        a.xor(eax, eax)?;
        a.cpuid()?;
        a.mov(dword_ptr(0x500), ebx)?;
        a.mov(dword_ptr(0x504), edx)?;
        a.mov(dword_ptr(0x508), ecx)?;
        a.mov(eax, 1u32)?;
        a.cpuid()?;
        a.mov(dword_ptr(0x50C), edx)?;
        a.rdtsc()?;
        a.mov(dword_ptr(0x510), eax)?;
        a.nop()?;
        a.rdtsc()?;
        a.mov(dword_ptr(0x514), eax)
    });
    let mut v = [0u8; 12];
    m.read_phys(0x500, &mut v).unwrap();
    assert_eq!(&v, b"VX86 Virtual");
    let features = d(&m, 0x50C);
    // TSC (bit 4), CX8 (bit 8), CMOV (bit 15) advertised; FPU (bit 0) not yet
    assert_eq!(
        features & (1 << 4 | 1 << 8 | 1 << 15),
        1 << 4 | 1 << 8 | 1 << 15
    );
    assert_eq!(features & 1, 0);
    // the TSC advances by retired instructions: mov, nop, rdtsc between the reads = 3
    assert_eq!(d(&m, 0x514) - d(&m, 0x510), 3);
}

#[test]
fn interrupts_and_exceptions_through_the_ivt() {
    // handlers at 0x7E00 + 0x10·v record the pushed IP and FLAGS, then skip the faulting
    // instruction (faults) or just return (traps) by adding the per-vector delta at 0x900+v
    let mut m = {
        let mut a = CodeAssembler::new(16).unwrap();
        a.sti().unwrap();
        a.xor(dx, dx).unwrap();
        a.mov(ax, 1u32).unwrap();
        a.xor(cx, cx).unwrap();
        a.div(cx).unwrap(); // #DE (2 bytes: F7 F1), pushed IP = the DIV
        a.ud2().unwrap(); // #UD, pushed IP = the UD2
        a.mov(bx, 5u32).unwrap();
        a.bound(bx, dword_ptr(0x620)).unwrap(); // bounds 10..20: #BR
        a.int(0x42u32).unwrap(); // INT n: pushed IP = next instruction
        a.mov(al, 0x7Fu32).unwrap();
        a.add(al, 1u32).unwrap(); // OF = 1
        a.db(&[0xCE]).unwrap(); // INTO: #OF trap
        a.hlt().unwrap();
        let code = a.assemble(0x7C00).unwrap();
        let mut m = Machine::new(MachineConfig::default()).unwrap();
        m.load_flat(&code, 0x7C00, 0x7C00).unwrap();
        m
    };
    m.write_phys(0x620, &[10, 0, 20, 0]).unwrap();
    let vectors: [(u8, u16); 5] = [(0, 2), (6, 2), (5, 4), (0x42, 0), (4, 0)];
    for (i, &(v, skip)) in vectors.iter().enumerate() {
        let h = 0x7E00 + 0x20 * i as u16;
        m.write_phys(v as u64 * 4, &[h as u8, (h >> 8) as u8, 0, 0])
            .unwrap();
        // mov bp, sp; mov ax, [bp]; mov [0x800+4i], ax; mov ax, [bp+4]; mov [0x802+4i], ax;
        // add word [bp], skip; iret
        let slot = 0x800 + 4 * i as u16;
        let mut a = CodeAssembler::new(16).unwrap();
        a.mov(bp, sp).unwrap();
        a.mov(ax, word_ptr(bp)).unwrap();
        a.mov(word_ptr(slot as u32), ax).unwrap();
        a.mov(ax, word_ptr(bp + 4)).unwrap();
        a.mov(word_ptr(slot as u32 + 2), ax).unwrap();
        a.add(word_ptr(bp), skip as u32).unwrap();
        a.iret().unwrap();
        m.write_phys(h as u64, &a.assemble(h as u64).unwrap())
            .unwrap();
    }
    assert_eq!(m.run(1000).unwrap(), ExitReason::Halted);
    let ip = |i: u64| w(&m, 0x800 + 4 * i);
    let fl = |i: u64| w(&m, 0x802 + 4 * i) as u32;
    // layout: sti(1) xor dx,dx(2) mov ax,1(3) xor cx,cx(2) → DIV at 0x7C08
    assert_eq!(ip(0), 0x7C08, "#DE is a fault: IP of the DIV");
    assert_eq!(ip(1), 0x7C0A, "#UD: IP of the UD2");
    assert_eq!(ip(2), 0x7C0F, "#BR: IP of the BOUND (after mov bx, 5)");
    assert_eq!(ip(3), 0x7C15, "INT 42h: IP after the 2-byte INT");
    assert_eq!(ip(4), 0x7C1A, "INTO is a trap: IP after it");
    // the pushed FLAGS still have IF = 1 (set by STI); OF set for INTO
    assert_eq!(fl(0) & 0x200, 0x200);
    assert_eq!(fl(4) & OF, OF);
    // handlers ran with IF cleared, and IRET restored it
    assert_eq!(m.cpu_state().eflags & 0x200, 0x200);
    let _ = (SF, ZF);
}

#[test]
fn rep_strings_and_budget_mid_rep() {
    let mut m = {
        let mut a = CodeAssembler::new(16).unwrap();
        a.cld().unwrap();
        a.mov(si, 0x600u32).unwrap();
        a.mov(di, 0x700u32).unwrap();
        a.mov(cx, 10u32).unwrap();
        a.rep().movsb().unwrap();
        a.mov(di, 0x700u32).unwrap();
        a.mov(al, 0x05u32).unwrap();
        a.mov(cx, 10u32).unwrap();
        a.repne().scasb().unwrap(); // finds 0x05 at 0x705: stops with DI = 0x706, CX = 4
        a.mov(word_ptr(0x500), di).unwrap();
        a.mov(word_ptr(0x502), cx).unwrap();
        a.std().unwrap();
        a.mov(edi, 0x80Cu32).unwrap();
        a.mov(eax, 0xA5A5_A5A5u32).unwrap();
        a.mov(ecx, 3u32).unwrap();
        a.rep().stosd().unwrap(); // backwards: 0x80C, 0x808, 0x804
        a.hlt().unwrap();
        let code = a.assemble(0x7C00).unwrap();
        let mut m = Machine::new(MachineConfig::default()).unwrap();
        m.load_flat(&code, 0x7C00, 0x7C00).unwrap();
        m
    };
    m.write_phys(0x600, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        .unwrap();
    // 4 setup instructions, then 3 REP iterations: stopped inside the REP MOVSB
    assert_eq!(m.run(7).unwrap(), ExitReason::BudgetReached);
    let s = m.cpu_state();
    assert_eq!(s.regs[1] & 0xFFFF, 7, "CX counts down one per iteration");
    // cld (1 byte) + three `mov r16, imm16` (3 bytes each): the REP MOVSB is at 0x7C0A
    assert_eq!(s.eip, 0x7C0A, "EIP stays on the REP MOVSB");
    assert_eq!(m.run(100).unwrap(), ExitReason::Halted);
    let mut b = [0u8; 10];
    m.read_phys(0x700, &mut b).unwrap();
    assert_eq!(b, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert_eq!(w(&m, 0x500), 0x706);
    assert_eq!(w(&m, 0x502), 4);
    assert_eq!(
        (d(&m, 0x804), d(&m, 0x808), d(&m, 0x80C)),
        (0xA5A5_A5A5, 0xA5A5_A5A5, 0xA5A5_A5A5)
    );
    assert_eq!(d(&m, 0x800), 0, "only three dwords stored");
}

#[test]
fn port_io_and_triple_fault() {
    let mut m = run(|a| {
        a.mov(al, b'!' as u32)?;
        a.out(0xE9u32, al)?;
        a.in_(al, 0x70u32)?; // unclaimed port: all ones
        a.mov(byte_ptr(0x500), al)?;
        a.mov(dx, 0x1234u32)?;
        a.in_(ax, dx)?;
        a.mov(word_ptr(0x502), ax)
    });
    assert_eq!(m.take_debug_output(), b"!");
    assert_eq!(d(&m, 0x500), 0xFFFF_00FF);
    // IDT limit 0, then INT3: #GP while delivering → #DF → shutdown
    let mut a = CodeAssembler::new(16).unwrap();
    a.mov(word_ptr(0x600), 0u32).unwrap();
    a.mov(dword_ptr(0x602), 0u32).unwrap();
    a.lidt(dword_ptr(0x600)).unwrap();
    a.int3().unwrap();
    a.hlt().unwrap();
    let code = a.assemble(0x7C00).unwrap();
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_flat(&code, 0x7C00, 0x7C00).unwrap();
    assert_eq!(m.run(100).unwrap(), ExitReason::TripleFault);
}

#[test]
fn self_modifying_code_in_the_same_block() {
    let m = run(|a| {
        // 0x7C00: mov word [0x7C0A], 0x4242 (C7 06 0A 7C 42 42, 6 bytes)
        // 0x7C06: three NOPs
        // 0x7C09: mov ax, 0x1111 (B8 11 11): its immediate is at 0x7C0A, patched above, in
        //         the same basic block
        a.mov(word_ptr(0x7C0A), 0x4242u32)?;
        a.nop()?;
        a.nop()?;
        a.nop()?;
        a.mov(ax, 0x1111u32)?;
        a.mov(word_ptr(0x500), ax)
    });
    assert_eq!(w(&m, 0x500), 0x4242);
}

#[test]
fn undefined_opcodes_raise_ud() {
    // FE /7 (FE F8) and LOCK on a register operand (F0 01 C0 = lock add ax, ax) are undefined:
    // #UD (vector 6) with IP at the instruction. The handler at 0x7E00 counts and skips
    // 2 or 3 bytes by reading the length from a table indexed by the count.
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    let code = [0xFE, 0xF8, 0xF0, 0x01, 0xC0, 0xF4];
    m.load_flat(&code, 0x7C00, 0x7C00).unwrap();
    m.write_phys(6 * 4, &[0x00, 0x7E, 0, 0]).unwrap();
    let mut a = CodeAssembler::new(16).unwrap();
    a.mov(bp, sp).unwrap();
    a.mov(bx, word_ptr(0x900)).unwrap();
    a.mov(ax, word_ptr(bp)).unwrap();
    a.mov(word_ptr(bx + 0x910), ax).unwrap(); // pushed IP
    a.add(word_ptr(bp), 2u32).unwrap();
    a.cmp(bx, 0u32).unwrap();
    let mut first = a.create_label();
    a.je(first).unwrap();
    a.inc(word_ptr(bp)).unwrap(); // the LOCK form is 3 bytes
    a.set_label(&mut first).unwrap();
    a.add(word_ptr(0x900), 2u32).unwrap();
    a.iret().unwrap();
    m.write_phys(0x7E00, &a.assemble(0x7E00).unwrap()).unwrap();
    assert_eq!(m.run(100).unwrap(), ExitReason::Halted);
    assert_eq!(w(&m, 0x900), 4, "two #UD");
    assert_eq!(w(&m, 0x910), 0x7C00);
    assert_eq!(w(&m, 0x912), 0x7C02);
    assert_eq!(m.cpu_state().eip, 0x7C06);
}
