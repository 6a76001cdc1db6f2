//! Guest test programs shared by vx86's tests and the fixture recorder: small 32-bit kernels
//! that exercise protected-mode machinery and print what they observe over the debug console
//! (port 0xE9) as text lines, then write to port 0xF4 (QEMU's `isa-debug-exit`, ignored by
//! vx86) and halt. Each is packaged as a Multiboot v1 ELF so the same file runs unchanged in
//! vx86 and in QEMU; `tests/fixtures/record.sh` records QEMU's output as the reference.

use iced_x86::code_asm::*;

/// Where the kernels are linked and loaded.
pub const LOAD: u32 = 0x10_0000;
/// Code starts after the multiboot header.
const CODE: u32 = LOAD + 12;
/// Scratch data area used by the programs (identity-mapped, above the kernel).
pub const DATA: u32 = 0x20_0000;
/// The programs' GDT.
pub const GDT: u32 = 0x1000;
/// The programs' IDT (vectors 0-19 installed by [`Guest::install_handlers`]).
pub const IDT: u32 = 0x2000;
/// Where the common exception handler resumes: set by [`Guest::expect_fault`].
pub const RECOVER: u32 = DATA;
/// Vectors that push an error code (SDM vol. 3A, table 6-1).
const WITH_ERROR: [u32; 7] = [8, 10, 11, 12, 13, 14, 17];

/// A program under construction: the assembler, the shared print routine's label, and the
/// labels whose addresses the program loads into registers (32-bit code cannot take a label's
/// address directly: programs are assembled twice, the second time with the addresses the
/// first pass found; `mov r32, imm32` has the same size either way).
pub struct Guest {
    /// The 32-bit assembler.
    pub a: CodeAssembler,
    hex: CodeLabel,
    addressed: Vec<CodeLabel>,
    known: Vec<u32>,
}

/// Assembles `program` twice so that [`Guest::mov_label`] loads real addresses; returns the ELF.
pub fn two_pass(program: fn(&mut Guest) -> Result<(), IcedError>) -> Result<Vec<u8>, IcedError> {
    let mut first = Guest::new(Vec::new())?;
    program(&mut first)?;
    let (_, addrs) = first.finish()?;
    let mut second = Guest::new(addrs)?;
    program(&mut second)?;
    Ok(second.finish()?.0)
}

impl Guest {
    /// Loads the address of `label` into `reg` (see [`two_pass`]). A label set later (a
    /// forward reference) must be passed to [`Guest::bind`] with the returned index once set,
    /// because `set_label` updates only the label it is given.
    pub fn mov_label(&mut self, reg: AsmRegister32, label: CodeLabel) -> Result<usize, IcedError> {
        let i = self.addressed.len();
        self.addressed.push(label);
        let v = self.known.get(i).copied().unwrap_or(0);
        self.a.mov(reg, v)?;
        Ok(i)
    }

    /// Records the now-set `label` for the [`Guest::mov_label`] reference `i`.
    pub fn bind(&mut self, i: usize, label: CodeLabel) {
        self.addressed[i] = label;
    }

    /// A new program; `known` are the label addresses from a first pass (empty on it).
    pub fn new(known: Vec<u32>) -> Result<Self, IcedError> {
        let mut a = CodeAssembler::new(32)?;
        let hex = a.create_label();
        // A known CPU state whatever the loader did: flat data segments from the loader's
        // GDT (selector 0x10), a stack, CR0 = PE|ET|NE (no paging, x87 usable), IF clear.
        a.cli()?;
        a.mov(ax, 0x10u32)?;
        a.mov(ds, ax)?;
        a.mov(es, ax)?;
        a.mov(fs, ax)?;
        a.mov(gs, ax)?;
        a.mov(ss, ax)?;
        a.mov(esp, 0x9_0000u32)?;
        a.mov(eax, 0x31u32)?;
        a.mov(cr0, eax)?;
        Ok(Self {
            a,
            hex,
            addressed: Vec::new(),
            known,
        })
    }

    /// Prints a literal string (all registers preserved).
    pub fn print(&mut self, s: &str) -> Result<(), IcedError> {
        self.a.push(eax)?;
        for b in s.bytes() {
            self.a.mov(al, b as u32)?;
            self.a.out(0xE9u32, al)?;
        }
        self.a.pop(eax)
    }

    /// Prints EAX as 8 hex digits followed by a newline (EAX is preserved).
    pub fn print_eax(&mut self) -> Result<(), IcedError> {
        self.a.call(self.hex)
    }

