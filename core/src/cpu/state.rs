//! The architectural state of the CPU as plain data: what a snapshot stores, what the bindings
//! show and what tests compare. `eflags` here is always materialised (the interpreter keeps
//! arithmetic flags lazily and writes them back when it produces a `CpuState`).

/// Segment registers in their x86 encoding order (the `sreg` field of ModRM).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
#[repr(u8)]
pub enum SegReg {
    /// ES
    Es = 0,
    /// CS
    Cs = 1,
    /// SS
    Ss = 2,
    /// DS
    Ds = 3,
    /// FS
    Fs = 4,
    /// GS
    Gs = 5,
}

impl SegReg {
    /// All six, in encoding order.
    pub const ALL: [SegReg; 6] = [
        SegReg::Es,
        SegReg::Cs,
        SegReg::Ss,
        SegReg::Ds,
        SegReg::Fs,
        SegReg::Gs,
    ];
}

/// Descriptor-cache attribute bits as stored in [`Segment::attr`] (bits 40..47 and 52..55 of a
/// descriptor, packed as `type | S<<4 | DPL<<5 | P<<7 | AVL<<12 | L<<13 | DB<<14 | G<<15`).
pub mod attr {
    /// Present.
    pub const P: u16 = 1 << 7;
    /// Code/data (not system) segment.
    pub const S: u16 = 1 << 4;
    /// Writable (data) / readable (code) type bit.
    pub const RW: u16 = 1 << 1;
    /// Code segment type bit.
    pub const CODE: u16 = 1 << 3;
    /// Accessed.
    pub const ACCESSED: u16 = 1 << 0;
    /// Default operand size / big (32-bit).
    pub const DB: u16 = 1 << 14;
    /// Granularity (limit in 4 KiB units).
    pub const G: u16 = 1 << 15;
    /// A real-mode data segment: present, writable data, accessed.
    pub const REAL_DATA: u16 = P | S | RW | ACCESSED;
    /// A real-mode code segment: present, readable code, accessed.
    pub const REAL_CODE: u16 = P | S | CODE | RW | ACCESSED;
}

/// A segment register with its hidden descriptor cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Segment {
    /// Visible selector.
    pub selector: u16,
    /// Linear base address.
    pub base: u32,
    /// Byte-granular limit (already expanded when G is set).
    pub limit: u32,
    /// Attribute bits, see [`attr`].
    pub attr: u16,
}

impl Segment {
    /// A real-mode segment for `selector`: base = selector × 16, 64 KiB limit.
    pub fn real(selector: u16, code: bool) -> Self {
        Self {
            selector,
            base: (selector as u32) << 4,
            limit: 0xFFFF,
            attr: if code {
                attr::REAL_CODE
            } else {
                attr::REAL_DATA
            },
        }
    }

    /// An unusable segment register (a null selector loaded in protected mode): every
    /// reference through it faults.
    pub const NULL: Segment = Segment {
        selector: 0,
        base: 0,
        limit: 0,
        attr: 0,
    };

    /// A flat 4 GiB, 32-bit, present code or data segment at privilege `dpl` (the caches
    /// SYSENTER/SYSEXIT and the Multiboot entry state load without reading descriptors).
    pub fn flat(selector: u16, code: bool, dpl: u8) -> Self {
        let typ = if code {
            attr::CODE | attr::RW | attr::ACCESSED
        } else {
            attr::RW | attr::ACCESSED
        };
        Segment {
            selector,
            base: 0,
            limit: u32::MAX,
            attr: typ | attr::S | attr::P | (dpl as u16 & 3) << 5 | attr::DB | attr::G,
        }
    }

    /// Whether the segment's default size is 32 bits (D/B bit).
    #[inline]
    pub fn is_32(&self) -> bool {
        self.attr & attr::DB != 0
    }
}

/// A descriptor-table register (GDTR, IDTR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, bincode::Encode, bincode::Decode)]
pub struct TableReg {
    /// Linear base.
    pub base: u32,
    /// Limit in bytes.
    pub limit: u16,
}

