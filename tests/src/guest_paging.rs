//! Guest program "paging": 32-bit paging with 4 KiB and 4 MiB pages, Accessed/Dirty updates,
//! INVLPG after a remap, CR0.WP, not-present directory entries; then PAE paging with 2 MiB
//! pages and an execute-disabled page (EFER.NXE). Prints entries' A/D bits, values read
//! through new mappings and every page fault (error code, CR2).

use crate::guests::{Guest, DATA};
use iced_x86::code_asm::*;

const PD: u32 = 0x4000;
const PT: u32 = 0x5000;
const PDPT: u32 = 0x6000;
const PAE_PD: u32 = 0x7000;
const PAE_PT: u32 = 0x8000;

/// Builds the program.
pub fn build() -> Result<Vec<u8>, IcedError> {
    crate::guests::two_pass(program)
}

fn program(g: &mut Guest) -> Result<(), IcedError> {
    g.install_handlers(&[0, 0x00CF_9B00_0000_FFFF, 0x00CF_9300_0000_FFFF])?;
    // 32-bit paging: PDE 0 → PT (identity 0-4 MiB, 4 KiB pages), PDE 1 → 4 MiB page at 4 MiB
    g.identity_map_4m(PD, PT)?;
    g.a.mov(dword_ptr(PD + 4), 0x40_0000u32 | 0x83)?;
    g.a.mov(dword_ptr(PT + 0x220 * 4), 0x22_0000u32 | 1)?; // read-only page
    g.a.mov(dword_ptr(0x21_0000), 0xAAAA_0000u32)?;
    g.a.mov(dword_ptr(0x21_1000), 0xBBBB_0000u32)?;
    g.a.mov(eax, cr4)?;
    g.a.or(eax, 0x10u32)?; // PSE
    g.a.mov(cr4, eax)?;
    g.a.mov(eax, PD)?;
    g.a.mov(cr3, eax)?;
    g.a.mov(eax, cr0)?;
    g.a.or(eax, 0x8000_0000u32)?; // PG (WP clear)
    g.a.mov(cr0, eax)?;
    // Accessed on a read, Accessed + Dirty on a write, on a 4 KiB PTE and on a 4 MiB PDE
    g.a.mov(eax, dword_ptr(0x20_1000))?;
    g.a.mov(dword_ptr(0x20_2000), eax)?;
    g.a.mov(eax, dword_ptr(0x40_0010))?;
    for (name, addr) in [
        ("pte 201", PT + 0x201 * 4),
        ("pte 202", PT + 0x202 * 4),
        ("pde 1 after read", PD + 4),
    ] {
        g.a.mov(eax, dword_ptr(addr))?;
        g.a.and(eax, 0x60u32)?;
        g.report(name)?;
    }
    g.a.mov(dword_ptr(0x40_0020), eax)?;
    g.a.mov(eax, dword_ptr(PD + 4))?;
    g.a.and(eax, 0x60u32)?;
    g.report("pde 1 after write")?;
    // remap linear 0x210000 to physical 0x211000, INVLPG, read through the new mapping
    g.a.mov(eax, dword_ptr(0x21_0000))?;
    g.report("before remap")?;
    g.a.mov(dword_ptr(PT + 0x210 * 4), 0x21_1000u32 | 3)?;
    g.a.invlpg(byte_ptr(0x21_0000))?;
    g.a.mov(eax, dword_ptr(0x21_0000))?;
    g.report("after remap")?;
    // a supervisor write to a read-only page: allowed with CR0.WP = 0, #PF with WP = 1
    g.expect_fault("supervisor-write-read-only-wp0", &|a| {
        a.mov(dword_ptr(0x22_0010), 1u32)
    })?;
    g.a.mov(eax, cr0)?;
    g.a.or(eax, 0x1_0000u32)?;
    g.a.mov(cr0, eax)?;
    g.expect_fault("supervisor-write-read-only-wp1", &|a| {
        a.mov(dword_ptr(0x22_0014), 2u32)
    })?;
    g.expect_fault("pde-not-present", &|a| a.mov(eax, dword_ptr(0x80_0004)))?;

    // PAE: paging off, CR4.PAE, PDPT → PD with 2 MiB pages for 0-4 MiB, PT for 4-6 MiB with an
    // execute-disabled page at 4 MiB, EFER.NXE
    g.a.mov(eax, cr0)?;
    g.a.and(eax, 0x7FFF_FFFFu32)?;
    g.a.mov(cr0, eax)?;
    for (addr, lo, hi) in [
        (PDPT, PAE_PD | 1, 0u32),
        (PAE_PD, 0x83, 0),                    // 0-2 MiB: 2 MiB page
        (PAE_PD + 8, 0x20_0000 | 0x83, 0),    // 2-4 MiB
        (PAE_PD + 16, PAE_PT | 3, 0),         // 4-6 MiB through a PT
        (PAE_PT, 0x40_0000 | 3, 0x8000_0000), // 4 MiB page: NX
        (PAE_PT + 8, 0x40_1000 | 3, 0),
    ] {
        g.a.mov(dword_ptr(addr), lo)?;
        g.a.mov(dword_ptr(addr + 4), hi)?;
    }
    for i in 1..4u32 {
        g.a.mov(dword_ptr(PDPT + 8 * i), 0u32)?;
        g.a.mov(dword_ptr(PDPT + 8 * i + 4), 0u32)?;
    }
    g.a.mov(byte_ptr(0x40_0000), 0xC3u32)?; // RET at the NX page (written before paging)
    g.a.mov(byte_ptr(0x40_1000), 0xC3u32)?;
    g.a.mov(ecx, 0xC000_0080u32)?; // EFER
    g.a.rdmsr()?;
    g.a.or(eax, 0x800u32)?; // NXE
    g.a.wrmsr()?;
    g.a.mov(eax, cr4)?;
    g.a.or(eax, 0x20u32)?; // PAE
    g.a.mov(cr4, eax)?;
    g.a.mov(eax, PDPT)?;
    g.a.mov(cr3, eax)?;
    g.a.mov(eax, cr0)?;
    g.a.or(eax, 0x8000_0000u32)?;
    g.a.mov(cr0, eax)?;
    g.a.mov(eax, dword_ptr(DATA + 0x100))?;
    g.a.mov(dword_ptr(0x20_3000), eax)?;
    g.a.mov(eax, dword_ptr(PAE_PD + 8))?;
    g.a.and(eax, 0x60u32)?;
    g.report("pae pde 1 (2 MiB) A/D")?;
    g.a.mov(eax, 0x40_1000u32)?;
    g.a.call(eax)?; // executable page: returns
    g.print("executed 401000\n")?;
    g.expect_fault("execute-nx-page", &|a| {
        a.mov(eax, 0x40_0000u32)?;
        a.call(eax)
    })?;
    g.expect_fault("pae-pdpte-not-present", &|a| {
        a.mov(eax, dword_ptr(0x4000_0000))
    })?;
    Ok(())
}