    /// Prints `label` then the value of EAX.
    pub fn report(&mut self, label: &str) -> Result<(), IcedError> {
        self.print(label)?;
        self.print(" ")?;
        self.print_eax()
    }

    /// Loads `gdt` (descriptors; 0x08 must be flat code, 0x10 flat data) and an IDT whose
    /// vectors 0-19 go to a common handler that prints the vector, the error code, the pushed
    /// EIP and (for #PF) CR2, then resumes at the address in [`RECOVER`] with TF cleared.
    pub fn install_handlers(&mut self, gdt: &[u64]) -> Result<(), IcedError> {
        let mut stubs: Vec<CodeLabel> = (0..20).map(|_| self.a.create_label()).collect();
        let mut common = self.a.create_label();
        let mut main = self.a.create_label();
        self.a.jmp(main)?;
        for (v, stub) in stubs.iter_mut().enumerate() {
            self.a.set_label(stub)?;
            if !WITH_ERROR.contains(&(v as u32)) {
                self.a.push(0u32)?;
            }
            self.a.push(v as u32)?;
            self.a.jmp(common)?;
        }
        self.a.set_label(&mut common)?;
        self.a.mov(eax, dword_ptr(esp))?;
        self.report("vector")?;
        self.a.mov(eax, dword_ptr(esp + 4))?;
        self.report("error")?;
        self.a.mov(eax, dword_ptr(esp + 8))?;
        self.report("eip")?;
        let mut not_pf = self.a.create_label();
        self.a.cmp(dword_ptr(esp), 14u32)?;
        self.a.jne(not_pf)?;
        self.a.mov(eax, cr2)?;
        self.report("cr2")?;
        self.a.set_label(&mut not_pf)?;
        self.a.mov(eax, dword_ptr(RECOVER))?;
        self.a.mov(dword_ptr(esp + 8), eax)?;
        self.a.and(dword_ptr(esp + 16), !0x100u32)?;
        self.a.add(esp, 8u32)?;
        self.a.iretd()?;
        self.a.set_label(&mut main)?;
        for (i, d) in gdt.iter().enumerate() {
            self.a.mov(dword_ptr(GDT + 8 * i as u32), *d as u32)?;
            self.a
                .mov(dword_ptr(GDT + 8 * i as u32 + 4), (*d >> 32) as u32)?;
        }
        self.a.mov(word_ptr(0x600), (gdt.len() * 8 - 1) as u32)?;
        self.a.mov(dword_ptr(0x602), GDT)?;
        self.a.lgdt(dword_ptr(0x600))?;
        self.a.mov(word_ptr(0x610), (20 * 8 - 1) as u32)?;
        self.a.mov(dword_ptr(0x612), IDT)?;
        self.a.lidt(dword_ptr(0x610))?;
        for (v, stub) in stubs.iter().enumerate() {
            // interrupt gate: offset low, selector 0x08, 0x8E00, offset high
            self.mov_label(eax, *stub)?;
            self.a.mov(word_ptr(IDT + 8 * v as u32), ax)?;
            self.a.mov(word_ptr(IDT + 8 * v as u32 + 2), 0x08u32)?;
            self.a.mov(word_ptr(IDT + 8 * v as u32 + 4), 0x8E00u32)?;
            self.a.shr(eax, 16u32)?;
            self.a.mov(word_ptr(IDT + 8 * v as u32 + 6), ax)?;
        }
        Ok(())
    }

    /// Prints `test <name>`, runs `body` with the handlers' resume address set to just after
    /// it, and prints "no exception" if `body` completes.
    pub fn expect_fault(
        &mut self,
        name: &str,
        body: &dyn Fn(&mut CodeAssembler) -> Result<(), IcedError>,
    ) -> Result<(), IcedError> {
        let mut after = self.a.create_label();
        self.print("test ")?;
        self.print(name)?;
        self.print("\n")?;
        let r = self.mov_label(eax, after)?;
        self.a.mov(dword_ptr(RECOVER), eax)?;
        body(&mut self.a)?;
        self.print("no exception\n")?;
        self.a.set_label(&mut after)?;
        self.bind(r, after);
        Ok(())
    }

    /// Fills the page table at `pt` with an identity map of the first 4 MiB (present,
    /// writable, supervisor) and points PDE 0 of the directory at `pd` to it.
    pub fn identity_map_4m(&mut self, pd: u32, pt: u32) -> Result<(), IcedError> {
        let a = &mut self.a;
        a.mov(ecx, 0u32)?;
        let mut fill = a.create_label();
        a.set_label(&mut fill)?;
        a.mov(eax, ecx)?;
        a.shl(eax, 12u32)?;
        a.or(eax, 3u32)?;
        a.mov(dword_ptr(ecx * 4 + pt), eax)?;
        a.inc(ecx)?;
        a.cmp(ecx, 1024u32)?;
        a.jne(fill)?;
        a.mov(dword_ptr(pd), pt | 3)
    }