/// General-purpose register indices (ModRM encoding order).
pub mod reg {
    /// EAX
    pub const EAX: u8 = 0;
    /// ECX
    pub const ECX: u8 = 1;
    /// EDX
    pub const EDX: u8 = 2;
    /// EBX
    pub const EBX: u8 = 3;
    /// ESP
    pub const ESP: u8 = 4;
    /// EBP
    pub const EBP: u8 = 5;
    /// ESI
    pub const ESI: u8 = 6;
    /// EDI
    pub const EDI: u8 = 7;
}

/// EFLAGS bits.
pub mod flag {
    /// Carry.
    pub const CF: u32 = 1 << 0;
    /// Always 1.
    pub const FIXED1: u32 = 1 << 1;
    /// Parity.
    pub const PF: u32 = 1 << 2;
    /// Auxiliary carry.
    pub const AF: u32 = 1 << 4;
    /// Zero.
    pub const ZF: u32 = 1 << 6;
    /// Sign.
    pub const SF: u32 = 1 << 7;
    /// Trap.
    pub const TF: u32 = 1 << 8;
    /// Interrupt enable.
    pub const IF: u32 = 1 << 9;
    /// Direction.
    pub const DF: u32 = 1 << 10;
    /// Overflow.
    pub const OF: u32 = 1 << 11;
    /// I/O privilege level (2 bits).
    pub const IOPL: u32 = 3 << 12;
    /// Nested task.
    pub const NT: u32 = 1 << 14;
    /// Resume.
    pub const RF: u32 = 1 << 16;
    /// Virtual-8086 mode.
    pub const VM: u32 = 1 << 17;
    /// Alignment check.
    pub const AC: u32 = 1 << 18;
    /// CPUID available.
    pub const ID: u32 = 1 << 21;
    /// The six arithmetic flags.
    pub const ARITH: u32 = CF | PF | AF | ZF | SF | OF;
}

/// CR4 bits.
pub mod cr4 {
    /// Time-stamp disable (RDTSC at CPL > 0 faults).
    pub const TSD: u32 = 1 << 2;
    /// 4 MiB pages in 32-bit paging.
    pub const PSE: u32 = 1 << 4;
    /// PAE paging.
    pub const PAE: u32 = 1 << 5;
    /// Global pages.
    pub const PGE: u32 = 1 << 7;
    /// The OS saves SSE state with FXSAVE (enables SSE instructions).
    pub const OSFXSR: u32 = 1 << 9;
    /// The OS handles SIMD floating-point exceptions (#XM).
    pub const OSXMMEXCPT: u32 = 1 << 10;
}

/// EFER bits.
pub mod efer {
    /// Execute-disable bit enable.
    pub const NXE: u64 = 1 << 11;
}

/// CR0 bits.
pub mod cr0 {
    /// Protection enable.
    pub const PE: u32 = 1 << 0;
    /// Monitor coprocessor.
    pub const MP: u32 = 1 << 1;
    /// x87 emulation: ESC instructions raise #NM.
    pub const EM: u32 = 1 << 2;
    /// Task switched.
    pub const TS: u32 = 1 << 3;
    /// Extension type (387 present).
    pub const ET: u32 = 1 << 4;
    /// Numeric error.
    pub const NE: u32 = 1 << 5;
    /// Write protect.
    pub const WP: u32 = 1 << 16;
    /// Alignment mask.
    pub const AM: u32 = 1 << 18;
    /// Not write-through.
    pub const NW: u32 = 1 << 29;
    /// Cache disable.
    pub const CD: u32 = 1 << 30;
    /// Paging.
    pub const PG: u32 = 1 << 31;
}

/// The model-specific registers vx86 keeps (SDM vol. 4). The TSC is derived from the
/// instruction count (see `CpuState::tsc_offset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, bincode::Encode, bincode::Decode)]
pub struct Msrs {
    /// IA32_SYSENTER_CS (0x174).
    pub sysenter_cs: u32,
    /// IA32_SYSENTER_ESP (0x175).
    pub sysenter_esp: u32,
    /// IA32_SYSENTER_EIP (0x176).
    pub sysenter_eip: u32,
    /// IA32_EFER (0xC000_0080): only NXE (bit 11) is writable.
    pub efer: u64,
    /// IA32_PAT (0x277).
    pub pat: u64,
}

