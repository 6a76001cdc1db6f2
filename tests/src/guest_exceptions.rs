//! Guest program "exceptions": raises the protected-mode exceptions one after another and
//! prints, for each, the vector, the error code, the pushed EIP (fault = the instruction,
//! trap = the next one) and CR2 for page faults (the handlers are `Guest::install_handlers`).

use crate::guests::{Guest, DATA, IDT};
use iced_x86::code_asm::*;

const PD: u32 = 0x4000;
const PT: u32 = 0x5000;
const BOUNDS: u32 = DATA + 0x10;

/// Builds the program.
pub fn build() -> Result<Vec<u8>, IcedError> {
    crate::guests::two_pass(program)
}

fn program(g: &mut Guest) -> Result<(), IcedError> {
    // GDT: null, 0x08 code, 0x10 data, 0x18 read-only data, 0x20 not-present data. (Writes
    // through a read-only data segment are checked elsewhere: QEMU, the reference here, does
    // not check segment permissions on ordinary accesses.)
    g.install_handlers(&[
        0,
        0x00CF_9B00_0000_FFFF,
        0x00CF_9300_0000_FFFF,
        0x00CF_9100_0000_FFFF,
        0x00CF_1300_0000_FFFF,
    ])?;
    let t =
        |g: &mut Guest, name: &str, body: &dyn Fn(&mut CodeAssembler) -> Result<(), IcedError>| {
            g.expect_fault(name, body)
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
    // MOV SS holds the single-step trap back until after the next instruction: the #DB
    // comes after the NOP that follows it (SDM vol. 3A, 6.8.3)
    t(g, "single-step-after-mov-ss", &|a| {
        a.mov(ax, ss)?;
        a.pushfd()?;
        a.or(dword_ptr(esp), 0x100u32)?;
        a.popfd()?;
        a.mov(ss, ax)?; // the first instruction traced
        a.nop()?;
        a.nop()
    })?;
    // paging: identity-map 4 MiB with 4 KiB pages except the page at 0x300000 (PDE 0 only
    // covers 0-4 MiB, so map it through a second table); page 0x301000 read-only
    g.identity_map_4m(PD, PT)?;
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
