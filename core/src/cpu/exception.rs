//! Guest exceptions (SDM vol. 3A, 6.15 "Exception and Interrupt Reference"). These are not Rust
//! errors: instruction handlers return them and the CPU delivers them through the IVT/IDT.

/// An exception raised by an instruction. Faults restart the instruction (EIP is reset to it
/// before delivery); traps (INT n, INTO, INT3) are raised after EIP moved past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exception {
    /// #DE divide error (0).
    DivideError,
    /// #DB debug (1).
    Debug,
    /// #BP breakpoint (3), raised by INT3.
    Breakpoint,
    /// #OF overflow (4), raised by INTO.
    Overflow,
    /// #BR BOUND range exceeded (5).
    BoundRange,
    /// #UD invalid opcode (6).
    InvalidOpcode,
    /// #NM device not available (7).
    DeviceNotAvailable,
    /// #DF double fault (8).
    DoubleFault,
    /// #TS invalid TSS (10).
    InvalidTss(u16),
    /// #NP segment not present (11).
    SegmentNotPresent(u16),
    /// #SS stack fault (12).
    StackFault(u16),
    /// #GP general protection (13).
    GeneralProtection(u16),
    /// #PF page fault (14).
    PageFault {
        /// Faulting linear address (CR2).
        addr: u32,
        /// Error code.
        code: u16,
    },
    /// #MF x87 floating-point error (16): a pending unmasked x87 exception with CR0.NE.
    FpuError,
    /// #AC alignment check (17): an unaligned access at CPL 3 with CR0.AM and EFLAGS.AC set.
    AlignmentCheck,
    /// #XM SIMD floating-point exception (19): an unmasked SSE exception with CR4.OSXMMEXCPT
    /// (without it the instruction raises #UD instead).
    SimdFloatingPoint,
    /// A maskable external interrupt with its vector (from an interrupt controller), taken
    /// between instructions: no error code, no gate-privilege check, EXT = 1.
    External(u8),
    /// Software interrupt `INT n` (not a fault: EIP already points past the instruction).
    SoftwareInt(u8),
    /// Not an exception: a host-side stop (unsupported instruction) reported through the same
    /// path so that no guest state is committed. The machine turns it into a `VmError`.
    Unsupported,
}

/// How an exception combines with a second one raised while delivering it (SDM vol. 3A,
/// table 6-4 / 6-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Handled serially.
    Benign,
    /// #DE, #TS, #NP, #SS, #GP.
    Contributory,
    /// #PF.
    PageFault,
    /// #DF itself.
    DoubleFault,
}

impl Exception {
    /// The interrupt vector.
    pub fn vector(self) -> u8 {
        match self {
            Exception::DivideError => 0,
            Exception::Debug => 1,
            Exception::Breakpoint => 3,
            Exception::Overflow => 4,
            Exception::BoundRange => 5,
            Exception::InvalidOpcode => 6,
            Exception::DeviceNotAvailable => 7,
            Exception::DoubleFault => 8,
            Exception::InvalidTss(_) => 10,
            Exception::SegmentNotPresent(_) => 11,
            Exception::StackFault(_) => 12,
            Exception::GeneralProtection(_) => 13,
            Exception::PageFault { .. } => 14,
            Exception::FpuError => 16,
            Exception::AlignmentCheck => 17,
            Exception::SimdFloatingPoint => 19,
            Exception::SoftwareInt(n) | Exception::External(n) => n,
            Exception::Unsupported => 0xff,
        }
    }

    /// The error code pushed in protected mode, if the exception has one.
    pub fn error_code(self) -> Option<u16> {
        match self {
            Exception::DoubleFault => Some(0),
            Exception::InvalidTss(c)
            | Exception::SegmentNotPresent(c)
            | Exception::StackFault(c)
            | Exception::GeneralProtection(c) => Some(c),
            Exception::PageFault { code, .. } => Some(code),
            Exception::AlignmentCheck => Some(0),
            _ => None,
        }
    }

    /// Whether the exception is a trap raised by the instruction itself (INT n, INT3, INTO): the
    /// return address is the next instruction. Faults return to the faulting instruction.
    pub fn is_trap(self) -> bool {
        matches!(
            self,
            Exception::SoftwareInt(_) | Exception::Breakpoint | Exception::Overflow
        )
    }

    /// Its double-fault class.
    pub fn class(self) -> Class {
        match self {
            Exception::DivideError
            | Exception::InvalidTss(_)
            | Exception::SegmentNotPresent(_)
            | Exception::StackFault(_)
            | Exception::GeneralProtection(_) => Class::Contributory,
            Exception::PageFault { .. } => Class::PageFault,
            Exception::DoubleFault => Class::DoubleFault,
            _ => Class::Benign,
        }
    }

    /// Whether raising `second` while delivering `self` makes a double fault.
    pub fn makes_double_fault(self, second: Exception) -> bool {
        matches!(
            (self.class(), second.class()),
            (Class::Contributory, Class::Contributory)
                | (Class::PageFault, Class::Contributory)
                | (Class::PageFault, Class::PageFault)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_fault_matrix() {
        // SDM table 6-5: benign first → serial; contributory+contributory → #DF;
        // PF then contributory or PF → #DF; contributory then PF → serial.
        let gp = Exception::GeneralProtection(0);
        let pf = Exception::PageFault { addr: 0, code: 0 };
        assert!(gp.makes_double_fault(Exception::DivideError));
        assert!(pf.makes_double_fault(gp));
        assert!(pf.makes_double_fault(pf));
        assert!(!gp.makes_double_fault(pf));
        assert!(!Exception::InvalidOpcode.makes_double_fault(gp));
        assert_eq!(gp.vector(), 13);
        assert_eq!(Exception::SoftwareInt(0x21).vector(), 0x21);
    }
}
