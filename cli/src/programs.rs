//! Small real-mode guest programs the CLI can run without any image: the benchmark loop and a
//! hello-world that prints over the debug console. They are assembled at run time with
//! iced-x86's code assembler, so no binary is committed.

use iced_x86::code_asm::*;

/// Load address and entry point (where a BIOS puts a boot sector).
pub const LOAD_ADDRESS: u32 = 0x7C00;

/// The benchmark loop: an endless mix of register ALU work, memory loads/stores/read-modify-
/// writes, a REP MOVSW string copy and conditional branches, in 16-bit real mode.
pub fn bench_loop() -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(16)?;
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
    Ok(a.assemble(LOAD_ADDRESS as u64)?)
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