/// Everything architecturally visible in the CPU. `repr(C)` keeps the declaration order: the
/// registers every instruction touches come first, the large x87/SSE state last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
#[repr(C)]
pub struct CpuState {
    /// EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI.
    pub regs: [u32; 8],
    /// Instruction pointer (offset in CS).
    pub eip: u32,
    /// EFLAGS, fully materialised.
    pub eflags: u32,
    /// ES, CS, SS, DS, FS, GS in [`SegReg`] order.
    pub segs: [Segment; 6],
    /// GDTR.
    pub gdtr: TableReg,
    /// IDTR (in real mode: the interrupt vector table).
    pub idtr: TableReg,
    /// CR0.
    pub cr0: u32,
    /// CR2.
    pub cr2: u32,
    /// CR3.
    pub cr3: u32,
    /// CR4.
    pub cr4: u32,
    /// The PAE page-directory-pointer registers, loaded from CR3 when it is written with
    /// CR4.PAE and CR0.PG set.
    pub pdpte: [u64; 4],
    /// LDTR (selector and descriptor cache).
    pub ldtr: Segment,
    /// Task register (selector and descriptor cache).
    pub tr: Segment,
    /// Debug registers DR0-DR7 (DR4/DR5 alias DR6/DR7).
    pub dr: [u32; 8],
    /// Model-specific registers vx86 implements.
    pub msr: Msrs,
    /// The x87 FPU.
    pub fpu: super::x87::FpuState,
    /// SSE control/status register.
    pub mxcsr: u32,
    /// XMM0-XMM7.
    pub xmm: [u128; 8],
    /// Time-stamp counter offset added to the instruction-derived TSC (written by WRMSR).
    pub tsc_offset: u64,
    /// Whether the CPU is halted (HLT executed, waiting for an interrupt).
    pub halted: bool,
}

impl CpuState {
    /// The architectural reset state (SDM vol. 3A, 9.1.1 "Processor State After Reset") with
    /// one deviation: CR0.EM is set, because vx86 has no x87 yet (CPUID does not advertise an
    /// FPU), so ESC instructions raise #NM as on a CPU without a coprocessor.
    pub fn reset() -> Self {
        let mut cs = Segment::real(0xF000, true);
        cs.base = 0xFFFF_0000;
        let data = Segment::real(0, false);
        Self {
            regs: [0, 0, 0x600, 0, 0, 0, 0, 0], // EDX = family/model/stepping signature
            eip: 0xFFF0,
            eflags: flag::FIXED1,
            segs: [data, cs, data, data, data, data],
            gdtr: TableReg {
                base: 0,
                limit: 0xFFFF,
            },
            idtr: TableReg {
                base: 0,
                limit: 0x3FF,
            },
            cr0: cr0::ET | cr0::EM | cr0::CD | cr0::NW,
            cr2: 0,
            cr3: 0,
            cr4: 0,
            pdpte: [0; 4],
            ldtr: Segment {
                selector: 0,
                base: 0,
                limit: 0xFFFF,
                attr: attr::P | 2,
            },
            tr: Segment {
                selector: 0,
                base: 0,
                limit: 0xFFFF,
                attr: attr::P | 11,
            },
            dr: [0, 0, 0, 0, 0, 0, 0xFFFF_0FF0, 0x400],
            msr: Msrs {
                pat: 0x0007_0406_0007_0406,
                ..Msrs::default()
            },
            fpu: super::x87::FpuState::default(),
            mxcsr: 0x1F80,
            xmm: [0; 8],
            tsc_offset: 0,
            halted: false,
        }
    }

    /// A real-mode state with every segment register loaded with `seg`, IP = `ip`,
    /// SP = `sp`, interrupts disabled, the IVT at 0: what a program loaded by a BIOS sees.
    pub fn real_mode(seg: u16, ip: u16, sp: u16) -> Self {
        let mut s = Self::reset();
        s.segs = [Segment::real(seg, false); 6];
        s.segs[SegReg::Cs as usize] = Segment::real(seg, true);
        s.eip = ip as u32;
        s.regs[reg::ESP as usize] = sp as u32;
        s.cr0 &= !(cr0::CD | cr0::NW);
        s
    }

    /// A segment register.
    pub fn seg(&self, s: SegReg) -> &Segment {
        &self.segs[s as usize]
    }
}

impl Default for CpuState {
    fn default() -> Self {
        Self::reset()
    }
}
