//! Guest program "exceptions": raises the protected-mode exceptions one after another and
//! prints, for each, the vector, the error code, the pushed EIP (fault = the instruction,
//! trap = the next one) and CR2 for page faults. A common handler resumes at the address the
//! program stored in `RECOVER` before each test.

use crate::guests::{Guest, DATA};
use iced_x86::code_asm::*;

const GDT: u32 = 0x1000;
const IDT: u32 = 0x2000;
const PD: u32 = 0x4000;
const PT: u32 = 0x5000;
const RECOVER: u32 = DATA;
const BOUNDS: u32 = DATA + 0x10;
/// Vectors that push an error code (SDM vol. 3A, table 6-1).
const WITH_ERROR: [u32; 7] = [8, 10, 11, 12, 13, 14, 17];

/// Builds the program.
pub fn build() -> Result<Vec<u8>, IcedError> {
    crate::guests::two_pass(program)
}

fn program(g: &mut Guest) -> Result<(), IcedError> {
    let mut stubs: Vec<CodeLabel> = (0..20).map(|_| g.a.create_label()).collect();
    let mut common = g.a.create_label();
    let mut main = g.a.create_label();
    g.a.jmp(main)?;
    // per-vector stubs
    for (v, stub) in stubs.iter_mut().enumerate() {
        g.a.set_label(stub)?;
        if !WITH_ERROR.contains(&(v as u32)) {
            g.a.push(0u32)?;
        }
        g.a.push(v as u32)?;
        g.a.jmp(common)?;
    }
    // common handler: report, then resume at [RECOVER] with TF cleared
    g.a.set_label(&mut common)?;
    g.a.mov(eax, dword_ptr(esp))?;
    g.report("vector")?;
    g.a.mov(eax, dword_ptr(esp + 4))?;
    g.report("error")?;
    g.a.mov(eax, dword_ptr(esp + 8))?;
    g.report("eip")?;
    let mut not_pf = g.a.create_label();
    g.a.cmp(dword_ptr(esp), 14u32)?;
    g.a.jne(not_pf)?;
    g.a.mov(eax, cr2)?;
    g.report("cr2")?;
    g.a.set_label(&mut not_pf)?;
    g.a.mov(eax, dword_ptr(RECOVER))?;
    g.a.mov(dword_ptr(esp + 8), eax)?;
    g.a.and(dword_ptr(esp + 16), !0x100u32)?;
    g.a.add(esp, 8u32)?;
    g.a.iretd()?;

    g.a.set_label(&mut main)?;
    // GDT: null, 0x08 code, 0x10 data, 0x18 read-only data, 0x20 not-present data. (Writes
    // through a read-only data segment are checked elsewhere: QEMU, the reference here, does
    // not check segment permissions on ordinary accesses.)
    let gdt: [u64; 5] = [
        0,
        0x00CF_9B00_0000_FFFF,
        0x00CF_9300_0000_FFFF,
        0x00CF_9100_0000_FFFF,
        0x00CF_1300_0000_FFFF,
    ];
    for (i, d) in gdt.iter().enumerate() {
        g.a.mov(dword_ptr(GDT + 8 * i as u32), *d as u32)?;
        g.a.mov(dword_ptr(GDT + 8 * i as u32 + 4), (*d >> 32) as u32)?;
    }
    g.a.mov(word_ptr(0x600), (gdt.len() * 8 - 1) as u32)?;
    g.a.mov(dword_ptr(0x602), GDT)?;
    g.a.lgdt(dword_ptr(0x600))?;
    // IDT: 20 interrupt gates to the stubs (addresses patched by the ELF loader step below)
    g.a.mov(word_ptr(0x610), (20 * 8 - 1) as u32)?;
    g.a.mov(dword_ptr(0x612), IDT)?;
    g.a.lidt(dword_ptr(0x610))?;
    for (v, stub) in stubs.iter().enumerate() {
        // low dword: selector 0x08 << 16 | offset low; high dword: offset high | 0x8E00
        g.mov_label(eax, *stub)?;
        g.a.mov(word_ptr(IDT + 8 * v as u32), ax)?;
        g.a.mov(word_ptr(IDT + 8 * v as u32 + 2), 0x08u32)?;
        g.a.mov(word_ptr(IDT + 8 * v as u32 + 4), 0x8E00u32)?;
        g.a.shr(eax, 16u32)?;
        g.a.mov(word_ptr(IDT + 8 * v as u32 + 6), ax)?;
    }
    let t = |g: &mut Guest,
             name: &str,
             body: &dyn Fn(&mut CodeAssembler) -> Result<(), IcedError>|
     -> Result<(), IcedError> {
        let mut after = g.a.create_label();
        g.print("test ")?;
        g.print(name)?;
        g.print("\n")?;
        let r = g.mov_label(eax, after)?;
        g.a.mov(dword_ptr(RECOVER), eax)?;
        body(&mut g.a)?;
        g.print("no exception\n")?;
        g.a.set_label(&mut after)?;
        g.bind(r, after);
        Ok(())
    };
    t(g, "divide-by-zero", &|a| {
        a.mov(eax, 1u32)?;
        a.xor(edx, edx)?;
        a.xor(ecx, ecx)?;
        a.div(ecx)
    })?;
    t(g, "int3", &|a| a.int3())?;
    t(g, "into", &|a| {
        a.mov(al, 0x7Fu32)?;
        a.add(al, 1u32)?;
        a.into()
    })?;
    t(g, "bound", &|a| {
        a.mov(dword_ptr(BOUNDS), 10u32)?;
        a.mov(dword_ptr(BOUNDS + 4), 20u32)?;
        a.mov(eax, 21u32)?;
        a.bound(eax, qword_ptr(BOUNDS))
    })?;
    t(g, "ud2", &|a| a.ud2())?;
    t(g, "device-not-available", &|a| {
        a.mov(eax, cr0)?;
        a.or(eax, 8u32)?; // TS
        a.mov(cr0, eax)?;
        a.fnop()
    })?;
    g.a.clts()?;
    t(g, "gp-selector-beyond-gdt", &|a| {
        a.mov(ax, 0x1230u32)?;
        a.mov(ds, ax)
    })?;
    t(g, "gp-rpl-above-dpl", &|a| {
        // DS ← 0x13: the data segment 0x10 has DPL 0 < max(CPL 0, RPL 3)
        a.mov(ax, 0x13u32)?;
        a.mov(ds, ax)
    })?;
    t(g, "np-segment-not-present", &|a| {
        a.mov(ax, 0x20u32)?;
        a.mov(fs, ax)
    })?;
    t(g, "ss-not-present", &|a| {
        a.mov(ax, 0x20u32)?;
        a.mov(ss, ax)
    })?;
    t(g, "single-step", &|a| {
        a.pushfd()?;
        a.or(dword_ptr(esp), 0x100u32)?;
        a.popfd()?;
        a.nop()
    })?;
    // paging: identity-map 4 MiB with 4 KiB pages except the page at 0x300000 (PDE 0 only
    // covers 0-4 MiB, so map it through a second table); page 0x301000 read-only
    g.a.mov(ecx, 0u32)?;
    let mut fill = g.a.create_label();
    g.a.set_label(&mut fill)?;
    g.a.mov(eax, ecx)?;
    g.a.shl(eax, 12u32)?;
    g.a.or(eax, 3u32)?;
    g.a.mov(dword_ptr(ecx * 4 + PT), eax)?;
    g.a.inc(ecx)?;
    g.a.cmp(ecx, 1024u32)?;
    g.a.jne(fill)?;
    g.a.mov(dword_ptr(PD), PT | 3)?;
    g.a.mov(dword_ptr(PT + 0x300 * 4), 0u32)?; // 0x300000 not present
    g.a.mov(dword_ptr(PT + 0x301 * 4), 0x30_1000u32 | 1)?; // 0x301000 read-only
    g.a.mov(eax, PD)?;
    g.a.mov(cr3, eax)?;
    g.a.mov(eax, cr0)?;
    g.a.or(eax, 0x8001_0000u32)?; // PG, WP
    g.a.mov(cr0, eax)?;
    t(g, "page-fault-read-not-present", &|a| {
        a.mov(eax, dword_ptr(0x30_0010))
    })?;
    t(g, "page-fault-write-read-only", &|a| {
        a.mov(dword_ptr(0x30_1020), eax)
    })?;
    t(g, "page-fault-instruction-straddle", &|a| {
        // `mov eax, imm32` (B8 + 4 bytes) starting 3 bytes before the unmapped page 0x300000:
        // its first three bytes are written inside the mapped page
        a.mov(word_ptr(0x2F_FFFD), 0x44B8u32)?;
        a.mov(byte_ptr(0x2F_FFFF), 0x33u32)?;
        a.mov(eax, 0x2F_FFFDu32)?;
        a.jmp(eax)
    })?;
    g.report_accessed_dirty()?;
    t(g, "double-fault", &|a| {
        // #GP whose gate is not present: #NP while delivering it → #DF (error code 0)
        a.and(byte_ptr(IDT + 13 * 8 + 5), 0x7Fu32)?;
        a.mov(ax, 0x1230u32)?;
        a.mov(ds, ax)
    })?;
    Ok(())
}

impl Guest {
    /// Prints the Accessed/Dirty bits of a few page-table entries after the page tests.
    fn report_accessed_dirty(&mut self) -> Result<(), IcedError> {
        for page in [0x200u32, 0x301] {
            self.a.mov(eax, dword_ptr(PT + page * 4))?;
            self.a.and(eax, 0x60u32)?;
            self.report(&format!("pte {page:x} A/D"))?;
        }
        Ok(())
    }
}
