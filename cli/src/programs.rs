//! Small real-mode guest programs the CLI can run without any image: the benchmark loop and a
//! hello-world that prints over the debug console. They are assembled at run time with
//! iced-x86's code assembler, so no binary is committed.

use iced_x86::code_asm::*;

/// Load address and entry point (where a BIOS puts a boot sector).
pub const LOAD_ADDRESS: u32 = 0x7C00;

/// Where the 32-bit benchmark setup puts its tables and code.
pub mod flat32 {
    /// GDT (null, flat code 0x08, flat data 0x10).
    pub const GDT: u32 = 0x1000;
    /// Page directory.
    pub const PD: u32 = 0x4000;
    /// Page table for the first 4 MiB.
    pub const PT: u32 = 0x5000;
    /// Code.
    pub const CODE: u32 = 0x1_0000;
}

/// The state and memory for flat 32-bit protected mode with paging on: identity-mapped first
/// 4 MiB through 4 KiB pages. Returns the CPU state to start at `flat32::CODE`.
pub fn flat32_setup(m: &mut vx86_core::Machine) -> Result<vx86_core::CpuState, vx86_core::VmError> {
    use vx86_core::cpu::{cr0, flag, Descriptor, TableReg};
    use vx86_core::SegReg;
    let desc = |access: u64| 0xFFFFu64 | access << 40 | 0xFu64 << 48 | 0xCu64 << 52;
    let (code, data) = (desc(0x9B), desc(0x93));
    for (i, d) in [0, code, data].iter().enumerate() {
        m.write_phys((flat32::GDT + 8 * i as u32) as u64, &d.to_le_bytes())?;
    }
    m.write_phys(flat32::PD as u64, &(flat32::PT | 3).to_le_bytes())?;
    for p in 0..1024u32 {
        m.write_phys((flat32::PT + 4 * p) as u64, &((p << 12) | 3).to_le_bytes())?;
    }
    let mut s = vx86_core::CpuState::reset();
    s.cr0 = cr0::PE | cr0::PG | cr0::ET;
    s.cr3 = flat32::PD;
    s.gdtr = TableReg {
        base: flat32::GDT,
        limit: 23,
    };
    s.segs = [Descriptor(data).to_segment(0x10); 6];
    s.segs[SegReg::Cs as usize] = Descriptor(code).to_segment(0x08);
    s.regs[4] = 0x9_0000;
    s.eflags = flag::FIXED1;
    s.eip = flat32::CODE;
    Ok(s)
}

/// The benchmark loop: an endless mix of register ALU work, memory loads/stores/read-modify-
/// writes, a REP MOVSW string copy and conditional branches, for 16-bit real mode or 32-bit
/// protected mode (the same instructions; 32-bit code uses 16-bit operands through 66h).
pub fn bench_loop(bitness: u32, at: u32) -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(bitness)?;
    let mut outer = a.create_label();
    let mut inner = a.create_label();
    let mut no_copy = a.create_label();
    a.cld()?;
    a.xor(ax, ax)?;
    a.mov(dx, 0x1234u32)?;
    a.set_label(&mut outer)?;
    a.mov(bx, 64u32)?;
    a.set_label(&mut inner)?;
    // register ALU
    a.add(ax, bx)?;
    a.xor(dx, ax)?;
    a.rol(dx, 3u32)?;
    a.adc(ax, 7u32)?;
    // memory: store, load, read-modify-write
    a.mov(word_ptr(0x1000), ax)?;
    a.add(dx, word_ptr(0x1002))?;
    a.inc(word_ptr(0x1004))?;
    a.mov(si, 0x1000u32)?;
    a.sub(word_ptr(si + 6), dx)?;
    // every 8th iteration: copy 16 words with REP MOVSW
    a.test(bl, 7u32)?;
    a.jnz(no_copy)?;
    a.mov(di, 0x2000u32)?;
    a.mov(cx, 16u32)?;
    a.rep().movsw()?;
    a.set_label(&mut no_copy)?;
    a.dec(bx)?;
    a.jnz(inner)?;
    a.jmp(outer)?;
    Ok(a.assemble(at as u64)?)
}

/// Prints a greeting and the CPUID vendor string to the debug console (port 0xE9), then halts.
pub fn hello() -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(16)?;
    for &b in b"Hello from real mode on " {
        a.mov(al, b as u32)?;
        a.out(0xE9u32, al)?;
    }
    // CPUID leaf 0: vendor in EBX, EDX, ECX
    a.xor(eax, eax)?;
    a.cpuid()?;
    for r in [ebx, edx, ecx] {
        a.mov(eax, r)?;
        for _ in 0..4 {
            a.out(0xE9u32, al)?;
            a.shr(eax, 8u32)?;
        }
    }
    a.mov(al, b'\n' as u32)?;
    a.out(0xE9u32, al)?;
    a.hlt()?;
    Ok(a.assemble(LOAD_ADDRESS as u64)?)
}
