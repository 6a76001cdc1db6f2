//! CPUID (SDM vol. 2, "CPUID"): vx86 advertises exactly what it implements. Today that is a
//! family-6 core with the x87 FPU, MMX, FXSAVE/FXRSTOR, SSE, SSE2, TSC, MSRs, CMPXCHG8B, CMOV,
//! SYSENTER/SYSEXIT, PAT and the paging extensions PSE, PAE, PGE and NX, and the local APIC
//! when the machine has one (and it is enabled in IA32_APIC_BASE), RDRAND and RDSEED (from the
//! machine's seeded generator, `MachineConfig::seed`).
//! The x87 FPU is complete, transcendental instructions (FSIN, FPTAN, FYL2X ..) included.
//! Later issues add bits as the features land.

/// Vendor string, returned in EBX, EDX, ECX of leaf 0.
pub const VENDOR: &[u8; 12] = b"VX86 Virtual";

/// Highest basic leaf.
const MAX_BASIC: u32 = 7;
/// Highest extended leaf.
const MAX_EXTENDED: u32 = 0x8000_0008;

/// Leaf 1 EDX feature bits.
pub mod edx {
    /// x87 FPU on chip.
    pub const FPU: u32 = 1 << 0;
    /// Time-stamp counter (RDTSC).
    pub const TSC: u32 = 1 << 4;
    /// RDMSR/WRMSR.
    pub const MSR: u32 = 1 << 5;
    /// CMPXCHG8B.
    pub const CX8: u32 = 1 << 8;
    /// On-chip local APIC.
    pub const APIC: u32 = 1 << 9;
    /// Page-size extension (4 MiB pages).
    pub const PSE: u32 = 1 << 3;
    /// Physical-address extension.
    pub const PAE: u32 = 1 << 6;
    /// SYSENTER/SYSEXIT.
    pub const SEP: u32 = 1 << 11;
    /// Global pages.
    pub const PGE: u32 = 1 << 13;
    /// CMOVcc.
    pub const CMOV: u32 = 1 << 15;
    /// Page attribute table.
    pub const PAT: u32 = 1 << 16;
    /// MMX.
    pub const MMX: u32 = 1 << 23;
    /// FXSAVE/FXRSTOR (and CR4.OSFXSR).
    pub const FXSR: u32 = 1 << 24;
    /// SSE.
    pub const SSE: u32 = 1 << 25;
    /// SSE2.
    pub const SSE2: u32 = 1 << 26;
    /// Everything vx86 implements.
    pub const ALL: u32 =
        FPU | TSC | MSR | CX8 | CMOV | PSE | PAE | SEP | PGE | PAT | MMX | FXSR | SSE | SSE2;
}

/// Leaf 1 ECX: RDRAND (from the machine's seeded generator).
pub const ECX_RDRAND: u32 = 1 << 30;
/// Leaf 7 (sub-leaf 0) EBX: RDSEED (the same generator).
pub const LEAF7_EBX_RDSEED: u32 = 1 << 18;

/// Leaf 0x8000_0001 EDX: execute-disable (NX).
pub const EXT_NX: u32 = 1 << 20;

/// Family 6, model 1, stepping 0 (the signature also left in EDX at reset).
pub const SIGNATURE: u32 = 0x0000_0610;

/// Returns (EAX, EBX, ECX, EDX) for leaf `eax` (`ecx` is the sub-leaf, used by leaf 7);
/// `apic`: the machine has an enabled local APIC (its ID, 0, is in leaf 1's EBX bits 31-24).
pub fn cpuid(eax: u32, ecx: u32, apic: bool) -> [u32; 4] {
    let word =
        |i: usize| u32::from_le_bytes([VENDOR[i], VENDOR[i + 1], VENDOR[i + 2], VENDOR[i + 3]]);
    match eax {
        0 => [MAX_BASIC, word(0), word(8), word(4)],
        1 => [
            SIGNATURE,
            0,
            ECX_RDRAND,
            edx::ALL | if apic { edx::APIC } else { 0 },
        ],
        // cache/TLB descriptors, deterministic cache parameters, MONITOR, power: none
        2..=6 => [0; 4],
        // structured extended features: sub-leaf 0 only (EAX = highest sub-leaf = 0)
        7 if ecx == 0 => [0, LEAF7_EBX_RDSEED, 0, 0],
        7 => [0; 4],
        0x8000_0000 => [MAX_EXTENDED, 0, 0, 0],
        0x8000_0001 => [0, 0, 0, EXT_NX],
        // physical and linear address widths: 32 bits each
        0x8000_0008 => [0x2020, 0, 0, 0],
        0x8000_0002..=0x8000_0007 => [0; 4],
        // Intel returns the highest basic leaf for leaves out of range.
        _ => cpuid(MAX_BASIC, 0, apic),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_is_spelled_in_ebx_edx_ecx() {
        let [max, b, c, d] = cpuid(0, 0, false);
        assert_eq!(max, 7);
        let mut s = Vec::new();
        for w in [b, d, c] {
            s.extend_from_slice(&w.to_le_bytes());
        }
        assert_eq!(&s, b"VX86 Virtual");
    }

    #[test]
    fn advertises_the_p6_feature_set_and_the_apic_when_present() {
        let d = cpuid(1, 0, false)[3];
        let want = edx::FPU | edx::MMX | edx::FXSR | edx::SSE | edx::SSE2 | edx::CMOV;
        assert_eq!(d & want, want);
        assert_eq!(d & edx::APIC, 0);
        assert_eq!(cpuid(1, 0, true)[3] & edx::APIC, edx::APIC);
        assert_eq!(
            cpuid(1, 0, false)[2],
            ECX_RDRAND,
            "RDRAND; no SSE3 and later"
        );
        assert_eq!(cpuid(7, 0, false), [0, LEAF7_EBX_RDSEED, 0, 0]);
        assert_eq!(cpuid(7, 1, false), [0; 4]);
        assert_eq!(
            cpuid(0x20, 0, false),
            cpuid(7, 0, false),
            "above the range: leaf 7"
        );
    }
}