    /// Marks `label` as the program's end (the exit sequence `finish` emits follows it).
    pub fn set_done(&mut self, label: &mut CodeLabel) -> Result<(), IcedError> {
        self.a.set_label(label)?;
        self.a.nop()
    }

    /// Ends the program (exit port, then HLT) and emits the shared routines; returns the
    /// multiboot ELF and the addresses of the labels used with [`Guest::mov_label`].
    pub fn finish(mut self) -> Result<(Vec<u8>, Vec<u32>), IcedError> {
        let a = &mut self.a;
        a.mov(al, 0u32)?;
        a.out(0xF4u32, al)?;
        a.hlt()?;
        // print_hex: EAX as 8 hex digits and '\n'
        a.set_label(&mut self.hex)?;
        a.pushad()?;
        a.mov(edx, eax)?;
        a.mov(ecx, 8u32)?;
        let mut digit = a.create_label();
        let mut letter = a.create_label();
        let mut out = a.create_label();
        a.set_label(&mut digit)?;
        a.rol(edx, 4u32)?;
        a.mov(eax, edx)?;
        a.and(eax, 0xFu32)?;
        a.cmp(eax, 10u32)?;
        a.jae(letter)?;
        a.add(eax, b'0' as u32)?;
        a.jmp(out)?;
        a.set_label(&mut letter)?;
        a.add(eax, (b'a' - 10) as u32)?;
        a.set_label(&mut out)?;
        a.out(0xE9u32, al)?;
        a.dec(ecx)?;
        a.jnz(digit)?;
        a.mov(al, b'\n' as u32)?;
        a.out(0xE9u32, al)?;
        a.popad()?;
        a.ret()?;
        let r = a.assemble_options(
            CODE as u64,
            iced_x86::BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS,
        )?;
        let addrs = self
            .addressed
            .iter()
            .map(|l| r.label_ip(l).map(|ip| ip as u32))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((multiboot_elf(&r.inner.code_buffer), addrs))
    }
}

/// Wraps code (linked at `CODE`) into a Multiboot v1 ELF32 loaded at `LOAD`, entry at `CODE`.
pub fn multiboot_elf(code: &[u8]) -> Vec<u8> {
    const MAGIC: u32 = 0x1BAD_B002;
    let mut body = Vec::new();
    body.extend_from_slice(&MAGIC.to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes());
    body.extend_from_slice(&MAGIC.wrapping_neg().to_le_bytes());
    body.extend_from_slice(code);
    let mut f = vec![0u8; 0x1000];
    f[0..4].copy_from_slice(b"\x7fELF");
    f[4] = 1; // 32-bit
    f[5] = 1; // little-endian
    f[6] = 1; // version
    f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f[18..20].copy_from_slice(&3u16.to_le_bytes()); // EM_386
    f[20..24].copy_from_slice(&1u32.to_le_bytes());
    f[24..28].copy_from_slice(&CODE.to_le_bytes()); // entry
    f[28..32].copy_from_slice(&52u32.to_le_bytes()); // phoff
    f[40..42].copy_from_slice(&52u16.to_le_bytes()); // ehsize
    f[42..44].copy_from_slice(&32u16.to_le_bytes()); // phentsize
    f[44..46].copy_from_slice(&1u16.to_le_bytes()); // phnum
    let len = body.len() as u32;
    // PT_LOAD: offset 0x1000, vaddr = paddr = LOAD, filesz = memsz, flags RWX, align 0x1000
    for (i, v) in [1u32, 0x1000, LOAD, LOAD, len, len, 7, 0x1000]
        .iter()
        .enumerate()
    {
        f[52 + 4 * i..56 + 4 * i].copy_from_slice(&v.to_le_bytes());
    }
    f.extend_from_slice(&body);
    f
}

/// Every guest program, by name (the fixture file is `tests/fixtures/<name>.txt`).
pub fn all() -> Vec<(&'static str, fn() -> Result<Vec<u8>, IcedError>)> {
    vec![
        ("apic", crate::guest_apic::build),
        ("exceptions", crate::guest_exceptions::build),
        ("paging", crate::guest_paging::build),
        ("privilege", crate::guest_privilege::build),
        ("tasks", crate::guest_tasks::build),
        ("x87", crate::guest_x87::build),
    ]
}
